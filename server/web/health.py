"""``GET /api/v1/health``: the version and the database the server runs on."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from protocol import PROTOCOL_VERSION
from server import __version__
from server.web.keys import DATABASE

routes = web.RouteTableDef()


@routes.get("/api/v1/health")
async def health(request: web.Request) -> web.Response:
    db = request.app[DATABASE]
    async with db.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return web.json_response(
        {
            "status": "ok",
            "version": __version__,
            "protocol": PROTOCOL_VERSION,
            "database": db.kind,
        }
    )
