"""The HTTP API under ``/api/v1/`` (documented in docs/openapi.yaml).

Handlers authenticate, decode, call one service and encode. Rooms appear only to their own
seats: another room's id answers 404, like a room that does not exist.
"""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from protocol.errors import ErrorCode
from protocol.frames import (
    AcceptBackchannel,
    ClientCommand,
    DeclineBackchannel,
    DiscloseThread,
    OpenBackchannel,
    PostMessage,
    validation_failure,
)
from protocol.http import (
    AcceptBackchannelBody,
    DeclineBackchannelBody,
    DiscloseThreadBody,
    OpenBackchannelBody,
    PostMessageBody,
    RedeemInvite,
)
from protocol.views import InviteBody, Redeemed
from server.domain.grants import Grant
from server.services.commands import command_ack
from server.services.decisions import decision
from server.services.views.log import MAX_PAGE
from server.web.auth import COOKIE, authenticate, check_origin
from server.web.errors import ApiError
from server.web.keys import SERVICES, SETTINGS
from server.web.replies import reply

routes = web.RouteTableDef()
B = TypeVar("B", bound=BaseModel)


async def json_text(request: web.Request) -> str:
    """The text of a body that must be JSON, decoded with the Content-Type's charset.

    A charset Python does not know (``bogus``), or a codec that does not turn bytes into text
    (``rot13``), is the client's mistake: 400, not a failure of the server.
    """
    if request.content_type != "application/json":
        raise ApiError(ErrorCode.BAD_REQUEST, "send a JSON body (Content-Type: application/json)")
    charset = request.charset or "utf-8"
    try:
        return await request.text()
    except LookupError:
        raise ApiError(
            ErrorCode.BAD_REQUEST, f"unknown charset {charset!r}", field="Content-Type"
        ) from None
    except UnicodeError:
        raise ApiError(ErrorCode.BAD_REQUEST, f"the body is not {charset} text") from None


async def read_body(request: web.Request, model: type[B]) -> B:
    text = await json_text(request)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ApiError(ErrorCode.BAD_REQUEST, f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(ErrorCode.BAD_REQUEST, "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        code, message, where = validation_failure(exc)
        raise ApiError(code, message, field=where) from None


async def caller(request: web.Request) -> tuple[Grant, str]:
    """The caller's grant and the room its path names (checked by the read service)."""
    grant = await authenticate(request)
    room_id = request.match_info["room"]
    await request.app[SERVICES].views.seat(grant, room_id)
    return grant, room_id


@routes.post("/api/v1/invites/redeem")
async def redeem(request: web.Request) -> web.Response:
    check_origin(request)
    body = await read_body(request, RedeemInvite)
    services = request.app[SERVICES]
    token, grant = await services.access.redeem(body.token)
    session = await services.views.session(grant)
    response = reply(Redeemed(token=token, room=session.room, seat=session.seat))
    secure = request.app[SETTINGS].public_url.startswith("https:")
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="Strict", secure=secure, path="/api/"
    )
    return response


@routes.get("/api/v1/session")
async def session(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    return reply(await request.app[SERVICES].views.session(grant))


@routes.get("/api/v1/rooms/{room}")
async def get_room(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    return reply(await request.app[SERVICES].views.room(grant, request.match_info["room"]))


@routes.get("/api/v1/rooms/{room}/seats")
async def list_seats(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    return reply(await request.app[SERVICES].views.seats(grant, request.match_info["room"]))


@routes.post("/api/v1/rooms/{room}/seats/{seat}/invite")
async def rotate_invite(request: web.Request) -> web.Response:
    grant, _ = await caller(request)
    seat_id = request.match_info["seat"]
    url = await request.app[SERVICES].rooms.rotate_invite(grant, seat_id)
    return reply(InviteBody(seat=seat_id, invite_url=url), status=201)


@routes.get("/api/v1/rooms/{room}/threads")
async def list_threads(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    return reply(await request.app[SERVICES].views.threads(grant, request.match_info["room"]))


async def run_command(request: web.Request, grant: Grant, command: ClientCommand) -> web.Response:
    """Carry out ``command`` exactly as the WebSocket would (the same decision and service),
    answering with the WebSocket's ``ack`` plus the kinds appended (``CommandAck``)."""
    max_chars = request.app[SETTINGS].max_text_chars
    decide = decision(command, grant.seat_id, max_chars)
    appended = await request.app[SERVICES].commands.run(grant, decide, command.id)
    body = command_ack(command.id, grant.room_id, appended)
    return reply(body, status=200 if appended.duplicate else 201)


# The bodies were validated by their own models; the path's ids are checked by the decision
# (a thread the seat may not see is not found), so the frames are built without validation.


@routes.post("/api/v1/rooms/{room}/threads")
async def open_backchannel(request: web.Request) -> web.Response:
    grant, _ = await caller(request)
    body = await read_body(request, OpenBackchannelBody)
    command = OpenBackchannel.model_construct(
        type="open_backchannel",
        id=body.id,
        room=grant.room_id,
        parties=list(body.parties),
        title=body.title,
    )
    return await run_command(request, grant, command)


@routes.post("/api/v1/rooms/{room}/threads/{thread}/accept")
async def accept_backchannel(request: web.Request) -> web.Response:
    grant, _ = await caller(request)
    body = await read_body(request, AcceptBackchannelBody)
    command = AcceptBackchannel.model_construct(
        type="accept_backchannel",
        id=body.id,
        room=grant.room_id,
        thread=request.match_info["thread"],
    )
    return await run_command(request, grant, command)


@routes.post("/api/v1/rooms/{room}/threads/{thread}/decline")
async def decline_backchannel(request: web.Request) -> web.Response:
    grant, _ = await caller(request)
    body = await read_body(request, DeclineBackchannelBody)
    command = DeclineBackchannel.model_construct(
        type="decline_backchannel",
        id=body.id,
        room=grant.room_id,
        thread=request.match_info["thread"],
    )
    return await run_command(request, grant, command)


@routes.post("/api/v1/rooms/{room}/threads/{thread}/disclose")
async def disclose_thread(request: web.Request) -> web.Response:
    grant, _ = await caller(request)
    body = await read_body(request, DiscloseThreadBody)
    command = DiscloseThread.model_construct(
        type="disclose_thread",
        id=body.id,
        room=grant.room_id,
        thread=request.match_info["thread"],
        to=body.to,
    )
    return await run_command(request, grant, command)


@routes.post("/api/v1/rooms/{room}/threads/{thread}/messages")
async def post_message(request: web.Request) -> web.Response:
    grant, _ = await caller(request)
    body = await read_body(request, PostMessageBody)
    command = PostMessage.model_construct(
        type="post_message",
        id=body.id,
        room=grant.room_id,
        thread=request.match_info["thread"],
        text=body.text,
    )
    return await run_command(request, grant, command)


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
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
    """The events after ``since`` this seat may see, at most ``limit`` of them; with
    ``recent_messages``, only the last that many messages of each thread as of ``cut``."""
    grant = await authenticate(request)
    room_id = request.match_info["room"]
    await request.app[SERVICES].views.seat(grant, room_id)
    since = query_int(request, "since", 0, 0, 2**62)
    limit = query_int(request, "limit", 100, 1, MAX_PAGE)
    recent = cut = None
    if "recent_messages" in request.query:
        recent = query_int(request, "recent_messages", 0, 1, 10_000)
    if "cut" in request.query:
        cut = query_int(request, "cut", 0, 0, 2**62)
    text = await request.app[SERVICES].views.history(
        grant, room_id, since=since, limit=limit, recent=recent, cut=cut
    )
    return web.Response(text=text, content_type="application/json")


@routes.get("/api/v1/rooms/{room}/threads/{thread}/events")
async def list_thread_events(request: web.Request) -> web.Response:
    """The latest events of one thread before ``before`` this seat may see (scroll-back)."""
    grant = await authenticate(request)
    before = query_int(request, "before", 2**62, 1, 2**62)
    limit = query_int(request, "limit", 100, 1, MAX_PAGE)
    text = await request.app[SERVICES].views.thread_history(
        grant, request.match_info["room"], request.match_info["thread"], before=before, limit=limit
    )
    return web.Response(text=text, content_type="application/json")
