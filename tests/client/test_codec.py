"""Commands checked as the server checks them; server frames read through the shared models."""

from __future__ import annotations

import json

import pytest

from client.codec import command, parse
from client.errors import Invalid, ProtocolError
from protocol.errors import ErrorCode
from protocol.frames import Ack, EventFrame, PostMessage


def test_a_valid_command_is_encoded_with_its_version() -> None:
    frame, text = command(
        {"type": "post_message", "id": "c1", "room": "r-1", "thread": "plenary", "text": "hi"}
    )
    assert isinstance(frame, PostMessage)
    assert json.loads(text) == {
        "v": 1,
        "type": "post_message",
        "id": "c1",
        "room": "r-1",
        "thread": "plenary",
        "text": "hi",
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"room": "r-1", "thread": "", "text": "hi"}, "thread"),
        ({"room": "r 1", "thread": "plenary", "text": "hi"}, "room"),
        ({"room": "r-1", "thread": "plenary", "text": "\ud800"}, "text"),
    ],
)
def test_a_malformed_command_raises_invalid_naming_the_field(
    fields: dict[str, str], field: str
) -> None:
    with pytest.raises(Invalid) as refused:
        command({"type": "post_message", "id": "c1", **fields})
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID, field)
    assert refused.value.command_id == "c1"


def test_a_bad_command_id_is_refused() -> None:
    with pytest.raises(Invalid) as refused:
        command({"type": "ping", "id": "not an id!"})
    assert refused.value.field == "id"


def test_server_frames_are_read_into_the_shared_models() -> None:
    ack = parse('{"v":1,"type":"ack","id":"c1","room":"r-1","seq":4,"duplicate":true}')
    assert ack == Ack(id="c1", room="r-1", seq=4, duplicate=True)
    event = parse(
        '{"v":1,"type":"event","room":"r-1","seq":2,"kind":"k","stage":"s",'
        '"ts":"2026-01-01T00:00:00Z","leaf_hash":"ab","sealed":true,"record":null}'
    )
    assert isinstance(event, EventFrame) and event.sealed and event.record is None


def test_an_unknown_frame_type_is_skipped() -> None:
    assert parse('{"v":1,"type":"checkpoint","size":3}') is None


@pytest.mark.parametrize(
    "text",
    [
        '{"v":1,"type":"ack","id":"c1"}',
        '{"v":2,"type":"pong","id":"c1"}',
        "not json",
        b'{"v":1,"type":"pong","id":"c1"}',
    ],
)
def test_an_unreadable_frame_is_a_protocol_error(text: str | bytes) -> None:
    with pytest.raises(ProtocolError):
        parse(text)
