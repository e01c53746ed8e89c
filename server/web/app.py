"""The application factory: composes settings, database, log writer and routes once."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from server.config import Settings
from server.storage.database import Database
from server.storage.writer import LogWriter
from server.web import health
from server.web.errors import error_middleware
from server.web.keys import DATABASE, SETTINGS, WRITER
from server.web.security import security_headers


def init_app(settings: Settings) -> web.Application:
    """Build the aiohttp application for ``settings``; resources open on startup."""
    app = web.Application(middlewares=[security_headers, error_middleware])
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_database)
    app.add_routes(health.routes)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    db = Database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    await db.check()
    writer = LogWriter(db, max_batch=settings.max_batch)
    writer.start()
    app[DATABASE] = db
    app[WRITER] = writer
    try:
        yield
    finally:
        await writer.close()
        await db.dispose()
