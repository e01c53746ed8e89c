"""SQLite: with background checkpoints the append path's commits never checkpoint the
write-ahead log (``wal_autocheckpoint`` is off on its connection); a thread copies the log into
the database file instead, and stops with the database."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from server.storage.database import Database
from server.storage.writer import LogWriter
from tests.factories import make_event, make_room_spec, room_created
from tests.support import databases


async def _append(db: Database, events: int) -> None:
    writer = LogWriter(db)
    spec = make_room_spec()
    await writer.create_room(spec, [room_created()])
    for _ in range(events // 10):
        batch = [
            writer.append(spec.room_id, make_event(body={"text": "x" * 400})) for _ in range(10)
        ]
        await asyncio.gather(*batch)
    await writer.close()


async def test_commits_leave_the_log_to_the_checkpoint_thread(
    sqlite_template: Path, tmp_path: Path
) -> None:
    url = databases.copy_sqlite(sqlite_template, tmp_path)
    path = tmp_path / "parley.db"
    db = Database(url, wal_checkpoints=True)
    assert db.wal is not None and db.sync_write_engine is not None
    with db.sync_write_engine.connect() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 0
    async with db.engine.connect() as conn:  # the other connections keep SQLite's default
        assert (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 1000

    before = path.stat().st_size
    await _append(db, 300)  # several hundred pages: less than an automatic checkpoint's 1,000
    assert path.stat().st_size == before, "nothing copied the log into the file yet"
    wal = path.with_name(path.name + "-wal")
    assert wal.stat().st_size > 100 * 4096  # ... it is all in the log

    db.start_wal_checkpoints()
    runs = db.wal.runs
    for _ in range(200):
        if db.wal.runs >= runs + 2:
            break
        await asyncio.sleep(0.05)
    assert db.wal.runs >= runs + 2
    assert path.stat().st_size > before + 50 * 4096  # the pages, each once
    await db.dispose()
    assert not db.wal.running


async def test_without_the_thread_the_commits_checkpoint_as_sqlite_does(
    sqlite_template: Path, tmp_path: Path
) -> None:
    db = Database(databases.copy_sqlite(sqlite_template, tmp_path))
    assert db.wal is None
    assert db.sync_write_engine is not None
    with db.sync_write_engine.connect() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 1000
    await db.dispose()
