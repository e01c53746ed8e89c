"""Test databases. The schema always comes from ``alembic upgrade head``.

Migrating once per session into a template and copying it per test keeps every test on a fresh
database without paying for the migrations each time: a file copy for SQLite, ``CREATE
DATABASE … TEMPLATE`` for PostgreSQL.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path

import asyncpg

from server.storage.database import Database
from server.storage.migrate import upgrade
from tests.support.services import POSTGRES_ADMIN_URL, asyncpg_dsn


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def postgres_url(name: str) -> str:
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


async def migrate(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db.write_engine)
    finally:
        await db.dispose()


def make_sqlite_template(folder: Path) -> Path:
    path = folder / "template.db"
    asyncio.run(migrate(sqlite_url(path)))
    return path


def copy_sqlite(template: Path, folder: Path) -> str:
    target = folder / "parley.db"
    shutil.copyfile(template, target)
    return sqlite_url(target)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(POSTGRES_ADMIN_URL), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_postgres(template: str | None = None) -> str:
    """Create an empty database (or a copy of ``template``) and return its name."""
    name = f"parley_test_{uuid.uuid4().hex[:12]}"
    suffix = f" TEMPLATE {template}" if template else ""
    asyncio.run(_admin(f"CREATE DATABASE {name}{suffix}"))
    return name


def drop_postgres(name: str) -> None:
    asyncio.run(_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def make_postgres_template() -> str:
    name = create_postgres()
    asyncio.run(migrate(postgres_url(name)))
    return name
