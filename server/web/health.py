"""``GET /api/v1/health``: the version and the database the server runs on."""

from __future__ import annotations

from aiohttp import web

from protocol.views import dump
from server.web.keys import SERVICES

routes = web.RouteTableDef()


@routes.get("/api/v1/health")
async def health(request: web.Request) -> web.Response:
    body = await request.app[SERVICES].health()
    return web.Response(text=dump(body), content_type="application/json")
