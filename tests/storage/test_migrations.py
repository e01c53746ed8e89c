"""Migrations go up, down and up again, and match the models exactly."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from server.storage.database import Database, table_names
from server.storage.migrate import downgrade, upgrade
from server.storage.revisions import schema_is_current
from server.storage.tables import Base
from server.storage.writer import LogWriter
from tests.factories import make_event, make_room_spec, room_created


async def test_up_down_up_leaves_a_working_append_only_log(empty_db: Database) -> None:
    await upgrade(empty_db.write_engine)
    async with empty_db.engine.connect() as conn:
        assert {"rooms", "events", "merkle_nodes"} <= await table_names(conn)
    await downgrade(empty_db.write_engine, "base")
    async with empty_db.engine.connect() as conn:
        assert await table_names(conn) & {"rooms", "events", "merkle_nodes"} == set()
    await upgrade(empty_db.write_engine)
    assert (await schema_is_current(empty_db.engine))[0]

    writer = LogWriter(empty_db)
    spec = make_room_spec()
    await writer.create_room(spec, [room_created()])
    await writer.append(spec.room_id, make_event())
    await writer.close()
    with pytest.raises(IntegrityError, match="append-only"):
        async with empty_db.write_engine.begin() as conn:
            await conn.execute(text("DELETE FROM events"))


async def test_models_and_migrations_do_not_differ(database: Database) -> None:
    def diff(sync_conn: Any) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with database.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


async def test_fresh_database_is_not_current(empty_db: Database) -> None:
    current_ok, current, head = await schema_is_current(empty_db.engine)
    assert not current_ok and current is None and head is not None
