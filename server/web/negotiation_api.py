"""HTTP routes of the negotiation: agenda, positions, proposals, comparisons, coalitions, the
agreement and its documents, and one route that takes any command.

Every read comes from the read service (``server/services/views/room.py``), which filters the
room's state through the visibility function: a proposal is listed only if its tabling event is
``full`` to the seat (a draft only if its coalition's caucus is), a party's positions only if
its caucus is. ``POST .../commands`` takes exactly
the command frames of the WebSocket (docs/protocol.md) and runs them through the same
decisions and command service.
"""

from __future__ import annotations

from aiohttp import web

from protocol.errors import ErrorCode
from protocol.frames import FrameError, Hello, Ping, decode_command
from server.services.commands import command_ack
from server.services.decisions import decision
from server.web.api import json_text
from server.web.auth import authenticate
from server.web.errors import ApiError
from server.web.keys import SERVICES, SETTINGS
from server.web.replies import reply

routes = web.RouteTableDef()
HTTP_CODES = {
    ErrorCode.BAD_FRAME: ErrorCode.BAD_REQUEST,
    ErrorCode.UNKNOWN_TYPE: ErrorCode.INVALID,
    ErrorCode.UNSUPPORTED_VERSION: ErrorCode.INVALID,
}


@routes.get("/api/v1/rooms/{room}/agenda")
async def agenda(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    return reply(await request.app[SERVICES].views.agenda(grant, request.match_info["room"]))


@routes.get("/api/v1/rooms/{room}/positions")
async def positions(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    return reply(await request.app[SERVICES].views.positions(grant, request.match_info["room"]))


@routes.get("/api/v1/rooms/{room}/proposals")
async def list_proposals(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    return reply(await request.app[SERVICES].views.proposals(grant, request.match_info["room"]))


@routes.get("/api/v1/rooms/{room}/proposals/{proposal}")
async def get_proposal(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    info = request.match_info
    return reply(await request.app[SERVICES].views.proposal(grant, info["room"], info["proposal"]))


@routes.get("/api/v1/rooms/{room}/proposals/{proposal}/compare/{other}")
async def compare(request: web.Request) -> web.Response:
    """Two versions term by term: ``proposal`` is the older, ``other`` the newer."""
    grant = await authenticate(request)
    info = request.match_info
    views = request.app[SERVICES].views
    return reply(await views.compare(grant, info["room"], info["proposal"], info["other"]))


@routes.get("/api/v1/rooms/{room}/coalitions")
async def coalitions(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    return reply(await request.app[SERVICES].views.coalitions(grant, request.match_info["room"]))


@routes.get("/api/v1/rooms/{room}/agreement")
async def agreement(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    return reply(await request.app[SERVICES].views.agreement(grant, request.match_info["room"]))


@routes.get("/api/v1/rooms/{room}/agreement.md")
async def agreement_markdown(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    views = request.app[SERVICES].views
    name, text = await views.agreement_markdown(grant, request.match_info["room"])
    return web.Response(
        text=text,
        content_type="text/markdown",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.get("/api/v1/rooms/{room}/agreement.html")
async def agreement_html(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    page = await request.app[SERVICES].views.agreement_html(grant, request.match_info["room"])
    return web.Response(text=page, content_type="text/html")


@routes.post("/api/v1/rooms/{room}/commands")
async def command(request: web.Request) -> web.Response:
    """Any WebSocket command frame, over HTTP: the same validation, decision and service."""
    grant = await authenticate(request)
    await request.app[SERVICES].views.seat(grant, request.match_info["room"])
    try:
        frame = decode_command(await json_text(request))
    except FrameError as exc:
        # Over HTTP the WebSocket's framing codes read as the API's own.
        code = HTTP_CODES.get(exc.code, exc.code)
        raise ApiError(code, exc.message, field=exc.field) from None
    if isinstance(frame, Hello | Ping):
        raise ApiError(ErrorCode.INVALID, f"{frame.type} is not a room command", field="type")
    if frame.room != grant.room_id:
        raise ApiError(ErrorCode.NOT_FOUND, f"no room {frame.room!r}", status=404, field="room")
    decide = decision(frame, grant.seat_id, request.app[SETTINGS].max_text_chars)
    appended = await request.app[SERVICES].commands.run(grant, decide, frame.id)
    body = command_ack(frame.id, grant.room_id, appended)
    return reply(body, status=200 if appended.duplicate else 201)
