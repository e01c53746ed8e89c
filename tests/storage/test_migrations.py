"""Migrations go up, down and up again, and match the models exactly."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from server.domain.events import EventKind
from server.domain.room import STATE_KINDS
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


async def test_rooms_from_before_state_seq_get_it_filled_in(empty_db: Database) -> None:
    """A room whose events were written at 0001 has ``state_seq`` 0 after 0002 added it;
    0006 sets it to its last state-changing event, which is what every command is checked
    against (left at 0, every command in the room was refused as stale)."""
    await upgrade(empty_db.write_engine)
    writer = LogWriter(empty_db)
    old, new = make_room_spec(), make_room_spec()
    await writer.create_room(old, [room_created()])
    await writer.append(
        old.room_id, make_event(kind=EventKind.AGENDA_ISSUE_ADDED.value, body={"issue": "x"})
    )
    await writer.append(old.room_id, make_event())
    await writer.close()
    # As a room written at 0001 comes out of 0002 (SQLite cannot go down to 0001 with rooms
    # in it: the batch rebuild of ``rooms`` trips the events' foreign key).
    await downgrade(empty_db.write_engine, "0005")
    async with empty_db.write_engine.begin() as conn:
        await conn.execute(text("UPDATE rooms SET state_seq = 0"))
    await upgrade(empty_db.write_engine)
    writer = LogWriter(empty_db)
    await writer.create_room(new, [room_created()])
    await writer.append(new.room_id, make_event())
    await writer.close()
    async with empty_db.engine.connect() as conn:
        assert await _state_seqs(conn) == {old.room_id: 2, new.room_id: 1}


def test_the_backfill_knows_every_state_kind() -> None:
    """0006 spells out the state-changing kinds of its day; a kind added to ``STATE_KINDS``
    since then needs a migration of its own for rooms it could leave behind."""
    backfill = importlib.import_module("migrations.versions.0006_state_seq_backfill")
    assert set(backfill.STATE_KINDS) == {kind.value for kind in STATE_KINDS}


async def _state_seqs(conn: Any) -> dict[str, int]:
    rows = await conn.execute(text("SELECT id, state_seq FROM rooms"))
    return {row[0]: row[1] for row in rows}
