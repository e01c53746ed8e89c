"""Errors of the storage layer.

StorageError
├── RoomNotFound        the room does not exist
├── RoomExists          a room with that id exists already
└── WriterClosed        the append path is shut down; nothing was appended
"""

from __future__ import annotations


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
