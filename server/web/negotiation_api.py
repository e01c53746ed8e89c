"""HTTP routes of the negotiation: agenda, positions, proposals, comparisons, coalitions, the
agreement and its documents, and one route that takes any command.

Every read is of the room's state, filtered through the visibility function: a proposal is
listed only if its tabling event is ``full`` to the seat (a draft only if its coalition's
caucus is), a party's positions only if its caucus is. ``POST .../commands`` takes exactly
the command frames of the WebSocket (docs/protocol.md) and runs them through the same
decisions and command service.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from protocol.errors import ErrorCode
from protocol.frames import FrameError, Hello, Ping, decode_command
from server.domain import bargaining as deal
from server.domain.agreement import document_html, document_markdown
from server.domain.errors import NotFound
from server.domain.events import EventKind, format_timestamp
from server.domain.negotiation import Proposal
from server.domain.room import RoomState, Seat
from server.domain.visibility import FULL, Viewer, visibility
from server.services.decisions import decision
from server.storage.log_reader import read_events
from server.web.api import room_for
from server.web.errors import ApiError
from server.web.gateway import created_by
from server.web.keys import COMMANDS, DATABASE, SETTINGS

routes = web.RouteTableDef()
HTTP_CODES = {
    ErrorCode.BAD_FRAME: ErrorCode.BAD_REQUEST,
    ErrorCode.UNKNOWN_TYPE: ErrorCode.INVALID,
    ErrorCode.UNSUPPORTED_VERSION: ErrorCode.INVALID,
}


def _viewer(seat: Seat) -> Viewer:
    return Viewer(seat.role, seat.party)


def proposal_json(state: RoomState, proposal: Proposal) -> dict[str, Any]:
    return {
        **proposal.as_body(),
        "thread": proposal.thread,
        "seat": proposal.seat,
        "seq": proposal.seq,
        "stage": proposal.stage,
        "status": deal.status(state, proposal).value,
        "answers": {
            party: {"answer": answer.value, "reason": reason}
            for party, (answer, reason) in proposal.answers.items()
        },
        "endorsed": sorted(proposal.endorsed),
        "superseded_by": proposal.superseded_by,
        "answering_parties": list(deal.answering_parties(state, proposal)),
    }


def _visible(state: RoomState, seat: Seat) -> list[Proposal]:
    out = []
    for proposal in state.proposals.values():
        try:
            out.append(deal.visible_proposal(state, seat, proposal.id))
        except NotFound:
            continue
    return out


@routes.get("/api/v1/rooms/{room}/agenda")
async def agenda(request: web.Request) -> web.Response:
    _, state, _ = await room_for(request)
    return web.json_response(
        {
            "issues": [issue.as_body() for issue in state.agenda.values()],
            "stage": state.stage,
            "stages": list(state.stages),
            "rules": [rule.as_body() for rule in state.rules],
        }
    )


@routes.get("/api/v1/rooms/{room}/positions")
async def positions(request: web.Request) -> web.Response:
    """The confidential positions this seat may read: its own party's, or every party's whose
    caucus the seat reads (the facilitator, by room policy)."""
    _, state, seat = await room_for(request)
    viewer = _viewer(seat)
    readable = {
        party
        for party in state.parties
        if visibility(EventKind.POSITION_SET, f"caucus-{party}", viewer, state) == FULL
    }
    items = [
        {"party": position.party, **position.as_body()}
        for (party, _), position in state.positions.items()
        if party in readable
    ]
    return web.json_response({"positions": items})


@routes.get("/api/v1/rooms/{room}/proposals")
async def list_proposals(request: web.Request) -> web.Response:
    _, state, seat = await room_for(request)
    items = [proposal_json(state, p) for p in _visible(state, seat)]
    return web.json_response({"proposals": items})


@routes.get("/api/v1/rooms/{room}/proposals/{proposal}")
async def get_proposal(request: web.Request) -> web.Response:
    _, state, seat = await room_for(request)
    proposal = deal.visible_proposal(state, seat, request.match_info["proposal"])
    return web.json_response(proposal_json(state, proposal))


@routes.get("/api/v1/rooms/{room}/proposals/{proposal}/compare/{other}")
async def compare(request: web.Request) -> web.Response:
    """Two versions term by term: ``proposal`` is the older, ``other`` the newer."""
    _, state, seat = await room_for(request)
    older = deal.visible_proposal(state, seat, request.match_info["proposal"])
    try:
        newer = deal.visible_proposal(state, seat, request.match_info["other"])
    except NotFound as exc:
        raise NotFound(exc.message, field="other") from None
    return web.json_response(
        {"from": older.id, "to": newer.id, "terms": deal.compare(state, older, newer)}
    )


@routes.get("/api/v1/rooms/{room}/coalitions")
async def coalitions(request: web.Request) -> web.Response:
    _, state, _ = await room_for(request)
    items = [
        {
            "id": c.id,
            "name": c.name,
            "parties": sorted(c.parties),
            "joined": sorted(c.joined),
            "formed": c.formed,
        }
        for c in state.coalitions.values()
    ]
    return web.json_response({"coalitions": items})


async def _times(request: web.Request, state: RoomState) -> dict[int, str]:
    """When the agreement and each signature were logged (plenary events: public)."""
    agreement = state.agreement
    assert agreement is not None
    wanted = {agreement.seq, *(seq for _, seq in agreement.signatures.values())}
    async with request.app[DATABASE].engine.connect() as conn:
        events = await read_events(
            conn,
            state.room_id,
            after=agreement.seq - 1,
            kinds=(EventKind.AGREEMENT_REACHED, EventKind.AGREEMENT_SIGNED),
        )
    return {e.seq: format_timestamp(e.created_at) for e in events if e.seq in wanted}


def _agreement_or_404(state: RoomState) -> None:
    if state.agreement is None:
        raise ApiError(ErrorCode.NOT_FOUND, "no agreement has been reached yet", status=404)


@routes.get("/api/v1/rooms/{room}/agreement")
async def agreement(request: web.Request) -> web.Response:
    _, state, _ = await room_for(request)
    _agreement_or_404(state)
    found = state.agreement
    assert found is not None
    times = await _times(request, state)
    return web.json_response(
        {
            "id": found.id,
            "proposal": found.proposal,
            "seq": found.seq,
            "reached_at": times.get(found.seq),
            "terms": dict(found.terms),
            "clauses": list(found.clauses),
            "parties": list(found.parties),
            "text_sha256": found.text_sha256,
            "signatures": [
                {"party": party, "name": name, "seq": seq, "signed_at": times.get(seq)}
                for party, (name, seq) in found.signatures.items()
            ],
            "signed": found.signed,
        }
    )


@routes.get("/api/v1/rooms/{room}/agreement.md")
async def agreement_markdown(request: web.Request) -> web.Response:
    _, state, _ = await room_for(request)
    _agreement_or_404(state)
    text = document_markdown(state, await _times(request, state))
    return web.Response(
        text=text,
        content_type="text/markdown",
        headers={"Content-Disposition": f'attachment; filename="{state.room_id}-agreement.md"'},
    )


@routes.get("/api/v1/rooms/{room}/agreement.html")
async def agreement_html(request: web.Request) -> web.Response:
    _, state, _ = await room_for(request)
    _agreement_or_404(state)
    page = document_html(state, await _times(request, state))
    return web.Response(text=page, content_type="text/html")


@routes.post("/api/v1/rooms/{room}/commands")
async def command(request: web.Request) -> web.Response:
    """Any WebSocket command frame, over HTTP: the same validation, decision and service."""
    grant, _, _ = await room_for(request)
    if request.content_type != "application/json":
        raise ApiError(ErrorCode.BAD_REQUEST, "send a JSON body (Content-Type: application/json)")
    try:
        frame = decode_command(await request.text())
    except FrameError as exc:
        # Over HTTP the WebSocket's framing codes read as the API's own.
        code = HTTP_CODES.get(exc.code, exc.code)
        raise ApiError(code, exc.message, field=exc.field) from None
    if isinstance(frame, Hello | Ping):
        raise ApiError(ErrorCode.INVALID, f"{frame.type} is not a room command", field="type")
    if frame.room != grant.room_id:
        raise ApiError(ErrorCode.NOT_FOUND, f"no room {frame.room!r}", status=404, field="room")
    decide = decision(frame, grant.seat_id, request.app[SETTINGS].max_text_chars)
    appended = await request.app[COMMANDS].run(grant, decide, frame.id)
    first = appended.first
    body = {
        "id": frame.id,
        "room": grant.room_id,
        "seq": first.seq,
        "duplicate": appended.duplicate,
        "thread": first.thread,
        "created": created_by(first),
        "events": [e.kind for e in appended.events],
    }
    return web.json_response(body, status=200 if appended.duplicate else 201)
