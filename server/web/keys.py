"""Typed application state (``web.AppKey``), set once in :func:`server.web.app.init_app`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from server.assembly import Services
from server.config import Settings

if TYPE_CHECKING:
    from server.web.gateway import Connection, Revocations

SETTINGS = web.AppKey("settings", Settings)
SERVICES = web.AppKey("services", Services)
CONNECTIONS: web.AppKey[set[Connection]] = web.AppKey("connections")
REVOCATIONS: web.AppKey[Revocations] = web.AppKey("revocations")
