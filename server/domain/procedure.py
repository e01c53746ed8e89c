"""Pure decisions of the negotiation's procedure: the agenda and confidential positions, the
stage (moved by the facilitator or by every head's consent), coalitions, and the signing of
the agreement. Like :mod:`server.domain.bargaining`, each returns the events to append or
raises a :class:`~server.domain.errors.DomainError` naming the field at fault.
"""

from __future__ import annotations

from collections.abc import Sequence

from server.domain.agenda import Direction, Issue, check_value, parse_issue
from server.domain.agreement import text_sha256
from server.domain.commands import (
    Move,
    Subject,
    acting_seat,
    allowed,
    new_id,
    then,
    with_others,
)
from server.domain.errors import Conflict, Invalid, NotFound
from server.domain.events import EventKind
from server.domain.permissions import Action
from server.domain.room import PLENARY, RoomState, ThreadKind
from server.domain.stages import ENTRY_GUARDS, Guard, transitions

Moves = tuple[Move, ...]


# -- agenda and positions ------------------------------------------------------------------


def decide_add_issue(room: RoomState, seat_id: str, raw: object) -> Move:
    seat = acting_seat(room, seat_id)
    allowed(room, seat, Action.ADD_ISSUE, None, what="add issues to the agenda")
    issue = parse_issue(raw, "issue")
    if issue.id in room.agenda:
        raise Conflict(f"issue {issue.id!r} is on the agenda already", field="issue.id")
    return Move(EventKind.AGENDA_ISSUE_ADDED, seat.id, seat.party, None, {"issue": issue.as_body()})


def decide_set_position(
    room: RoomState,
    seat_id: str,
    issue_id: str,
    *,
    direction: str | None,
    preferred: object,
    reservation: object,
) -> Move:
    """A party's confidential position, logged in its caucus (so only it, and the facilitator
    when room policy lets the facilitator read caucuses, can read it)."""
    seat = acting_seat(room, seat_id)
    caucus = room.threads.get(f"caucus-{seat.party}") if seat.party else None
    allowed(
        room,
        seat,
        Action.SET_POSITION,
        caucus,
        what="set your party's position",
        kind=ThreadKind.CAUCUS,
    )
    assert caucus is not None and seat.party is not None
    issue = room.agenda.get(issue_id)
    if issue is None:
        raise NotFound(f"no issue {issue_id!r} on the agenda", field="issue")
    return Move(
        EventKind.POSITION_SET,
        seat.id,
        seat.party,
        caucus.id,
        position_body(issue, seat.party, direction, preferred, reservation),
    )


def position_body(
    issue: Issue, party: str, direction: str | None, preferred: object, reservation: object
) -> dict[str, object]:
    if direction is not None:
        if not issue.measured:
            raise Invalid(f"a {issue.type} issue has no direction", field="direction")
        try:
            direction = Direction(direction).value
        except ValueError:
            raise Invalid("direction is 'up' or 'down'", field="direction") from None
    return {
        "party": party,
        "issue": issue.id,
        "direction": direction,
        "preferred": None if preferred is None else check_value(issue, preferred, "preferred"),
        "reservation": (
            None if reservation is None else check_value(issue, reservation, "reservation")
        ),
    }


# -- stages --------------------------------------------------------------------------------


def _check_transition(room: RoomState, to: str) -> None:
    if to not in room.stages:
        raise NotFound(f"no stage {to!r} in this room", field="to")
    if to == room.stage:
        raise Conflict(f"the room is in {to!r} already", field="to")
    reachable = transitions(room.stages, room.stage)
    if to not in reachable:
        options = ", ".join(reachable) or "none: this is the last stage"
        raise Conflict(f"from {room.stage!r} the stage moves to: {options}", field="to")
    guard = ENTRY_GUARDS.get(to)
    if guard == Guard.AGREEMENT_SIGNED and (room.agreement is None or not room.agreement.signed):
        raise Conflict(f"{to!r} begins once every party has signed the agreement", field="to")


def decide_change_stage(room: RoomState, seat_id: str, to: str) -> Move:
    seat = acting_seat(room, seat_id)
    allowed(room, seat, Action.CHANGE_STAGE, None, what="move the stage")
    _check_transition(room, to)
    body = {"from": room.stage, "to": to}
    return Move(EventKind.STAGE_CHANGED, seat.id, seat.party, None, body)


def decide_consent_stage(room: RoomState, seat_id: str, to: str) -> Moves:
    """In a room without a facilitator the stage moves when every head consents to it."""
    seat = acting_seat(room, seat_id)
    allowed(room, seat, Action.CONSENT_STAGE, None, what="consent to a stage change").on(Subject())
    _check_transition(room, to)
    assert seat.party is not None
    if room.stage_consents.get(seat.party) == to:
        raise Conflict(f"your party already consents to {to!r}", field="to")
    consent = Move(EventKind.STAGE_CONSENTED, seat.id, seat.party, None, {"to": to})
    after = then(room, consent)
    if all(after.stage_consents.get(party) == to for party in room.parties):
        change = Move(
            EventKind.STAGE_CHANGED, seat.id, seat.party, None, {"from": room.stage, "to": to}
        )
        return (consent, change)
    return (consent,)


# -- coalitions ----------------------------------------------------------------------------


def decide_declare_coalition(
    room: RoomState,
    seat_id: str,
    parties: Sequence[str],
    name: str,
    *,
    coalition_id: str | None = None,
) -> Move:
    seat = acting_seat(room, seat_id)
    allowed(room, seat, Action.DECLARE_COALITION, None, what="declare a coalition")
    assert seat.party is not None
    if not name.strip() or len(name) > 100:
        raise Invalid("a coalition needs a name of 1 to 100 characters", field="name")
    members = with_others(room, seat, parties)
    for existing in room.coalitions.values():
        if set(existing.parties) == set(members):
            raise Conflict(f"these parties have declared a coalition already ({existing.id})")
    body = {"coalition": {"id": coalition_id or new_id("co"), "name": name, "parties": members}}
    return Move(EventKind.COALITION_DECLARED, seat.id, seat.party, None, body)


def decide_join_coalition(room: RoomState, seat_id: str, coalition_id: str) -> Move:
    seat = acting_seat(room, seat_id)
    permit = allowed(room, seat, Action.JOIN_COALITION, None, what="join a coalition")
    coalition = room.coalitions.get(coalition_id)
    if coalition is None:
        raise NotFound(f"no coalition {coalition_id!r} in this room", field="coalition")
    permit.on(Subject(named=frozenset(coalition.parties)))
    if seat.party in coalition.joined:
        raise Conflict("your party has already joined this coalition")
    body = {"coalition": coalition.id}
    return Move(EventKind.COALITION_JOINED, seat.id, seat.party, None, body)


# -- the agreement -------------------------------------------------------------------------


def decide_sign_agreement(room: RoomState, seat_id: str, agreement_id: str) -> Moves:
    seat = acting_seat(room, seat_id)
    plenary = room.threads[PLENARY]
    allowed(room, seat, Action.SIGN_AGREEMENT, plenary, what="sign the agreement")
    agreement = room.agreement
    if agreement is None or agreement.id != agreement_id:
        raise NotFound(f"no agreement {agreement_id!r} in this room", field="agreement")
    assert seat.party is not None
    if seat.party in agreement.signatures:
        raise Conflict("your party has signed already")
    signing = Move(
        EventKind.AGREEMENT_SIGNED,
        seat.id,
        seat.party,
        PLENARY,
        {
            "agreement": agreement.id,
            "party": seat.party,
            "name": seat.name,
            "text_sha256": agreement.text_sha256,
        },
    )
    after = then(room, signing)
    assert after.agreement is not None
    if not after.agreement.signed:
        return (signing,)
    text = agreement.text  # exactly what every signature's hash binds
    signatories = [
        {"party": party, "name": after.agreement.signatures[party][0]}
        for party in agreement.parties
    ]
    concluded = {
        "agreement": agreement.id,
        "text": text,
        "text_sha256": text_sha256(text),
        "signatories": signatories,
    }
    return (signing, Move(EventKind.AGREEMENT_CONCLUDED, seat.id, seat.party, PLENARY, concluded))
