"""Typed application state (``web.AppKey``), composed once in :func:`server.web.app.init_app`."""

from __future__ import annotations

from aiohttp import web

from server.config import Settings
from server.storage.database import Database
from server.storage.writer import LogWriter

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
WRITER = web.AppKey("writer", LogWriter)
