"""Frames of the WebSocket protocol: one model per client command and per server event.

Every frame is a JSON object in a text frame with the protocol version ``v`` and a ``type``.
Client frames are validated strictly (no coercion: ``"3"`` is not an integer, unknown fields are
refused) by :func:`decode_command`, which turns every defect into a :class:`FrameError` carrying
the wire error code and the field at fault. The server's frames are built from the same models,
so both sides share one definition; ``protocol/schema/`` holds the JSON Schema generated from
them (``make schema``).

A session, in frames (docs/protocol.md has the whole walk-through)::

    -> {"v": 1, "type": "hello", "seats": [{"token": "ps_...", "after": 0}]}
    <- {"v": 1, "type": "welcome", ...}
    <- {"v": 1, "type": "event", "room": "r-1", "seq": 1, ...}     replay, then
    <- {"v": 1, "type": "synced", "room": "r-1", "seq": 9}        live events follow
    -> {"v": 1, "type": "post_message", "id": "c1", "room": "r-1", "thread": "plenary", ...}
    <- {"v": 1, "type": "ack", "id": "c1", "room": "r-1", "seq": 10, "duplicate": false}
"""

from __future__ import annotations

import json
import re
import reprlib
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from protocol import PROTOCOL_VERSION
from protocol.errors import ErrorCode


def _no_surrogates(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (it holds a lone surrogate)") from None
    return text


Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]
"""Ids of rooms, seats, parties and threads."""
CommandId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
]
"""A client-chosen id; repeating it (same seat, same room) never appends twice."""
Text = Annotated[str, AfterValidator(_no_surrogates)]
Title = Annotated[str, StringConstraints(max_length=200), AfterValidator(_no_surrogates)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Role = Literal["facilitator", "delegate", "observer"]
Audience = Literal["observers", "everyone"]


class Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    v: Literal[1] = 1


# -- client -> server ---------------------------------------------------------------------


class SeatResume(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    token: Token
    """A session token (from redeeming an invite)."""
    after: Annotated[int, Field(ge=0)] = 0
    """The last ``seq`` the client holds for this seat's room; 0 replays from the start."""


class Hello(Frame):
    """The first frame of a connection: the seats it acts for and where to resume each."""

    type: Literal["hello"]
    seats: Annotated[list[SeatResume], Field(min_length=1, max_length=16)]


class Command(Frame):
    """A command: answered by ``ack`` or ``error`` carrying the same ``id``."""

    id: CommandId


class RoomCommand(Command):
    room: Identifier


class PostMessage(RoomCommand):
    """Post a message to a thread the seat may write in."""

    type: Literal["post_message"]
    thread: Identifier
    text: Text


class OpenBackchannel(RoomCommand):
    """Open a back-channel from the seat's party (its head of delegation) to other parties."""

    type: Literal["open_backchannel"]
    parties: Annotated[list[Identifier], Field(min_length=1, max_length=16)]
    title: Title = ""


class AcceptBackchannel(RoomCommand):
    """Accept, for the seat's party (its head of delegation), a back-channel it was invited to."""

    type: Literal["accept_backchannel"]
    thread: Identifier


class DeclineBackchannel(RoomCommand):
    """Decline, for the seat's party (its head of delegation), a back-channel it was invited to
    and has not accepted; the back-channel is then closed and never goes live."""

    type: Literal["decline_backchannel"]
    thread: Identifier


class DiscloseThread(RoomCommand):
    """Disclose a back-channel or caucus (facilitator only) to observers or to everyone."""

    type: Literal["disclose_thread"]
    thread: Identifier
    to: Audience


IssueId = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")
]


def _term_value(value: object) -> int | bool | str:
    # One check for the whole union, so a wrong value gets one error naming the field (a plain
    # union would answer with one error per member, at paths such as ``preferred.int``).
    if isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return _no_surrogates(value)
    raise ValueError("a term's value is an integer, true or false, or a string")


TermValue = Annotated[
    int | bool | str,
    PlainValidator(_term_value),
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "boolean"}, {"type": "string"}]}),
]
"""An issue's value: an integer (number), true/false (yes/no), or text (date, option, text).
Records hold no floats: a fraction is expressed in a smaller unit."""
Clause = Annotated[
    str, StringConstraints(min_length=1, max_length=4000), AfterValidator(_no_surrogates)
]
LongText = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_no_surrogates)]
Stage = Annotated[str, StringConstraints(min_length=1, max_length=60)]


class AddIssue(RoomCommand):
    """Put an issue on the agenda (facilitator, pre-negotiation)."""

    type: Literal["add_issue"]
    issue: dict[str, Any]
    """``{"id", "title", "type": number|date|choice|yesno|text, "unit", "min", "max",
    "options"}``; checked field by field by the server (errors name ``issue.<field>``)."""


class SetPosition(RoomCommand):
    """Set the party's confidential position on an issue (head; logged in its caucus)."""

    type: Literal["set_position"]
    issue: IssueId
    direction: Literal["up", "down"] | None = None
    preferred: TermValue | None = None
    reservation: TermValue | None = None


class TableProposal(RoomCommand):
    """Table a proposal in a thread (head; facilitator: a mediator's text in plenary).

    With ``coalition``, it is a joint proposal: drafted in the coalition's caucus and tabled
    once every member has endorsed it.
    """

    type: Literal["table_proposal"]
    thread: Identifier
    terms: Annotated[dict[IssueId, TermValue], Field(max_length=50)] = {}
    clauses: Annotated[list[Clause], Field(max_length=50)] = []
    title: Title = ""
    parent: Identifier | None = None
    coalition: Identifier | None = None


class EndorseProposal(RoomCommand):
    type: Literal["endorse_proposal"]
    proposal: Identifier


class AnswerProposal(RoomCommand):
    type: Literal["answer_proposal"]
    proposal: Identifier
    answer: Literal["accept", "reject", "reserve"]
    reason: LongText = ""


class WithdrawProposal(RoomCommand):
    type: Literal["withdraw_proposal"]
    proposal: Identifier


class RecordConcession(RoomCommand):
    """A concession stated in words (a move no number shows), by a head."""

    type: Literal["record_concession"]
    thread: Identifier
    description: LongText
    issue: IssueId | None = None
    toward: Identifier | None = None


class ChangeStage(RoomCommand):
    type: Literal["change_stage"]
    to: Stage


class ConsentStage(RoomCommand):
    """A head's consent to a stage change (rooms without a facilitator)."""

    type: Literal["consent_stage"]
    to: Stage


class DeclareCoalition(RoomCommand):
    type: Literal["declare_coalition"]
    parties: Annotated[list[Identifier], Field(min_length=1, max_length=16)]
    name: Title


class JoinCoalition(RoomCommand):
    type: Literal["join_coalition"]
    coalition: Identifier


class SignAgreement(RoomCommand):
    type: Literal["sign_agreement"]
    agreement: Identifier


class Ping(Command):
    """Answered by ``pong``; also counts against the command rate."""

    type: Literal["ping"]


ClientCommand = (
    PostMessage
    | OpenBackchannel
    | AcceptBackchannel
    | DeclineBackchannel
    | DiscloseThread
    | AddIssue
    | SetPosition
    | TableProposal
    | EndorseProposal
    | AnswerProposal
    | WithdrawProposal
    | RecordConcession
    | ChangeStage
    | ConsentStage
    | DeclareCoalition
    | JoinCoalition
    | SignAgreement
    | Ping
)
ClientFrame = Annotated[Hello | ClientCommand, Field(discriminator="type")]
CLIENT_TYPES: dict[str, type[Frame]] = {
    "hello": Hello,
    "post_message": PostMessage,
    "open_backchannel": OpenBackchannel,
    "accept_backchannel": AcceptBackchannel,
    "decline_backchannel": DeclineBackchannel,
    "disclose_thread": DiscloseThread,
    "add_issue": AddIssue,
    "set_position": SetPosition,
    "table_proposal": TableProposal,
    "endorse_proposal": EndorseProposal,
    "answer_proposal": AnswerProposal,
    "withdraw_proposal": WithdrawProposal,
    "record_concession": RecordConcession,
    "change_stage": ChangeStage,
    "consent_stage": ConsentStage,
    "declare_coalition": DeclareCoalition,
    "join_coalition": JoinCoalition,
    "sign_agreement": SignAgreement,
    "ping": Ping,
}


# -- server -> client ---------------------------------------------------------------------


class SeatInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    room: str
    seat: str
    role: Role
    party: str | None
    name: str
    head: bool
    """Head of delegation."""
    stage: str
    """The room's stage when the connection was greeted."""


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_frame_bytes: int
    """Text frames above this get ``frame_too_large``; far above it the socket closes (1009)."""
    max_text_chars: int
    commands_per_second: int
    command_burst: int
    queue_frames: int
    """Frames the server holds for a slow reader before closing it with 4008."""


class Welcome(Frame):
    type: Literal["welcome"] = "welcome"
    protocol: int = PROTOCOL_VERSION
    server: str
    seats: list[SeatInfo]
    limits: Limits


class EventFrame(Frame):
    """One event of a room's log, as this viewer may see it.

    ``full``: ``record`` is the exact record whose RFC 8785 bytes the log hashes, so
    ``leaf_hash == SHA-256(0x00 || canonical(record))`` can be checked by the client.
    ``sealed``: the viewer learns that the event exists, its kind, stage, time and leaf hash,
    and ``record`` is null.
    """

    type: Literal["event"] = "event"
    room: str
    seq: int
    kind: str
    stage: str
    ts: str
    leaf_hash: str
    sealed: bool
    record: dict[str, Any] | None
    command_id: str | None = None
    """Only on the frames sent to the seat whose command appended the event: that command's id.
    Outside the record, so the log and its hashes are the same for every seat."""


class Synced(Frame):
    """Replay is complete for ``room``; live events follow. ``seq``: the last event the client
    now holds (the ``after`` it sent, if replay had nothing for it)."""

    type: Literal["synced"] = "synced"
    room: str
    seq: int


class Ack(Frame):
    type: Literal["ack"] = "ack"
    id: str
    room: str | None
    seq: int | None
    """The seq of the command's event (null for commands that append nothing, like ping)."""
    duplicate: bool = False
    """The id had been used: nothing new was appended; ``seq`` is the first attempt's."""
    thread: str | None = None
    """The thread of the command's event (for ``open_backchannel``: the new back-channel)."""
    created: str | None = None
    """The id of what the command created: a back-channel, proposal or coalition."""


class ErrorFrame(Frame):
    type: Literal["error"] = "error"
    id: str | None = None
    """The id of the command at fault, when the frame had a readable one."""
    code: ErrorCode
    message: str
    field: str | None = None
    """Dotted path of the field at fault (``seats.0.token``), if one is."""


class Pong(Frame):
    type: Literal["pong"] = "pong"
    id: str


ServerFrame = Annotated[
    Welcome | EventFrame | Synced | Ack | ErrorFrame | Pong, Field(discriminator="type")
]

CLIENT_FRAME: TypeAdapter[Hello | ClientCommand] = TypeAdapter(ClientFrame)
SERVER_FRAME: TypeAdapter[Welcome | EventFrame | Synced | Ack | ErrorFrame | Pong] = TypeAdapter(
    ServerFrame
)


# -- decoding -----------------------------------------------------------------------------


class FrameError(ValueError):
    """A client frame the server refuses; carries what the ``error`` frame will say."""

    def __init__(
        self, code: ErrorCode, message: str, *, field: str | None = None, id: str | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.field, self.id = code, message, field, id


_COMMAND_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def readable_id(data: object) -> str | None:
    """The command id of a parsed frame if it is a valid one: the only ids errors echo."""
    raw = data.get("id") if isinstance(data, dict) else None
    return raw if isinstance(raw, str) and _COMMAND_ID.fullmatch(raw) else None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_command(text: str) -> Hello | ClientCommand:
    """Parse and validate one client text frame, or raise :class:`FrameError`.

    The answer is always what ``json``'s reading of the text gives; ``orjson`` reads it first,
    four times faster, where its reading cannot change that answer. The two differ only in what
    ``orjson`` refuses (a lone surrogate escape, a number beyond a double: read again by
    ``json``) and in integers beyond 64 bits, which ``orjson`` reads as floats where ``json``
    keeps them exact. No field of a frame accepts a float but ``add_issue``'s free-form issue,
    so such a frame fails validation and is decided again on ``json``'s reading, as is every
    refused frame (so errors say what they always said), every ``add_issue`` and anything but
    an object.

    Both parsers read nesting deeper than the stack leaves room to walk (``orjson`` to 1024
    levels): whatever then overflows it, validation or a message, the frame is a bad one.
    """
    try:
        return _read(text)
    except RecursionError:
        raise FrameError(
            ErrorCode.BAD_FRAME, "frame is not valid JSON: nested too deeply"
        ) from None


def _read(text: str) -> Hello | ClientCommand:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _decode(_parse(text))
    if type(data) is not dict or data.get("type") == "add_issue":
        return _decode(_parse(text))
    try:
        return _decode(data)
    except FrameError:
        return _decode(_parse(text))


def _parse(text: str) -> object:
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise FrameError(ErrorCode.BAD_FRAME, f"frame is not valid JSON: {exc}") from None


_SHOWN = reprlib.Repr()
_SHOWN.maxlevel = 3
_SHOWN.maxstring = _SHOWN.maxother = _SHOWN.maxlong = 40


def _shown(value: object) -> str:
    """A client's value as an error message quotes it: bounded in length and depth, since a
    whole repr of a value nested as deep as the parsers read overflows the stack."""
    return _SHOWN.repr(value)


def _decode(data: object) -> Hello | ClientCommand:
    if not isinstance(data, dict):
        raise FrameError(ErrorCode.BAD_FRAME, "a frame must be a JSON object")
    cid = readable_id(data)
    if "v" not in data:
        raise FrameError(ErrorCode.INVALID, "the protocol version is missing", field="v", id=cid)
    if data["v"] != PROTOCOL_VERSION or type(data["v"]) is not int:
        raise FrameError(
            ErrorCode.UNSUPPORTED_VERSION,
            f"protocol version {_shown(data['v'])} is not supported; this server speaks "
            f"{PROTOCOL_VERSION}",
            field="v",
            id=cid,
        )
    kind = data.get("type")
    if kind is None:
        raise FrameError(ErrorCode.INVALID, "the frame type is missing", field="type", id=cid)
    model = CLIENT_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        named = kind if isinstance(kind, str) else _shown(kind)
        raise FrameError(
            ErrorCode.UNKNOWN_TYPE, f"unknown frame type {named[:40]!r}", field="type", id=cid
        )
    try:
        frame = model.model_validate(data)
    except ValidationError as exc:
        code, message, where = validation_failure(exc)
        raise FrameError(code, message, field=where, id=cid) from None
    return frame  # type: ignore[return-value]


def validation_failure(exc: ValidationError) -> tuple[ErrorCode, str, str | None]:
    """The wire error for a failed validation: its first problem, with the field's dotted path."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or None
    prose = (
        first["loc"][-1:] in (("text",), ("title",), ("description",), ("reason",), ("name",))
        if first["loc"]
        else False
    )
    prose = prose or (len(first["loc"]) >= 2 and first["loc"][0] == "clauses")
    code = ErrorCode.TOO_LONG if prose and first["type"] == "string_too_long" else ErrorCode.INVALID
    return code, f"{where or 'frame'}: {first['msg']}", where


def encode(frame: Frame) -> str:
    """The JSON text of a server (or client) frame."""
    return frame.model_dump_json()
