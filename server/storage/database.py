"""Engines for the two supported databases, with the connection settings each one needs.

SQLite runs in WAL mode with ``recursive_triggers`` on (so ``INSERT OR REPLACE`` fires the
log's DELETE trigger), foreign keys on and a busy timeout. Writes take the write lock at BEGIN
(``BEGIN IMMEDIATE``) so that a writer never has to upgrade a read lock and fail with "database is
locked"; reads use a separate engine with plain deferred transactions, so they never wait for it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from server.config import database_kind
from server.storage.errors import DatabaseUnavailable

if TYPE_CHECKING:
    from server.storage.wal import WalCheckpoints

__all__ = ["Database", "DatabaseUnavailable"]


class Database:
    """The engines of one database: ``engine`` for reads, ``write_engine`` for the append path."""

    def __init__(
        self,
        url: str,
        *,
        sqlite_synchronous: str = "FULL",
        pool_size: int = 10,
        wal_checkpoints: bool = False,
    ) -> None:
        """
        Args:
            wal_checkpoints: SQLite: the append path's commits never checkpoint the write-ahead
                log; a thread does, started by :meth:`start_wal_checkpoints` (the server's).
        """
        self.url = url
        self.kind = database_kind(url)
        self.sync_write_engine: Engine | None = None
        """SQLite only: a synchronous engine the append path uses from one worker thread."""
        self.wal: WalCheckpoints | None = None
        """SQLite with ``wal_checkpoints``: the thread that checkpoints the log."""
        if self.kind == "sqlite":
            self.engine = _sqlite_engine(url, sqlite_synchronous, immediate=False)
            self.write_engine = _sqlite_engine(url, sqlite_synchronous, immediate=True)
            sync_url = make_url(url).set(drivername="sqlite")
            self.sync_write_engine = create_engine(
                sync_url, connect_args={"timeout": 30, "check_same_thread": False}
            )
            path = self.sqlite_path
            if wal_checkpoints and path is not None:
                from server.storage.wal import WalCheckpoints  # the server's only

                self.wal = WalCheckpoints(path)
            _configure_sqlite(
                self.sync_write_engine,
                sqlite_synchronous,
                immediate=True,
                autocheckpoint=self.wal is None,
                raw_begin=True,
            )
        else:
            self.engine = create_async_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False
            )
            self.write_engine = self.engine

    @property
    def sqlite_path(self) -> Path | None:
        """The database file, for SQLite; ``None`` otherwise."""
        if self.kind != "sqlite":
            return None
        database = make_url(self.url).database
        return Path(database) if database else None

    async def check(self) -> None:
        """Connect once and run a trivial query, or raise :class:`DatabaseUnavailable`."""
        path = self.sqlite_path
        if path is not None and not path.parent.is_dir():
            raise DatabaseUnavailable(f"SQLite folder {path.parent} does not exist")
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError, OSError) as exc:
            raise DatabaseUnavailable(describe_connect_error(self.url, exc)) from exc

    async def ping(self) -> None:
        """One trivial query on a pooled connection (the health check); raises if it fails."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    def start_wal_checkpoints(self) -> None:
        """Start the thread that checkpoints SQLite's log, if this database has one."""
        if self.wal is not None:
            self.wal.start()

    async def dispose(self) -> None:
        if self.wal is not None and self.wal.running:
            await asyncio.to_thread(self.wal.stop)
        if self.sync_write_engine is not None:
            self.sync_write_engine.dispose()
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()


def describe_connect_error(url: str, exc: BaseException) -> str:
    """One line saying which database could not be opened, without the password."""
    shown = make_url(url).render_as_string(hide_password=True)
    reason = getattr(exc, "orig", None) or exc
    detail = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
    return f"cannot open database {shown}: {detail}"


def _sqlite_engine(url: str, synchronous: str, *, immediate: bool) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": 30})
    _configure_sqlite(engine.sync_engine, synchronous, immediate=immediate)
    return engine


def _configure_sqlite(
    engine: Engine,
    synchronous: str,
    *,
    immediate: bool,
    autocheckpoint: bool = True,
    raw_begin: bool = False,
) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver, so BEGIN is ours (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA recursive_triggers=ON")
        if not autocheckpoint:
            cursor.execute("PRAGMA wal_autocheckpoint=0")  # a thread does (storage/wal.py)
        cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if raw_begin:
            # A synchronous sqlite3 connection: straight to it, without the Python of a
            # SQLAlchemy statement execution (a tenth of a small commit's CPU).
            conn.connection.dbapi_connection.execute(begin)
        else:
            conn.exec_driver_sql(begin)


async def table_names(conn: AsyncConnection) -> set[str]:
    """The tables present, for health checks and tests."""

    def _names(sync_conn: Any) -> set[str]:
        from sqlalchemy import inspect

        return set(inspect(sync_conn).get_table_names())

    return await conn.run_sync(_names)
