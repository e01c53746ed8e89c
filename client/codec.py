"""Frames in and out, through the models of ``protocol.frames`` that the server uses too.

Commands are checked here exactly as the server will check them (the same
:func:`~protocol.frames.decode_command`), so a malformed command raises the same typed error
locally instead of costing a round trip. Server frames of a type this client does not know are
skipped (a newer server may add some); a known type that does not match its model is a
:class:`~client.errors.ProtocolError`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from client.errors import CommandError, ProtocolError, command_error
from protocol.frames import (
    SERVER_FRAME,
    Ack,
    ClientCommand,
    ErrorFrame,
    EventFrame,
    FrameError,
    Hello,
    Pong,
    SeatResume,
    Synced,
    Welcome,
    decode_command,
    encode,
)

ServerFrame = Welcome | EventFrame | Synced | Ack | ErrorFrame | Pong
SERVER_TYPES = frozenset({"welcome", "event", "synced", "ack", "error", "pong"})


def hello(seats: Sequence[tuple[str, int]]) -> str:
    """The ``hello`` frame for ``(token, after)`` pairs."""
    frame = Hello(
        type="hello", seats=[SeatResume(token=token, after=after) for token, after in seats]
    )
    return encode(frame)


def command(fields: dict[str, Any]) -> tuple[ClientCommand, str]:
    """Validate a command (``fields`` hold ``type``, ``id`` and the rest) and encode it.

    Raises:
        CommandError: the subclass the server would answer with (usually
            :class:`~client.errors.Invalid`), with ``field`` naming what is wrong.
    """
    try:
        frame = decode_command(json.dumps({"v": 1, **fields}))
    except FrameError as exc:
        raise command_error(
            exc.code, exc.message, field=exc.field, command_id=fields.get("id")
        ) from None
    if isinstance(frame, Hello):  # pragma: no cover - callers never build one
        raise TypeError("hello is not a command")
    return frame, encode(frame)


def parse(text: str | bytes) -> ServerFrame | None:
    """A server frame, or None for a type this client does not know."""
    if isinstance(text, bytes):
        raise ProtocolError("the server sent a binary frame")
    try:
        return SERVER_FRAME.validate_json(text)
    except ValidationError as exc:
        kind = _type_of(text)
        if kind is not None and kind not in SERVER_TYPES:
            return None
        raise ProtocolError(
            f"unreadable {kind or 'server'} frame: {exc.errors()[0]['msg']}"
        ) from None


def _type_of(text: str) -> str | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def error_of(frame: ErrorFrame) -> CommandError:
    return command_error(frame.code, frame.message, field=frame.field, command_id=frame.id)
