"""Pure decisions of the negotiation proper: agenda, positions, proposals, concessions,
coalitions, stages, the agreement and its signatures (DESIGN §3-§4).

Like :mod:`server.domain.commands`, each ``decide_*`` takes the room's state and the acting
seat and returns the events to append, or raises a :class:`~server.domain.errors.DomainError`
naming the field at fault. A command may append several events: tabling a proposal also logs
the concessions it makes, the acceptance that completes a plenary proposal also logs the
agreement, the last signature also logs the concluded text. Those follow-on events are
derived by folding the first event into the state (:func:`_then`), so the decision and the
projection can never disagree.

Who may act is the permission table (:mod:`server.domain.permissions`) and the stage rules
(:mod:`server.domain.stages`), both checked by :func:`~server.domain.commands.allowed`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from server.domain.agenda import (
    MAX_TEXT_VALUE,
    Value,
    check_terms,
    decimal_text,
    difference,
    measure,
    size,
)
from server.domain.agreement import agreement_text, text_sha256
from server.domain.commands import (
    Move,
    Subject,
    acting_seat,
    allowed,
    new_id,
    require_live,
    then,
    thread_for,
)
from server.domain.errors import Conflict, Invalid, NotFound
from server.domain.events import EventKind
from server.domain.negotiation import Answer, Proposal, Status
from server.domain.permissions import Action
from server.domain.room import PLENARY, RoomState, Seat, Thread, ThreadKind
from server.domain.stages import check_open
from server.domain.visibility import Viewer, visibility

MAX_CLAUSES = 50
MAX_CLAUSE_CHARS = 4000

Moves = tuple[Move, ...]


# -- reading -------------------------------------------------------------------------------


def answering_parties(room: RoomState, proposal: Proposal) -> tuple[str, ...]:
    """The parties whose acceptance makes ``proposal`` agreed: every party in its thread."""
    thread = room.threads.get(proposal.thread)
    if thread is None or thread.kind == ThreadKind.PLENARY:
        return tuple(room.parties)
    return tuple(p for p in room.parties if p in thread.parties)


def status(room: RoomState, proposal: Proposal) -> Status:
    """A proposal's status, from the log: its answers, withdrawal and counter-proposals."""
    if proposal.withdrawn:
        return Status.WITHDRAWN
    if proposal.draft:
        return Status.DRAFT
    accepted = {p for p, (a, _) in proposal.answers.items() if a == Answer.ACCEPT}
    accepted |= set(proposal.sponsors)
    if set(answering_parties(room, proposal)) <= accepted:
        return Status.AGREED
    if proposal.superseded_by is not None:
        return Status.SUPERSEDED
    if any(a == Answer.REJECT for a, _ in proposal.answers.values()):
        return Status.REJECTED
    if accepted - set(proposal.sponsors):
        return Status.ACCEPTED_BY_SOME
    return Status.TABLED


def visible_proposal(room: RoomState, seat: Seat | Viewer, proposal_id: str) -> Proposal:
    """The proposal if ``seat`` may see it (where it stands: its thread, or its coalition's
    caucus while a draft); otherwise :class:`NotFound`, as if it did not exist."""
    viewer = seat if isinstance(seat, Viewer) else Viewer(seat.role, seat.party)
    proposal = room.proposals.get(proposal_id)
    if proposal is None:
        raise NotFound(f"no proposal {proposal_id!r} in this room", field="proposal")
    where = proposal.coalition if proposal.draft else proposal.thread
    kind = EventKind.PROPOSAL_DRAFTED if proposal.draft else EventKind.PROPOSAL_TABLED
    if visibility(kind, where, viewer, room) != "full":
        raise NotFound(f"no proposal {proposal_id!r} in this room", field="proposal")
    return proposal


def compare(room: RoomState, older: Proposal, newer: Proposal) -> list[dict[str, Any]]:
    """Two versions term by term, in agenda order: every issue either of them sets."""
    rows = []
    for issue in room.agenda.values():
        a, b = older.terms.get(issue.id), newer.terms.get(issue.id)
        if a is None and b is None:
            continue
        rows.append(difference(issue, a, b))
    return rows


def last_positions(room: RoomState, thread_id: str, party: str) -> dict[str, Value]:
    """The party's last tabled value per issue in one thread (withdrawn proposals excepted)."""
    out: dict[str, Value] = {}
    tabled = sorted(
        (
            p
            for p in room.proposals.values()
            if p.thread == thread_id and not p.draft and not p.withdrawn and party in p.sponsors
        ),
        key=lambda p: p.seq,
    )
    for proposal in tabled:
        out.update(proposal.terms)
    return out


def concession_body(
    party: str | None,
    issue: str | None,
    toward: str | None,
    *,
    proposal: str | None = None,
    moved: tuple[Value, Value] | None = None,
    size: str | None = None,
    description: str = "",
) -> dict[str, Any]:
    """The record body of a concession or retraction: computed from a proposal (``moved`` from
    one value to another, by ``size``) or stated in words (``description``, explicit)."""
    return {
        "explicit": moved is None,
        "party": party,
        "proposal": proposal,
        "issue": issue,
        "from": None if moved is None else moved[0],
        "to": None if moved is None else moved[1],
        "toward": toward,
        "size": size,
        "description": description,
    }


def concession_moves(
    room: RoomState,
    seat: Seat,
    thread_id: str,
    sponsors: Sequence[str],
    proposal_id: str,
    terms: Mapping[str, Value],
) -> list[Move]:
    """The concessions and retractions a new proposal makes, judged in its own thread only.

    For each sponsor and each measured issue the proposal sets: if the sponsor had tabled a
    different value in this thread before, then toward every other party with a position in
    this thread, the move is a concession if it comes closer to that party's last value and a
    retraction if it goes further away. Positions in other threads are not consulted, so a
    concession never reveals what was said elsewhere.
    """
    moves: list[Move] = []
    others = {
        party: last_positions(room, thread_id, party)
        for party in room.parties
        if party not in sponsors
    }
    for sponsor in sponsors:
        before = last_positions(room, thread_id, sponsor)
        for issue_id, value in terms.items():
            issue = room.agenda.get(issue_id)
            previous = before.get(issue_id)
            if issue is None or not issue.measured or previous is None or previous == value:
                continue
            for other, positions in others.items():
                theirs = positions.get(issue_id)
                if theirs is None:
                    continue
                toward = measure(issue, theirs) - measure(issue, previous)
                step = measure(issue, value) - measure(issue, previous)
                # Toward them: in their direction (passing their position still concedes).
                # Away: the other way, or any move off a position that was already theirs.
                kind = (
                    EventKind.CONCESSION_RECORDED
                    if toward * step > 0
                    else EventKind.RETRACTION_RECORDED
                )
                body = concession_body(
                    sponsor,
                    issue_id,
                    other,
                    proposal=proposal_id,
                    moved=(previous, value),
                    size=decimal_text(size(issue, previous, value)),
                )
                moves.append(Move(kind, seat.id, seat.party, thread_id, body))
    return moves


# -- proposals -----------------------------------------------------------------------------


def _clauses(raw: Sequence[str]) -> list[str]:
    if len(raw) > MAX_CLAUSES:
        raise Invalid(f"a proposal has at most {MAX_CLAUSES} clauses", field="clauses")
    for i, clause in enumerate(raw):
        if not clause.strip() or len(clause) > MAX_CLAUSE_CHARS:
            raise Invalid(f"a clause has 1 to {MAX_CLAUSE_CHARS} characters", field=f"clauses.{i}")
        if any(ord(c) < 32 for c in clause):
            # One paragraph per clause: a line break could forge structure in the documents.
            raise Invalid("a clause is one paragraph, without line breaks", field=f"clauses.{i}")
    return list(raw)


def decide_table_proposal(
    room: RoomState,
    seat_id: str,
    thread_id: str,
    *,
    terms: Mapping[str, Any],
    clauses: Sequence[str] = (),
    title: str = "",
    parent: str | None = None,
    coalition: str | None = None,
    proposal_id: str | None = None,
) -> Moves:
    seat = acting_seat(room, seat_id)
    thread = thread_for(room, seat, thread_id)
    allowed(room, seat, Action.TABLE_PROPOSAL, thread, what="table a proposal here")
    _check_open_thread(room, thread)
    checked = check_terms(room.agenda, terms)
    clause_list = _clauses(clauses)
    if not checked and not clause_list:
        raise Invalid("a proposal sets at least one term or holds a clause", field="terms")
    if parent is not None:
        earlier = visible_proposal(room, seat, parent)
        if earlier.draft:
            raise Conflict("a draft cannot be countered; endorse it or wait", field="parent")
        if earlier.thread != thread.id:
            # A parent elsewhere would tell this thread's readers that a proposal they may
            # not see exists. To bring a back-channel's text to the plenary, table it anew.
            raise Invalid(
                "a counter-proposal answers a proposal of the same thread", field="parent"
            )
    proposal_id = proposal_id or new_id("pr")
    body: dict[str, Any] = {
        "id": proposal_id,
        "title": title,
        "sponsors": [seat.party] if seat.party else [],
        "parent": parent,
        "coalition": None,
        "terms": checked,
        "clauses": clause_list,
    }
    if coalition is not None:
        group = room.coalitions.get(coalition)
        if group is None or seat.party not in group.parties:
            raise NotFound(f"your party is in no coalition {coalition!r}", field="coalition")
        if not group.formed:
            raise Conflict("the coalition is not formed yet: not every party joined")
        if thread.kind != ThreadKind.PLENARY:
            # Its draft lives in the coalition's caucus, whose readers (a facilitator by
            # policy, an audience it is disclosed to) need not be those of a back-channel.
            raise Invalid("a joint proposal is tabled in the plenary", field="thread")
        body["sponsors"] = sorted(group.parties)
        body["coalition"] = coalition
        # A joint proposal waits, in the coalition's caucus, for every member's endorsement.
        draft = {"thread": thread.id, "proposal": body}
        return (Move(EventKind.PROPOSAL_DRAFTED, seat.id, seat.party, coalition, draft),)
    return _tabled(room, seat, thread.id, body)


def _check_open_thread(room: RoomState, thread: Thread) -> None:
    """Proposals need a live thread (a back-channel every party accepted) and, in the plenary,
    no agreement yet: once the parties have agreed, the plenary's bargaining is over."""
    require_live(thread)
    if thread.kind == ThreadKind.PLENARY and room.agreement is not None:
        raise Conflict(
            "the parties have reached their agreement; the plenary's proposals are closed"
        )


def _tabled(room: RoomState, seat: Seat, thread_id: str, body: Mapping[str, Any]) -> Moves:
    tabling = Move(EventKind.PROPOSAL_TABLED, seat.id, seat.party, thread_id, {"proposal": body})
    moves = [tabling]
    moves += concession_moves(room, seat, thread_id, body["sponsors"], body["id"], body["terms"])
    after = then(room, tabling)
    moves += _agreement_if_agreed(after, seat, str(body["id"]))
    return tuple(moves)


def _agreement_if_agreed(room: RoomState, seat: Seat, proposal_id: str) -> list[Move]:
    proposal = room.proposals[proposal_id]
    thread = room.threads.get(proposal.thread)
    if room.agreement is not None or thread is None or thread.kind != ThreadKind.PLENARY:
        return []
    if status(room, proposal) != Status.AGREED:
        return []
    parties = list(room.parties)
    text = agreement_text(room, proposal.terms, proposal.clauses, parties)
    body = {
        "agreement": proposal.id,
        "proposal": proposal.id,
        "terms": dict(proposal.terms),
        "clauses": list(proposal.clauses),
        "parties": parties,
        "text": text,
        "text_sha256": text_sha256(text),
    }
    return [Move(EventKind.AGREEMENT_REACHED, seat.id, seat.party, PLENARY, body)]


def decide_endorse_proposal(room: RoomState, seat_id: str, proposal_id: str) -> Moves:
    seat = acting_seat(room, seat_id)
    proposal = visible_proposal(room, seat, proposal_id)
    if not proposal.draft or proposal.coalition is None:
        raise Conflict("only a coalition's draft is endorsed; answer a tabled proposal")
    if proposal.withdrawn:
        raise Conflict("this draft was withdrawn", field="proposal")
    caucus = room.threads[proposal.coalition]
    allowed(room, seat, Action.ENDORSE_PROPOSAL, caucus, what="endorse this draft")
    if seat.party in proposal.endorsed:
        raise Conflict("your party has already endorsed this draft")
    endorsing = Move(
        EventKind.PROPOSAL_ENDORSED, seat.id, seat.party, caucus.id, {"proposal": proposal.id}
    )
    after = then(room, endorsing)
    if not after.proposals[proposal.id].endorsed >= set(proposal.sponsors):
        return (endorsing,)
    target = room.threads[proposal.thread]
    check_open(room.rules, room.stage, Action.TABLE_PROPOSAL, target.kind)
    return (endorsing, *_tabled(after, seat, target.id, proposal.as_body()))


def decide_answer_proposal(
    room: RoomState, seat_id: str, proposal_id: str, answer: str, reason: str = ""
) -> Moves:
    seat = acting_seat(room, seat_id)
    proposal = visible_proposal(room, seat, proposal_id)
    thread = room.threads[proposal.thread]
    permit = allowed(room, seat, Action.ANSWER_PROPOSAL, thread, what="answer this proposal")
    try:
        choice = Answer(answer)
    except ValueError:
        raise Invalid("answer 'accept', 'reject' or 'reserve'", field="answer") from None
    if len(reason) > MAX_TEXT_VALUE:
        raise Invalid(f"a reason has at most {MAX_TEXT_VALUE} characters", field="reason")
    _check_open_thread(room, thread)
    current = status(room, proposal)
    if current in (Status.DRAFT, Status.WITHDRAWN, Status.AGREED, Status.SUPERSEDED):
        # Agreement is on the latest version: a superseded one is answered by countering.
        raise Conflict(f"this proposal is {current.value.replace('_', ' ')}", field="proposal")
    assert seat.party is not None
    if seat.party in proposal.sponsors:
        raise Conflict("your party sponsors this proposal", field="proposal")
    permit.on(Subject(answering=frozenset(answering_parties(room, proposal))))
    previous = proposal.answers.get(seat.party)
    if previous is not None and previous[0] == choice:
        raise Conflict(f"your party has already answered {choice.value}", field="answer")
    answering = Move(
        EventKind.PROPOSAL_ANSWERED,
        seat.id,
        seat.party,
        thread.id,
        {"proposal": proposal.id, "answer": choice.value, "reason": reason},
    )
    return (answering, *_agreement_if_agreed(then(room, answering), seat, proposal.id))


def decide_withdraw_proposal(room: RoomState, seat_id: str, proposal_id: str) -> Move:
    seat = acting_seat(room, seat_id)
    proposal = visible_proposal(room, seat, proposal_id)
    # A coalition's draft is withdrawn where it stands, in the coalition's caucus.
    where = proposal.coalition if proposal.draft and proposal.coalition else proposal.thread
    thread = room.threads[where]
    permit = allowed(room, seat, Action.WITHDRAW_PROPOSAL, thread, what="withdraw this proposal")
    permit.on(Subject(sponsors=frozenset(proposal.sponsors), mediator=proposal.mediator))
    current = status(room, proposal)
    if current in (Status.WITHDRAWN, Status.AGREED):
        raise Conflict(f"this proposal is {current.value.replace('_', ' ')}", field="proposal")
    return Move(
        EventKind.PROPOSAL_WITHDRAWN, seat.id, seat.party, thread.id, {"proposal": proposal.id}
    )


def decide_record_concession(
    room: RoomState,
    seat_id: str,
    thread_id: str,
    description: str,
    *,
    issue: str | None = None,
    toward: str | None = None,
) -> Move:
    """A concession the head states in words (a move no number can show)."""
    seat = acting_seat(room, seat_id)
    thread = thread_for(room, seat, thread_id)
    allowed(room, seat, Action.RECORD_CONCESSION, thread, what="record a concession here")
    require_live(thread)
    if not description.strip() or len(description) > MAX_TEXT_VALUE:
        raise Invalid(
            f"describe the concession in 1 to {MAX_TEXT_VALUE} characters", field="description"
        )
    if issue is not None and issue not in room.agenda:
        raise NotFound(f"no issue {issue!r} on the agenda", field="issue")
    if toward is not None:
        members = room.parties if thread.kind == ThreadKind.PLENARY else thread.parties
        if toward not in members or toward == seat.party:
            raise Invalid("toward names another party in this thread", field="toward")
    body = concession_body(seat.party, issue, toward, description=description)
    return Move(EventKind.CONCESSION_RECORDED, seat.id, seat.party, thread.id, body)
