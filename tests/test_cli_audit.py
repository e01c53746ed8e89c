"""``parley audit export`` and ``parley audit verify``, run as the real command.

One room is played once per module on a real server: a back-channel, caucus and plenary
messages, a stage change, a full export, more messages, the observer's zipped view over HTTP and
a second full export. The tests verify those exports and copies of them tampered with in every
way the contract names; each tamper must fail with one line naming the line or checkpoint.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.canonical import canonical_json
from server.domain.events import EventKind
from server.ledger.checkpoint import Checkpoint, NoteSigner, parse_checkpoint_body, sign_checkpoint
from server.ledger.merkle import Frontier, append_leaves, leaf_hash
from server.storage.database import Database
from server.storage.records import NewEvent
from server.storage.writer import LogWriter
from tests.factories import make_event, make_room_spec, room_created
from tests.support import databases
from tests.support.live import LiveRoom, LiveServer, http
from tests.support.processes import ROOT, parley_env, run_parley
from tests.support.raw import RawDatabase
from tests.test_cli import assert_one_line_error


@dataclass(frozen=True)
class Scene:
    room: LiveRoom
    env: dict[str, str]
    full: Path
    """The second full export: checkpoints at the stage change, both exports, the view."""
    first: Path
    """The first full export (before the last messages)."""
    observer_zip: Path


def stage_change(old: str, new: str) -> NewEvent:
    return NewEvent(EventKind.STAGE_CHANGED.value, {"from": old, "to": new})


async def append_directly(url: str, room: str, events: list[NewEvent]) -> None:
    db = Database(url)
    writer = LogWriter(db)
    try:
        await writer.submit(room, events)
    finally:
        await writer.close()
        await db.dispose()


def download(url: str, token: str, target: Path) -> Path:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Type"] == "application/zip"
        target.write_bytes(response.read())
    return target


def post(
    server: LiveServer, room: LiveRoom, seat: str, path: str, body: object
) -> dict[str, object]:
    status, answer = http(
        "POST",
        f"{server.base_url}/api/v1/rooms/{room.id}/{path}",
        body,
        token=room.seat(seat).token,
    )
    assert status in (200, 201), answer
    return dict(answer)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Scene]:
    folder = tmp_path_factory.mktemp("audit")
    url = databases.copy_sqlite(sqlite_template, folder)
    server = LiveServer(url, folder / "data")
    server.start()
    try:
        room = asyncio.run(server.create_room())
        env = parley_env(
            PARLEY_DATA_DIR=str(folder / "data"),
            PARLEY_DATABASE_URL=url,
            PARLEY_PUBLIC_URL=server.public_url,
        )
        bc = post(server, room, "us-1", "threads", {"id": "o1", "parties": ["drv"]})["thread"]
        post(server, room, "drv-1", f"threads/{bc}/accept", {"id": "a1"})
        for i, (seat, thread) in enumerate(
            [("us-2", bc), ("rvn-1", "plenary"), ("drv-2", "caucus-drv"), ("drv-1", bc)]
        ):
            post(server, room, seat, f"threads/{thread}/messages", {"id": f"m{i}", "text": f"t{i}"})
        asyncio.run(append_directly(url, room.id, [stage_change("pre-negotiation", "opening")]))
        first = folder / "first"
        exported = run_parley("audit", "export", room.id, "--out", str(first), env=env)
        assert exported.returncode == 0, exported.stderr
        post(server, room, "us-1", "threads/plenary/messages", {"id": "late", "text": "Later."})
        observer_zip = download(
            f"{server.base_url}/api/v1/rooms/{room.id}/export",
            room.seat("observer").token,
            folder / "observer.zip",
        )
        post(server, room, "us-2", f"threads/{bc}/messages", {"id": "last", "text": "Last."})
        full = folder / "full"
        exported = run_parley("audit", "export", room.id, "--out", str(full), env=env)
        assert exported.returncode == 0, exported.stderr
    finally:
        server.stop()
    yield Scene(room, env, full, first, observer_zip)


def verify(
    path: Path, *options: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_parley("audit", "verify", str(path), *options, env=env or parley_env())


def checkpoint_sizes(export: Path) -> list[int]:
    return sorted(int(p.stem) for p in (export / "checkpoints").iterdir())


def lines_of(export: Path) -> list[str]:
    return (export / "events.jsonl").read_text().splitlines(keepends=True)


def tampered(scene: Scene, tmp_path: Path, change: Callable[[Path], None]) -> Path:
    copy = tmp_path / "tampered"
    shutil.copytree(scene.full, copy)
    change(copy)
    return copy


# -- faithful exports ------------------------------------------------------------------------


def test_full_export_holds_every_record_and_verifies(scene: Scene) -> None:
    lines = lines_of(scene.full)
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == list(range(1, len(lines) + 1))
    assert not any(r.get("sealed") for r in records)
    assert all(
        canonical_json(r) == line.rstrip("\n").encode()
        for r, line in zip(records, lines, strict=True)
    )
    stage = next(r["seq"] for r in records if r["kind"] == "stage_changed")
    first_size = len(lines_of(scene.first))
    assert stage in checkpoint_sizes(scene.full) and first_size in checkpoint_sizes(scene.full)
    assert checkpoint_sizes(scene.full)[-1] == len(lines)
    key = (scene.full / "key.pub").read_text()
    assert key.endswith("\n") and key.count("\n") == 1
    assert (
        (scene.full / "README.md")
        .read_text()
        .startswith(f"# Verifiable export of room {scene.room.id}")
    )

    result = verify(scene.full, "--key", key.strip())
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert f"{len(lines)} lines: {len(lines)} records, 0 sealed" in result.stdout
    assert "1 stage changes, each with its checkpoint" in result.stdout


def test_observer_view_over_http_is_sealed_where_it_may_not_read_and_verifies(
    scene: Scene, tmp_path: Path
) -> None:
    result = verify(scene.observer_zip)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(scene.observer_zip) as archive:
        archive.extractall(tmp_path)
    (folder,) = tmp_path.iterdir()
    full = {json.loads(line)["seq"]: json.loads(line) for line in lines_of(scene.full)}
    seen = [json.loads(line) for line in lines_of(folder)]
    sealed = [line for line in seen if line.get("sealed")]
    assert sealed, "the back-channel and caucuses are sealed for the observer"
    for line in sealed:
        record = full[line["seq"]]
        assert record["thread"] != "plenary"
        assert set(line) == {"seq", "sealed", "leaf_hash", "kind", "stage", "ts"}
        assert line["leaf_hash"] == leaf_hash(canonical_json(record)).hex()
        assert line["kind"] == record["kind"] and "t0" not in json.dumps(line)
    readable = [line for line in seen if not line.get("sealed")]
    assert all(line == full[line["seq"]] for line in readable)
    assert f"{len(sealed)} sealed" in result.stdout


def test_an_export_verifies_against_checkpoints_saved_from_an_earlier_one(scene: Scene) -> None:
    saved = scene.first / "checkpoints" / f"{checkpoint_sizes(scene.first)[-1]}.txt"
    result = verify(scene.full, "--checkpoint", str(saved))
    assert result.returncode == 0, result.stderr
    assert "agrees with the checkpoints you gave" in result.stdout


# -- tampering -------------------------------------------------------------------------------


def rewrite_line(number: int, change: Callable[[str], str]) -> Callable[[Path], None]:
    def apply(export: Path) -> None:
        lines = lines_of(export)
        lines[number - 1] = change(lines[number - 1])
        (export / "events.jsonl").write_text("".join(lines))

    return apply


def reorder(change: Callable[[list[str]], None]) -> Callable[[Path], None]:
    def apply(export: Path) -> None:
        lines = lines_of(export)
        change(lines)
        (export / "events.jsonl").write_text("".join(lines))

    return apply


def test_a_byte_changed_in_a_record_names_the_checkpoint_it_breaks(
    scene: Scene, tmp_path: Path
) -> None:
    first_checkpoint = checkpoint_sizes(scene.full)[0]
    copy = tampered(scene, tmp_path, rewrite_line(3, lambda line: line.replace('"v":1', '"v":2')))
    result = verify(copy)
    assert_one_line_error(result, f"checkpoints/{first_checkpoint}.txt", "one of lines 1..")


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda lines: lines.pop(4), "events.jsonl line 5 has seq 6, expected 5"),
        (lambda lines: lines.insert(7, lines[6]), "events.jsonl line 8 has seq 7, expected 8"),
        (lambda lines: lines.insert(4, lines.pop(5)), "events.jsonl line 5 has seq 6, expected 5"),
    ],
    ids=["line deleted", "line inserted", "lines swapped"],
)
def test_lines_deleted_inserted_or_swapped_are_named(
    scene: Scene, tmp_path: Path, change: Callable[[list[str]], None], fragment: str
) -> None:
    assert_one_line_error(verify(tampered(scene, tmp_path, reorder(change))), fragment)


def test_a_sealed_lines_hash_changed_is_caught(scene: Scene, tmp_path: Path) -> None:
    with zipfile.ZipFile(scene.observer_zip) as archive:
        archive.extractall(tmp_path)
    (folder,) = tmp_path.iterdir()
    lines = lines_of(folder)
    number, line = next(
        (i, json.loads(text)) for i, text in enumerate(lines, 1) if '"sealed":true' in text
    )
    line["leaf_hash"] = "0" * 64
    lines[number - 1] = json.dumps(line) + "\n"
    (folder / "events.jsonl").write_text("".join(lines))
    later = next(s for s in checkpoint_sizes(folder) if s >= number)
    assert_one_line_error(verify(folder), f"checkpoints/{later}.txt", "hash to root")


@pytest.mark.parametrize("line", [1, 2], ids=["size changed", "root changed"])
def test_a_checkpoints_size_or_root_changed_breaks_its_signature(
    scene: Scene, tmp_path: Path, line: int
) -> None:
    size = checkpoint_sizes(scene.full)[-1]

    def change(export: Path) -> None:
        path = export / "checkpoints" / f"{size}.txt"
        parts = path.read_text().split("\n")
        parts[line] = str(size + 1) if line == 1 else "A" * 43 + "="
        path.write_text("\n".join(parts))

    result = verify(tampered(scene, tmp_path, change))
    assert_one_line_error(result, f"checkpoints/{size}.txt: not validly signed", "is invalid")


def test_a_checkpoint_signed_by_another_key_is_refused(scene: Scene, tmp_path: Path) -> None:
    size = checkpoint_sizes(scene.full)[1]

    def change(export: Path) -> None:
        path = export / "checkpoints" / f"{size}.txt"
        body = parse_checkpoint_body(path.read_text().split("\n\n")[0] + "\n")
        key_name = body.origin.split("/room/")[0]
        impostor = NoteSigner(key_name, Ed25519PrivateKey.generate())
        path.write_text(sign_checkpoint(impostor, Checkpoint(body.origin, body.size, body.root)))

    result = verify(tampered(scene, tmp_path, change))
    assert_one_line_error(result, f"checkpoints/{size}.txt", "no valid signature from a trusted")


def test_a_missing_checkpoint_file_is_noticed(scene: Scene, tmp_path: Path) -> None:
    sizes = checkpoint_sizes(scene.full)
    stage = next(
        json.loads(line)["seq"] for line in lines_of(scene.full) if '"stage_changed"' in line
    )
    last = tampered(
        scene, tmp_path / "a", lambda e: (e / "checkpoints" / f"{sizes[-1]}.txt").unlink()
    )
    assert_one_line_error(
        verify(last), f"lines {sizes[-2] + 1}..{sizes[-1]} are covered by no checkpoint"
    )
    middle = tampered(
        scene, tmp_path / "b", lambda e: (e / "checkpoints" / f"{stage}.txt").unlink()
    )
    assert_one_line_error(
        verify(middle), f"line {stage} is a stage change, but checkpoints/{stage}.txt is missing"
    )


def test_a_swapped_key_is_refused_and_a_pinned_key_is_enforced(
    scene: Scene, tmp_path: Path
) -> None:
    real = (scene.full / "key.pub").read_text().strip()
    other = NoteSigner(real.split("+")[0], Ed25519PrivateKey.generate()).verifier_key
    copy = tampered(scene, tmp_path, lambda e: (e / "key.pub").write_text(other + "\n"))
    assert_one_line_error(verify(copy), "not validly signed")
    key_file = tmp_path / "trusted.pub"
    key_file.write_text(real + "\n")
    assert_one_line_error(
        verify(copy, "--key", str(key_file)), "key.pub holds", "not the key you trust"
    )


# -- the command itself ----------------------------------------------------------------------


def test_verify_needs_no_database_and_loads_no_driver(scene: Scene) -> None:
    script = (
        "import sys; from server.cli import main; "
        f"status = main(['audit', 'verify', {str(scene.full)!r}]); "
        "drivers = ('sqlalchemy', 'aiosqlite', 'asyncpg', 'aiohttp'); "
        "print('STATUS', status, sorted(m for m in drivers if m in sys.modules))"
    )
    env = parley_env(PARLEY_DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "STATUS 0 []" in result.stdout


def test_export_refuses_a_folder_in_use_and_an_unknown_room(scene: Scene, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    result = run_parley("audit", "export", scene.room.id, "--out", str(busy), env=scene.env)
    assert_one_line_error(result, "exists and is not an empty folder")
    result = run_parley("audit", "export", "r-nothere", "--out", str(tmp_path / "x"), env=scene.env)
    assert_one_line_error(result, "no room 'r-nothere'")
    assert not (tmp_path / "x").exists()


def test_verify_errors_are_one_line(tmp_path: Path) -> None:
    assert_one_line_error(verify(tmp_path / "nothing"), "does not exist")
    assert_one_line_error(verify(tmp_path), "holds no events.jsonl")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    assert_one_line_error(verify(junk), "neither an export folder nor a zip")


@pytest.mark.parametrize("verb", [["audit"], ["audit", "export"], ["audit", "verify"]])
def test_audit_verbs_have_help(verb: list[str]) -> None:
    result = run_parley(*verb, "--help", env=parley_env())
    assert result.returncode == 0 and "usage: parley audit" in result.stdout


# -- a rewrite behind the application's back (SQLite and PostgreSQL) -------------------------


async def build_room(url: str) -> str:
    db = Database(url)
    writer = LogWriter(db)
    spec = make_room_spec()
    try:
        await writer.create_room(spec, [room_created()])
        await writer.submit(spec.room_id, [make_event() for _ in range(6)])
    finally:
        await writer.close()
        await db.dispose()
    return spec.room_id


async def rewrite(url: str, room: str, seq: int, *, tree: bool, forget: bool) -> None:
    """Drop the guards and forge event ``seq``'s text; also the Merkle tree and the room's
    frontier if ``tree``, and the stored checkpoints if ``forget``."""
    async with RawDatabase(url) as raw:
        await raw.drop_guards()
        ((stored,),) = await raw.rows(
            "SELECT record FROM events WHERE room_id = ? AND seq = ?", room, seq
        )
        record = json.loads(bytes(stored))
        record["body"]["text"] = "We never said that."
        forged = canonical_json(record)
        await raw.execute(
            "UPDATE events SET record = ?, leaf_hash = ? WHERE room_id = ? AND seq = ?",
            forged,
            leaf_hash(forged),
            room,
            seq,
        )
        if tree:
            rows = await raw.rows(
                "SELECT leaf_hash FROM events WHERE room_id = ? ORDER BY seq", room
            )
            frontier, nodes = append_leaves(Frontier(0), [bytes(r[0]) for r in rows])
            await raw.execute("DELETE FROM merkle_nodes WHERE room_id = ?", room)
            for level, index, digest in nodes:
                await raw.execute(
                    "INSERT INTO merkle_nodes (room_id, level, idx, hash) VALUES (?, ?, ?, ?)",
                    room,
                    level,
                    index,
                    digest,
                )
            await raw.execute(
                "UPDATE rooms SET tree_frontier = ? WHERE id = ?", b"".join(frontier.nodes), room
            )
        if forget:
            await raw.execute("DELETE FROM checkpoints WHERE room_id = ?", room)


def test_a_rewrite_behind_the_applications_back_fails_against_a_checkpoint_saved_before(
    db_url: str, tmp_path: Path
) -> None:
    env = parley_env(PARLEY_DATA_DIR=str(tmp_path / "data"), PARLEY_DATABASE_URL=db_url)
    room = asyncio.run(build_room(db_url))

    def export(name: str) -> subprocess.CompletedProcess[str]:
        return run_parley("audit", "export", room, "--out", str(tmp_path / name), env=env)

    assert export("before").returncode == 0
    saved = tmp_path / "saved.txt"  # an observer keeps the checkpoint it was handed
    shutil.copy(tmp_path / "before" / "checkpoints" / "7.txt", saved)
    assert verify(tmp_path / "before", "--checkpoint", str(saved)).returncode == 0

    # 1. Only the event is rewritten: the stored tree and checkpoints no longer match it.
    asyncio.run(rewrite(db_url, room, 3, tree=False, forget=False))
    assert export("naive").returncode == 0
    assert "We never said that." in (tmp_path / "naive" / "events.jsonl").read_text()
    assert_one_line_error(verify(tmp_path / "naive"), "checkpoints/7.txt", "lines 1..7")

    # 2. The Merkle tree is recomputed too: the server refuses to sign the forged log.
    asyncio.run(rewrite(db_url, room, 3, tree=True, forget=False))
    result = export("refused")
    assert_one_line_error(result, "does not match the checkpoint of size 7", "nothing is signed")

    # 3. The stored checkpoints are deleted as well: the new export is self-consistent, so only
    #    a checkpoint saved before the rewrite exposes it.
    asyncio.run(rewrite(db_url, room, 3, tree=True, forget=True))
    assert export("forged").returncode == 0
    assert verify(tmp_path / "forged").returncode == 0
    result = verify(tmp_path / "forged", "--checkpoint", str(saved))
    assert_one_line_error(result, f"{saved}: ", "lines 1..7 hash to root", "one of lines 1..7")
