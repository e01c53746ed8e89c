"""The application factory: settings, the edge's limits, the services and the routes, once."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from server.assembly import open_services
from server.config import Settings
from server.web import (
    api,
    browser_api,
    browser_ws,
    gateway,
    health,
    ledger_api,
    negotiation_api,
    webclient,
)
from server.web.errors import error_middleware
from server.web.keys import CONNECTIONS, REVOCATIONS, SERVICES, SETTINGS
from server.web.limits import Limits
from server.web.security import add_security_headers


def init_app(settings: Settings) -> web.Application:
    """Build the aiohttp application for ``settings``; resources open on startup."""
    app = web.Application(
        middlewares=[Limits(settings).middleware, error_middleware], client_max_size=256 * 1024
    )
    app.on_response_prepare.append(add_security_headers)
    app[SETTINGS] = settings
    app[CONNECTIONS] = set()
    app[REVOCATIONS] = gateway.Revocations()
    app.cleanup_ctx.append(_services)
    app.on_shutdown.append(gateway.close_all)
    app.add_routes(health.routes)
    app.add_routes(api.routes)
    app.add_routes(negotiation_api.routes)
    app.add_routes(gateway.routes)
    app.add_routes(ledger_api.routes)
    app.add_routes(browser_api.routes)
    app.add_routes(browser_ws.routes)
    app.add_routes(webclient.routes)
    return app


async def _services(app: web.Application) -> AsyncIterator[None]:
    services = await open_services(
        app[SETTINGS], on_revoked=lambda room, seat: gateway.revoke_seat(app, room, seat)
    )
    app[SERVICES] = services
    try:
        yield
    finally:
        await services.close()
