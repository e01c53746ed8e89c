"""The ledger over HTTP against a real server: checkpoints as other tools read them, each seat's
verifiable view, and a disclosure checked against checkpoints signed before it."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import re
import stat
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import rfc8785
from aiohttp import web

from server.config import Settings
from server.domain.events import EventKind
from server.ledger.checkpoint import open_checkpoint, parse_verifier_key
from server.storage.records import NewEvent
from server.web.app import init_app
from server.web.keys import SERVICES
from tests.ledger.test_checkpoint import independent_verify
from tests.ledger.test_merkle_properties import ref_mth
from tests.support.live import LiveRoom, LiveServer, http, three_party_setup
from tests.support.processes import parley_env, run_parley
from tests.support.raw import RawDatabase

Lines = list[dict[str, Any]]


def api(
    server: LiveServer, room: LiveRoom, seat: str, method: str, path: str, body: Any = None
) -> Any:
    status, answer = http(
        method,
        f"{server.base_url}/api/v1/rooms/{room.id}/{path}",
        body,
        token=room.seat(seat).token,
    )
    assert 200 <= status < 300, (status, answer)
    return answer


def fetch(url: str, token: str | None = None) -> bytes:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as answer:
        return bytes(answer.read())


def export_of(server: LiveServer, room: LiveRoom, seat: str, folder: Path) -> Path:
    """Download ``seat``'s zipped view and unpack it under ``folder``; returns the export."""
    raw = fetch(f"{server.base_url}/api/v1/rooms/{room.id}/export", room.seat(seat).token)
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        archive.extractall(folder)
    (export,) = folder.iterdir()
    return export


def lines_of(export: Path) -> Lines:
    return [json.loads(line) for line in (export / "events.jsonl").read_text().splitlines()]


def leaf(record: dict[str, Any]) -> str:
    return hashlib.sha256(b"\x00" + rfc8785.dumps(record)).hexdigest()


def play(server: LiveServer, room: LiveRoom) -> str:
    """A back-channel between us and drv with two messages; the plenary; a caucus message."""
    bc = api(server, room, "us-1", "POST", "threads", {"id": "o1", "parties": ["drv"]})["thread"]
    api(server, room, "drv-1", "POST", f"threads/{bc}/accept", {"id": "a1"})
    for i, (seat, thread) in enumerate(
        [("us-2", bc), ("rvn-1", "plenary"), ("drv-1", bc), ("us-1", "caucus-us")]
    ):
        api(
            server,
            room,
            seat,
            "POST",
            f"threads/{thread}/messages",
            {"id": f"m{i}", "text": f"secret {i}"},
        )
    return str(bc)


def test_a_servers_checkpoint_is_byte_exact_c2sp_and_verifies_independently(
    live_server: LiveServer,
) -> None:
    room = asyncio.run(live_server.create_room())
    play(live_server, room)
    signed = api(live_server, room, "facilitator", "POST", "checkpoints")
    key = fetch(f"{live_server.base_url}/api/v1/ledger/key").decode()

    name, kid_hex, key_b64 = key.removesuffix("\n").split("+", 2)
    assert name == f"127.0.0.1:{live_server.port}" and "\n" not in key.removesuffix("\n")
    raw_key = base64.b64decode(key_b64, validate=True)
    assert raw_key[0] == 0x01 and len(raw_key) == 33
    public = raw_key[1:]
    assert bytes.fromhex(kid_hex) == hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]

    note, size = signed["note"], signed["size"]
    origin = f"{name}/room/{room.id}"
    shape = re.fullmatch(
        rf"{re.escape(origin)}\n{size}\n([A-Za-z0-9+/]{{43}}=)\n\n"
        rf"\u2014 {re.escape(name)} ([A-Za-z0-9+/]{{91}}=)\n",
        note,
    )
    assert shape is not None, note
    blob = base64.b64decode(shape.group(2))
    assert len(blob) == 4 + 64 and blob[:4].hex() == kid_hex
    assert independent_verify(note, name, public) == f"{origin}\n{size}\n{shape.group(1)}\n"
    root = base64.b64decode(shape.group(1))
    assert root.hex() == signed["root"]

    # The same root, from the facilitator's view of the log with independent code.
    status, page = http(
        "GET",
        f"{live_server.base_url}/api/v1/rooms/{room.id}/events?limit=500",
        token=room.seat("facilitator").token,
    )
    assert status == 200 and not any(e["sealed"] for e in page["events"])
    leaves = [bytes.fromhex(leaf(e["record"])) for e in page["events"]]
    assert len(leaves) == size and ref_mth(leaves) == root


def test_each_seat_exports_its_own_view_and_it_verifies(
    live_server: LiveServer, tmp_path: Path
) -> None:
    room = asyncio.run(live_server.create_room())
    bc = play(live_server, room)
    full = {
        line["seq"]: line
        for line in lines_of(export_of(live_server, room, "facilitator", tmp_path / "f"))
    }
    private = {
        s for s, r in full.items() if r["thread"] in (bc, "caucus-us", "caucus-drv", "caucus-rvn")
    }

    observer = export_of(live_server, room, "observer", tmp_path / "o")
    delegate = export_of(live_server, room, "rvn-1", tmp_path / "d")
    for export, bare in ((observer, False), (delegate, True)):
        lines = lines_of(export)
        assert [line["seq"] for line in lines] == sorted(full), "every event has its line"
        for line in lines:
            record = full[line["seq"]]
            if line["seq"] not in private or (bare and record["thread"] == "caucus-rvn"):
                assert line == record
                continue
            assert line["sealed"] is True and line["leaf_hash"] == leaf(record)
            if bare:  # hidden from a delegate of another party: the seq and hash only
                assert set(line) == {"seq", "sealed", "leaf_hash"}
            else:
                assert set(line) == {"seq", "sealed", "leaf_hash", "kind", "stage", "ts"}
        text = (export / "events.jsonl").read_text()
        assert "secret 0" not in text and "secret 2" not in text
        result = run_parley("audit", "verify", str(export), env=parley_env())
        assert result.returncode == 0, result.stderr


def test_disclosed_records_verify_against_checkpoints_signed_before_the_disclosure(
    live_server: LiveServer, tmp_path: Path
) -> None:
    room = asyncio.run(live_server.create_room())
    bc = play(live_server, room)
    key = fetch(f"{live_server.base_url}/api/v1/ledger/key").decode()  # kept by the observer
    api(live_server, room, "facilitator", "POST", "checkpoints")
    before = export_of(live_server, room, "observer", tmp_path / "before")
    sealed = {line["seq"]: line["leaf_hash"] for line in lines_of(before) if line.get("sealed")}
    assert sealed
    saved = sorted((before / "checkpoints").iterdir(), key=lambda p: int(p.stem))
    covered = max(int(p.stem) for p in saved)

    disclosed = api(
        live_server,
        room,
        "facilitator",
        "POST",
        f"threads/{bc}/disclose",
        {"id": "d1", "to": "observers"},
    )
    assert disclosed["seq"] > covered, "the saved checkpoints were signed before the disclosure"
    api(
        live_server,
        room,
        "us-1",
        "POST",
        "threads/plenary/messages",
        {"id": "after", "text": "Now."},
    )
    after = export_of(live_server, room, "observer", tmp_path / "after")

    now = {line["seq"]: line for line in lines_of(after)}
    opened = [seq for seq in sealed if not now[seq].get("sealed")]
    assert opened and all(now[seq]["thread"] == bc for seq in opened)
    assert any("secret" in now[seq]["body"].get("text", "") for seq in opened)
    for seq in opened:
        assert leaf(now[seq]) == sealed[seq], "the disclosed record is the one sealed before"
        assert seq <= covered
    caucus = [seq for seq in sealed if now[seq].get("sealed")]
    assert caucus, "the caucus stays sealed"

    options = ["--key", key.strip()]
    for path in saved:
        options += ["--checkpoint", str(path)]
    result = run_parley("audit", "verify", str(after), *options, env=parley_env())
    assert result.returncode == 0, result.stderr
    assert (
        f"agrees with the checkpoints you gave (sizes {', '.join(p.stem for p in saved)})"
        in result.stdout
    )


def test_a_tree_changed_behind_the_servers_back_is_refused_with_409(
    live_server: LiveServer,
) -> None:
    room = asyncio.run(live_server.create_room())
    signed = api(live_server, room, "facilitator", "POST", "checkpoints")

    size = signed["size"]

    async def forge() -> None:  # the room's frontier: one 32-byte node per set bit of the size
        async with RawDatabase(live_server.db_url) as raw:
            forged = bytes(32) * size.bit_count()
            await raw.execute("UPDATE rooms SET tree_frontier = ? WHERE id = ?", forged, room.id)

    asyncio.run(forge())
    token = room.seat("facilitator").token
    for method, path in (("POST", "checkpoints"), ("GET", "export")):
        status, answer = http(
            method, f"{live_server.base_url}/api/v1/rooms/{room.id}/{path}", token=token
        )
        assert status == 409, answer
        assert answer["error"]["code"] == "conflict"
        assert f"does not match the checkpoint of size {size}" in answer["error"]["message"]


async def test_the_applications_writer_signs_a_checkpoint_at_each_stage_change(
    db_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url=db_url, public_url="https://parley.example.org"
    )
    runner = web.AppRunner(init_app(settings))
    await runner.setup()
    app = runner.app
    try:
        created = await app[SERVICES].rooms.create(three_party_setup())
        change = NewEvent(
            EventKind.STAGE_CHANGED.value, {"from": "pre-negotiation", "to": "opening"}
        )
        appended = await app[SERVICES].writer.append(created.room_id, change)
        latest = await app[SERVICES].checkpoints.latest(created.room_id)
    finally:
        await runner.cleanup()
    key_file = tmp_path / "signing.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (
        latest is not None and latest.size == appended.first.seq and latest.reason == "stage_change"
    )
    verifier = parse_verifier_key(app[SERVICES].checkpoints.verifier_key)
    assert (
        open_checkpoint(latest.note, [verifier]).origin
        == f"parley.example.org/room/{created.room_id}"
    )
