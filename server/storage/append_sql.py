"""The append path's hot statements, on the driver underneath SQLAlchemy.

Every commit inserts its events and their Merkle nodes and moves each room's head on. Through
SQLAlchemy Core that cost about 40 µs of CPU per event (compiling the cache key, processing
each bound value, building result objects); the statements never change, so here they are
plain SQL text run with the driver's own ``executemany`` on the connection, and inside the
transaction, that SQLAlchemy opened: ``sqlite3`` cursors on SQLite, ``asyncpg`` prepared
statements on PostgreSQL (awaited from inside ``run_sync``). The schema still comes only from
the Alembic migrations; ``tests/storage`` checks that rows written here read back the same
through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.util import await_only

from server.storage.tables import events

EventRow = tuple[
    str,
    int,
    str,
    str,
    str | None,
    str | None,
    str | None,
    datetime,
    bytes,
    bytes,
    bytes,
    str | None,
]
"""room_id, seq, kind, stage, actor_seat, actor_party, thread_id, created_at, salt, record,
leaf_hash, command_id: the columns of ``events`` in :data:`EVENT_COLUMNS` order."""

NodeRow = tuple[str, int, int, bytes]
"""room_id, level, idx, hash."""

HeadRow = tuple[int, str, bytes, int, str]
"""size, stage, tree_frontier, state_seq, room id."""

EVENT_COLUMNS = (
    "room_id",
    "seq",
    "kind",
    "stage",
    "actor_seat",
    "actor_party",
    "thread_id",
    "created_at",
    "salt",
    "record",
    "leaf_hash",
    "command_id",
)
_INSERT_EVENT = "INSERT INTO events ({}) VALUES ({})"
_INSERT_NODE = "INSERT INTO merkle_nodes (room_id, level, idx, hash) VALUES ({})"
_UPDATE_HEAD = (
    "UPDATE rooms SET size = {}, stage = {}, tree_frontier = {}, state_seq = {} WHERE id = {}"
)


def _marks(style: str, count: int) -> list[str]:
    return ["?"] * count if style == "qmark" else [f"${i}" for i in range(1, count + 1)]


class AppendStatements:
    """The three statements of a commit, on ``conn``'s driver connection (its transaction)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        dialect = conn.dialect
        self._sqlite = dialect.name == "sqlite"
        style = "qmark" if self._sqlite else "numeric_dollar"
        self._insert_event = _INSERT_EVENT.format(
            ", ".join(EVENT_COLUMNS), ", ".join(_marks(style, len(EVENT_COLUMNS)))
        )
        self._insert_node = _INSERT_NODE.format(", ".join(_marks(style, 4)))
        self._update_head = _UPDATE_HEAD.format(*_marks(style, 5))
        # SQLite keeps times as text; write them exactly as SQLAlchemy's DateTime type does.
        self._time: Any = events.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)

    def insert_events(self, rows: Sequence[EventRow]) -> None:
        if self._sqlite:
            to_text = self._time
            last: datetime | None = None
            text = None
            out = []
            for row in rows:
                if row[7] is not last:
                    last, text = row[7], to_text(row[7])
                out.append((*row[:7], text, *row[8:]))
            self._many(self._insert_event, out)
        else:
            self._many(self._insert_event, rows)

    def insert_nodes(self, rows: Sequence[NodeRow]) -> None:
        self._many(self._insert_node, rows)

    def update_heads(self, rows: Sequence[HeadRow]) -> None:
        self._many(self._update_head, rows)

    def _many(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        adapted: Any = self._conn.connection.dbapi_connection
        dbapi: Any = self._conn.dialect.loaded_dbapi
        try:
            if self._sqlite:
                cursor = adapted.cursor()
                try:
                    cursor.executemany(sql, rows)
                finally:
                    cursor.close()
                return
            # SQLAlchemy's asyncpg adapter opens its transaction lazily, on the first statement
            # it runs; the append path always runs one first (the head lock); this makes sure.
            if adapted._transaction is None:
                await_only(adapted._start_transaction())
            try:
                await_only(adapted.driver_connection.executemany(sql, rows))
            except Exception as exc:
                adapted._handle_exception(exc)  # raises it as the adapter's DBAPI error
        except dbapi.Error as exc:
            # Raised as SQLAlchemy raises driver errors, so callers (and ``disconnected``)
            # see the same exception classes as for any other statement.
            raise DBAPIError.instance(sql, None, exc, dbapi.Error) from exc
