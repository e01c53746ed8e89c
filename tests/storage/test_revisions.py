"""The schema check without Alembic agrees with Alembic, on every revision and both databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from server.storage.database import Database
from server.storage.migrate import alembic_config, alembic_head, downgrade, upgrade
from server.storage.revisions import (
    RevisionsUnreadable,
    migration_graph,
    newest_revision,
    revisions_without_sqlalchemy,
    schema_is_current,
    sqlite_file,
)

SCRIPTS = ScriptDirectory.from_config(alembic_config())


def test_the_migration_files_read_as_alembic_reads_them() -> None:
    alembic_graph = {
        script.revision: tuple(script._normalized_down_revisions)
        for script in SCRIPTS.walk_revisions()
    }
    assert migration_graph() == alembic_graph
    assert len(alembic_graph) >= 5
    assert newest_revision() == alembic_head() == SCRIPTS.get_current_head()


def _write(folder: Path, name: str, head: str) -> None:
    body = "def upgrade() -> None:\n    pass\n"
    (folder / name).write_text(f'"""A migration."""\n\n{head}\n\n{body}')


def test_annotations_merges_and_branches(tmp_path: Path) -> None:
    _write(tmp_path, "__init__.py", "")
    _write(tmp_path, "a.py", 'revision = "a"\ndown_revision = None')
    _write(tmp_path, "b.py", "revision: str = 'b'\ndown_revision: str | None = 'a'")
    _write(tmp_path, "c.py", 'revision: str = "c"\ndown_revision: str | None = "a"')
    assert migration_graph(tmp_path) == {"a": (), "b": ("a",), "c": ("a",)}
    with pytest.raises(RevisionsUnreadable, match="2 heads"):
        newest_revision(tmp_path)
    _write(tmp_path, "d.py", 'revision = "d"\ndown_revision: tuple[str, ...] = ("b", "c")')
    assert migration_graph(tmp_path)["d"] == ("b", "c")
    assert newest_revision(tmp_path) == "d"


@pytest.mark.parametrize(
    "head",
    [
        'down_revision = "a"',  # no revision line
        'revision = make_name()\ndown_revision = "a"',  # not a literal
        "revision = 5\ndown_revision = None",  # not text
    ],
)
def test_a_file_this_cannot_read_is_said(tmp_path: Path, head: str) -> None:
    _write(tmp_path, "x.py", head)
    with pytest.raises(RevisionsUnreadable, match=r"x\.py"):
        migration_graph(tmp_path)


def test_only_plain_sqlite_paths_are_read_without_sqlalchemy() -> None:
    assert sqlite_file("sqlite+aiosqlite:////srv/parley/parley.db") == Path("/srv/parley/parley.db")
    assert sqlite_file("sqlite+aiosqlite:///var/parley.db") == Path("var/parley.db")
    for url in (
        "sqlite+aiosqlite:///:memory:",
        "sqlite+aiosqlite:///",
        "sqlite+aiosqlite:///file.db?mode=ro",
        "sqlite+aiosqlite:///with%20space.db",
        "postgresql+asyncpg://postgres@127.0.0.1/parley",
    ):
        assert sqlite_file(url) is None, url


async def alembic_current(db: Database) -> str | None:
    def current(sync_conn: Any) -> str | None:
        return MigrationContext.configure(sync_conn).get_current_revision()

    async with db.engine.connect() as conn:
        return await conn.run_sync(current)


async def test_every_revision_is_read_as_alembic_reads_it(empty_db: Database) -> None:
    """Up one revision at a time from nothing, then down to nothing: at every step both readers
    (through the engine, and through the bare driver) name what Alembic names."""
    head = newest_revision()
    steps = [script.revision for script in reversed(list(SCRIPTS.walk_revisions()))]
    path = sqlite_file(empty_db.url)
    if path is not None:
        with pytest.raises(RevisionsUnreadable, match="no database file"):
            await revisions_without_sqlalchemy(empty_db.url)
        path.touch()  # an empty file is an empty database: nothing applied

    async def agree(expected: str | None) -> None:
        assert await alembic_current(empty_db) == expected
        assert await schema_is_current(empty_db.engine) == (expected == head, expected, head)
        bare = await revisions_without_sqlalchemy(empty_db.url)
        assert bare == ((expected,) if expected else ())

    await agree(None)
    for revision in steps:
        await upgrade(empty_db.write_engine, revision)
        await agree(revision)
    for revision in reversed(steps[:-1]):
        await downgrade(empty_db.write_engine, revision)
        await agree(revision)
    await downgrade(empty_db.write_engine, "base")
    await agree(None)


async def test_an_unreachable_postgresql_is_left_to_the_ordinary_path() -> None:
    with pytest.raises(RevisionsUnreadable):
        await revisions_without_sqlalchemy("postgresql+asyncpg://postgres@127.0.0.1:1/parley")
