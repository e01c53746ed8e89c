"""Raw SQL on a test database, behind the application's back (as an intruder would do it).

SQLite is opened with the standard library's ``sqlite3`` and default settings, PostgreSQL with a
plain superuser ``asyncpg`` connection.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from tests.support.services import asyncpg_dsn

GUARDED = ("events", "merkle_nodes", "checkpoints")


class RawDatabase:
    def __init__(self, url: str) -> None:
        self.kind = "sqlite" if url.startswith("sqlite") else "postgresql"
        self.url = url
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Any = None

    async def __aenter__(self) -> RawDatabase:
        if self.kind == "sqlite":
            self._sqlite = sqlite3.connect(make_url(self.url).database or "", isolation_level=None)
        else:
            self._pg = await asyncpg.connect(asyncpg_dsn(self.url))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._pg is not None:
            await self._pg.close()

    def _sql(self, sql: str) -> str:
        """``?`` placeholders for SQLite, ``$1, $2 ...`` for PostgreSQL."""
        if self.kind == "sqlite":
            return sql
        parts = sql.split("?")
        return "".join(p + (f"${i}" if i < len(parts) else "") for i, p in enumerate(parts, 1))

    async def execute(self, sql: str, *args: Any) -> None:
        if self._sqlite is not None:
            self._sqlite.execute(sql, args)
        else:
            await self._pg.execute(self._sql(sql), *args)

    async def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        if self._sqlite is not None:
            return [tuple(r) for r in self._sqlite.execute(sql, args).fetchall()]
        return [tuple(r) for r in await self._pg.fetch(self._sql(sql), *args)]

    async def drop_guards(self) -> None:
        """Drop the append-only triggers of the log, its Merkle nodes and its checkpoints."""
        for table in GUARDED:
            if self.kind == "sqlite":
                for name in ("no_update", "no_delete", "next_seq"):
                    await self.execute(f"DROP TRIGGER IF EXISTS {table}_{name}")
            else:
                for name in ("no_update_delete", "no_truncate", "next_seq"):
                    await self.execute(f"DROP TRIGGER IF EXISTS {table}_{name} ON {table}")
