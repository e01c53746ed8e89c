"""A corpus of bad WebSocket frames, each with the error the server must answer it with.

Every case is data: the frame as sent (``str``: a text frame, ``bytes``: a binary frame), the
error ``code`` and ``field`` the documented protocol (docs/protocol.md) promises for it, and the
``id`` the error frame must carry (the frame's own id when it had a readable one, else None).

Most cases are generated from the protocol's own models (``frame_models.py`` reads their JSON
Schema, so every client command is covered and no field list is kept here): for each command,
each required field missing, each field holding each wrong JSON type, each unknown field (a
field of another command included), and the string constraints broken; then the framing
(invalid JSON, binary frames, non-objects, NaN, nesting, sizes), the version and the type. The
rest are written by hand: commands the seat may not give, in rooms and threads it may not use,
which only the room's rules can refuse.

The corpus is aimed at rooms a test creates (:class:`Targets`): four rooms in which the
connection holds a non-head delegate (``us-2``), a head of delegation (``us-1``), the observer
and the facilitator, and a fifth in which it holds no seat. In each room ``drv`` and ``rvn``
share a live back-channel, ``us`` has opened one to ``drv`` that ``drv`` has not accepted, and
the facilitator has disclosed ``caucus-drv`` to observers.

The server the corpus is sent to runs with :data:`SERVER_SETTINGS` (small frame and text limits
so that oversized frames stay cheap; a rate limit high enough never to interfere).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from protocol.errors import ErrorCode
from protocol.frames import readable_id as protocol_readable_id
from server.web.gateway import HARD_LIMIT_FACTOR
from tests.web.frame_models import COMMANDS, SHAPES

MAX_FRAME_BYTES = 8192
MAX_TEXT_CHARS = 500

SERVER_SETTINGS = {
    "PARLEY_MAX_FRAME_BYTES": str(MAX_FRAME_BYTES),
    "PARLEY_MAX_TEXT_CHARS": str(MAX_TEXT_CHARS),
    "PARLEY_COMMANDS_PER_SECOND": "100000",
    "PARLEY_COMMAND_BURST": "100000",
}

BAD_FRAME = ErrorCode.BAD_FRAME
INVALID = ErrorCode.INVALID
NOT_FOUND = ErrorCode.NOT_FOUND
FORBIDDEN = ErrorCode.FORBIDDEN
CONFLICT = ErrorCode.CONFLICT
TOO_LONG = ErrorCode.TOO_LONG
TOO_LARGE = ErrorCode.FRAME_TOO_LARGE
VERSION = ErrorCode.UNSUPPORTED_VERSION
UNKNOWN = ErrorCode.UNKNOWN_TYPE
GREETED = ErrorCode.ALREADY_GREETED


class Layer(StrEnum):
    """Which part of the server refuses the frame."""

    TRANSPORT = "transport"
    """Before decoding: binary frames and frames above the size limit."""
    DECODE = "decode"
    """``protocol.frames.decode_command``: JSON, version, type, fields."""
    GATEWAY = "gateway"
    """The gateway, after decoding: a second hello, a room the connection holds no seat in."""
    RULES = "rules"
    """The room's rules, against its current state (``server/domain/commands.py``)."""


@dataclass(frozen=True)
class BadFrame:
    name: str
    frame: str | bytes
    code: ErrorCode
    field: str | None
    id: str | None
    """The id the error frame must carry (None: the frame has no readable id)."""
    layer: Layer


@dataclass(frozen=True)
class RoomTarget:
    """A room the corpus connection holds one seat in, and the back-channels created in it."""

    id: str
    seat: str
    hidden_bc: str
    """A live back-channel of ``drv`` and ``rvn``."""
    pending_bc: str
    """A back-channel ``us`` opened to ``drv``, not yet accepted by ``drv``."""


@dataclass(frozen=True)
class Targets:
    delegate: RoomTarget
    """The connection holds ``us-2``: a delegate, not the head of delegation."""
    head: RoomTarget
    """The connection holds ``us-1``: head of the ``us`` delegation."""
    observer: RoomTarget
    facilitator: RoomTarget
    stranger: str
    """A room that exists, in which the connection holds no seat."""


ROOM_IDS = {
    "delegate": "r-delegate",
    "head": "r-head",
    "observer": "r-observer",
    "facilitator": "r-facilitator",
    "stranger": "r-stranger",
}
SEATS = {"delegate": "us-2", "head": "us-1", "observer": "observer", "facilitator": "facilitator"}

# JSON values of each JSON type, to put where another type belongs.
SAMPLES: dict[str, Any] = {
    "null": None,
    "boolean": True,
    "integer": 7,
    "number": 2.5,
    "string": "s",
    "array": [],
    "object": {},
}
BAD_IDENTIFIERS = {
    "empty": "",
    "41 characters": "a" * 41,
    "leading dash": "-plenary",
    "leading dot": ".plenary",
    "leading underscore": "_plenary",
    "space": "ple nary",
    "slash": "ple/nary",
    "non-ASCII": "plénary",
    "trailing newline": "plenary\n",
    "NUL": "plen\u0000ary",
}
BAD_VERSIONS: dict[str, str] = {
    "null": "null",
    "true": "true",
    "false": "false",
    "0": "0",
    "2": "2",
    "-1": "-1",
    "1.0": "1.0",
    "1.5": "1.5",
    "1e0": "1e0",
    "1e400 (infinite)": "1e400",
    "30 digits": "1" + "0" * 29,
    '"1"': '"1"',
    '"v1"': '"v1"',
    "[]": "[]",
    "[1]": "[1]",
    "{}": "{}",
}
BAD_TYPE_STRINGS = [
    "",
    "Ping",
    "PING",
    " ping",
    "ping ",
    "pong",
    "welcome",
    "event",
    "synced",
    "ack",
    "error",
    "post-message",
    "postMessage",
    "post_messages",
    "hello2",
    "pïng",
    "ping\u0000",
]


def dumps(obj: Any, *, ascii: bool = True) -> str:
    return json.dumps(obj, ensure_ascii=ascii, separators=(",", ":"))


def _refuse(name: str) -> Any:
    raise ValueError(name)


def readable_id(frame: str | bytes) -> str | None:
    """The id an error frame carries for ``frame``, by the documented rule: a text frame within
    the size limit holding a JSON object whose ``id`` is a valid command id (1 to 64 of
    ``A-Z a-z 0-9 . _ : -``)."""
    if isinstance(frame, bytes) or len(frame.encode("utf-8", "replace")) > MAX_FRAME_BYTES:
        return None
    try:
        data = json.loads(frame, parse_constant=_refuse)
    except (ValueError, RecursionError):
        return None
    return protocol_readable_id(data)


class _Corpus:
    def __init__(self, targets: Targets) -> None:
        self.t = targets
        self.cases: list[BadFrame] = []
        self._ids = 0

    def next_id(self) -> str:
        self._ids += 1
        return f"bf-{self._ids:03d}"

    def add(
        self,
        name: str,
        frame: str | bytes | Mapping[str, Any],
        code: ErrorCode,
        field: str | None,
        layer: Layer,
    ) -> None:
        text = frame if isinstance(frame, str | bytes) else dumps(frame)
        cid = None if layer is Layer.TRANSPORT else readable_id(text)
        self.cases.append(BadFrame(name, text, code, field, cid, layer))

    # -- base frames: valid in every respect; each case breaks exactly one thing ------------

    def base(self, kind: str) -> dict[str, Any]:
        """A frame of ``kind`` the protocol accepts (its model's example), aimed at the
        delegate's room, with values that mean something there where the rules read them."""
        d = self.t.delegate
        meaningful: dict[str, dict[str, Any]] = {
            "post_message": {"thread": "plenary", "text": "hello"},
            "open_backchannel": {"parties": ["drv"], "title": "A quiet word"},
            "accept_backchannel": {"thread": d.pending_bc},
            "disclose_thread": {"thread": "caucus-us", "to": "everyone"},
            "hello": {"seats": [{"token": "ps_x", "after": 0}]},
        }
        frame = SHAPES[kind].example()
        if "id" in frame:
            frame["id"] = self.next_id()
        if "room" in frame:
            frame["room"] = d.id
        overrides = meaningful.get(kind, {})
        assert set(overrides) <= set(frame), (
            f"{kind}: the model has no {set(overrides) - set(frame)}"
        )
        return {**frame, **overrides}

    def command(self, kind: str, **fields: Any) -> dict[str, Any]:
        frame = self.base(kind)
        frame.update(fields)
        return frame


def _set_path(frame: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``frame`` with the dotted ``path`` set (``seats.0.token``)."""
    out: dict[str, Any] = json.loads(json.dumps(frame))
    *parents, last = path.split(".")
    node = out
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


def _del_path(frame: dict[str, Any], path: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(frame))
    *parents, last = path.split(".")
    node = out
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    del node[last]
    return out


def generated(c: _Corpus) -> None:
    """The systematic part: every field of every client frame, broken every way."""
    # Each required field missing (v and type included).
    for kind in [*COMMANDS, "hello"]:
        for name in ["v", "type", *sorted(SHAPES[kind].required)]:
            c.add(
                f"{kind}: {name} missing",
                _del_path(c.base(kind), name),
                INVALID,
                name,
                Layer.DECODE,
            )
    c.add(
        "hello: seats.0.token missing",
        _del_path(c.base("hello"), "seats.0.token"),
        INVALID,
        "seats.0.token",
        Layer.DECODE,
    )

    # Each field holding each JSON type it must not hold.
    typed: list[tuple[str, str, frozenset[str]]] = [
        (kind, name, json_types)
        for kind in [*COMMANDS, "hello"]
        for name, json_types in SHAPES[kind].fields.items()
    ]
    typed += [
        ("open_backchannel", "parties.0", frozenset({"string"})),
        ("hello", "seats.0", frozenset({"object"})),
        ("hello", "seats.0.token", frozenset({"string"})),
        ("hello", "seats.0.after", frozenset({"integer"})),
    ]
    for kind, path, json_types in typed:
        for sample_type, value in SAMPLES.items():
            if sample_type in json_types:
                continue
            c.add(
                f"{kind}: {path} is {sample_type}",
                _set_path(c.base(kind), path, value),
                INVALID,
                path,
                Layer.DECODE,
            )
    # An integer written as a float, or as a string, is not an integer (no coercion).
    for text in ("0.0", '"0"'):
        frame = dumps(c.base("hello")).replace('"after":0', f'"after":{text}')
        c.add(f"hello: seats.0.after is {text}", frame, INVALID, "seats.0.after", Layer.DECODE)

    # The protocol version.
    for kind in ("ping", "post_message", "hello"):
        for label, raw in BAD_VERSIONS.items():
            frame = '{"v":' + raw + dumps(c.base(kind))[len('{"v":1') :]
            c.add(f"{kind}: v is {label}", frame, VERSION, "v", Layer.DECODE)

    # The frame type.
    for label, value in SAMPLES.items():
        if label == "string":
            continue
        code = INVALID if value is None else UNKNOWN
        c.add(f"type is {label}", c.command("ping", type=value), code, "type", Layer.DECODE)
    for value in BAD_TYPE_STRINGS:
        c.add(f"type is {value!r}", c.command("ping", type=value), UNKNOWN, "type", Layer.DECODE)
    c.add(
        "type of a server frame, without id",
        {"v": 1, "type": "welcome"},
        UNKNOWN,
        "type",
        Layer.DECODE,
    )

    # Unknown fields, including fields of other commands.
    extras = [
        ("post_message", "extra", 1),
        ("post_message", "to", "everyone"),
        ("post_message", "parties", ["drv"]),
        ("post_message", "V", 1),
        ("post_message", "Text", "hi"),
        ("open_backchannel", "extra", None),
        ("open_backchannel", "thread", "plenary"),
        ("accept_backchannel", "extra", {}),
        ("accept_backchannel", "text", "hi"),
        ("disclose_thread", "extra", []),
        ("disclose_thread", "parties", ["drv"]),
        ("ping", "extra", "x"),
        ("ping", "room", ROOM_IDS["delegate"]),
        ("ping", "seq", 3),
        ("hello", "id", "a-hello-id"),
        ("hello", "room", ROOM_IDS["delegate"]),
        ("hello", "token", "ps_x"),
    ]
    # Every command: an unknown field, and a field of another command that it does not have.
    every_field = {name for shape in SHAPES.values() for name in shape.fields}
    for kind in [*COMMANDS, "hello"]:
        foreign = sorted(every_field - set(SHAPES[kind].fields))[0]
        extras += [(kind, "unknown_field", 0)]
        if not any(k == kind and n == foreign for k, n, _ in extras):
            extras.append((kind, foreign, "x1"))
    for kind, name, value in extras:
        c.add(
            f"{kind}: unknown field {name}",
            c.command(kind, **{name: value}),
            INVALID,
            name,
            Layer.DECODE,
        )
    c.add(
        "hello: unknown field in a seat",
        _set_path(c.base("hello"), "seats.0.room", ROOM_IDS["delegate"]),
        INVALID,
        "seats.0.room",
        Layer.DECODE,
    )

    # String constraints: identifiers. A string over its maximum length is too_long, any other
    # broken constraint invalid.
    for label, value in BAD_IDENTIFIERS.items():
        code = INVALID  # identifiers too long are invalid; too_long is for prose
        c.add(
            f"post_message: room {label}",
            c.command("post_message", room=value),
            code,
            "room",
            Layer.DECODE,
        )
        c.add(
            f"post_message: thread {label}",
            c.command("post_message", thread=value),
            code,
            "thread",
            Layer.DECODE,
        )
        c.add(
            f"open_backchannel: party {label}",
            c.command("open_backchannel", parties=[value]),
            code,
            "parties.0",
            Layer.DECODE,
        )
    # Command ids: an invalid id is never echoed back (the error carries id null).
    for kind in ("ping", "post_message"):
        c.add(f"{kind}: id empty", c.command(kind, id=""), INVALID, "id", Layer.DECODE)
        c.add(
            f"{kind}: id of 65 characters",
            c.command(kind, id="i" * 65),
            INVALID,
            "id",
            Layer.DECODE,
        )
        for label, suffix in (
            ("space", " x"),
            ("slash", "/x"),
            ("non-ASCII", "é"),
            ("newline", "\n"),
        ):
            cid = c.next_id() + suffix
            c.add(f"{kind}: id with {label}", c.command(kind, id=cid), INVALID, "id", Layer.DECODE)
    c.add(
        "post_message: 64-character id is readable (text is null)",
        c.command("post_message", id="i" * 64, text=None),
        INVALID,
        "text",
        Layer.DECODE,
    )
    # Other constraints.
    c.add(
        "open_backchannel: no parties",
        c.command("open_backchannel", parties=[]),
        INVALID,
        "parties",
        Layer.DECODE,
    )
    c.add(
        "open_backchannel: 17 parties",
        c.command("open_backchannel", parties=["drv"] * 17),
        INVALID,
        "parties",
        Layer.DECODE,
    )
    c.add(
        "open_backchannel: second party is a number",
        c.command("open_backchannel", parties=["drv", 3]),
        INVALID,
        "parties.1",
        Layer.DECODE,
    )
    c.add(
        "open_backchannel: title of 201 characters",
        c.command("open_backchannel", title="t" * 201),
        TOO_LONG,
        "title",
        Layer.DECODE,
    )
    c.add(
        "open_backchannel: title with a lone surrogate",
        c.command("open_backchannel", title="A quiet \ud800word"),
        INVALID,
        "title",
        Layer.DECODE,
    )
    for value in ("nobody", "Everyone", "observer", "everyone ", ""):
        c.add(
            f"disclose_thread: to {value!r}",
            c.command("disclose_thread", to=value),
            INVALID,
            "to",
            Layer.DECODE,
        )
    for label, text in (
        ("lone high surrogate", "\ud800"),
        ("lone low surrogate", "\udc00"),
        ("high surrogate at the end", "hello \ud83d"),
        ("two high surrogates", "\ud83d\ud83d"),
        ("reversed pair", "\ude00\ud83d"),
    ):
        c.add(
            f"post_message: text with a {label}",
            c.command("post_message", text=text),
            INVALID,
            "text",
            Layer.DECODE,
        )
    # Lone surrogates (valid JSON escapes, not Unicode) wherever a string goes.
    lone = "\ud800"
    for label, broken, code, field in (
        ("room", c.command("post_message", room=lone), INVALID, "room"),
        ("thread", c.command("post_message", thread=lone), INVALID, "thread"),
        ("party", c.command("open_backchannel", parties=[lone]), INVALID, "parties.0"),
        ("to", c.command("disclose_thread", to=lone), INVALID, "to"),
        ("v", c.command("ping", v=lone), VERSION, "v"),
        ("type", c.command("ping", type=lone), UNKNOWN, "type"),
        ("token", _set_path(c.base("hello"), "seats.0.token", lone), INVALID, "seats.0.token"),
        # The field cannot be named: its name is not Unicode.
        ("an unknown field's name", c.command("ping", **{lone: 1}), INVALID, None),
    ):
        c.add(f"lone surrogate in {label}", broken, code, field, Layer.DECODE)
    hello = c.base("hello")
    for label, path, value, code, field in (
        ("no seats", "seats", [], INVALID, "seats"),
        ("17 seats", "seats", [{"token": "ps_x"}] * 17, INVALID, "seats"),
        ("empty token", "seats.0.token", "", INVALID, "seats.0.token"),
        ("token of 201 characters", "seats.0.token", "t" * 201, INVALID, "seats.0.token"),
        ("negative after", "seats.0.after", -1, INVALID, "seats.0.after"),
    ):
        c.add(f"hello: {label}", _set_path(hello, path, value), code, field, Layer.DECODE)


def framing(c: _Corpus) -> None:
    """Frames that are not JSON objects, or not text, or too large."""
    invalid_json = {
        "empty frame": "",
        "blank frame": " \n\t",
        "lone brace": "{",
        "closing brace": "}",
        "mismatched brackets": "{]",
        "trailing comma": '{"v":1,"type":"ping","id":"x",}',
        "single quotes": "{'v':1,'type':'ping','id':'x'}",
        "unquoted keys": "{v:1,type:'ping'}",
        "missing comma": '{"v":1 "type":"ping"}',
        "two objects": '{"v":1,"type":"ping","id":"x"}{"v":1}',
        "trailing garbage": '{"v":1,"type":"ping","id":"x"} x',
        "trailing NUL": '{"v":1,"type":"ping","id":"x"}\u0000',
        "truncated": '{"v":1,"type":"ping","id":"x"',
        "truncated string": '{"v":1,"type":"ping","id":"x',
        "leading zero": '{"v":01,"type":"ping","id":"x"}',
        "hex number": '{"v":0x1,"type":"ping","id":"x"}',
        "plus sign": '{"v":+1,"type":"ping","id":"x"}',
        "bad escape": '{"v":1,"type":"ping","id":"\\x41"}',
        "raw control character in a string": '{"v":1,"type":"ping","id":"a\tb"}',
        "comment": '// hello\n{"v":1,"type":"ping","id":"x"}',
        "byte order mark": '\ufeff{"v":1,"type":"ping","id":"x"}',
        "undefined": "undefined",
        "plain words": "hello server",
        "python literal": "{'v': 1, 'type': 'ping', 'id': None}",
    }
    for label, text in invalid_json.items():
        c.add(f"invalid JSON: {label}", text, BAD_FRAME, None, Layer.DECODE)
    not_objects = {
        "array": "[]",
        "array holding a command": '[{"v":1,"type":"ping","id":"x"}]',
        "string": '"ping"',
        "empty string": '""',
        "integer": "1",
        "number": "-0.5",
        "true": "true",
        "false": "false",
        "null": "null",
    }
    for label, text in not_objects.items():
        c.add(f"not an object: {label}", text, BAD_FRAME, None, Layer.DECODE)
    constants = {
        "NaN as v": '{"v":NaN,"type":"ping","id":"x"}',
        "NaN in a field": '{"v":1,"type":"ping","id":"x","n":NaN}',
        "Infinity": '{"v":1,"type":"hello","seats":[{"token":"t","after":Infinity}]}',
        "-Infinity": '{"v":1,"type":"hello","seats":[{"token":"t","after":-Infinity}]}',
        "bare NaN": "NaN",
        "NaN in an array": "[NaN]",
    }
    for label, text in constants.items():
        c.add(f"not JSON: {label}", text, BAD_FRAME, None, Layer.DECODE)
    ping = c.base("ping")
    c.add(
        "integer of 4301 digits",
        '{"v":1,"type":"ping","id":"x","n":' + "9" * 4301 + "}",
        BAD_FRAME,
        None,
        Layer.DECODE,
    )
    c.add("v of 5000 digits", '{"v":' + "1" * 5000 + "}", BAD_FRAME, None, Layer.DECODE)
    # Nesting: deeper than the decoder recurses is not JSON it reads; shallower is a field.
    c.add("arrays nested 2000 deep", "[" * 2000 + "]" * 2000, BAD_FRAME, None, Layer.DECODE)
    c.add(
        "objects nested 1200 deep", '{"a":' * 1200 + "1" + "}" * 1200, BAD_FRAME, None, Layer.DECODE
    )
    c.add(
        "a field nested 1500 deep",
        dumps(ping)[:-1] + ',"deep":' + "[" * 1500 + "]" * 1500 + "}",
        BAD_FRAME,
        None,
        Layer.DECODE,
    )
    c.add(
        "a field nested 200 deep",
        dumps(c.base("ping"))[:-1] + ',"deep":' + "[" * 200 + "]" * 200 + "}",
        INVALID,
        "deep",
        Layer.DECODE,
    )
    c.add(
        "v nested 200 deep",
        '{"v":' + "[" * 200 + "]" * 200 + ',"type":"ping","id":"' + c.next_id() + '"}',
        VERSION,
        "v",
        Layer.DECODE,
    )
    # Within orjson's 1024 levels but beyond json's: the answer is json's (not JSON it reads),
    # and no message may try to show the value whole.
    for depth in (1000, 1023):
        c.add(
            f"v nested {depth} deep",
            '{"v":' + "[" * depth + "]" * depth + ',"type":"ping","id":"' + c.next_id() + '"}',
            BAD_FRAME,
            None,
            Layer.DECODE,
        )
        c.add(
            f"type nested {depth} deep",
            '{"v":1,"type":' + "[" * depth + "]" * depth + ',"id":"' + c.next_id() + '"}',
            BAD_FRAME,
            None,
            Layer.DECODE,
        )
        c.add(
            f"a field nested {depth} deep",
            dumps(c.base("ping"))[:-1] + ',"deep":' + "[" * depth + "]" * depth + "}",
            BAD_FRAME,
            None,
            Layer.DECODE,
        )

    # Binary frames, whatever they hold, and whatever their size up to the hard limit.
    binaries = {
        "empty": b"",
        "NUL": b"\x00",
        "invalid UTF-8": b"\xff\xfe\xfd",
        "a valid ping": dumps(c.base("ping")).encode(),
        "a valid post": dumps(c.base("post_message")).encode(),
        "one byte above the frame limit": b"x" * (MAX_FRAME_BYTES + 1),
        "at the hard limit": b"x" * (MAX_FRAME_BYTES * HARD_LIMIT_FACTOR),
    }
    for label, data in binaries.items():
        c.add(f"binary frame: {label}", data, BAD_FRAME, None, Layer.TRANSPORT)

    # Sizes: the limit counts UTF-8 bytes; above it a frame is refused unread (no id).
    def padded(size: int, pad_char: str, kind: str = "ping") -> str:
        frame = c.base(kind)
        frame["pad"] = ""
        empty = len(dumps(frame, ascii=False).encode())
        per = len(pad_char.encode())
        assert (size - empty) % per == 0, (size, empty, per)
        frame["pad"] = pad_char * ((size - empty) // per)
        text = dumps(frame, ascii=False)
        assert len(text.encode()) == size
        return text

    c.add(
        "ping of exactly the frame limit",
        padded(MAX_FRAME_BYTES, "x"),
        INVALID,
        "pad",
        Layer.DECODE,
    )
    c.add(
        "ping of exactly the frame limit in 2-byte characters",
        padded(MAX_FRAME_BYTES, "é"),
        INVALID,
        "pad",
        Layer.DECODE,
    )
    c.add(
        "ping one byte above the frame limit",
        padded(MAX_FRAME_BYTES + 1, "x"),
        TOO_LARGE,
        None,
        Layer.TRANSPORT,
    )
    c.add(
        "ping above the limit in bytes, not in characters",
        padded(MAX_FRAME_BYTES + 2, "é"),
        TOO_LARGE,
        None,
        Layer.TRANSPORT,
    )
    c.add(
        "ping above the limit in 4-byte characters",
        _four_byte_frame(c),
        TOO_LARGE,
        None,
        Layer.TRANSPORT,
    )
    c.add(
        "post one byte above the frame limit",
        padded(MAX_FRAME_BYTES + 1, "x", "post_message"),
        TOO_LARGE,
        None,
        Layer.TRANSPORT,
    )
    c.add(
        "garbage above the frame limit",
        "x" * (MAX_FRAME_BYTES + 1),
        TOO_LARGE,
        None,
        Layer.TRANSPORT,
    )
    c.add(
        "frame at the hard limit",
        padded(MAX_FRAME_BYTES * HARD_LIMIT_FACTOR, "x"),
        TOO_LARGE,
        None,
        Layer.TRANSPORT,
    )


def _four_byte_frame(c: _Corpus) -> str:
    frame = c.base("ping")
    frame["pad"] = "😀" * (MAX_FRAME_BYTES // 4)
    text = dumps(frame, ascii=False)
    assert len(text) < MAX_FRAME_BYTES < len(text.encode())
    return text


def gateway(c: _Corpus) -> None:
    """Frames that decode, refused by the gateway."""
    c.add("a second hello", c.base("hello"), GREETED, "type", Layer.GATEWAY)
    c.add(
        "a second hello with 16 seats",
        {"v": 1, "type": "hello", "seats": [{"token": f"ps_{i}", "after": i} for i in range(16)]},
        GREETED,
        "type",
        Layer.GATEWAY,
    )
    stranger = c.t.stranger
    for kind in ("post_message", "open_backchannel", "accept_backchannel", "disclose_thread"):
        c.add(
            f"{kind} in a room without a seat",
            c.command(kind, room=stranger),
            NOT_FOUND,
            "room",
            Layer.GATEWAY,
        )
    c.add(
        "post_message in a room that does not exist",
        c.command("post_message", room="r-nowhere"),
        NOT_FOUND,
        "room",
        Layer.GATEWAY,
    )
    c.add(
        "post_message in a room without a seat, hidden thread",
        c.command("post_message", room=stranger, thread="caucus-drv"),
        NOT_FOUND,
        "room",
        Layer.GATEWAY,
    )


def rules(c: _Corpus) -> None:
    """Hand-written: commands the room's rules refuse for the seat that gives them."""
    t = c.t
    Case = tuple[str, str, dict[str, Any], ErrorCode, str | None]

    def run(target: RoomTarget, who: str, cases: list[Case]) -> None:
        for label, kind, fields, code, field in cases:
            frame = c.command(kind, room=target.id, **fields)
            c.add(f"{who}: {label}", frame, code, field, Layer.RULES)

    over = "x" * (MAX_TEXT_CHARS + 1)
    d = t.delegate
    run(
        d,
        "delegate",
        [
            (
                "post to another party's caucus",
                "post_message",
                {"thread": "caucus-drv"},
                NOT_FOUND,
                "thread",
            ),
            (
                "post to a third party's caucus",
                "post_message",
                {"thread": "caucus-rvn"},
                NOT_FOUND,
                "thread",
            ),
            (
                "post to a back-channel its party is not in",
                "post_message",
                {"thread": d.hidden_bc},
                NOT_FOUND,
                "thread",
            ),
            (
                "post to a thread that does not exist",
                "post_message",
                {"thread": "no-such-thread"},
                NOT_FOUND,
                "thread",
            ),
            (
                "post to a back-channel not yet live",
                "post_message",
                {"thread": d.pending_bc},
                CONFLICT,
                None,
            ),
            ("post empty text", "post_message", {"text": ""}, INVALID, "text"),
            ("post a space", "post_message", {"text": " "}, INVALID, "text"),
            ("post only whitespace", "post_message", {"text": "\n\t\u3000\u00a0"}, INVALID, "text"),
            ("post text over the limit", "post_message", {"text": over}, TOO_LONG, "text"),
            (
                "post text far over the limit",
                "post_message",
                {"text": "y" * 3000},
                TOO_LONG,
                "text",
            ),
            (
                "post over the limit in 4-byte characters",
                "post_message",
                {"text": "😀" * (MAX_TEXT_CHARS + 1)},
                TOO_LONG,
                "text",
            ),
            (
                "post whitespace over the limit",
                "post_message",
                {"text": " " * 600},
                INVALID,
                "text",
            ),
            (
                "post empty text to a hidden caucus",
                "post_message",
                {"thread": "caucus-drv", "text": ""},
                NOT_FOUND,
                "thread",
            ),
            (
                "open a back-channel (not head)",
                "open_backchannel",
                {"parties": ["drv"]},
                FORBIDDEN,
                None,
            ),
            (
                "accept a back-channel (not head)",
                "accept_backchannel",
                {"thread": d.pending_bc},
                FORBIDDEN,
                None,
            ),
            (
                "accept a hidden back-channel",
                "accept_backchannel",
                {"thread": d.hidden_bc},
                NOT_FOUND,
                "thread",
            ),
            ("accept the plenary", "accept_backchannel", {"thread": "plenary"}, INVALID, "thread"),
            (
                "decline a back-channel (not head)",
                "decline_backchannel",
                {"thread": d.pending_bc},
                FORBIDDEN,
                None,
            ),
            (
                "decline a hidden back-channel",
                "decline_backchannel",
                {"thread": d.hidden_bc},
                NOT_FOUND,
                "thread",
            ),
            (
                "decline the plenary",
                "decline_backchannel",
                {"thread": "plenary"},
                INVALID,
                "thread",
            ),
            (
                "accept its own caucus",
                "accept_backchannel",
                {"thread": "caucus-us"},
                INVALID,
                "thread",
            ),
            ("disclose its caucus", "disclose_thread", {"thread": "caucus-us"}, FORBIDDEN, None),
            (
                "disclose its back-channel",
                "disclose_thread",
                {"thread": d.pending_bc, "to": "observers"},
                FORBIDDEN,
                None,
            ),
            ("disclose the plenary", "disclose_thread", {"thread": "plenary"}, INVALID, "thread"),
            (
                "disclose a hidden back-channel",
                "disclose_thread",
                {"thread": d.hidden_bc},
                NOT_FOUND,
                "thread",
            ),
            (
                "disclose another party's caucus",
                "disclose_thread",
                {"thread": "caucus-rvn"},
                NOT_FOUND,
                "thread",
            ),
        ],
    )
    h = t.head
    run(
        h,
        "head",
        [
            (
                "open a back-channel to an unknown party",
                "open_backchannel",
                {"parties": ["nope"]},
                NOT_FOUND,
                "parties.0",
            ),
            (
                "open a back-channel to its own party",
                "open_backchannel",
                {"parties": ["us"]},
                INVALID,
                "parties.0",
            ),
            (
                "open a back-channel listing a party twice",
                "open_backchannel",
                {"parties": ["drv", "drv"]},
                INVALID,
                "parties.1",
            ),
            (
                "open a back-channel, second party unknown",
                "open_backchannel",
                {"parties": ["drv", "nope"]},
                NOT_FOUND,
                "parties.1",
            ),
            (
                "open a back-channel, second party its own",
                "open_backchannel",
                {"parties": ["rvn", "us"]},
                INVALID,
                "parties.1",
            ),
            (
                "accept its own back-channel again",
                "accept_backchannel",
                {"thread": h.pending_bc},
                CONFLICT,
                None,
            ),
            (
                "accept a hidden back-channel",
                "accept_backchannel",
                {"thread": h.hidden_bc},
                NOT_FOUND,
                "thread",
            ),
            ("accept a caucus", "accept_backchannel", {"thread": "caucus-us"}, INVALID, "thread"),
            (
                "decline its own back-channel (accepted by opening it)",
                "decline_backchannel",
                {"thread": h.pending_bc},
                CONFLICT,
                None,
            ),
            (
                "post to another party's caucus",
                "post_message",
                {"thread": "caucus-rvn"},
                NOT_FOUND,
                "thread",
            ),
            (
                "post to a hidden back-channel",
                "post_message",
                {"thread": h.hidden_bc},
                NOT_FOUND,
                "thread",
            ),
            (
                "post to its back-channel not yet live",
                "post_message",
                {"thread": h.pending_bc},
                CONFLICT,
                None,
            ),
            (
                "post text over the limit",
                "post_message",
                {"thread": "caucus-us", "text": over},
                TOO_LONG,
                "text",
            ),
            ("disclose its caucus", "disclose_thread", {"thread": "caucus-us"}, FORBIDDEN, None),
            (
                "disclose its back-channel",
                "disclose_thread",
                {"thread": h.pending_bc},
                FORBIDDEN,
                None,
            ),
        ],
    )
    o = t.observer
    run(
        o,
        "observer",
        [
            ("post to the plenary", "post_message", {}, FORBIDDEN, None),
            # Threads an observer sees only sealed are not found, as if they did not exist.
            ("post to a caucus", "post_message", {"thread": "caucus-us"}, NOT_FOUND, "thread"),
            (
                "post to a back-channel",
                "post_message",
                {"thread": o.hidden_bc},
                NOT_FOUND,
                "thread",
            ),
            (
                "post to a thread that does not exist",
                "post_message",
                {"thread": "no-such-thread"},
                NOT_FOUND,
                "thread",
            ),
            (
                "open a back-channel",
                "open_backchannel",
                {"parties": ["us", "drv"]},
                FORBIDDEN,
                None,
            ),
            (
                "accept a back-channel",
                "accept_backchannel",
                {"thread": o.pending_bc},
                NOT_FOUND,
                "thread",
            ),
            ("accept the plenary", "accept_backchannel", {"thread": "plenary"}, INVALID, "thread"),
            (
                "decline a back-channel",
                "decline_backchannel",
                {"thread": o.pending_bc},
                NOT_FOUND,
                "thread",
            ),
            ("disclose a caucus", "disclose_thread", {"thread": "caucus-us"}, NOT_FOUND, "thread"),
            (
                "disclose a back-channel",
                "disclose_thread",
                {"thread": o.hidden_bc},
                NOT_FOUND,
                "thread",
            ),
            ("disclose the plenary", "disclose_thread", {"thread": "plenary"}, INVALID, "thread"),
        ],
    )
    f = t.facilitator
    run(
        f,
        "facilitator",
        [
            ("post to a caucus", "post_message", {"thread": "caucus-us"}, FORBIDDEN, None),
            ("post to a back-channel", "post_message", {"thread": f.hidden_bc}, FORBIDDEN, None),
            (
                "post to a back-channel not yet live",
                "post_message",
                {"thread": f.pending_bc},
                FORBIDDEN,
                None,
            ),
            ("post empty text", "post_message", {"text": ""}, INVALID, "text"),
            ("post text over the limit", "post_message", {"text": over}, TOO_LONG, "text"),
            ("open a back-channel", "open_backchannel", {"parties": ["us"]}, FORBIDDEN, None),
            (
                "accept a back-channel",
                "accept_backchannel",
                {"thread": f.pending_bc},
                FORBIDDEN,
                None,
            ),
            ("disclose the plenary", "disclose_thread", {"thread": "plenary"}, INVALID, "thread"),
            (
                "disclose a thread that does not exist",
                "disclose_thread",
                {"thread": "bc-000000000000"},
                NOT_FOUND,
                "thread",
            ),
            (
                "disclose again to the same audience",
                "disclose_thread",
                {"thread": "caucus-drv", "to": "observers"},
                CONFLICT,
                None,
            ),
        ],
    )
    # An issue is free-form JSON, read by the rules: a type nested as deep as the decoder
    # reads is still just not a type.
    issue = c.command("add_issue", room=f.id, issue={"id": "deep", "type": "T"})
    c.add(
        "facilitator: add an issue whose type is nested 900 deep",
        dumps(issue).replace('"T"', "[" * 900 + "]" * 900),
        INVALID,
        "issue.type",
        Layer.RULES,
    )


def build(targets: Targets) -> list[BadFrame]:
    """The whole corpus, aimed at ``targets``."""
    corpus = _Corpus(targets)
    for part in (generated, framing, gateway, rules):
        part(corpus)
    names = [case.name for case in corpus.cases]
    duplicates = {n for n in names if names.count(n) > 1}
    assert not duplicates, f"corpus case names must be unique: {sorted(duplicates)}"
    for case in corpus.cases:
        size = len(
            case.frame if isinstance(case.frame, bytes) else case.frame.encode("utf-8", "replace")
        )
        too_large = case.code is TOO_LARGE
        assert too_large == (size > MAX_FRAME_BYTES and isinstance(case.frame, str)), case.name
        assert size <= MAX_FRAME_BYTES * HARD_LIMIT_FACTOR, case.name
    ids = [case.id for case in corpus.cases if case.id is not None]
    assert len(ids) == len(set(ids)), "every case with a readable id needs its own"
    return corpus.cases


def example_targets() -> Targets:
    """Fixed targets, for checks that need no server (the decoder never reads thread ids)."""

    def room(role: str) -> RoomTarget:
        return RoomTarget(ROOM_IDS[role], SEATS[role], "bc-0000000000aa", "bc-0000000000bb")

    return Targets(
        room("delegate"), room("head"), room("observer"), room("facilitator"), ROOM_IDS["stranger"]
    )


def by_layer(cases: list[BadFrame], *layers: Layer) -> Iterator[BadFrame]:
    return (case for case in cases if case.layer in layers)
