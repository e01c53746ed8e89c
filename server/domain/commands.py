"""Pure decisions: given a room's state and the acting seat, the event a command appends.

Each ``decide_*`` function either returns the :class:`~server.storage.records.NewEvent`-shaped
:class:`Move` to append or raises a :class:`~server.domain.errors.DomainError` naming the field
at fault. Nothing here touches the database; the service layer runs these against the cached
state and the append path re-checks, inside its transaction, that the state is still current.

A thread a seat may not see is reported as not found, never as forbidden, so that a refusal
does not reveal that a back-channel exists.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from server.domain.errors import Conflict, Forbidden, Invalid, NotFound, TooLong
from server.domain.events import EventKind
from server.domain.permissions import CONDITIONS, Action, Also, Needs, Refusal, requirement
from server.domain.room import (
    Audience,
    EventView,
    Role,
    RoomState,
    Seat,
    Thread,
    ThreadKind,
    apply,
)
from server.domain.stages import check_open
from server.domain.visibility import HIDDEN, SEALED, Viewer, visibility


@dataclass(frozen=True, slots=True)
class Move:
    """An event to append on behalf of a seat."""

    kind: str
    seat: str
    party: str | None
    thread: str | None
    body: Mapping[str, object] = field(default_factory=dict)


def acting_seat(room: RoomState, seat_id: str) -> Seat:
    seat = room.seat(seat_id)
    if seat is None:
        raise Forbidden("this seat is not part of the room")
    return seat


def thread_for(room: RoomState, seat: Seat, thread_id: str, *, sealed_ok: bool = False) -> Thread:
    """The thread, if the seat reads it in full (or, with ``sealed_ok``, at least sealed: the
    facilitator discloses threads its policy keeps sealed from it); otherwise not found, as if
    it did not exist, so that a refusal never tells a thread from a made-up id."""
    thread = room.threads.get(thread_id)
    viewer = Viewer(seat.role, seat.party)
    seen = visibility(EventKind.THREAD_OPENED, thread_id, viewer, room)
    if thread is None or seen == HIDDEN or (seen == SEALED and not sealed_ok):
        raise NotFound(f"no thread {thread_id!r} in this room", field="thread")
    return thread


def require_live(thread: Thread) -> None:
    """Nothing is said in a back-channel until every invited party has accepted it, nor ever
    once one has declined it."""
    require_not_declined(thread)
    if not thread.live:
        raise Conflict("this back-channel is not live yet: not every party has accepted")


def require_not_declined(thread: Thread) -> None:
    """A declined back-channel is closed: nothing more happens in it."""
    if thread.declined is not None:
        raise Conflict(f"this back-channel was declined by {thread.declined!r}; it is closed")


@dataclass(frozen=True, slots=True)
class Subject:
    """What an action acts on, as far as its condition (``CONDITIONS``) needs to know."""

    sponsors: frozenset[str] = frozenset()
    mediator: bool = False
    """A mediator's single text (no sponsoring party)."""
    answering: frozenset[str] = frozenset()
    named: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Permit:
    """The seat may take ``action`` as far as its role and the stage go; :meth:`on` checks the
    action's condition on the thing it acts on, once the decision has found that thing."""

    room: RoomState
    seat: Seat
    action: Action

    def on(self, subject: Subject) -> None:
        condition = CONDITIONS.get(self.action)
        if condition is None or _holds(condition.also, self.room, self.seat, subject):
            return
        refuse = Forbidden if condition.refusal is Refusal.FORBIDDEN else Conflict
        raise refuse(condition.message)


def _holds(also: Also, room: RoomState, seat: Seat, subject: Subject) -> bool:
    match also:
        case Also.SPONSOR:
            return seat.party in subject.sponsors if seat.party else subject.mediator
        case Also.ANSWERING:
            return seat.party in subject.answering
        case Also.NAMED:
            return seat.party in subject.named
        case Also.NO_FACILITATOR:
            return not room.has_facilitator


def allowed(
    room: RoomState,
    seat: Seat,
    action: Action,
    thread: Thread | None,
    *,
    what: str,
    kind: ThreadKind | None = None,
) -> Permit:
    """The one join of the rule tables: whether ``seat`` may take ``action`` in ``thread`` (or,
    with no thread, on threads of ``kind``) now. Checks the seat's row of ``PERMISSIONS``
    (role, headship, membership), then the rules of the room's stage; the action's condition
    on what it acts on (``CONDITIONS``) is checked by the :class:`Permit` returned.

    Raises:
        Forbidden: no row allows it, or the seat lacks the headship or membership it needs.
        StageClosed: a rule of the current stage closes it (the message names the rule).
    """
    needs = requirement(seat.role, action, thread.kind if thread else kind)
    if needs is None:
        raise Forbidden(f"{_article(seat.role)} {seat.role} may not {what}")
    member = thread is not None and seat.party in thread.parties
    if needs in (Needs.MEMBER, Needs.HEAD_MEMBER) and not member:
        raise Forbidden(f"your party is not a member of this thread; you may not {what}")
    if needs in (Needs.HEAD, Needs.HEAD_MEMBER) and not seat.head:
        raise Forbidden(f"only the head of delegation may {what}")
    check_open(room.rules, room.stage, action, thread.kind if thread else kind)
    return Permit(room, seat, action)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def decide_post_message(
    room: RoomState, seat_id: str, thread_id: str, text: str, *, max_chars: int
) -> Move:
    seat = acting_seat(room, seat_id)
    thread = thread_for(room, seat, thread_id)
    allowed(room, seat, Action.POST_MESSAGE, thread, what="post in this thread")
    require_live(thread)
    if not text.strip():
        raise Invalid("a message needs some text", field="text")
    if len(text) > max_chars:
        raise TooLong(f"a message holds at most {max_chars} characters", field="text")
    return Move(EventKind.MESSAGE_POSTED, seat.id, seat.party, thread.id, {"text": text})


def decide_open_backchannel(
    room: RoomState, seat_id: str, parties: list[str], title: str, *, thread_id: str | None = None
) -> Move:
    seat = acting_seat(room, seat_id)
    allowed(
        room,
        seat,
        Action.OPEN_BACKCHANNEL,
        None,
        what="open a back-channel",
        kind=ThreadKind.BACKCHANNEL,
    )
    members = with_others(room, seat, parties)
    thread_id = thread_id or new_thread_id()
    # The event belongs to the thread it opens, so it is exactly as visible as the thread.
    return Move(
        EventKind.THREAD_OPENED,
        seat.id,
        seat.party,
        thread_id,
        {
            "thread": {
                "id": thread_id,
                "kind": ThreadKind.BACKCHANNEL.value,
                "parties": members,
                "title": title,
            }
        },
    )


def with_others(room: RoomState, seat: Seat, parties: Sequence[str]) -> list[str]:
    """The seat's party and the other ``parties`` it names, sorted; each named party must be
    another party of the room, named once (the field at fault is ``parties.<i>``)."""
    assert seat.party is not None
    others: list[str] = []
    for i, party in enumerate(parties):
        if party not in room.parties:
            raise NotFound(f"no party {party!r} in this room", field=f"parties.{i}")
        if party == seat.party:
            raise Invalid("list the other parties, not your own", field=f"parties.{i}")
        if party in others:
            raise Invalid(f"party {party!r} is listed twice", field=f"parties.{i}")
        others.append(party)
    return sorted({seat.party, *others})


def new_thread_id() -> str:
    """Back-channel ids are random, so that their names reveal nothing (not even a count)."""
    return "bc-" + secrets.token_hex(6)


def decide_accept_backchannel(room: RoomState, seat_id: str, thread_id: str) -> Move:
    seat = acting_seat(room, seat_id)
    thread = thread_for(room, seat, thread_id)
    if thread.kind != ThreadKind.BACKCHANNEL:
        raise Invalid("only a back-channel is accepted", field="thread")
    allowed(room, seat, Action.ACCEPT_BACKCHANNEL, thread, what="accept this back-channel")
    require_not_declined(thread)
    if seat.party in thread.accepted:
        raise Conflict("your party has already accepted this back-channel")
    return Move(EventKind.THREAD_ACCEPTED, seat.id, seat.party, thread.id, {})


def decide_decline_backchannel(room: RoomState, seat_id: str, thread_id: str) -> Move:
    """An invited party that has not accepted may decline; the back-channel then never goes
    live. The event belongs to the thread, so it is exactly as visible as the thread."""
    seat = acting_seat(room, seat_id)
    thread = thread_for(room, seat, thread_id)
    if thread.kind != ThreadKind.BACKCHANNEL:
        raise Invalid("only a back-channel is declined", field="thread")
    allowed(room, seat, Action.DECLINE_BACKCHANNEL, thread, what="decline this back-channel")
    require_not_declined(thread)
    if seat.party in thread.accepted:
        raise Conflict("your party has already accepted this back-channel; it cannot decline it")
    return Move(EventKind.THREAD_DECLINED, seat.id, seat.party, thread.id, {})


def decide_disclose_thread(room: RoomState, seat_id: str, thread_id: str, to: str) -> Move:
    seat = acting_seat(room, seat_id)
    thread = thread_for(room, seat, thread_id, sealed_ok=seat.role == Role.FACILITATOR)
    try:
        audience = Audience(to)
    except ValueError:
        raise Invalid("disclose to 'observers' or 'everyone'", field="to") from None
    if thread.kind == ThreadKind.PLENARY:
        raise Invalid("the plenary is public already", field="thread")
    allowed(room, seat, Action.DISCLOSE_THREAD, thread, what="disclose threads")
    if thread.disclosed_to == Audience.EVERYONE or thread.disclosed_to == audience:
        raise Conflict(f"this thread is already disclosed to {thread.disclosed_to}")
    return Move(EventKind.THREAD_DISCLOSED, seat.id, seat.party, thread.id, {"to": audience.value})


def then(room: RoomState, move: Move) -> RoomState:
    """The state once ``move`` is appended (its seq is a stand-in: nothing here reads it)."""
    view = EventView(
        seq=room.seq + 1,
        kind=move.kind,
        stage=room.stage,
        seat=move.seat,
        party=move.party,
        thread=move.thread,
        body=move.body,
    )
    return apply(room, view)


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"
