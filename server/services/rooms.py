"""Rooms: creating one with its parties, seats, threads and invite links; rotating a link."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from server.domain.agenda import parse_agenda
from server.domain.commands import acting_seat
from server.domain.errors import Forbidden, Invalid, NotFound
from server.domain.events import EventKind
from server.domain.permissions import Action, requirement
from server.domain.procedure import position_body
from server.domain.room import DEFAULT_STAGES, PLENARY, Party, Policy, Role, Seat, ThreadKind
from server.domain.stages import DEFAULT_RULES, StageRule
from server.services.access import AccessService
from server.services.states import RoomStates
from server.storage.access_store import Grant
from server.storage.records import NewEvent, RoomSpec
from server.storage.writer import LogWriter

IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


@dataclass(frozen=True, slots=True)
class SeatSpec:
    role: Role
    name: str
    party: str | None = None
    head: bool = False
    id: str | None = None


@dataclass(frozen=True, slots=True)
class RoomSetup:
    title: str
    parties: Sequence[Party]
    seats: Sequence[SeatSpec]
    stages: Sequence[str] = DEFAULT_STAGES
    policy: Policy = field(default_factory=Policy)
    room_id: str | None = None
    agenda: Sequence[Mapping[str, object]] = ()
    """Issues in their JSON form (:func:`server.domain.agenda.parse_issue`)."""
    positions: Sequence[PositionSpec] = ()
    """Each party's confidential positions, from its brief."""
    rules: Sequence[StageRule] | None = None
    """Stage rules; None: the default rules (which name the default stages)."""


@dataclass(frozen=True, slots=True)
class PositionSpec:
    party: str
    issue: str
    direction: str | None = None
    preferred: object = None
    reservation: object = None


@dataclass(frozen=True, slots=True)
class CreatedSeat:
    id: str
    role: Role
    party: str | None
    name: str
    head: bool
    invite_url: str


@dataclass(frozen=True, slots=True)
class CreatedRoom:
    room_id: str
    title: str
    seats: tuple[CreatedSeat, ...]

    def as_json(self) -> dict[str, object]:
        """The shape of ``parley exercise start --json`` (DESIGN §8)."""
        return {
            "room": self.room_id,
            "seats": [
                {
                    "role": s.role.value,
                    "party": s.party,
                    "name": s.name,
                    "invite_url": s.invite_url,
                }
                for s in self.seats
            ],
        }


def new_room_id() -> str:
    return "r-" + secrets.token_hex(5)


def seat_ids(setup: RoomSetup) -> list[str]:
    """Readable seat ids: ``facilitator``, ``observer-2``, ``<party>-1`` ..."""
    counts: dict[str, int] = {}
    taken = {s.id for s in setup.seats if s.id}
    out = []
    for seat in setup.seats:
        if seat.id:
            out.append(seat.id)
            continue
        stem = seat.party if seat.role == Role.DELEGATE and seat.party else seat.role.value
        while True:
            counts[stem] = counts.get(stem, 0) + 1
            candidate = stem if counts[stem] == 1 and seat.role == Role.FACILITATOR else None
            candidate = candidate or f"{stem}-{counts[stem]}"
            if candidate not in taken:
                break
        taken.add(candidate)
        out.append(candidate)
    return out


def validate_setup(setup: RoomSetup) -> None:
    """Raise :class:`Invalid` naming the first field at fault."""
    if not setup.title.strip() or len(setup.title) > 200:
        raise Invalid("a room needs a title of 1 to 200 characters", field="title")
    if not setup.stages or len(set(setup.stages)) != len(setup.stages):
        raise Invalid("stages must be a non-empty list without repeats", field="stages")
    party_ids = [p.id for p in setup.parties]
    for i, party in enumerate(setup.parties):
        if not IDENTIFIER.match(party.id):
            raise Invalid(f"party id {party.id!r} is not an identifier", field=f"parties.{i}.id")
        if party_ids.count(party.id) > 1:
            raise Invalid(f"party id {party.id!r} is used twice", field=f"parties.{i}.id")
    heads: set[str] = set()
    for i, seat in enumerate(setup.seats):
        where = f"seats.{i}"
        if not seat.name.strip() or len(seat.name) > 100:
            raise Invalid("a seat needs a name of 1 to 100 characters", field=f"{where}.name")
        if seat.id is not None and not IDENTIFIER.match(seat.id):
            raise Invalid(f"seat id {seat.id!r} is not an identifier", field=f"{where}.id")
        if seat.role == Role.DELEGATE:
            if seat.party not in party_ids:
                raise Invalid("a delegate belongs to one of the parties", field=f"{where}.party")
            if seat.head:
                if seat.party in heads:
                    raise Invalid("a party has one head of delegation", field=f"{where}.head")
                heads.add(seat.party)
        elif seat.party is not None or seat.head:
            raise Invalid(f"a {seat.role} seat has no party", field=f"{where}.party")
    ids = seat_ids(setup)
    if len(set(ids)) != len(ids):
        raise Invalid("seat ids must be unique", field="seats")
    for i, party in enumerate(setup.parties):
        if party.id not in heads:
            # Only a head answers, signs and consents for its party: without one the room
            # could never reach (or sign) an agreement.
            raise Invalid(f"party {party.id!r} has no head of delegation", field=f"parties.{i}")
    agenda = {issue.id: issue for issue in parse_agenda(list(setup.agenda))}
    for i, spec in enumerate(setup.positions):
        where = f"positions.{i}"
        if spec.party not in party_ids:
            raise Invalid(f"no party {spec.party!r}", field=f"{where}.party")
        issue = agenda.get(spec.issue)
        if issue is None:
            raise Invalid(f"no issue {spec.issue!r} on the agenda", field=f"{where}.issue")
        try:
            position_body(issue, spec.party, spec.direction, spec.preferred, spec.reservation)
        except Invalid as exc:
            raise Invalid(exc.message, field=f"{where}.{exc.field}") from None


def opening_events(setup: RoomSetup, ids: Sequence[str]) -> list[NewEvent]:
    """The first events of a room: created, its seats, the plenary and one caucus per party."""
    out = [
        NewEvent(
            EventKind.ROOM_CREATED,
            {
                "title": setup.title,
                "stages": list(setup.stages),
                "stage": setup.stages[0],
                "policy": setup.policy.as_body(),
                "parties": [{"id": p.id, "name": p.name} for p in setup.parties],
                "agenda": [issue.as_body() for issue in parse_agenda(list(setup.agenda))],
                "rules": [rule.as_body() for rule in _rules(setup)],
            },
        )
    ]
    for seat_id, seat in zip(ids, setup.seats, strict=True):
        seat_body: dict[str, object] = {
            "id": seat_id,
            "role": seat.role.value,
            "party": seat.party,
            "name": seat.name,
        }
        out.append(NewEvent(EventKind.SEAT_JOINED, {"seat": {**seat_body, "head": seat.head}}))
    plenary = {"id": PLENARY, "kind": ThreadKind.PLENARY.value, "parties": [], "title": "Plenary"}
    out.append(NewEvent(EventKind.THREAD_OPENED, {"thread": plenary}, thread=PLENARY))
    for party in setup.parties:
        caucus = f"caucus-{party.id}"
        body: dict[str, object] = {
            "id": caucus,
            "kind": ThreadKind.CAUCUS.value,
            "parties": [party.id],
            "title": f"{party.name} caucus",
        }
        out.append(NewEvent(EventKind.THREAD_OPENED, {"thread": body}, thread=caucus))
    agenda = {issue.id: issue for issue in parse_agenda(list(setup.agenda))}
    for spec in setup.positions:
        # A brief's position is confidential: it lives in the party's caucus.
        position = position_body(
            agenda[spec.issue], spec.party, spec.direction, spec.preferred, spec.reservation
        )
        out.append(
            NewEvent(
                EventKind.POSITION_SET,
                position,
                party=spec.party,
                thread=f"caucus-{spec.party}",
            )
        )
    return out


def _rules(setup: RoomSetup) -> Sequence[StageRule]:
    if setup.rules is not None:
        return setup.rules
    if tuple(setup.stages) == DEFAULT_STAGES:
        return DEFAULT_RULES
    # Default rules name default stages: keep those whose stages this room has.
    return [
        StageRule(r.name, r.action, r.closed_in & set(setup.stages), r.reason, r.thread_kind)
        for r in DEFAULT_RULES
        if r.closed_in & set(setup.stages)
    ]


class RoomService:
    def __init__(
        self,
        writer: LogWriter,
        states: RoomStates,
        access: AccessService,
        *,
        on_revoked: Callable[[str, str], None] = lambda room, seat: None,
    ) -> None:
        self._writer = writer
        self._states = states
        self._access = access
        self._on_revoked = on_revoked

    async def create(self, setup: RoomSetup) -> CreatedRoom:
        validate_setup(setup)
        room_id = setup.room_id or new_room_id()
        ids = seat_ids(setup)
        # Invites first: if the room is then refused (its id is taken), they lead nowhere.
        tokens = await self._access.issue_invites(room_id, ids)
        await self._writer.create_room(
            RoomSpec(room_id, setup.title, setup.stages[0]), opening_events(setup, ids)
        )
        seats = tuple(
            CreatedSeat(
                seat_id, s.role, s.party, s.name, s.head, self._access.invite_url(tokens[seat_id])
            )
            for seat_id, s in zip(ids, setup.seats, strict=True)
        )
        return CreatedRoom(room_id, setup.title, seats)

    async def rotate_invite(self, actor: Grant, seat_id: str) -> str:
        """A new invite link for ``seat_id``; the old one and its sessions stop working."""
        seat = await self._check_invite_change(actor, seat_id)
        token = await self._access.rotate(actor.room_id, seat_id)
        await self._log_invite_change(actor, seat, seat_id)
        return self._access.invite_url(token)

    async def revoke_invite(self, actor: Grant, seat_id: str) -> int:
        """``seat_id``'s link and its sessions stop working, and no new link is issued (rotate
        later to give the seat one). Logged as ``seat_invite_rotated``: the old link is gone."""
        seat = await self._check_invite_change(actor, seat_id)
        revoked = await self._access.revoke(actor.room_id, seat_id)
        await self._log_invite_change(actor, seat, seat_id)
        return revoked

    async def _check_invite_change(self, actor: Grant, seat_id: str) -> Seat:
        state = await self._states.get(actor.room_id)
        seat = acting_seat(state, actor.seat_id)
        if requirement(seat.role, Action.ROTATE_INVITE, None) is None:
            raise Forbidden(f"seats of role {seat.role} may not rotate invite links")
        if seat_id not in state.seats:
            raise NotFound(f"no seat {seat_id!r} in this room", field="seat")
        return seat

    async def _log_invite_change(self, actor: Grant, seat: Seat, seat_id: str) -> None:
        await self._writer.append(
            actor.room_id,
            NewEvent(
                EventKind.SEAT_INVITE_ROTATED,
                {"seat": seat_id},
                seat=seat.id,
                party=seat.party,
            ),
        )
        self._on_revoked(actor.room_id, seat_id)
