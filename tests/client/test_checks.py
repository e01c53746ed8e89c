"""Sessions checking what they receive against signed checkpoints, against a real server; a log
changed behind the server's back after it was signed ends them with ProofError."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client import Auditor, Forbidden, ProofError, Session, connect
from client.verify import leaf_hash
from server.domain.events import EventKind
from server.ledger.checkpoint import NoteSigner
from server.ledger.merkle import consistency_proof_plan
from server.services.checkpoints import CheckpointService
from server.services.signing import load_signer
from server.storage.database import Database
from server.storage.records import NewEvent
from server.storage.writer import LogWriter
from tests.support.live import LiveRoom, LiveServer, http
from tests.support.processes import parley_env, run_parley
from tests.support.raw import RawDatabase


def call(
    server: LiveServer, room: LiveRoom, seat: str, method: str, path: str, body: object = None
) -> dict[str, Any]:
    status, answer = http(
        method,
        f"{server.base_url}/api/v1/rooms/{room.id}/{path}",
        body,
        token=room.seat(seat).token,
    )
    assert 200 <= status < 300, answer
    return dict(answer)


def server_key(server: LiveServer) -> str:
    with urllib.request.urlopen(f"{server.base_url}/api/v1/ledger/key", timeout=10) as answer:
        return str(answer.read().decode().strip())


def open_backchannel(server: LiveServer, room: LiveRoom) -> str:
    bc = call(server, room, "us-1", "POST", "threads", {"id": "o1", "parties": ["drv"]})["thread"]
    call(server, room, "drv-1", "POST", f"threads/{bc}/accept", {"id": "a1"})
    return str(bc)


def say(server: LiveServer, room: LiveRoom, seat: str, thread: str, text: str) -> int:
    body = {"id": hashlib.sha256(text.encode()).hexdigest()[:16], "text": text}
    return int(call(server, room, seat, "POST", f"threads/{thread}/messages", body)["seq"])


async def change_stage(
    server: LiveServer, data_dir: Path, room: LiveRoom, old: str, new: str
) -> int:
    """Append a stage change the way the server's own writer does: with its checkpoint hook."""
    db = Database(server.db_url)
    writer = LogWriter(db)
    signer = load_signer(data_dir / "signing.key", server.public_url)
    writer.add_transaction_hook(CheckpointService(db, signer).stage_hook)
    try:
        appended = await writer.append(
            room.id, NewEvent(EventKind.STAGE_CHANGED.value, {"from": old, "to": new})
        )
    finally:
        await writer.close()
        await db.dispose()
    return appended.first.seq


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still not true after {within} s")
        await asyncio.sleep(0.02)


async def drain(session: Session) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(0.2):
            async for _ in session.events():
                pass


async def test_sessions_check_every_event_against_each_signed_checkpoint(
    live_server: LiveServer, tmp_path: Path
) -> None:
    room = await live_server.create_room()
    bc = open_backchannel(live_server, room)
    say(live_server, room, "us-2", bc, "between us")
    say(live_server, room, "rvn-1", "plenary", "in public")
    signed = call(live_server, room, "facilitator", "POST", "checkpoints")
    key = server_key(live_server)

    for seat in ("observer", "rvn-1", "us-1"):  # sealed, hidden and full back-channel events
        async with connect(
            live_server.base_url, room.seat(seat).token, checkpoint_key=key
        ) as session:
            await session.wait_synced()
            checkpoint = await session.check_log()
            assert checkpoint is not None and checkpoint.note == signed["note"]
            assert session.verified == {room.id: signed["size"]}

    async with connect(
        live_server.base_url, room.seat("observer").token, checkpoint_key=key
    ) as session:
        await session.wait_synced()
        await until(lambda: session.verified.get(room.id) == signed["size"])
        say(live_server, room, "drv-1", bc, "sealed for the observer")
        stage = await change_stage(
            live_server, tmp_path / "data", room, "pre-negotiation", "opening"
        )
        # Appended by another process, the stage change reaches the session when the server's
        # next event shows it a gap and it replays from the log.
        say(live_server, room, "us-1", "plenary", "next stage")
        await until(lambda: session.verified.get(room.id) == stage)  # checked on its own
        assert session.failure is None


async def test_a_log_changed_after_it_was_signed_ends_the_session_with_proof_error(
    live_server: LiveServer,
) -> None:
    room = await live_server.create_room()
    bc = open_backchannel(live_server, room)
    size = say(live_server, room, "us-1", "plenary", "opening statement")
    while size % 4:  # so that events size+1 .. size+4 form one stored subtree (see below)
        size = say(live_server, room, "us-1", "plenary", f"statement {size}")
    assert call(live_server, room, "facilitator", "POST", "checkpoints")["size"] == size
    delegate = await connect(live_server.base_url, room.seat("rvn-1").token)
    observer = await connect(live_server.base_url, room.seat("observer").token)
    try:
        for session in (delegate, observer):
            await session.wait_synced()
            assert await session.check_log() is not None
        hidden = say(live_server, room, "us-2", bc, "not for rvn")
        for n in range(3):
            last = say(live_server, room, "drv-1", "plenary", f"later {n}")
        await until(lambda: observer.positions[room.id] == last)  # the observer has it sealed
        await until(lambda: delegate.positions[room.id] == last)  # the delegate does not
        async with RawDatabase(live_server.db_url) as raw:
            await raw.drop_guards()
            forged = hashlib.sha256(b"\x00forged").digest()
            await raw.execute(
                "UPDATE events SET leaf_hash = ? WHERE room_id = ? AND seq = ?",
                forged,
                room.id,
                hidden,
            )
        # The server's own check before signing reads the proof from size to last, which is
        # the one stored node over events size+1 .. size+4, so it signs the true tree. It is
        # the sessions, which fold every leaf, that catch the changed one.
        assert consistency_proof_plan(size, last) == [(size, last)]
        assert call(live_server, room, "facilitator", "POST", "checkpoints")["size"] == last

        with pytest.raises(ProofError, match="do not give the root of the signed checkpoint"):
            await delegate.check_log()
        with pytest.raises(ProofError, match=f"event {hidden} with a leaf hash other than"):
            await observer.check_log()
        for session in (delegate, observer):
            assert isinstance(session.failure, ProofError) and session.closed
            with pytest.raises(ProofError):
                await drain(session)
    finally:
        await delegate.close()
        await observer.close()


async def test_a_checkpoint_not_signed_by_the_pinned_key_is_refused(
    live_server: LiveServer,
) -> None:
    room = await live_server.create_room()
    call(live_server, room, "facilitator", "POST", "checkpoints")
    name = server_key(live_server).split("+")[0]
    impostor = NoteSigner(name, Ed25519PrivateKey.generate()).verifier_key
    async with connect(
        live_server.base_url, room.seat("observer").token, checkpoint_key=impostor
    ) as session:
        await session.wait_synced()
        with pytest.raises(ProofError, match=f"not signed by the trusted key {name}"):
            await session.check_log()
        assert isinstance(session.failure, ProofError)


async def test_the_auditor_checks_single_proofs_and_fetches_the_seats_export(
    live_server: LiveServer, tmp_path: Path
) -> None:
    room = await live_server.create_room()
    first_seq = say(live_server, room, "us-1", "plenary", "first")
    key = server_key(live_server)
    async with (
        Auditor(live_server.base_url, room.seat("facilitator").token, key=key) as chair,
        Auditor(live_server.base_url, room.seat("observer").token, key=key) as observer,
    ):
        assert await observer.latest_checkpoint(room.id) is None
        old = await chair.sign_checkpoint(room.id)
        say(live_server, room, "rvn-1", "plenary", "second")
        new = await chair.sign_checkpoint(room.id)
        assert await observer.checkpoints(room.id) == [old, new]
        await observer.check_consistency(room.id, old, new)
        _, page = http(
            "GET",
            f"{live_server.base_url}/api/v1/rooms/{room.id}/events",
            token=room.seat("observer").token,
        )
        event = next(e for e in page["events"] if e["seq"] == first_seq)
        digest = bytes.fromhex(leaf_hash(event["record"]))
        await observer.check_inclusion(room.id, first_seq, digest, new)
        with pytest.raises(ProofError, match="not the one given"):
            await observer.check_inclusion(room.id, first_seq, bytes(32), new)
        with pytest.raises(Forbidden):
            await observer.sign_checkpoint(room.id)
        saved = await observer.download_export(room.id, tmp_path / "view.zip")
    result = run_parley("audit", "verify", str(saved), "--key", key, env=parley_env())
    assert result.returncode == 0, result.stderr
