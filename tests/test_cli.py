"""The ``parley`` command: help, clear one-line errors, ``db upgrade`` and ``serve``."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from server import __version__
from server.exercise.scenarios import SCENARIOS
from server.storage.revisions import migration_graph, newest_revision
from tests.support import databases
from tests.support.processes import PARLEY, ROOT, ServerProcess, parley_env, run_parley
from tests.support.services import need, postgres_problem


def assert_one_line_error(result: object, *fragments: str) -> None:
    assert result.returncode != 0  # type: ignore[attr-defined]
    stderr = result.stderr.strip()  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    assert len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith("parley: ")
    for fragment in fragments:
        assert fragment in stderr, stderr


@pytest.mark.parametrize("verb", [[], ["serve"], ["db"], ["db", "upgrade"]])
def test_every_verb_has_help(verb: list[str]) -> None:
    result = run_parley(*verb, "--help", env=parley_env())
    assert result.returncode == 0
    assert "usage: parley" in result.stdout


def test_exercise_start_help_names_every_bundled_scenario() -> None:
    result = run_parley("exercise", "start", "--help", env=parley_env())
    assert result.returncode == 0
    for name in SCENARIOS:
        assert name in result.stdout, name


def test_bad_database_url_is_one_line(tmp_path: Path) -> None:
    env = parley_env(PARLEY_DATA_DIR=str(tmp_path), PARLEY_DATABASE_URL="mysql://x@y/z")
    assert_one_line_error(run_parley("db", "upgrade", env=env), "PARLEY_DATABASE_URL", "mysql")


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    env = parley_env(
        PARLEY_DATA_DIR=str(tmp_path),
        PARLEY_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:1/parley",
    )
    for verb in (["db", "upgrade"], ["serve"]):
        assert_one_line_error(run_parley(*verb, env=env), "cannot open database", "127.0.0.1:1")


def test_unwritable_data_folder_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = parley_env(PARLEY_DATA_DIR=str(blocker / "var"))
    for verb in (["db", "upgrade"], ["serve"]):
        assert_one_line_error(run_parley(*verb, env=env), "data folder", "PARLEY_DATA_DIR")


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    env = parley_env(PARLEY_DATA_DIR=str(tmp_path))
    assert_one_line_error(run_parley("serve", env=env), "parley db upgrade")


def test_bad_setting_value_is_one_line(tmp_path: Path) -> None:
    env = parley_env(PARLEY_DATA_DIR=str(tmp_path), PARLEY_PORT="eighty")
    assert_one_line_error(run_parley("serve", env=env), "PARLEY_PORT")


def health(server: ServerProcess) -> dict[str, object]:
    with urllib.request.urlopen(server.base_url + "/api/v1/health", timeout=5) as response:
        assert response.status == 200
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_upgrade_then_serve_on_sqlite_answers_health(tmp_path: Path) -> None:
    env = parley_env(PARLEY_DATA_DIR=str(tmp_path / "var"))
    upgraded = run_parley("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "var" / "parley.db").is_file()
    server = ServerProcess(env)
    server.start()
    try:
        answer = health(server)
    finally:
        assert server.stop() == 0
    assert answer["status"] == "ok"
    assert answer["database"] == "sqlite"
    assert isinstance(answer["version"], str) and answer["version"]


def test_upgrade_then_serve_on_postgresql_answers_health(tmp_path: Path) -> None:
    need("PostgreSQL", postgres_problem())
    name = databases.create_postgres()
    try:
        env = parley_env(
            PARLEY_DATA_DIR=str(tmp_path), PARLEY_DATABASE_URL=databases.postgres_url(name)
        )
        assert run_parley("db", "upgrade", env=env).returncode == 0
        server = ServerProcess(env)
        server.start()
        try:
            assert health(server)["database"] == "postgresql"
        finally:
            server.stop()
    finally:
        databases.drop_postgres(name)


def run_noting_imports(
    *args: str, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``parley`` and name the packages it imported (``python -X importtime``)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *PARLEY[1:], *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    timings = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    packages = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in timings[1:]}
    return result, packages


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_schema_check_needs_no_alembic(kind: str, tmp_path: Path) -> None:
    """An up-to-date database is upgraded without importing SQLAlchemy or Alembic, a verb that
    writes checks the schema without Alembic, and an older schema is still found and upgraded."""
    env = parley_env(PARLEY_DATA_DIR=str(tmp_path / "var"))
    name = None
    if kind == "postgresql":
        need("PostgreSQL", postgres_problem())
        name = databases.create_postgres()
        env["PARLEY_DATABASE_URL"] = databases.postgres_url(name)
    head = newest_revision()
    (older,) = migration_graph()[head]
    try:
        assert run_parley("db", "upgrade", older, env=env).stdout == (
            f"database {kind} at revision {older}\n"
        )
        refused = run_parley("exercise", "start", "tutorial", env=env)
        assert_one_line_error(refused, f"schema is at {older}, not {head}", "parley db upgrade")

        upgraded, packages = run_noting_imports("db", "upgrade", env=env)
        assert upgraded.stdout == f"database {kind} at revision {head}\n", upgraded.stderr
        assert "alembic" in packages  # there was something to migrate

        again, packages = run_noting_imports("db", "upgrade", env=env)
        assert again.returncode == 0 and again.stdout == upgraded.stdout
        assert packages.isdisjoint({"alembic", "sqlalchemy"}), packages

        started, packages = run_noting_imports("exercise", "start", "tutorial", "--json", env=env)
        assert started.returncode == 0, started.stderr
        assert json.loads(started.stdout)["room"]
        assert "sqlalchemy" in packages and "alembic" not in packages
    finally:
        if name is not None:
            databases.drop_postgres(name)


def test_the_version_is_the_installed_one() -> None:
    import tomllib
    from importlib import metadata

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert __version__ == project["version"] == metadata.version("parley")
    assert run_parley("--version", env=parley_env()).stdout == f"parley {__version__}\n"


def test_unknown_api_path_is_a_json_error(tmp_path: Path) -> None:
    env = parley_env(PARLEY_DATA_DIR=str(tmp_path))
    assert run_parley("db", "upgrade", env=env).returncode == 0
    server = ServerProcess(env)
    server.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(server.base_url + "/api/v1/nothing-here", timeout=5)
    finally:
        server.stop()
    assert caught.value.code == 404
    assert json.loads(caught.value.read())["error"]["code"] == "not_found"
