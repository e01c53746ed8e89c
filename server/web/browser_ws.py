"""The browser's WebSocket, ``/api/v1/browser/ws``: the protocol of ``/api/v1/ws``, with the
seats taken from the ``parley_seats`` cookie instead of tokens in ``hello``.

Page script never holds a session token, so its ``hello`` names each seat by its **room id**
in the ``token`` field (``{"token": "r-…", "after": 42}``); the server puts the cookie's token
for that room in its place and greets exactly as the gateway does. A room the cookie holds no
live seat in is refused like a bad token (``unauthenticated``, close 4001).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from protocol.errors import CloseCode, ErrorCode
from protocol.frames import Hello, SeatResume
from server.web.auth import check_origin
from server.web.browser_api import seat_tokens
from server.web.gateway import HARD_LIMIT_FACTOR, Connection
from server.web.keys import ACCESS, CONNECTIONS, SETTINGS

routes = web.RouteTableDef()


class BrowserConnection(Connection):
    def __init__(
        self,
        app: web.Application,
        ws: web.WebSocketResponse,
        backlog: Callable[[], int],
        write_now: Callable[[bytes], bool],
        *,
        tokens: list[str],
    ) -> None:
        super().__init__(app, ws, backlog, write_now)
        self._tokens = tokens

    async def _accept_hello(self, hello: Hello) -> bool | None:
        live = await self.app[ACCESS].live_sessions(self._tokens)
        by_room = {grant.room_id: token for token, grant in live}
        seats = []
        for i, resume in enumerate(hello.seats):
            held = by_room.get(resume.token)
            if held is None:
                self._error(
                    ErrorCode.UNAUTHENTICATED,
                    f"this browser holds no live seat in room {resume.token!r}",
                    field=f"seats.{i}.token",
                )
                await self.close(CloseCode.UNAUTHENTICATED, "no seat in that room", flush=True)
                return False
            seats.append(SeatResume(token=held, after=resume.after))
        return await super()._accept_hello(hello.model_copy(update={"seats": seats}))


@routes.get("/api/v1/browser/ws")
async def browser_websocket(request: web.Request) -> web.StreamResponse:
    # A browser always sends Origin; require it, so the cookie cannot be used cross-site.
    if request.headers.get("Origin") is None:
        raise web.HTTPForbidden(reason="a browser WebSocket must carry an Origin header")
    check_origin(request)
    settings = request.app[SETTINGS]
    ws = web.WebSocketResponse(
        max_msg_size=settings.max_frame_bytes * HARD_LIMIT_FACTOR, heartbeat=20.0
    )
    await ws.prepare(request)
    transport = request.transport

    def backlog() -> int:
        return transport.get_write_buffer_size() if transport is not None else 0

    def write_now(wire: bytes) -> bool:
        if transport is None or transport.is_closing() or ws.closed:
            return False
        transport.write(wire)
        return True

    connection = BrowserConnection(request.app, ws, backlog, write_now, tokens=seat_tokens(request))
    request.app[CONNECTIONS].add(connection)
    try:
        await connection.run()
    finally:
        request.app[CONNECTIONS].discard(connection)
    return ws
