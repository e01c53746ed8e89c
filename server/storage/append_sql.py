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

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.util import await_only

from server.storage.records import StoredEvent
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


@dataclass(frozen=True, slots=True)
class _Dialect:
    """What the statements need of a dialect, worked out once per dialect, not per commit."""

    sqlite: bool
    style: str
    insert_event: str
    insert_node: str
    update_head: str
    time: Any
    read_time: Any


@functools.lru_cache(maxsize=16)
def _for(dialect: Dialect) -> _Dialect:
    sqlite = dialect.name == "sqlite"
    style = "qmark" if sqlite else "numeric_dollar"
    # SQLite keeps times as text; write and read them exactly as SQLAlchemy's DateTime does.
    time_type = events.c.created_at.type.dialect_impl(dialect)
    return _Dialect(
        sqlite=sqlite,
        style=style,
        insert_event=_INSERT_EVENT.format(
            ", ".join(EVENT_COLUMNS), ", ".join(_marks(style, len(EVENT_COLUMNS)))
        ),
        insert_node=_INSERT_NODE.format(", ".join(_marks(style, 4))),
        update_head=_UPDATE_HEAD.format(*_marks(style, 5)),
        time=time_type.bind_processor(dialect),
        read_time=time_type.result_processor(dialect, None),
    )


class AppendStatements:
    """The three statements of a commit, on ``conn``'s driver connection (its transaction)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        d = _for(conn.dialect)
        self._sqlite = d.sqlite
        self._style = d.style
        self._insert_event = d.insert_event
        self._insert_node = d.insert_node
        self._update_head = d.update_head
        self._time = d.time
        self._read_time = d.read_time

    def lock_heads(self, room_ids: Sequence[str]) -> list[tuple[str, int, str, bytes, int]]:
        """(id, size, stage, tree_frontier, state_seq) of these rooms, in id order; on
        PostgreSQL the rows are locked (``FOR UPDATE``) in that order."""
        marks = ", ".join(_marks(self._style, len(room_ids)))
        sql = (
            "SELECT id, size, stage, tree_frontier, state_seq FROM rooms "
            f"WHERE id IN ({marks}) ORDER BY id"
        )
        if not self._sqlite:
            sql += " FOR UPDATE"
        return [
            (row[0], row[1], row[2], bytes(row[3]), row[4]) for row in self._fetch(sql, room_ids)
        ]

    def find_commands(self, keys: Sequence[tuple[str, str | None, str]]) -> list[StoredEvent]:
        """The events stored for these (room, seat, command id) keys."""
        sql, params = commands_lookup(keys, self._style)
        read_time = self._read_time
        out = []
        for row in self._fetch(sql, params):
            created = row[7] if read_time is None else read_time(row[7])
            if created.tzinfo is None:  # SQLite keeps no zone; every stored time is UTC
                created = created.replace(tzinfo=UTC)
            out.append(
                StoredEvent(
                    room_id=row[0],
                    seq=row[1],
                    kind=row[2],
                    stage=row[3],
                    seat=row[4],
                    party=row[5],
                    thread=row[6],
                    created_at=created,
                    salt=bytes(row[8]),
                    record=bytes(row[9]),
                    leaf_hash=bytes(row[10]),
                    command_id=row[11],
                )
            )
        return out

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
        if rows:
            self._run(sql, rows, many=True)

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return self._run(sql, params, many=False)

    def _run(self, sql: str, params: Sequence[Any], *, many: bool) -> list[Any]:
        adapted: Any = self._conn.connection.dbapi_connection
        dbapi: Any = self._conn.dialect.loaded_dbapi
        try:
            if self._sqlite:
                cursor = adapted.cursor()
                try:
                    if many:
                        cursor.executemany(sql, params)
                        return []
                    return cursor.execute(sql, params).fetchall()  # type: ignore[no-any-return]
                finally:
                    cursor.close()
            # SQLAlchemy's asyncpg adapter opens its transaction lazily, on the first statement
            # it runs through it: open it before the first one that goes around it.
            if adapted._transaction is None:
                await_only(adapted._start_transaction())
            driver = adapted.driver_connection
            try:
                if many:
                    await_only(driver.executemany(sql, params))
                    return []
                return await_only(driver.fetch(sql, *params))
            except Exception as exc:
                adapted._handle_exception(exc)  # raises it as the adapter's DBAPI error
                raise
        except dbapi.Error as exc:
            # Raised as SQLAlchemy raises driver errors, so callers (and ``disconnected``)
            # see the same exception classes as for any other statement.
            raise DBAPIError.instance(sql, None, exc, dbapi.Error) from exc


def commands_lookup(
    keys: Sequence[tuple[str, str | None, str]], style: str = "qmark"
) -> tuple[str, list[str | None]]:
    """SQL and parameters for the events of these (room, seat, command id) keys.

    Spelled as an OR of equalities, one per command, so that each term is a lookup in the
    unique index on (command id, seat, room). A row-value ``IN`` reads the same, but SQLite
    plans it as a scan of the whole table, on every commit.
    """
    marks = iter(_marks(style, 3 * len(keys)))
    terms = " OR ".join(
        f"(command_id = {next(marks)} AND actor_seat = {next(marks)} AND room_id = {next(marks)})"
        for _ in keys
    )
    params: list[str | None] = []
    for room_id, seat, command_id in keys:
        params += [command_id, seat, room_id]
    return f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE {terms}", params
