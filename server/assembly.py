"""The composition root: settings in, every service built once and wired together.

The web application (``server/web/app.py``) opens one :class:`Services` on startup and closes it
on cleanup; nothing in ``server/web`` or ``server/realtime`` builds a storage object itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from protocol import PROTOCOL_VERSION
from protocol.views import Health
from server import __version__
from server.config import Settings
from server.exercise.scenarios import SCENARIOS
from server.realtime.hub import Hub
from server.realtime.outbox import one_write_per_socket
from server.services.access import AccessService
from server.services.audit import AuditService
from server.services.checkpoints import CheckpointService
from server.services.commands import CommandService
from server.services.organisers import OrganiserService
from server.services.rooms import RoomService
from server.services.signing import load_signer
from server.services.states import RoomStates
from server.services.views.ledger import LedgerViews
from server.services.views.log import LogViews
from server.services.views.room import RoomViews
from server.storage.database import Database
from server.storage.writer import LogWriter


@dataclass(slots=True)
class Services:
    """Everything a running server holds, composed once (see :func:`open_services`)."""

    settings: Settings
    db: Database
    writer: LogWriter
    states: RoomStates
    hub: Hub
    access: AccessService
    rooms: RoomService
    commands: CommandService
    checkpoints: CheckpointService
    audit: AuditService
    log: LogViews
    views: RoomViews
    ledger: LedgerViews
    organisers: OrganiserService

    async def health(self) -> Health:
        """The version and database, after one query proves the database answers."""
        await self.db.ping()
        return Health(
            status="ok", version=__version__, protocol=PROTOCOL_VERSION, database=self.db.kind
        )

    async def close(self) -> None:
        await self.writer.close()
        await self.db.dispose()


async def open_services(settings: Settings, *, on_revoked: Callable[[str, str], None]) -> Services:
    """Open the database, start the log writer and build every service.

    Args:
        on_revoked: called with (room, seat) when a seat's invite is rotated, to close its
            sockets.
    """
    db = Database(
        settings.database_url, sqlite_synchronous=settings.sqlite_synchronous, wal_checkpoints=True
    )
    await db.check()
    db.start_wal_checkpoints()
    writer = LogWriter(db, max_batch=settings.max_batch, delivery=one_write_per_socket)
    states = RoomStates(db)
    log = LogViews(db, states)
    hub = Hub(log)
    # Order matters: the state cache follows a commit before its events are judged for the hub.
    writer.add_listener(states.follow)
    writer.add_listener(lambda committed: hub.deliver(log.commits(committed)))
    # A checkpoint at each stage change, signed in the transaction that appends it.
    checkpoints = CheckpointService(db, load_signer(settings.signing_key_path, settings.public_url))
    writer.add_transaction_hook(checkpoints.stage_hook)
    writer.start()
    access = AccessService(db, settings.public_url)
    views = RoomViews(states, log)
    audit = AuditService(checkpoints, log)
    rooms = RoomService(writer, states, access, on_revoked=on_revoked)
    return Services(
        settings=settings,
        db=db,
        writer=writer,
        states=states,
        hub=hub,
        access=access,
        rooms=rooms,
        commands=CommandService(db, writer, states),
        checkpoints=checkpoints,
        audit=audit,
        log=log,
        views=views,
        ledger=LedgerViews(checkpoints, views, audit),
        organisers=OrganiserService(db, rooms, settings.public_url, SCENARIOS),
    )
