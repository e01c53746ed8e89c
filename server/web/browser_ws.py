"""The browser's WebSocket, ``/api/v1/browser/ws``: the protocol of ``/api/v1/ws``, with the
seats taken from the ``parley_seats`` cookie instead of tokens in ``hello``.

Page script never holds a session token, so its ``hello`` names each seat by its **room id**
in the ``token`` field (``{"token": "r-…", "after": 42}``); the server puts the cookie's token
for that room in its place and greets exactly as the gateway does. A room the cookie holds no
live seat in is refused like a bad token (``unauthenticated``, close 4001).
"""

from __future__ import annotations

import asyncio
from functools import partial

from aiohttp import web

from protocol.frames import Hello, SeatResume
from server.realtime.machine import Input
from server.web.auth import check_origin
from server.web.browser_api import seat_tokens
from server.web.gateway import Connection, serve_socket
from server.web.keys import SERVICES

routes = web.RouteTableDef()


class BrowserConnection(Connection):
    __slots__ = ("_tokens",)

    def __init__(
        self,
        app: web.Application,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None,
        *,
        tokens: list[str],
    ) -> None:
        super().__init__(app, ws, transport)
        self._tokens = tokens

    async def _accept_hello(self, hello: Hello) -> None:
        live = await self.app[SERVICES].access.live_sessions(self._tokens)
        by_room = {grant.room_id: token for token, grant in live}
        seats = []
        for i, resume in enumerate(hello.seats):
            held = by_room.get(resume.token)
            if held is None:
                step = self.machine.step(Input.BAD_TOKEN)
                if step.answer is not None and step.close is not None:
                    self._error(
                        step.answer,
                        f"this browser holds no live seat in room {resume.token!r}",
                        field=f"seats.{i}.token",
                    )
                    await self._close(step.close, flush=True)
                return
            seats.append(SeatResume(token=held, after=resume.after))
        await super()._accept_hello(hello.model_copy(update={"seats": seats}))


@routes.get("/api/v1/browser/ws")
async def browser_websocket(request: web.Request) -> web.StreamResponse:
    # A browser always sends Origin; require it, so the cookie cannot be used cross-site.
    if request.headers.get("Origin") is None:
        raise web.HTTPForbidden(reason="a browser WebSocket must carry an Origin header")
    check_origin(request)
    return await serve_socket(request, partial(BrowserConnection, tokens=seat_tokens(request)))
