"""Errors of the storage layer.

StorageError
├── RoomNotFound        the room does not exist
├── RoomExists          a room with that id exists already
├── WriterClosed        the append path is shut down; nothing was appended
└── DatabaseUnavailable the database cannot be reached or opened

``DISCONNECTED`` lists the driver-level errors that mean the database went away under a running
server (refused connections, a dropped socket): callers map them like ``DatabaseUnavailable``.
"""

from __future__ import annotations

import sqlalchemy.exc


class StorageError(Exception):
    """Base of the storage errors."""


class RoomNotFound(StorageError):
    def __init__(self, room_id: str) -> None:
        super().__init__(f"no room {room_id!r}")
        self.room_id = room_id


class RoomExists(StorageError):
    def __init__(self, room_id: str) -> None:
        super().__init__(f"room {room_id!r} exists already")
        self.room_id = room_id


class WriterClosed(StorageError):
    def __init__(self) -> None:
        super().__init__("the log writer is closed; nothing was appended")


class DatabaseUnavailable(StorageError, RuntimeError):
    """The database cannot be reached or opened; the message says which and why."""


DISCONNECTED: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    ConnectionError,
)


def disconnected(exc: BaseException) -> bool:
    """Whether ``exc`` means the database went away rather than that a statement was wrong."""
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        # The connection died under the statement (the server was shut down or the backend
        # terminated): whatever the driver calls it, the database is unavailable.
        return True
    return isinstance(exc, DISCONNECTED)
