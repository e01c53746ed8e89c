"""The documents against the code: every error code, event kind and command a client can meet
is documented where a client author looks for it, so the documents cannot drift again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from protocol.errors import ErrorCode
from protocol.frames import CLIENT_TYPES, RoomCommand
from server.domain.events import EventKind

DOCS = Path(__file__).resolve().parents[1] / "docs"
NAME = re.compile(r"`([a-z_]+)`")


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (a whole heading line), up to the next heading of its level
    or above."""
    lines = text.splitlines()
    start = lines.index(heading)
    level = len(heading) - len(heading.lstrip("#"))
    out = []
    for line in lines[start + 1 :]:
        depth = len(line) - len(line.lstrip("#"))
        if 0 < depth <= level and line[depth : depth + 1] == " ":
            break
        out.append(line)
    return "\n".join(out)


def first_cells(text: str, column: str) -> set[str]:
    """Every `name` in the first cell of the rows of the tables in ``text`` whose first column
    is headed ``column``."""
    names: set[str] = set()
    in_table = wanted = False
    for line in text.splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        first = line.split("|")[1].strip()
        if not in_table:  # a table's header row
            in_table, wanted = True, first == column
        elif wanted and not first.startswith("---"):
            names.update(NAME.findall(first))
    return names


def documented_error_codes() -> set[str]:
    return first_cells(section((DOCS / "protocol.md").read_text(), "## Errors"), "code")


def documented_event_kinds() -> set[str]:
    return first_cells(section((DOCS / "protocol.md").read_text(), "### Event kinds"), "kind")


def commands_with_refusals() -> set[str]:
    text = section((DOCS / "negotiation.md").read_text(), "## Refusals, command by command")
    return {
        name for line in text.splitlines() if line.startswith("### ") for name in NAME.findall(line)
    }


ROOM_COMMANDS = sorted(
    name for name, model in CLIENT_TYPES.items() if issubclass(model, RoomCommand)
)


@pytest.mark.parametrize("code", [c.value for c in ErrorCode])
def test_error_code_is_in_the_protocol_error_table(code: str) -> None:
    assert code in documented_error_codes(), f"docs/protocol.md, Errors: no row for {code!r}"


def test_openapi_error_codes_are_exactly_the_server_s() -> None:
    spec = yaml.safe_load((DOCS / "openapi.yaml").read_text())
    enum = spec["components"]["schemas"]["ErrorCode"]["enum"]
    assert sorted(enum) == sorted(c.value for c in ErrorCode)


def test_protocol_error_table_names_no_code_the_server_lacks() -> None:
    assert documented_error_codes() <= {c.value for c in ErrorCode}


@pytest.mark.parametrize("kind", [k.value for k in EventKind])
def test_event_kind_is_in_the_protocol_event_table(kind: str) -> None:
    assert kind in documented_event_kinds(), f"docs/protocol.md, Event kinds: no row for {kind!r}"


def test_protocol_event_table_names_no_kind_the_server_lacks() -> None:
    assert documented_event_kinds() <= {k.value for k in EventKind}


@pytest.mark.parametrize("command", ROOM_COMMANDS)
def test_command_has_its_refusals_documented(command: str) -> None:
    assert command in commands_with_refusals(), f"docs/negotiation.md, Refusals: no {command!r}"


IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
WRITTEN = re.compile(r"\bscreenshot\(\w+(?:\.\w+)*, \"([\w-]+)\"\)")


def written_screenshots() -> set[str]:
    """The names the browser tests write into docs/screenshots/."""
    tests = Path(__file__).resolve().parent / "web"
    return {name for path in tests.glob("test_*.py") for name in WRITTEN.findall(path.read_text())}


def test_every_picture_the_documents_show_is_written_by_a_browser_test() -> None:
    written = written_screenshots()
    assert {"delegate", "delegate-phone", "observer", "facilitator", "organiser"} <= written
    shown: dict[str, set[str]] = {}
    for document in [DOCS.parent / "README.md", *sorted(DOCS.glob("*.md"))]:
        for target in IMAGE.findall(document.read_text()):
            path = (document.parent / target).resolve()
            assert path.parent == DOCS / "screenshots", f"{document.name}: {target}"
            assert path.stem in written, f"{document.name}: no test writes {target}"
            assert path.exists(), f"{document.name}: {target} is missing"
            shown.setdefault(document.name, set()).add(path.stem)
    assert shown["web.md"] == written, "docs/web.md shows every view a test writes"
    assert {"delegate", "observer", "facilitator"} <= shown["README.md"]
