"""Many writers at once: gapless sequences, no duplicates, nothing acknowledged goes missing."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from server.storage import log_reader
from server.storage.database import Database
from server.storage.writer import LogWriter
from tests.factories import make_event, make_room_spec, room_created

ROOT = Path(__file__).resolve().parents[2]


async def check_log(
    database: Database, room: str, acknowledged: list[tuple[str, int, int]]
) -> list[dict[str, object]]:
    """Assert the room's log is gapless and holds every acknowledged event; return the bodies."""
    async with database.engine.connect() as conn:
        events = await log_reader.read_events(conn, room)
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(events) + 1)), "gap or duplicate in seq"
    bodies = {e.seq: json.loads(e.record)["body"] for e in events}
    for who, n, seq in acknowledged:
        assert bodies[seq].get("who") == who and bodies[seq].get("n") == n
    per_writer: dict[object, list[int]] = defaultdict(list)
    for seq in seqs:
        body = bodies[seq]
        if "n" in body:
            per_writer[body.get("who")].append(int(body["n"]))  # type: ignore[arg-type]
    for who, counters in per_writer.items():
        assert counters == sorted(counters), f"writer {who} reordered"
    return list(bodies.values())


@pytest.mark.slow
@pytest.mark.parametrize("room_count", [1, 10])
async def test_fifty_writers_hundred_events_each(
    writer: LogWriter, database: Database, room_count: int
) -> None:
    rooms = [make_room_spec() for _ in range(room_count)]
    for spec in rooms:
        await writer.create_room(spec, [room_created()])
    acknowledged: dict[str, list[tuple[str, int, int]]] = defaultdict(list)

    async def writer_task(w: int) -> None:
        room = rooms[w % room_count].room_id
        for n in range(100):
            appended = await writer.append(room, make_event(body={"who": f"w{w}", "n": n}))
            acknowledged[room].append((f"w{w}", n, appended.first.seq))

    await asyncio.gather(*(writer_task(w) for w in range(50)))
    total = 0
    for spec in rooms:
        bodies = await check_log(database, spec.room_id, acknowledged[spec.room_id])
        assert len(bodies) == 1 + len(acknowledged[spec.room_id])
        total += len(acknowledged[spec.room_id])
    assert total == 5000


@pytest.mark.slow
async def test_several_processes_append_to_one_room(
    writer: LogWriter, database: Database, db_url: str
) -> None:
    spec = make_room_spec()
    await writer.create_room(spec, [room_created()])
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.append_worker",
            db_url,
            spec.room_id,
            str(w),
            "10",
            "30",
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for w in range(4)
    ]
    # Meanwhile this process appends too.
    local = [
        await writer.append(spec.room_id, make_event(body={"who": "local", "n": n}))
        for n in range(50)
    ]
    acknowledged = [("local", n, a.first.seq) for n, a in enumerate(local)]
    for w, proc in enumerate(workers):
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        assert proc.returncode == 0, err.decode()
        for task, n, seq in json.loads(out):
            acknowledged.append((f"{w}/{task}", n, seq))
    assert len(acknowledged) == 50 + 4 * 10 * 30
    async with database.engine.connect() as conn:
        events = await log_reader.read_events(conn, spec.room_id)
    assert [e.seq for e in events] == list(range(1, 1 + 1 + len(acknowledged)))
    bodies = {e.seq: json.loads(e.record)["body"] for e in events}
    for who, n, seq in acknowledged:
        body = bodies[seq]
        label = (
            "local" if body.get("who") == "local" else f"{body.get('worker')}/{body.get('task')}"
        )
        assert (label, body["n"]) == (who, n)
    assert len({seq for _, _, seq in acknowledged}) == len(acknowledged)
