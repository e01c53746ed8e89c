"""The browser's own HTTP routes: joining by invite, switching rooms, signing out, organisers.

A browser never holds a token. Joining redeems the invite into two ``HttpOnly``,
``SameSite=Strict`` cookies scoped to ``/api/``: ``parley_session`` (the room the page shows,
which every route of :mod:`server.web.api` reads) and ``parley_seats`` (every seat this browser
holds, one per room, for the WebSocket and for switching). An organiser link sets
``parley_organiser``. Writes authenticated by a cookie must come from the server's own origin.
"""

from __future__ import annotations

from aiohttp import web

from protocol.errors import ErrorCode
from protocol.http import CreateRoomBody, OrganiserSessionBody, RedeemInvite, SwitchRoomBody
from protocol.views import (
    BrowserSeat,
    BrowserSeatList,
    CreatedRoom,
    CreatedSeatBody,
    HeldSeat,
    InviteRevoked,
    OrganisedRoom,
    OrganiserRooms,
    OrganiserSession,
    SignOut,
)
from server.domain.grants import Grant
from server.domain.room import Policy
from server.services.organisers import Organiser
from server.web import gateway
from server.web.api import caller, read_body
from server.web.auth import COOKIE, check_origin, require_same_origin
from server.web.errors import ApiError
from server.web.keys import SERVICES, SETTINGS
from server.web.replies import reply

SEATS_COOKIE = "parley_seats"
ORGANISER_COOKIE = "parley_organiser"
SEPARATOR = "~"
"""Between tokens in ``parley_seats``: never part of a token (URL-safe base64 and ``_``)."""
MAX_SEATS = 16
"""As many as one WebSocket may hold."""

routes = web.RouteTableDef()


def seat_tokens(request: web.Request) -> list[str]:
    raw = request.cookies.get(SEATS_COOKIE, "")
    return [t for t in raw.split(SEPARATOR) if t][:MAX_SEATS]


def _set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    secure = request.app[SETTINGS].public_url.startswith("https:")
    response.set_cookie(name, value, httponly=True, samesite="Strict", secure=secure, path="/api/")


async def _held(request: web.Request, tokens: list[str]) -> list[tuple[str, Grant]]:
    """(token, grant) of the tokens that still work."""
    return await request.app[SERVICES].access.live_sessions(tokens)


async def _seat_answer(request: web.Request, grant: Grant) -> BrowserSeat:
    return await request.app[SERVICES].views.browser_seat(grant)


async def _end_sessions(request: web.Request, tokens: list[str]) -> int:
    """End these sessions and close the sockets greeted with them; how many were live."""
    ended = await request.app[SERVICES].access.end_sessions(tokens)
    gateway.end_sessions(request.app, tokens)
    return ended


@routes.post("/api/v1/browser/join")
async def join(request: web.Request) -> web.Response:
    """Redeem an invite into the browser's cookies; the answer holds no token."""
    check_origin(request)
    body = await read_body(request, RedeemInvite)
    token, grant = await request.app[SERVICES].access.redeem(body.token)
    held = await _held(request, seat_tokens(request))
    unused = []
    for old, had in held:
        if (had.room_id, had.seat_id) == (grant.room_id, grant.seat_id):
            # The same link opened again: keep the session this browser's tabs hold.
            unused, token = [token], old
    kept = [t for t, g in held if g.room_id != grant.room_id]
    seats = [*kept, token][-MAX_SEATS:]
    # A session the cookie no longer holds (another seat in this room, or the oldest beyond
    # the limit) could never be signed out from this browser: it ends now.
    dropped = [t for t, _ in held if t not in seats]
    if dropped or unused:
        await _end_sessions(request, [*dropped, *unused])
    response = reply(await _seat_answer(request, grant))
    _set_cookie(request, response, COOKIE, token)
    _set_cookie(request, response, SEATS_COOKIE, SEPARATOR.join(seats))
    return response


@routes.get("/api/v1/browser/seats")
async def list_seats(request: web.Request) -> web.Response:
    """The seats this browser holds (one per room), which one the page shows; no tokens."""
    current = request.cookies.get(COOKIE)
    seats = []
    for token, grant in await _held(request, seat_tokens(request)):
        shown = await _seat_answer(request, grant)
        seats.append(HeldSeat(**shown.model_dump(), current=token == current))
    return reply(BrowserSeatList(seats=seats))


@routes.post("/api/v1/browser/switch")
async def switch(request: web.Request) -> web.Response:
    """Point ``parley_session`` at another room this browser holds a seat in."""
    require_same_origin(request)
    body = await read_body(request, SwitchRoomBody)
    held = await _held(request, seat_tokens(request))
    if not held:
        raise ApiError(
            ErrorCode.UNAUTHENTICATED, "no session: open an invite link first", status=401
        )
    for token, grant in held:
        if grant.room_id == body.room:
            response = reply(await _seat_answer(request, grant))
            _set_cookie(request, response, COOKIE, token)
            return response
    raise ApiError(
        ErrorCode.NOT_FOUND,
        f"this browser holds no seat in room {body.room!r}",
        status=404,
        field="room",
    )


@routes.post("/api/v1/browser/signout")
async def sign_out(request: web.Request) -> web.Response:
    """End every session this browser holds, on the server, and drop its cookies."""
    require_same_origin(request)
    tokens = seat_tokens(request)
    current = request.cookies.get(COOKIE)
    if current and current not in tokens:
        tokens.append(current)
    response = reply(SignOut(ended=await _end_sessions(request, tokens)))
    for name in (COOKIE, SEATS_COOKIE, ORGANISER_COOKIE):
        response.del_cookie(name, path="/api/")
    return response


@routes.post("/api/v1/rooms/{room}/seats/{seat}/revoke")
async def revoke_invite(request: web.Request) -> web.Response:
    """Revoke a seat's invite link and its sessions without issuing a new one (facilitator)."""
    grant, _ = await caller(request)
    seat_id = request.match_info["seat"]
    revoked = await request.app[SERVICES].rooms.revoke_invite(grant, seat_id)
    return reply(InviteRevoked(seat=seat_id, revoked=revoked))


# -- organisers ---------------------------------------------------------------------------


async def organiser_of(request: web.Request) -> Organiser:
    token = request.cookies.get(ORGANISER_COOKIE)
    if token is None:
        raise ApiError(
            ErrorCode.UNAUTHENTICATED,
            "only an organiser may do this: open an organiser link first",
            status=401,
        )
    return await request.app[SERVICES].organisers.authenticate(token)


@routes.post("/api/v1/organiser/session")
async def organiser_session(request: web.Request) -> web.Response:
    check_origin(request)
    body = await read_body(request, OrganiserSessionBody)
    organiser = await request.app[SERVICES].organisers.authenticate(body.token)
    response = reply(OrganiserSession(name=organiser.name))
    _set_cookie(request, response, ORGANISER_COOKIE, body.token)
    return response


@routes.get("/api/v1/organiser/rooms")
async def organiser_rooms(request: web.Request) -> web.Response:
    organiser = await organiser_of(request)
    service = request.app[SERVICES].organisers
    rooms = await service.rooms_of(organiser)
    return reply(
        OrganiserRooms(
            name=organiser.name,
            scenarios=service.scenarios,
            rooms=[
                OrganisedRoom(
                    id=r.room_id,
                    title=r.title,
                    scenario=r.scenario,
                    created_at=r.created_at.isoformat(),
                )
                for r in rooms
            ],
        )
    )


@routes.post("/api/v1/organiser/rooms")
async def create_room(request: web.Request) -> web.Response:
    require_same_origin(request)
    organiser = await organiser_of(request)
    body = await read_body(request, CreateRoomBody)
    policy = None
    if body.policy is not None:
        policy = Policy(
            facilitator_reads_backchannels=body.policy.facilitator_reads_backchannels,
            facilitator_reads_caucuses=body.policy.facilitator_reads_caucuses,
        )
    created = await request.app[SERVICES].organisers.create_room(organiser, body.scenario, policy)
    seats = [
        CreatedSeatBody(role=s.role.value, party=s.party, name=s.name, invite_url=s.invite_url)
        for s in created.seats
    ]
    return reply(CreatedRoom(room=created.room_id, title=created.title, seats=seats), status=201)
