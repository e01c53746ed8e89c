"""``protocol/schema/*.json`` is exactly what the frame models generate (``render_schemas``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from protocol import PROTOCOL_VERSION
from protocol.errors import ErrorCode
from protocol.frames import CLIENT_TYPES
from protocol.schema import SCHEMA_DIALECT, render_schemas

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "protocol" / "schema"
REGENERATE = (
    'regenerate it: .venv/bin/python -c "from pathlib import Path; from protocol.schema import '
    "render_schemas; [Path('protocol/schema', n).write_text(t) for n, t in "
    'render_schemas().items()]"'
)


def test_the_schema_folder_holds_exactly_the_rendered_files() -> None:
    on_disk = sorted(p.name for p in SCHEMA_DIR.glob("*.json"))
    assert on_disk == sorted(render_schemas()), REGENERATE


@pytest.mark.parametrize("name", sorted(render_schemas()))
def test_each_schema_file_equals_what_the_models_render(name: str) -> None:
    path = SCHEMA_DIR / name
    assert path.exists(), f"{path} is missing; {REGENERATE}"
    assert path.read_text(encoding="utf-8") == render_schemas()[name], (
        f"{path} is stale; {REGENERATE}"
    )


def test_rendering_is_deterministic() -> None:
    assert render_schemas() == render_schemas()


@pytest.mark.parametrize("name", sorted(render_schemas()))
def test_each_schema_is_a_titled_2020_12_schema(name: str) -> None:
    schema = json.loads(render_schemas()[name])
    assert schema["$schema"] == SCHEMA_DIALECT
    assert schema["title"].startswith(f"Parley protocol v{PROTOCOL_VERSION}: ")
    if name.endswith("-frames.json"):
        assert "oneOf" in schema and "discriminator" in schema
    else:  # the HTTP answers: one definition per body
        assert {"RoomBody", "CommandAck", "EventPage", "CheckpointBody"} <= set(schema["$defs"])


def test_the_client_schema_names_every_command_and_forbids_unknown_fields() -> None:
    schema = json.loads(render_schemas()["client-frames.json"])
    mapping = schema["discriminator"]["mapping"]
    assert sorted(mapping) == sorted(CLIENT_TYPES)
    assert "table_proposal" in mapping and "hello" in mapping
    for name, definition in schema["$defs"].items():
        assert definition.get("additionalProperties") is False, name


def test_the_server_schema_names_every_server_frame() -> None:
    schema = json.loads(render_schemas()["server-frames.json"])
    assert sorted(schema["discriminator"]["mapping"]) == sorted(
        ["welcome", "event", "synced", "ack", "error", "pong"]
    )
    error = schema["$defs"]["ErrorFrame"]
    codes = error["properties"]["code"]
    codes = schema["$defs"][codes["$ref"].rsplit("/", 1)[1]] if "$ref" in codes else codes
    assert sorted(codes["enum"]) == sorted(code.value for code in ErrorCode)
