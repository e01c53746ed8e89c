"""The database itself refuses to edit the log: raw SQL behind the application's back.

SQLite is opened with the standard library's ``sqlite3`` and default settings (no
``recursive_triggers``), PostgreSQL with a plain superuser ``asyncpg`` connection: exactly what
someone bypassing Parley would use.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from server.storage.writer import LogWriter
from tests.factories import make_event, make_room_spec, room_created
from tests.support.services import asyncpg_dsn


class RawConnection:
    """One raw connection to the test database, whatever its kind."""

    def __init__(self, url: str) -> None:
        self.kind = "sqlite" if url.startswith("sqlite") else "postgresql"
        self.url = url
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Any = None

    async def open(self) -> None:
        if self.kind == "sqlite":
            self._sqlite = sqlite3.connect(make_url(self.url).database or "", isolation_level=None)
        else:
            self._pg = await asyncpg.connect(asyncpg_dsn(self.url))

    async def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._pg is not None:
            await self._pg.close()

    async def execute(self, sql: str) -> None:
        if self._sqlite is not None:
            self._sqlite.execute(sql)
        else:
            await self._pg.execute(sql)

    async def scalar(self, sql: str) -> Any:
        if self._sqlite is not None:
            return self._sqlite.execute(sql).fetchone()[0]  # type: ignore[index]
        return await self._pg.fetchval(sql)

    @property
    def integrity_error(self) -> tuple[type[BaseException], ...]:
        if self.kind == "sqlite":
            return (sqlite3.IntegrityError,)
        return (asyncpg.exceptions.IntegrityConstraintViolationError,)


@pytest.fixture
async def raw(db_url: str) -> AsyncIterator[RawConnection]:
    connection = RawConnection(db_url)
    await connection.open()
    yield connection
    await connection.close()


@pytest.fixture
async def room(writer: LogWriter) -> str:
    spec = make_room_spec(room_id="r1")
    await writer.create_room(spec, [room_created()])
    for _ in range(4):
        await writer.append(spec.room_id, make_event())
    return spec.room_id


async def refused(raw: RawConnection, sql: str) -> str:
    with pytest.raises(raw.integrity_error) as caught:
        await raw.execute(sql)
    return str(caught.value)


async def test_update_of_an_event_is_refused(raw: RawConnection, room: str) -> None:
    message = await refused(raw, "UPDATE events SET kind = 'forged' WHERE seq = 2")
    assert "append-only" in message and "UPDATE" in message
    assert await raw.scalar("SELECT kind FROM events WHERE seq = 2") == "message_posted"


async def test_delete_of_an_event_is_refused(raw: RawConnection, room: str) -> None:
    message = await refused(raw, "DELETE FROM events WHERE seq = 3")
    assert "append-only" in message and "DELETE" in message
    assert await raw.scalar("SELECT count(*) FROM events") == 5


async def test_delete_of_every_event_is_refused(raw: RawConnection, room: str) -> None:
    await refused(raw, "DELETE FROM events")
    assert await raw.scalar("SELECT count(*) FROM events") == 5


async def test_insert_that_skips_a_seq_is_refused(raw: RawConnection, room: str) -> None:
    message = await refused(
        raw,
        "INSERT INTO events (room_id, seq, kind, stage, created_at, salt, record, leaf_hash) "
        "SELECT room_id, 9, kind, stage, created_at, salt, record, leaf_hash "
        "FROM events WHERE seq = 2",
    )
    assert "seq must be" in message


async def test_insert_or_replace_cannot_overwrite_an_event(raw: RawConnection, room: str) -> None:
    if raw.kind == "sqlite":
        sql = (
            "INSERT OR REPLACE INTO events (room_id, seq, kind, stage, created_at, salt, record, "
            "leaf_hash) SELECT room_id, seq, 'forged', stage, created_at, salt, record, "
            "leaf_hash FROM events WHERE seq = 2"
        )
    else:
        sql = (
            "INSERT INTO events (room_id, seq, kind, stage, created_at, salt, record, leaf_hash) "
            "SELECT room_id, seq, 'forged', stage, created_at, salt, record, leaf_hash "
            "FROM events WHERE seq = 2 "
            "ON CONFLICT (room_id, seq) DO UPDATE SET kind = EXCLUDED.kind"
        )
    await refused(raw, sql)
    assert await raw.scalar("SELECT kind FROM events WHERE seq = 2") == "message_posted"


async def test_upsert_cannot_overwrite_an_event(raw: RawConnection, room: str) -> None:
    # ON CONFLICT DO UPDATE exists in both dialects; the insert guard or UPDATE trigger stops it.
    await refused(
        raw,
        "INSERT INTO events (room_id, seq, kind, stage, created_at, salt, record, leaf_hash) "
        "SELECT room_id, seq, kind, stage, created_at, salt, record, leaf_hash "
        "FROM events WHERE seq = 5 ON CONFLICT (room_id, seq) DO UPDATE SET kind = 'forged'",
    )
    assert await raw.scalar("SELECT kind FROM events WHERE seq = 5") == "message_posted"


# SQLite has no TRUNCATE (DELETE without WHERE is covered above) and no replication role.
postgresql_only = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@postgresql_only
async def test_truncate_is_refused_on_postgresql(raw: RawConnection, room: str) -> None:
    message = await refused(raw, "TRUNCATE events CASCADE")
    assert "TRUNCATE" in message
    assert await raw.scalar("SELECT count(*) FROM events") == 5


@postgresql_only
async def test_replica_mode_does_not_switch_the_guards_off(raw: RawConnection, room: str) -> None:
    await raw.execute("SET session_replication_role = replica")
    await refused(raw, "UPDATE events SET kind = 'forged' WHERE seq = 2")
    await refused(raw, "DELETE FROM events")


async def test_merkle_nodes_are_append_only_too(raw: RawConnection, room: str) -> None:
    assert await raw.scalar("SELECT count(*) FROM merkle_nodes") > 0
    await refused(raw, "UPDATE merkle_nodes SET idx = idx + 100")
    await refused(raw, "DELETE FROM merkle_nodes")
