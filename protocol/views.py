"""Bodies of the HTTP API's answers about rooms: sessions, seats, threads, log pages, the agenda,
positions, proposals, coalitions and the agreement (docs/openapi.yaml documents each one).

Every answer is one of these models, built by the server's read service and written with
:func:`dump`, so the wire shape has one definition. Fields that an answer leaves out (an issue
without a unit, say) are left unset and so absent; every other field is always present, null
included.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from protocol.errors import ErrorCode
from protocol.frames import Ack, Role


class View(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def dump(body: BaseModel) -> str:
    """The JSON text of an answer: unset optional fields are absent."""
    return body.model_dump_json(by_alias=True, exclude_unset=True)


class ErrorDetail(View):
    code: ErrorCode
    message: str
    """For people; may change without notice."""
    field: str | None
    """The field at fault (a dotted path into the body, a parameter or a header), if one is."""


class ErrorBody(View):
    """The body of every error response."""

    error: ErrorDetail


class Health(View):
    status: Literal["ok"]
    version: str
    protocol: int
    database: str


class SeatBody(View):
    id: str
    role: Role
    party: str | None
    name: str
    head: bool


class SessionBody(View):
    room: str
    seat: SeatBody


class Redeemed(View):
    """A redeemed invite: the session token (also set as the ``parley_session`` cookie)."""

    token: str
    room: str
    seat: SeatBody


class PartyBody(View):
    id: str
    name: str


class RoomBody(View):
    id: str
    title: str
    stage: str
    stages: list[str]
    parties: list[PartyBody]
    seat: SeatBody


class SeatList(View):
    seats: list[SeatBody]


class InviteBody(View):
    seat: str
    invite_url: str


class ThreadBody(View):
    id: str
    kind: Literal["plenary", "backchannel", "caucus"]
    title: str
    parties: list[str]
    accepted: list[str]
    declined: str | None
    """The party that declined a back-channel, closing it for good."""
    live: bool
    disclosed_to: Literal["observers", "everyone"] | None


class ThreadList(View):
    threads: list[ThreadBody]


class PageEvent(View):
    """An event in a page of the log: the ``event`` frame without ``v`` and ``type``."""

    room: str
    seq: int
    kind: str
    stage: str
    ts: str
    leaf_hash: str
    sealed: bool
    record: dict[str, Any] | None
    command_id: str | None = None
    """Only on the events this seat's own commands appended: the command's id."""


class LeftOutBody(View):
    """A thread's messages older than its last ``recent_messages`` (``seq < before``)."""

    before: int
    """The seq of the oldest message kept: the ``before`` of the thread's scroll-back."""
    messages: int
    from_others: int
    """How many of the messages left out other seats posted."""


class EventPage(View):
    """Events after ``since`` that the seat may see; ``next`` is the ``since`` of the next page.

    With ``recent_messages``, ``cut`` is the seq the last messages are counted as of (pass it
    back with the next pages) and ``left_out`` names each thread whose older messages were
    left out."""

    events: list[PageEvent]
    next: int
    more: bool
    cut: int | None = None
    left_out: dict[str, LeftOutBody] | None = None


class ThreadEventPage(View):
    """The latest events of one thread before ``before`` that the seat may see, oldest first;
    ``before`` is the ``before`` of the next (older) page."""

    events: list[PageEvent]
    before: int
    more: bool


class IssueBody(View):
    id: str
    title: str
    type: Literal["number", "date", "choice", "yesno", "text"]
    unit: str | None = None
    min: int | str | None = None
    max: int | str | None = None
    options: list[str] | None = None


class RuleBody(View):
    name: str
    action: str
    thread_kind: str | None
    closed_in: list[str]
    reason: str


class AgendaBody(View):
    issues: list[IssueBody]
    stage: str
    stages: list[str]
    rules: list[RuleBody]


class PositionBody(View):
    party: str
    issue: str
    direction: str | None
    preferred: Any
    reservation: Any


class PositionList(View):
    positions: list[PositionBody]


class AnswerBody(View):
    answer: Literal["accept", "reject", "reserve"]
    reason: str


class ProposalBody(View):
    id: str
    title: str
    sponsors: list[str]
    parent: str | None
    coalition: str | None
    terms: dict[str, Any]
    clauses: list[str]
    thread: str
    seat: str
    seq: int
    stage: str
    status: str
    answers: dict[str, AnswerBody]
    endorsed: list[str]
    superseded_by: str | None
    answering_parties: list[str]


class ProposalList(View):
    proposals: list[ProposalBody]


class Comparison(View):
    from_: str = Field(alias="from")
    to: str
    terms: list[dict[str, Any]]


class CoalitionBody(View):
    id: str
    name: str
    parties: list[str]
    joined: list[str]
    formed: bool


class CoalitionList(View):
    coalitions: list[CoalitionBody]


class SignatureBody(View):
    party: str
    name: str
    seq: int
    signed_at: str | None


class AgreementBody(View):
    id: str
    proposal: str
    seq: int
    reached_at: str | None
    terms: dict[str, Any]
    clauses: list[str]
    parties: list[str]
    text_sha256: str
    signatures: list[SignatureBody]
    signed: bool


class CommandAck(Ack):
    """The answer to a command over HTTP: the WebSocket's ``ack`` frame, and the kinds of the
    events the command appended (the first attempt's first event, for a duplicate)."""

    events: list[str]


# -- the browser's own routes and organisers --------------------------------------------------


class BrowserSeat(View):
    """A seat this browser holds, as the page shows it (never with a token)."""

    room: str
    title: str
    stage: str
    seat: SeatBody


class HeldSeat(BrowserSeat):
    current: bool
    """Whether ``parley_session`` is this seat's (the room the page shows)."""


class BrowserSeatList(View):
    seats: list[HeldSeat]


class SignOut(View):
    ended: int
    """How many sessions were live and are now ended."""


class InviteRevoked(View):
    seat: str
    revoked: int


class OrganiserSession(View):
    name: str


class OrganisedRoom(View):
    id: str
    title: str
    scenario: str
    created_at: str


class OrganiserRooms(View):
    name: str
    scenarios: list[str]
    rooms: list[OrganisedRoom]


class CreatedSeatBody(View):
    role: Role
    party: str | None
    name: str
    invite_url: str


class CreatedRoom(View):
    """A room an organiser created: ``parley exercise start --json``'s shape, with the title."""

    room: str
    title: str
    seats: list[CreatedSeatBody]
