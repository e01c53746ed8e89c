"""The HTTP API under ``/api/v1/`` (documented in docs/openapi.yaml).

Handlers authenticate, decode, call one service and encode. Rooms appear only to their own
seats: another room's id answers 404, like a room that does not exist.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from protocol.errors import ErrorCode
from protocol.frames import (
    AcceptBackchannel,
    ClientCommand,
    DiscloseThread,
    OpenBackchannel,
    PostMessage,
    validation_failure,
)
from protocol.http import (
    AcceptBackchannelBody,
    DiscloseThreadBody,
    OpenBackchannelBody,
    PostMessageBody,
    RedeemInvite,
)
from server.domain.events import EventKind
from server.domain.room import RoomState, Seat
from server.domain.visibility import FULL, HIDDEN, Viewer, visibility
from server.realtime.frames import event_object
from server.services.decisions import decision
from server.storage.access_store import Grant
from server.storage.log_reader import read_events
from server.storage.records import Appended
from server.web.auth import COOKIE, authenticate, check_origin
from server.web.errors import ApiError
from server.web.keys import ACCESS, COMMANDS, DATABASE, ROOMS, SETTINGS, STATES

routes = web.RouteTableDef()
B = TypeVar("B", bound=BaseModel)
MAX_PAGE = 500


async def read_body(request: web.Request, model: type[B]) -> B:
    if request.content_type != "application/json":
        raise ApiError(ErrorCode.BAD_REQUEST, "send a JSON body (Content-Type: application/json)")
    try:
        data = json.loads(await request.text())
    except (ValueError, RecursionError) as exc:
        raise ApiError(ErrorCode.BAD_REQUEST, f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(ErrorCode.BAD_REQUEST, "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        code, message, where = validation_failure(exc)
        raise ApiError(code, message, field=where) from None


async def room_for(request: web.Request) -> tuple[Grant, RoomState, Seat]:
    grant = await authenticate(request)
    room_id = request.match_info["room"]
    if room_id != grant.room_id:
        raise ApiError(ErrorCode.NOT_FOUND, f"no room {room_id!r}", status=404, field="room")
    state = await request.app[STATES].get(room_id)
    return grant, state, state.seats[grant.seat_id]


def seat_json(seat: Seat) -> dict[str, Any]:
    return {
        "id": seat.id,
        "role": seat.role.value,
        "party": seat.party,
        "name": seat.name,
        "head": seat.head,
    }


def appended_json(appended: Appended) -> web.Response:
    event = appended.first
    body = {"seq": event.seq, "thread": event.thread, "duplicate": appended.duplicate}
    return web.json_response(body, status=200 if appended.duplicate else 201)


@routes.post("/api/v1/invites/redeem")
async def redeem(request: web.Request) -> web.Response:
    check_origin(request)
    body = await read_body(request, RedeemInvite)
    token, grant = await request.app[ACCESS].redeem(body.token)
    state = await request.app[STATES].get(grant.room_id)
    response = web.json_response(
        {
            "token": token,
            "room": grant.room_id,
            "seat": seat_json(state.seats[grant.seat_id]),
        }
    )
    secure = request.app[SETTINGS].public_url.startswith("https:")
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="Strict", secure=secure, path="/api/"
    )
    return response


@routes.get("/api/v1/session")
async def session(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    state = await request.app[STATES].get(grant.room_id)
    return web.json_response({"room": grant.room_id, "seat": seat_json(state.seats[grant.seat_id])})


@routes.get("/api/v1/rooms/{room}")
async def get_room(request: web.Request) -> web.Response:
    _, state, seat = await room_for(request)
    return web.json_response(
        {
            "id": state.room_id,
            "title": state.title,
            "stage": state.stage,
            "stages": list(state.stages),
            "parties": [{"id": p.id, "name": p.name} for p in state.parties.values()],
            "seat": seat_json(seat),
        }
    )


@routes.get("/api/v1/rooms/{room}/seats")
async def list_seats(request: web.Request) -> web.Response:
    _, state, _ = await room_for(request)
    return web.json_response({"seats": [seat_json(s) for s in state.seats.values()]})


@routes.post("/api/v1/rooms/{room}/seats/{seat}/invite")
async def rotate_invite(request: web.Request) -> web.Response:
    grant, _, _ = await room_for(request)
    seat_id = request.match_info["seat"]
    url = await request.app[ROOMS].rotate_invite(grant, seat_id)
    return web.json_response({"seat": seat_id, "invite_url": url}, status=201)


@routes.get("/api/v1/rooms/{room}/threads")
async def list_threads(request: web.Request) -> web.Response:
    _, state, seat = await room_for(request)
    viewer = Viewer(seat.role, seat.party)
    threads = [
        {
            "id": t.id,
            "kind": t.kind.value,
            "title": t.title,
            "parties": sorted(t.parties),
            "accepted": sorted(t.accepted),
            "live": t.live,
            "disclosed_to": t.disclosed_to.value if t.disclosed_to else None,
        }
        for t in state.threads.values()
        if visibility(EventKind.THREAD_OPENED, t.id, viewer, state) == FULL
    ]
    return web.json_response({"threads": threads})


async def _run(request: web.Request, grant: Grant, command: ClientCommand) -> web.Response:
    """Carry out ``command`` exactly as the WebSocket would (the same decision and service)."""
    max_chars = request.app[SETTINGS].max_text_chars
    decide = decision(command, grant.seat_id, max_chars)
    appended = await request.app[COMMANDS].run(grant, decide, command.id)
    return appended_json(appended)


# The bodies were validated by their own models; the path's ids are checked by the decision
# (a thread the seat may not see is not found), so the frames are built without validation.


@routes.post("/api/v1/rooms/{room}/threads")
async def open_backchannel(request: web.Request) -> web.Response:
    grant, _, _ = await room_for(request)
    body = await read_body(request, OpenBackchannelBody)
    command = OpenBackchannel.model_construct(
        type="open_backchannel",
        id=body.id,
        room=grant.room_id,
        parties=list(body.parties),
        title=body.title,
    )
    return await _run(request, grant, command)


@routes.post("/api/v1/rooms/{room}/threads/{thread}/accept")
async def accept_backchannel(request: web.Request) -> web.Response:
    grant, _, _ = await room_for(request)
    body = await read_body(request, AcceptBackchannelBody)
    command = AcceptBackchannel.model_construct(
        type="accept_backchannel",
        id=body.id,
        room=grant.room_id,
        thread=request.match_info["thread"],
    )
    return await _run(request, grant, command)


@routes.post("/api/v1/rooms/{room}/threads/{thread}/disclose")
async def disclose_thread(request: web.Request) -> web.Response:
    grant, _, _ = await room_for(request)
    body = await read_body(request, DiscloseThreadBody)
    command = DiscloseThread.model_construct(
        type="disclose_thread",
        id=body.id,
        room=grant.room_id,
        thread=request.match_info["thread"],
        to=body.to,
    )
    return await _run(request, grant, command)


@routes.post("/api/v1/rooms/{room}/threads/{thread}/messages")
async def post_message(request: web.Request) -> web.Response:
    grant, _, _ = await room_for(request)
    body = await read_body(request, PostMessageBody)
    command = PostMessage.model_construct(
        type="post_message",
        id=body.id,
        room=grant.room_id,
        thread=request.match_info["thread"],
        text=body.text,
    )
    return await _run(request, grant, command)


def _query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(ErrorCode.INVALID, f"{name} must be a whole number", field=name) from None
    if not low <= value <= high:
        raise ApiError(ErrorCode.INVALID, f"{name} must be within {low}..{high}", field=name)
    return value


@routes.get("/api/v1/rooms/{room}/events")
async def list_events(request: web.Request) -> web.Response:
    """The events after ``since`` this seat may see, at most ``limit`` of them."""
    _, state, seat = await room_for(request)
    since = _query_int(request, "since", 0, 0, 2**62)
    limit = _query_int(request, "limit", 100, 1, MAX_PAGE)
    viewer = Viewer(seat.role, seat.party)
    states = request.app[STATES]
    out: list[str] = []
    cursor, last_visible, more = since, since, False
    async with request.app[DATABASE].engine.connect() as conn:
        while not more:
            page = await read_events(conn, state.room_id, after=cursor, limit=MAX_PAGE)
            if not page:
                break
            state = await states.at_least(state.room_id, page[-1].seq)
            for event in page:
                vis = visibility(event.kind, event.thread, viewer, state)
                cursor = event.seq
                if vis is HIDDEN:
                    continue
                if len(out) == limit:
                    more = True
                    break
                out.append(event_object(event, vis))
                last_visible = event.seq
            if len(page) < MAX_PAGE:
                break
    text = '{"events":[' + ",".join(out) + f'],"next":{last_visible},"more":{json.dumps(more)}}}'
    return web.Response(text=text, content_type="application/json")
