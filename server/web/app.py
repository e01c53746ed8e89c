"""The application factory: composes settings, database, log writer, services and routes once."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from server.config import Settings
from server.exercise.scenarios import SCENARIOS
from server.realtime.hub import Hub
from server.services.access import AccessService
from server.services.audit import AuditService
from server.services.checkpoints import CheckpointService
from server.services.commands import CommandService
from server.services.organisers import OrganiserService
from server.services.rooms import RoomService
from server.services.signing import load_signer
from server.services.states import RoomStates
from server.storage.database import Database
from server.storage.writer import LogWriter
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
from server.web.keys import (
    ACCESS,
    AUDIT,
    CHECKPOINTS,
    COMMANDS,
    CONNECTIONS,
    DATABASE,
    HUB,
    ORGANISERS,
    ROOMS,
    SETTINGS,
    STATES,
    WRITER,
)
from server.web.security import security_headers


def init_app(settings: Settings) -> web.Application:
    """Build the aiohttp application for ``settings``; resources open on startup."""
    app = web.Application(
        middlewares=[security_headers, error_middleware], client_max_size=256 * 1024
    )
    app[SETTINGS] = settings
    app[CONNECTIONS] = set()
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
    settings = app[SETTINGS]
    db = Database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    await db.check()
    writer = LogWriter(db, max_batch=settings.max_batch)
    states = RoomStates(db)
    hub = Hub(db, states)
    # Order matters: the state cache follows a commit before the hub judges its events.
    writer.add_listener(states.follow)
    writer.add_listener(hub.deliver)
    # A checkpoint at each stage change, signed in the transaction that appends it.
    checkpoints = CheckpointService(db, load_signer(settings.signing_key_path, settings.public_url))
    writer.add_transaction_hook(checkpoints.stage_hook)
    writer.start()
    access = AccessService(db, settings.public_url)
    app[DATABASE] = db
    app[WRITER] = writer
    app[STATES] = states
    app[HUB] = hub
    app[ACCESS] = access
    app[ROOMS] = RoomService(
        writer,
        states,
        access,
        on_revoked=lambda room, seat: gateway.revoke_seat(app, room, seat),
    )
    app[COMMANDS] = CommandService(db, writer, states)
    app[CHECKPOINTS] = checkpoints
    app[AUDIT] = AuditService(db, checkpoints, states)
    app[ORGANISERS] = OrganiserService(db, app[ROOMS], settings.public_url, SCENARIOS)
    try:
        yield
    finally:
        await writer.close()
        await db.dispose()
