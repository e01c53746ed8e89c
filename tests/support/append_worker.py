"""A separate OS process that appends to a room and prints what was acknowledged.

``python -m tests.support.append_worker URL ROOM WORKER WRITERS COUNT`` runs WRITERS concurrent
tasks, each appending COUNT events in order, and prints one JSON line: ``[[task, n, seq], …]``.
"""

from __future__ import annotations

import asyncio
import json
import sys

from server.storage.database import Database
from server.storage.records import NewEvent
from server.storage.writer import LogWriter


async def run(url: str, room: str, worker: int, writers: int, count: int) -> None:
    db = Database(url)
    writer = LogWriter(db)
    acknowledged: list[list[int]] = []

    async def task(t: int) -> None:
        for n in range(count):
            body = {"worker": worker, "task": t, "n": n}
            appended = await writer.append(
                room, NewEvent("message_posted", body, seat=f"w{worker}")
            )
            acknowledged.append([t, n, appended.first.seq])

    try:
        await asyncio.gather(*(task(t) for t in range(writers)))
    finally:
        await writer.close()
        await db.dispose()
    print(json.dumps(acknowledged))


if __name__ == "__main__":
    url, room, worker, writers, count = sys.argv[1:6]
    asyncio.run(run(url, room, int(worker), int(writers), int(count)))
