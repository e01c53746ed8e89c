"""A room's current state as a pure fold over its log (DESIGN §2: state is a projection).

:func:`apply` takes a state and one event and returns the next state; a room's state is
``reduce(apply, events, RoomState.empty(room_id))``. Only the kinds in :data:`STATE_KINDS`
change anything but ``seq``, so a state can be rebuilt by reading only those events; the
append path records the seq of the last one in the room row (``state_seq``), which is how a
command checked against a state knows, inside the appending transaction, that the state it
was checked against is still current.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from server.domain.events import EventKind

DEFAULT_STAGES = (
    "pre-negotiation",
    "opening",
    "detailed-discussion",
    "verification",
    "formalization",
    "post-agreement",
)

PLENARY = "plenary"


class Role(StrEnum):
    FACILITATOR = "facilitator"
    DELEGATE = "delegate"
    OBSERVER = "observer"


class ThreadKind(StrEnum):
    PLENARY = "plenary"
    BACKCHANNEL = "backchannel"
    CAUCUS = "caucus"


class Audience(StrEnum):
    """Whom a disclosed thread is disclosed to."""

    OBSERVERS = "observers"
    EVERYONE = "everyone"


STATE_KINDS = frozenset(
    {
        EventKind.ROOM_CREATED,
        EventKind.SEAT_JOINED,
        EventKind.THREAD_OPENED,
        EventKind.THREAD_ACCEPTED,
        EventKind.THREAD_DISCLOSED,
        EventKind.STAGE_CHANGED,
    }
)
"""Kinds of event that change a room's state (beyond its size)."""


class StateError(ValueError):
    """An event that cannot apply to the state (a corrupt or out-of-order log)."""


@dataclass(frozen=True, slots=True)
class Party:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Seat:
    id: str
    role: Role
    party: str | None
    name: str
    head: bool = False
    """Head of delegation (delegates only; at most one per party)."""


@dataclass(frozen=True, slots=True)
class Policy:
    """Room policy: whether the facilitator reads private threads before any disclosure."""

    facilitator_reads_backchannels: bool = True
    facilitator_reads_caucuses: bool = True

    def as_body(self) -> dict[str, object]:
        return {
            "facilitator_reads_backchannels": self.facilitator_reads_backchannels,
            "facilitator_reads_caucuses": self.facilitator_reads_caucuses,
        }


@dataclass(frozen=True, slots=True)
class Thread:
    id: str
    kind: ThreadKind
    parties: frozenset[str]
    """Member parties: for a caucus its party, for a back-channel every party invited."""
    title: str = ""
    opened_by: str | None = None
    accepted: frozenset[str] = frozenset()
    disclosed_to: Audience | None = None

    @property
    def live(self) -> bool:
        """Messages may be posted: a back-channel is live once every invited party accepted."""
        return self.kind != ThreadKind.BACKCHANNEL or self.accepted >= self.parties


@dataclass(frozen=True, slots=True)
class RoomState:
    room_id: str
    seq: int = 0
    """The last event folded in."""
    state_seq: int = 0
    """The last event of a kind in :data:`STATE_KINDS` folded in."""
    title: str = ""
    stage: str = ""
    stages: tuple[str, ...] = DEFAULT_STAGES
    policy: Policy = field(default_factory=Policy)
    parties: Mapping[str, Party] = field(default_factory=dict)
    seats: Mapping[str, Seat] = field(default_factory=dict)
    threads: Mapping[str, Thread] = field(default_factory=dict)

    @classmethod
    def empty(cls, room_id: str) -> RoomState:
        return cls(room_id)

    def seat(self, seat_id: str) -> Seat | None:
        return self.seats.get(seat_id)

    def head_of(self, party: str) -> Seat | None:
        for seat in self.seats.values():
            if seat.party == party and seat.head:
                return seat
        return None


@dataclass(frozen=True, slots=True)
class EventView:
    """The parts of an event the fold and visibility read (from the record or the columns)."""

    seq: int
    kind: str
    stage: str = ""
    seat: str | None = None
    party: str | None = None
    thread: str | None = None
    body: Mapping[str, Any] = field(default_factory=dict)


def apply(state: RoomState, event: EventView) -> RoomState:
    """The state after ``event``; raises :class:`StateError` if it cannot follow ``state``."""
    if event.seq != state.seq + 1:
        raise StateError(f"event {event.seq} cannot follow {state.seq} in room {state.room_id}")
    if event.kind not in STATE_KINDS:
        return replace(state, seq=event.seq)
    step = _STEPS[EventKind(event.kind)]
    try:
        changed = step(state, event)
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(f"event {event.seq} ({event.kind}) does not apply: {exc!r}") from exc
    return replace(changed, seq=event.seq, state_seq=event.seq)


def _room_created(state: RoomState, event: EventView) -> RoomState:
    body = event.body
    policy = body.get("policy", {})
    stages = tuple(str(s) for s in body.get("stages", DEFAULT_STAGES))
    return replace(
        state,
        title=str(body["title"]),
        stages=stages,
        stage=str(body.get("stage", stages[0])),
        policy=Policy(
            facilitator_reads_backchannels=bool(policy.get("facilitator_reads_backchannels", True)),
            facilitator_reads_caucuses=bool(policy.get("facilitator_reads_caucuses", True)),
        ),
        parties={p["id"]: Party(str(p["id"]), str(p["name"])) for p in body.get("parties", [])},
    )


def _seat_joined(state: RoomState, event: EventView) -> RoomState:
    raw = event.body["seat"]
    seat = Seat(
        id=str(raw["id"]),
        role=Role(raw["role"]),
        party=raw.get("party"),
        name=str(raw["name"]),
        head=bool(raw.get("head", False)),
    )
    return replace(state, seats={**state.seats, seat.id: seat})


def _thread_opened(state: RoomState, event: EventView) -> RoomState:
    raw = event.body["thread"]
    kind = ThreadKind(raw["kind"])
    thread = Thread(
        id=str(raw["id"]),
        kind=kind,
        parties=frozenset(str(p) for p in raw.get("parties", [])),
        title=str(raw.get("title", "")),
        opened_by=event.party,
        accepted=frozenset({event.party}) if event.party else frozenset(),
    )
    return replace(state, threads={**state.threads, thread.id: thread})


def _thread_accepted(state: RoomState, event: EventView) -> RoomState:
    thread = state.threads[str(event.thread)]
    accepted = thread.accepted | {str(event.party)}
    return replace(state, threads={**state.threads, thread.id: replace(thread, accepted=accepted)})


def _thread_disclosed(state: RoomState, event: EventView) -> RoomState:
    thread = state.threads[str(event.thread)]
    to = Audience(event.body["to"])
    if thread.disclosed_to == Audience.EVERYONE:
        to = Audience.EVERYONE  # a disclosure never narrows
    return replace(state, threads={**state.threads, thread.id: replace(thread, disclosed_to=to)})


def _stage_changed(state: RoomState, event: EventView) -> RoomState:
    return replace(state, stage=str(event.body["to"]))


_STEPS = {
    EventKind.ROOM_CREATED: _room_created,
    EventKind.SEAT_JOINED: _seat_joined,
    EventKind.THREAD_OPENED: _thread_opened,
    EventKind.THREAD_ACCEPTED: _thread_accepted,
    EventKind.THREAD_DISCLOSED: _thread_disclosed,
    EventKind.STAGE_CHANGED: _stage_changed,
}
