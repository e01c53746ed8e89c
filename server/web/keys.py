"""Typed application state (``web.AppKey``), composed once in :func:`server.web.app.init_app`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from server.config import Settings
from server.realtime.hub import Hub
from server.services.access import AccessService
from server.services.audit import AuditService
from server.services.checkpoints import CheckpointService
from server.services.commands import CommandService
from server.services.organisers import OrganiserService
from server.services.rooms import RoomService
from server.services.states import RoomStates
from server.storage.database import Database
from server.storage.writer import LogWriter

if TYPE_CHECKING:
    from server.web.gateway import Connection

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
WRITER = web.AppKey("writer", LogWriter)
STATES = web.AppKey("states", RoomStates)
HUB = web.AppKey("hub", Hub)
ACCESS = web.AppKey("access", AccessService)
ROOMS = web.AppKey("rooms", RoomService)
COMMANDS = web.AppKey("commands", CommandService)
CHECKPOINTS = web.AppKey("checkpoints", CheckpointService)
AUDIT = web.AppKey("audit", AuditService)
ORGANISERS = web.AppKey("organisers", OrganiserService)
CONNECTIONS: web.AppKey[set[Connection]] = web.AppKey("connections")
