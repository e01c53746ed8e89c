"""What a seat may know of its room: the room, seats, threads, agenda, positions, proposals,
coalitions and the agreement, each built from the room's state and judged by the one visibility
function, as the ``protocol.views`` models the HTTP API answers with.

Every method takes the caller's grant and the room id it asked for: another room answers
:class:`NotFound` (``field="room"``), exactly like a room that does not exist.
"""

from __future__ import annotations

from protocol.frames import SeatInfo
from protocol.views import (
    AgendaBody,
    AgreementBody,
    AnswerBody,
    BrowserSeat,
    CoalitionBody,
    CoalitionList,
    Comparison,
    IssueBody,
    PartyBody,
    PositionBody,
    PositionList,
    ProposalBody,
    ProposalList,
    RoomBody,
    RuleBody,
    SeatBody,
    SeatList,
    SessionBody,
    SignatureBody,
    ThreadBody,
    ThreadList,
)
from server.domain import bargaining as deal
from server.domain.agreement import document_html, document_markdown
from server.domain.errors import NotFound
from server.domain.events import EventKind
from server.domain.grants import Grant
from server.domain.negotiation import Proposal
from server.domain.room import RoomState, Seat
from server.domain.visibility import FULL, HIDDEN, Viewer, visibility
from server.services.states import RoomStates
from server.services.views.log import LogViews

SIGNED_KINDS = (EventKind.AGREEMENT_REACHED, EventKind.AGREEMENT_SIGNED)


def seat_body(seat: Seat) -> SeatBody:
    return SeatBody(
        id=seat.id, role=seat.role.value, party=seat.party, name=seat.name, head=seat.head
    )


def viewer_of(seat: Seat) -> Viewer:
    return Viewer(seat.role, seat.party)


def proposal_body(state: RoomState, proposal: Proposal) -> ProposalBody:
    return ProposalBody(
        **proposal.as_body(),
        thread=proposal.thread,
        seat=proposal.seat,
        seq=proposal.seq,
        stage=proposal.stage,
        status=deal.status(state, proposal).value,
        answers={
            party: AnswerBody(answer=answer.value, reason=reason)
            for party, (answer, reason) in proposal.answers.items()
        },
        endorsed=sorted(proposal.endorsed),
        superseded_by=proposal.superseded_by,
        answering_parties=list(deal.answering_parties(state, proposal)),
    )


class RoomViews:
    def __init__(self, states: RoomStates, log: LogViews) -> None:
        self._states = states
        self._log = log

    async def seat(self, grant: Grant, room_id: str | None = None) -> tuple[RoomState, Seat]:
        """The room's state and the caller's seat; NotFound for a room that is not its own."""
        if room_id is not None and room_id != grant.room_id:
            raise NotFound(f"no room {room_id!r}", field="room")
        state = await self._states.get(grant.room_id)
        return state, state.seats[grant.seat_id]

    async def greeting(self, grant: Grant) -> tuple[SeatInfo, Viewer, int]:
        """For a WebSocket ``hello``: the seat as ``welcome`` describes it, the viewer its
        events are judged for, and the room's size (state caught up with the database)."""
        state = await self._states.refresh(grant.room_id)
        seat = state.seats[grant.seat_id]
        info = SeatInfo(
            room=grant.room_id,
            seat=seat.id,
            role=seat.role.value,
            party=seat.party,
            name=seat.name,
            head=seat.head,
            stage=state.stage,
        )
        return info, viewer_of(seat), state.seq

    async def browser_seat(self, grant: Grant) -> BrowserSeat:
        """The seat as the browser's room switcher shows it."""
        state, seat = await self.seat(grant)
        return BrowserSeat(
            room=state.room_id, title=state.title, stage=state.stage, seat=seat_body(seat)
        )

    async def session(self, grant: Grant) -> SessionBody:
        _, seat = await self.seat(grant)
        return SessionBody(room=grant.room_id, seat=seat_body(seat))

    async def room(self, grant: Grant, room_id: str) -> RoomBody:
        state, seat = await self.seat(grant, room_id)
        return RoomBody(
            id=state.room_id,
            title=state.title,
            stage=state.stage,
            stages=list(state.stages),
            parties=[PartyBody(id=p.id, name=p.name) for p in state.parties.values()],
            seat=seat_body(seat),
        )

    async def seats(self, grant: Grant, room_id: str) -> SeatList:
        state, _ = await self.seat(grant, room_id)
        return SeatList(seats=[seat_body(s) for s in state.seats.values()])

    async def threads(self, grant: Grant, room_id: str) -> ThreadList:
        """The threads whose existence the seat may know (a thread it sees only sealed, as an
        observer sees a back-channel before disclosure, is not listed)."""
        state, seat = await self.seat(grant, room_id)
        viewer = viewer_of(seat)
        return ThreadList(
            threads=[
                ThreadBody(
                    id=t.id,
                    kind=t.kind.value,
                    title=t.title,
                    parties=sorted(t.parties),
                    accepted=sorted(t.accepted),
                    declined=t.declined,
                    live=t.live,
                    disclosed_to=t.disclosed_to.value if t.disclosed_to else None,
                )
                for t in state.threads.values()
                if visibility(EventKind.THREAD_OPENED, t.id, viewer, state) == FULL
            ]
        )

    async def history(
        self,
        grant: Grant,
        room_id: str,
        *,
        since: int,
        limit: int,
        recent: int | None = None,
        cut: int | None = None,
    ) -> str:
        """The JSON text of an ``EventPage`` of the seat's view of the log (with ``recent``,
        only the last ``recent`` messages of each thread as of ``cut``)."""
        state, seat = await self.seat(grant, room_id)
        viewer = viewer_of(seat)
        return await self._log.history(
            state.room_id, viewer, seat.id, since=since, limit=limit, recent=recent, cut=cut
        )

    async def thread_history(
        self, grant: Grant, room_id: str, thread_id: str, *, before: int, limit: int
    ) -> str:
        """The JSON text of a ``ThreadEventPage``, read backwards from ``before``; a thread the
        seat may not know of (hidden, like another party's back-channel) is not found."""
        state, seat = await self.seat(grant, room_id)
        viewer = viewer_of(seat)
        if (
            thread_id not in state.threads
            or visibility(EventKind.THREAD_OPENED, thread_id, viewer, state) is HIDDEN
        ):
            raise NotFound(f"no thread {thread_id!r} in this room", field="thread")
        return await self._log.thread_history(
            state.room_id, thread_id, viewer, seat.id, before=before, limit=limit
        )

    async def agenda(self, grant: Grant, room_id: str) -> AgendaBody:
        """The agenda is set before the whole room (issues added later too)."""
        state, seat = await self.seat(grant, room_id)
        public = visibility(EventKind.AGENDA_ISSUE_ADDED, None, viewer_of(seat), state) == FULL
        return AgendaBody(
            issues=[IssueBody(**i.as_body()) for i in state.agenda.values()] if public else [],
            stage=state.stage,
            stages=list(state.stages),
            rules=[RuleBody(**rule.as_body()) for rule in state.rules],
        )

    async def positions(self, grant: Grant, room_id: str) -> PositionList:
        """The confidential positions the seat may read: its own party's, or every party's whose
        caucus the seat reads (the facilitator, by room policy)."""
        state, seat = await self.seat(grant, room_id)
        viewer = viewer_of(seat)
        readable = {
            party
            for party in state.parties
            if visibility(EventKind.POSITION_SET, f"caucus-{party}", viewer, state) == FULL
        }
        return PositionList(
            positions=[
                PositionBody(party=position.party, **position.as_body())
                for (party, _), position in state.positions.items()
                if party in readable
            ]
        )

    async def proposals(self, grant: Grant, room_id: str) -> ProposalList:
        state, seat = await self.seat(grant, room_id)
        out = []
        for proposal in state.proposals.values():
            try:
                out.append(deal.visible_proposal(state, seat, proposal.id))
            except NotFound:
                continue
        return ProposalList(proposals=[proposal_body(state, p) for p in out])

    async def proposal(self, grant: Grant, room_id: str, proposal_id: str) -> ProposalBody:
        state, seat = await self.seat(grant, room_id)
        return proposal_body(state, deal.visible_proposal(state, seat, proposal_id))

    async def compare(self, grant: Grant, room_id: str, older_id: str, newer_id: str) -> Comparison:
        """Two versions term by term: ``older_id`` is the older, ``newer_id`` the newer."""
        state, seat = await self.seat(grant, room_id)
        older = deal.visible_proposal(state, seat, older_id)
        try:
            newer = deal.visible_proposal(state, seat, newer_id)
        except NotFound as exc:
            raise NotFound(exc.message, field="other") from None
        return Comparison(from_=older.id, to=newer.id, terms=deal.compare(state, older, newer))

    async def coalitions(self, grant: Grant, room_id: str) -> CoalitionList:
        """Coalitions are declared before the whole room, so every seat may know them."""
        state, seat = await self.seat(grant, room_id)
        viewer = viewer_of(seat)
        if visibility(EventKind.COALITION_DECLARED, None, viewer, state) != FULL:
            return CoalitionList(coalitions=[])
        return CoalitionList(
            coalitions=[
                CoalitionBody(
                    id=c.id,
                    name=c.name,
                    parties=sorted(c.parties),
                    joined=sorted(c.joined),
                    formed=c.formed,
                )
                for c in state.coalitions.values()
            ]
        )

    async def _agreed(self, grant: Grant, room_id: str) -> tuple[RoomState, dict[int, str]]:
        """The state with its agreement, and when the agreement and each signature were logged;
        NotFound before there is one the seat may see."""
        state, seat = await self.seat(grant, room_id)
        found = state.agreement
        viewer = viewer_of(seat)
        if found is None or visibility(SIGNED_KINDS[0], "plenary", viewer, state) != FULL:
            raise NotFound("no agreement has been reached yet")
        seqs = {found.seq, *(seq for _, seq in found.signatures.values())}
        times = await self._log.logged_at(state.room_id, viewer, seqs, SIGNED_KINDS)
        return state, times

    async def agreement(self, grant: Grant, room_id: str) -> AgreementBody:
        state, times = await self._agreed(grant, room_id)
        found = state.agreement
        assert found is not None
        return AgreementBody(
            id=found.id,
            proposal=found.proposal,
            seq=found.seq,
            reached_at=times.get(found.seq),
            terms=dict(found.terms),
            clauses=list(found.clauses),
            parties=list(found.parties),
            text_sha256=found.text_sha256,
            signatures=[
                SignatureBody(party=party, name=name, seq=seq, signed_at=times.get(seq))
                for party, (name, seq) in found.signatures.items()
            ],
            signed=found.signed,
        )

    async def agreement_markdown(self, grant: Grant, room_id: str) -> tuple[str, str]:
        """(file name, Markdown text) of the agreement."""
        state, times = await self._agreed(grant, room_id)
        return f"{state.room_id}-agreement.md", document_markdown(state, times)

    async def agreement_html(self, grant: Grant, room_id: str) -> str:
        state, times = await self._agreed(grant, room_id)
        return document_html(state, times)
