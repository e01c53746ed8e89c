"""The dependency rules of docs/architecture.md, checked by reading every import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("protocol", "server", "client", "migrations", "tests", "bench")


def _type_checking_only(tree: ast.Module) -> set[ast.AST]:
    """The nodes inside ``if TYPE_CHECKING:`` blocks (imports for annotations only)."""
    inside: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in {
            "TYPE_CHECKING",
            "typing.TYPE_CHECKING",
        }:
            for child in node.body:
                inside.update(ast.walk(child))
    return inside


def imports_of(path: Path, *, at_run_time: bool = False) -> set[str]:
    """Every module (and ``module.name``) ``path`` imports; with ``at_run_time``, leaving out
    imports made for type annotations only."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = _type_checking_only(tree) if at_run_time else set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if node in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def offending(folder: str, forbidden: tuple[str, ...], *, at_run_time: bool = False) -> list[str]:
    bad = []
    for path in modules(folder):
        for name in imports_of(path, at_run_time=at_run_time):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    return bad


def test_protocol_imports_nothing_of_ours() -> None:
    assert offending("protocol", tuple(o for o in OURS if o != "protocol")) == []


@pytest.mark.parametrize("folder", ["server/domain", "server/ledger"])
def test_pure_core_imports_no_io_framework(folder: str) -> None:
    forbidden = (
        "aiohttp",
        "sqlalchemy",
        "alembic",
        "asyncpg",
        "aiosqlite",
        "redis",
        "server.storage",
        "server.web",
        "server.services",
        "server.realtime",
    )
    assert offending(folder, forbidden) == []


def test_only_server_web_imports_aiohttp_web() -> None:
    bad = [
        line
        for folder in ("server", "client", "protocol")
        for line in offending(folder, ("aiohttp.web",))
        if not line.startswith("server/web/")
    ]
    assert bad == []


def test_client_imports_protocol_never_server() -> None:
    assert offending("client", ("server", "migrations")) == []


@pytest.mark.parametrize("folder", ["server/web", "server/realtime"])
def test_edges_do_not_reach_into_storage(folder: str) -> None:
    """The web and realtime layers read through the read service and write through the command
    service; of storage they know only its error types."""
    bad = [
        line
        for line in offending(folder, ("server.storage", "sqlalchemy"))
        if not line.endswith(" imports server.storage.errors") and ".storage.errors." not in line
    ]
    assert bad == []


def test_only_the_read_service_judges_visibility() -> None:
    """``visibility()`` is called by the domain's own rules and by ``server/services/views/``,
    nowhere else: every read path goes through the one read service."""
    judging = ("server.domain.visibility.visibility",)
    bad = [
        line
        for line in offending("server", judging)
        if not line.startswith(("server/services/views/", "server/domain/"))
    ]
    assert bad == []
    users = {line.split(" imports ")[0] for line in offending("server", judging)}
    assert "server/services/views/log.py" in users  # the rule reads what it claims to read


def test_only_storage_talks_sql() -> None:
    """SQL, health checks included, lives in ``server/storage``; elsewhere sqlalchemy may be
    named in annotations only."""
    bad = [
        line
        for folder in ("server", "client", "protocol")
        for line in offending(folder, ("sqlalchemy", "asyncpg", "aiosqlite"), at_run_time=True)
        if not line.startswith("server/storage/")
    ]
    assert bad == []


def test_domain_tests_need_nothing_but_the_domain() -> None:
    """Room setup and the rules are the domain's: its tests import no service or storage."""
    assert offending("tests/domain", ("server.services", "server.storage", "server.web")) == []


def test_every_rule_is_asked_through_the_one_join() -> None:
    """Only ``allowed`` (server/domain/commands.py) reads the permission table, so no path
    can skip the stage rules or the conditions by asking the table directly."""
    users = {
        line.split(" imports ")[0]
        for line in offending("server", ("server.domain.permissions.requirement",))
    }
    assert users == {"server/domain/commands.py"}


def test_the_rules_would_catch_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\nfrom aiohttp import web\nimport sqlalchemy.orm\n"
        "if TYPE_CHECKING:\n    from sqlalchemy.engine import Connection\n"
    )
    assert {"aiohttp", "aiohttp.web", "sqlalchemy.orm", "sqlalchemy.engine"} <= imports_of(sample)
    assert "sqlalchemy.engine" not in imports_of(sample, at_run_time=True)
    assert "sqlalchemy.orm" in imports_of(sample, at_run_time=True)
