"""The corpus's reading of the protocol models: every command, and examples the server accepts."""

from __future__ import annotations

import json
import typing

import pytest

from protocol.frames import ClientFrame, decode_command
from tests.web.bad_frames import build, example_targets
from tests.web.frame_models import SHAPES, json_types


def _model_types() -> set[str]:
    """Every frame type of the ``ClientFrame`` union, read from the models' ``type`` fields."""
    union = typing.get_args(typing.get_args(ClientFrame)[0])
    return {typing.get_args(model.model_fields["type"].annotation)[0] for model in union}


def test_every_client_frame_type_is_read_from_the_models() -> None:
    assert set(SHAPES) == _model_types()
    assert len(SHAPES) >= 18


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_each_example_is_a_frame_the_protocol_accepts(kind: str) -> None:
    frame = decode_command(json.dumps(SHAPES[kind].example()))
    assert frame.type == kind


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_every_field_of_every_command_is_broken_by_some_case(kind: str) -> None:
    names = {case.name for case in build(example_targets())}
    for field, types in SHAPES[kind].fields.items():
        if field in SHAPES[kind].required:
            assert f"{kind}: {field} missing" in names
        assert any(n.startswith(f"{kind}: {field} is ") for n in names) or len(types) == 7
    assert f"{kind}: unknown field unknown_field" in names


def test_union_fields_admit_each_of_their_types() -> None:
    assert json_types(SHAPES["set_position"].nodes["preferred"]) == {
        "integer",
        "boolean",
        "string",
        "null",
    }
    assert json_types(SHAPES["post_message"].nodes["text"]) == {"string"}
