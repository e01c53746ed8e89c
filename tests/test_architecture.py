"""The dependency rules of docs/architecture.md, checked by reading every import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("protocol", "server", "client", "migrations", "tests", "bench")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def offending(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in modules(folder):
        for name in imports_of(path):
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


def test_the_rules_would_catch_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from aiohttp import web\nimport sqlalchemy.orm\n")
    assert {"aiohttp", "aiohttp.web", "sqlalchemy.orm"} <= imports_of(sample)
