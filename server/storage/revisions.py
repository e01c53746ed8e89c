"""Which migration a database is at, and which is the newest, read without importing Alembic.

Every ``parley`` verb that opens the database first checks that its schema is the newest, and
``parley db upgrade`` on an up-to-date database has nothing else to do. Importing Alembic costs a
verb about 0.12 s and SQLAlchemy about 0.2 s more, so neither is needed for the check:

- the newest revision is read from the migration files' own ``revision`` and ``down_revision``
  lines (a test holds it equal to what Alembic's script directory says);
- the database's revision is the ``alembic_version`` table Alembic keeps, read through the
  engine a verb already has (:func:`schema_is_current`), or through the bare driver
  (:func:`revisions_without_sqlalchemy`), which imports no SQLAlchemy at all.

This module imports only the standard library; SQLAlchemy and asyncpg are imported inside the
functions that need them.
"""

from __future__ import annotations

import ast
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import migrations

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

VERSIONS_DIR = Path(migrations.__file__).resolve().parent / "versions"
VERSION_TABLE = "alembic_version"

# A module-level assignment, with or without an annotation: `down_revision: str | None = "0004"`.
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)


class RevisionsUnreadable(Exception):
    """The migration files or the database could not be read this way; ask Alembic instead."""


def migration_graph(folder: Path = VERSIONS_DIR) -> dict[str, tuple[str, ...]]:
    """Each revision in ``folder`` and the revisions it follows (none for the first).

    Read the way Alembic finds scripts: every ``*.py`` file but ``__init__.py`` is one revision.
    """
    graph: dict[str, tuple[str, ...]] = {}
    for path in sorted(folder.glob("*.py")):
        if path.name == "__init__.py":
            continue
        lines = {m[1]: m[2] for m in _ASSIGNMENT.finditer(path.read_text("utf-8"))}
        try:
            revision = ast.literal_eval(lines["revision"])
            follows = ast.literal_eval(lines["down_revision"])
        except (KeyError, ValueError, SyntaxError) as exc:
            raise RevisionsUnreadable(f"{path.name}: no literal revision / down_revision") from exc
        if follows is None:
            follows = ()
        elif isinstance(follows, str):
            follows = (follows,)
        if not isinstance(revision, str) or not all(isinstance(f, str) for f in follows):
            raise RevisionsUnreadable(f"{path.name}: revision / down_revision is not text")
        graph[revision] = tuple(follows)
    return graph


def newest_revision(folder: Path = VERSIONS_DIR) -> str:
    """The one head of the migrations in ``folder``."""
    graph = migration_graph(folder)
    followed = {parent for parents in graph.values() for parent in parents}
    heads = sorted(set(graph) - followed)
    if len(heads) != 1:
        raise RevisionsUnreadable(f"the migrations have {len(heads)} heads: {heads}")
    return heads[0]


def describe(revisions: tuple[str, ...]) -> str | None:
    """How a database's revisions are shown: ``None`` for a database Alembic never touched."""
    return ", ".join(revisions) or None


async def schema_is_current(engine: AsyncEngine) -> tuple[bool, str | None, str | None]:
    """Whether the database is at the newest migration; also its current and the newest revision.

    The database's revision is read through ``engine``; Alembic is asked only if the migration
    files cannot be read here.
    """
    from sqlalchemy import inspect, text

    def _revisions(sync_conn: Any) -> tuple[str, ...]:
        if not inspect(sync_conn).has_table(VERSION_TABLE):
            return ()
        rows = sync_conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
        return tuple(sorted(row[0] for row in rows))

    head: str | None
    try:
        head = newest_revision()
    except RevisionsUnreadable:
        from server.storage.migrate import alembic_head

        head = alembic_head()
    async with engine.connect() as conn:
        revisions = await conn.run_sync(_revisions)
    return revisions == (head,), describe(revisions), head


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite+aiosqlite:///PATH`` URL, where it is a plain path."""
    prefix = "sqlite+aiosqlite:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix) :]
    if not path or path == ":memory:" or any(c in path for c in "?%#"):
        return None  # options, escapes or no file: SQLAlchemy reads those URLs
    return Path(path)


async def revisions_without_sqlalchemy(url: str) -> tuple[str, ...]:
    """The database's revisions, read through the bare driver (``sqlite3`` or ``asyncpg``).

    Raises :class:`RevisionsUnreadable` for anything this cannot read, a missing database file or
    a refused connection included: the caller then takes the ordinary path, which reports it.
    """
    path = sqlite_file(url)
    if path is not None:
        return _sqlite_revisions(path)
    if url.startswith("postgresql+asyncpg://"):
        return await _postgres_revisions("postgresql://" + url[len("postgresql+asyncpg://") :])
    raise RevisionsUnreadable(f"not a URL read here: {url.split(':', 1)[0]}")


def _sqlite_revisions(path: Path) -> tuple[str, ...]:
    if not path.is_file():
        raise RevisionsUnreadable(f"no database file {path}")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        raise RevisionsUnreadable(str(exc)) from exc
    try:
        has_table = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (VERSION_TABLE,)
        ).fetchone()
        if has_table is None:
            return ()
        rows = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
    except sqlite3.Error as exc:
        raise RevisionsUnreadable(str(exc)) from exc
    finally:
        conn.close()
    return tuple(sorted(row[0] for row in rows))


async def _postgres_revisions(dsn: str) -> tuple[str, ...]:
    import asyncpg

    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except Exception as exc:  # any refusal: the ordinary path connects again and reports it
        raise RevisionsUnreadable(str(exc)) from exc
    try:
        table = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", VERSION_TABLE)
        if not table:
            return ()
        rows = await conn.fetch(f"SELECT version_num FROM {VERSION_TABLE}")
    except asyncpg.PostgresError as exc:
        raise RevisionsUnreadable(str(exc)) from exc
    finally:
        await conn.close()
    return tuple(sorted(row[0] for row in rows))
