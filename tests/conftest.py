"""Fixtures shared by the whole suite: databases on SQLite and PostgreSQL, the log writer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from server.storage.database import Database
from server.storage.writer import LogWriter
from tests.support import databases
from tests.support.live import LiveServer
from tests.support.services import REQUIRE_SERVICES, missing, need, postgres_problem

DATABASE_KINDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return databases.make_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    need("PostgreSQL", postgres_problem())
    name = databases.make_postgres_template()
    yield name
    databases.drop_postgres(name)


@pytest.fixture(params=DATABASE_KINDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of each kind."""
    if request.param == "sqlite":
        yield databases.copy_sqlite(request.getfixturevalue("sqlite_template"), tmp_path)
        return
    template = request.getfixturevalue("postgres_template")
    name = databases.create_postgres(template)
    yield databases.postgres_url(name)
    databases.drop_postgres(name)


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = Database(db_url)
    yield db
    await db.dispose()


@pytest.fixture
async def writer(database: Database) -> AsyncIterator[LogWriter]:
    log_writer = LogWriter(database)
    log_writer.start()
    yield log_writer
    await log_writer.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not missing:
        return
    bar = "!" * 78
    terminalreporter.write_line(bar, red=True, bold=True)
    for service, reason in sorted(missing.items()):
        terminalreporter.write_line(f"!! {service} was NOT tested: {reason}", red=True, bold=True)
    if not REQUIRE_SERVICES:
        terminalreporter.write_line(
            "!! Those tests were skipped. Start the services (see docs/operations.md) or set "
            "PARLEY_REQUIRE_SERVICES=1 to make this a failure.",
            red=True,
            bold=True,
        )
    terminalreporter.write_line(bar, red=True, bold=True)


@pytest.fixture
def live_server(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A real server on a free port over a fresh database of each kind."""
    server = LiveServer(db_url, tmp_path / "data")
    server.start()
    yield server
    if server.process.proc is not None and server.process.proc.poll() is None:
        server.stop()
