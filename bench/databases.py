"""Fresh databases for benchmarks: a SQLite file, or a new PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import asyncpg

PG_ADMIN = os.environ.get(
    "PARLEY_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


async def pg_admin(sql: str) -> None:
    """Run one statement as the PostgreSQL administrator (CREATE or DROP DATABASE)."""
    conn = await asyncpg.connect(PG_ADMIN.replace("+asyncpg", ""))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def fresh_database(kind: str, folder: Path, stem: str = "bench") -> tuple[str, str | None]:
    """(database URL, PostgreSQL database name to drop afterwards or None)."""
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{folder / f'{stem}-{uuid.uuid4().hex[:8]}.db'}", None
    name = f"parley_bench_{uuid.uuid4().hex[:8]}"
    await pg_admin(f"CREATE DATABASE {name}")
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, name
