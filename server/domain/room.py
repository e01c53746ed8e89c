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
from typing import Any

from server.domain.agenda import Issue, parse_agenda, parse_issue
from server.domain.errors import DomainError
from server.domain.events import EventKind
from server.domain.negotiation import Agreement, Answer, Coalition, Position, Proposal
from server.domain.room_types import DEFAULT_STAGES, PLENARY, Audience, Role, ThreadKind
from server.domain.stages import DEFAULT_RULES, StageRule, parse_rules

__all__ = ["DEFAULT_STAGES", "PLENARY", "Audience", "Role", "ThreadKind"]

STATE_KINDS = frozenset(
    {
        EventKind.ROOM_CREATED,
        EventKind.SEAT_JOINED,
        EventKind.THREAD_OPENED,
        EventKind.THREAD_ACCEPTED,
        EventKind.THREAD_DECLINED,
        EventKind.THREAD_DISCLOSED,
        EventKind.STAGE_CHANGED,
        EventKind.AGENDA_ISSUE_ADDED,
        EventKind.POSITION_SET,
        EventKind.PROPOSAL_TABLED,
        EventKind.PROPOSAL_DRAFTED,
        EventKind.PROPOSAL_ENDORSED,
        EventKind.PROPOSAL_ANSWERED,
        EventKind.PROPOSAL_WITHDRAWN,
        EventKind.STAGE_CONSENTED,
        EventKind.COALITION_DECLARED,
        EventKind.COALITION_JOINED,
        EventKind.AGREEMENT_REACHED,
        EventKind.AGREEMENT_SIGNED,
        EventKind.AGREEMENT_CONCLUDED,
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
    declined: str | None = None
    """The party that declined this back-channel, which closed it for good."""
    disclosed_to: Audience | None = None

    @property
    def live(self) -> bool:
        """Messages may be posted: a back-channel is live once every invited party accepted,
        and never once one declined."""
        if self.kind != ThreadKind.BACKCHANNEL:
            return True
        return self.declined is None and self.accepted >= self.parties


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
    agenda: Mapping[str, Issue] = field(default_factory=dict)
    """Issues by id, in agenda order."""
    rules: tuple[StageRule, ...] = DEFAULT_RULES
    positions: Mapping[tuple[str, str], Position] = field(default_factory=dict)
    """(party, issue) → that party's confidential position."""
    proposals: Mapping[str, Proposal] = field(default_factory=dict)
    """Proposals by id, in the order they were tabled or drafted."""
    coalitions: Mapping[str, Coalition] = field(default_factory=dict)
    stage_consents: Mapping[str, str] = field(default_factory=dict)
    """Party → the stage its head consents to move to (rooms without a facilitator)."""
    agreement: Agreement | None = None

    @classmethod
    def empty(cls, room_id: str) -> RoomState:
        return cls(room_id)

    def seat(self, seat_id: str) -> Seat | None:
        return self.seats.get(seat_id)

    @property
    def has_facilitator(self) -> bool:
        return any(seat.role == Role.FACILITATOR for seat in self.seats.values())

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
    except (KeyError, TypeError, ValueError, DomainError) as exc:
        raise StateError(f"event {event.seq} ({event.kind}) does not apply: {exc!r}") from exc
    return replace(changed, seq=event.seq, state_seq=event.seq)


def _room_created(state: RoomState, event: EventView) -> RoomState:
    body = event.body
    policy = body.get("policy", {})
    stages = tuple(str(s) for s in body.get("stages", DEFAULT_STAGES))
    agenda = parse_agenda(body.get("agenda", []))
    rules = parse_rules(body["rules"], stages) if "rules" in body else DEFAULT_RULES
    return replace(
        state,
        agenda={issue.id: issue for issue in agenda},
        rules=rules,
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


def _thread_declined(state: RoomState, event: EventView) -> RoomState:
    thread = state.threads[str(event.thread)]
    declined = replace(thread, declined=str(event.party))
    return replace(state, threads={**state.threads, thread.id: declined})


def _thread_disclosed(state: RoomState, event: EventView) -> RoomState:
    thread = state.threads[str(event.thread)]
    to = Audience(event.body["to"])
    if thread.disclosed_to == Audience.EVERYONE:
        to = Audience.EVERYONE  # a disclosure never narrows
    return replace(state, threads={**state.threads, thread.id: replace(thread, disclosed_to=to)})


def _stage_changed(state: RoomState, event: EventView) -> RoomState:
    return replace(state, stage=str(event.body["to"]), stage_consents={})


def _stage_consented(state: RoomState, event: EventView) -> RoomState:
    consents = {**state.stage_consents, str(event.party): str(event.body["to"])}
    return replace(state, stage_consents=consents)


def _agenda_issue_added(state: RoomState, event: EventView) -> RoomState:
    issue = parse_issue(event.body["issue"], "issue")
    return replace(state, agenda={**state.agenda, issue.id: issue})


def _position_set(state: RoomState, event: EventView) -> RoomState:
    body = event.body
    party = str(body["party"])
    position = Position(
        party,
        str(body["issue"]),
        body.get("direction"),
        body.get("preferred"),
        body.get("reservation"),
    )
    return replace(state, positions={**state.positions, (party, position.issue): position})


def _proposal(event: EventView, *, draft: bool) -> Proposal:
    raw = event.body["proposal"]
    sponsors = tuple(str(p) for p in raw.get("sponsors", []))
    return Proposal(
        id=str(raw["id"]),
        thread=str(event.body["thread"]) if draft else str(event.thread),
        sponsors=sponsors,
        seat=str(event.seat),
        seq=event.seq,
        stage=event.stage,
        terms=dict(raw.get("terms", {})),
        clauses=tuple(str(c) for c in raw.get("clauses", [])),
        title=str(raw.get("title", "")),
        parent=raw.get("parent"),
        coalition=raw.get("coalition"),
        draft=draft,
        endorsed=frozenset({str(event.party)}) if draft else frozenset(sponsors),
    )


def _proposal_tabled(state: RoomState, event: EventView) -> RoomState:
    proposal = _proposal(event, draft=False)
    proposals = dict(state.proposals)
    earlier = proposals.get(proposal.id)
    if earlier is not None:  # a coalition's draft, now tabled: it keeps its endorsements
        proposal = replace(proposal, endorsed=earlier.endorsed)
    proposals[proposal.id] = proposal
    if proposal.parent is not None and proposal.parent in proposals:
        parent = proposals[proposal.parent]
        # Only a counter in the same thread supersedes: a status seen in one thread must not
        # tell of a proposal in another.
        if parent.superseded_by is None and parent.thread == proposal.thread:
            proposals[parent.id] = replace(parent, superseded_by=proposal.id)
    return replace(state, proposals=proposals)


def _proposal_drafted(state: RoomState, event: EventView) -> RoomState:
    proposal = _proposal(event, draft=True)
    return replace(state, proposals={**state.proposals, proposal.id: proposal})


def _proposal_changed(state: RoomState, proposal: Proposal) -> RoomState:
    return replace(state, proposals={**state.proposals, proposal.id: proposal})


def _proposal_endorsed(state: RoomState, event: EventView) -> RoomState:
    proposal = state.proposals[str(event.body["proposal"])]
    endorsed = proposal.endorsed | {str(event.party)}
    return _proposal_changed(state, replace(proposal, endorsed=endorsed))


def _proposal_answered(state: RoomState, event: EventView) -> RoomState:
    proposal = state.proposals[str(event.body["proposal"])]
    answer = (Answer(event.body["answer"]), str(event.body.get("reason", "")))
    answers = {**proposal.answers, str(event.party): answer}
    return _proposal_changed(state, replace(proposal, answers=answers))


def _proposal_withdrawn(state: RoomState, event: EventView) -> RoomState:
    proposal = state.proposals[str(event.body["proposal"])]
    return _proposal_changed(state, replace(proposal, withdrawn=True))


def _coalition_declared(state: RoomState, event: EventView) -> RoomState:
    raw = event.body["coalition"]
    coalition = Coalition(
        id=str(raw["id"]),
        name=str(raw["name"]),
        parties=frozenset(str(p) for p in raw["parties"]),
        joined=frozenset({str(event.party)}),
        declared_by=str(event.party),
    )
    return _coalition_changed(state, coalition)


def _coalition_joined(state: RoomState, event: EventView) -> RoomState:
    coalition = state.coalitions[str(event.body["coalition"])]
    return _coalition_changed(
        state, replace(coalition, joined=coalition.joined | {str(event.party)})
    )


def _coalition_changed(state: RoomState, coalition: Coalition) -> RoomState:
    threads = state.threads
    if coalition.formed and coalition.id not in threads:
        # A formed coalition has its own caucus: a thread of its member parties.
        caucus = Thread(
            coalition.id, ThreadKind.CAUCUS, coalition.parties, f"{coalition.name} caucus"
        )
        threads = {**threads, coalition.id: caucus}
    coalitions = {**state.coalitions, coalition.id: coalition}
    return replace(state, coalitions=coalitions, threads=threads)


def _agreement_reached(state: RoomState, event: EventView) -> RoomState:
    body = event.body
    agreement = Agreement(
        id=str(body["agreement"]),
        proposal=str(body["proposal"]),
        seq=event.seq,
        terms=dict(body["terms"]),
        clauses=tuple(str(c) for c in body["clauses"]),
        parties=tuple(str(p) for p in body["parties"]),
        text=str(body["text"]),
        text_sha256=str(body["text_sha256"]),
    )
    return replace(state, agreement=agreement)


def _agreement_signed(state: RoomState, event: EventView) -> RoomState:
    agreement = state.agreement
    if agreement is None or agreement.id != event.body["agreement"]:
        raise ValueError("a signature for no agreement")
    signatures = {**agreement.signatures, str(event.party): (str(event.body["name"]), event.seq)}
    return replace(state, agreement=replace(agreement, signatures=signatures))


def _agreement_concluded(state: RoomState, event: EventView) -> RoomState:
    if state.agreement is None:
        raise ValueError("a conclusion of no agreement")
    return replace(state, agreement=replace(state.agreement, concluded_seq=event.seq))


_STEPS = {
    EventKind.ROOM_CREATED: _room_created,
    EventKind.SEAT_JOINED: _seat_joined,
    EventKind.THREAD_OPENED: _thread_opened,
    EventKind.THREAD_ACCEPTED: _thread_accepted,
    EventKind.THREAD_DECLINED: _thread_declined,
    EventKind.THREAD_DISCLOSED: _thread_disclosed,
    EventKind.STAGE_CHANGED: _stage_changed,
    EventKind.STAGE_CONSENTED: _stage_consented,
    EventKind.AGENDA_ISSUE_ADDED: _agenda_issue_added,
    EventKind.POSITION_SET: _position_set,
    EventKind.PROPOSAL_TABLED: _proposal_tabled,
    EventKind.PROPOSAL_DRAFTED: _proposal_drafted,
    EventKind.PROPOSAL_ENDORSED: _proposal_endorsed,
    EventKind.PROPOSAL_ANSWERED: _proposal_answered,
    EventKind.PROPOSAL_WITHDRAWN: _proposal_withdrawn,
    EventKind.COALITION_DECLARED: _coalition_declared,
    EventKind.COALITION_JOINED: _coalition_joined,
    EventKind.AGREEMENT_REACHED: _agreement_reached,
    EventKind.AGREEMENT_SIGNED: _agreement_signed,
    EventKind.AGREEMENT_CONCLUDED: _agreement_concluded,
}
