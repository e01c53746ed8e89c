"""Databases with no schema at all, for the migration tests (the shared ``database`` fixture
comes migrated)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from server.storage.database import Database
from tests.support import databases
from tests.support.services import need, postgres_problem


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all."""
    if request.param == "sqlite":
        yield databases.sqlite_url(tmp_path / "empty.db")
        return
    need("PostgreSQL", postgres_problem())
    name = databases.create_postgres()
    yield databases.postgres_url(name)
    databases.drop_postgres(name)


@pytest.fixture
async def empty_db(empty_url: str) -> AsyncIterator[Database]:
    db = Database(empty_url)
    yield db
    await db.dispose()
