"""Value types of the append path: what a caller asks to append and what was stored."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class NewEvent:
    """One event to append; ``seq``, stage, time and salt are assigned by the append path."""

    kind: str
    body: Mapping[str, object] = field(default_factory=dict)
    seat: str | None = None
    party: str | None = None
    thread: str | None = None


@dataclass(frozen=True, slots=True)
class RoomSpec:
    """A room to create together with its first events."""

    room_id: str
    title: str
    stage: str


@dataclass(slots=True)
class RoomHead:
    """A room's log head as the appending transaction sees it (rows locked on PostgreSQL)."""

    room_id: str
    size: int
    stage: str
    frontier: tuple[bytes, ...]
    state_seq: int = 0
    """The seq of the room's last state-changing event."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as committed: the canonical record and its leaf hash, plus indexed columns."""

    room_id: str
    seq: int
    kind: str
    stage: str
    seat: str | None
    party: str | None
    thread: str | None
    created_at: datetime
    salt: bytes
    record: bytes
    leaf_hash: bytes
    command_id: str | None = None


@dataclass(frozen=True, slots=True)
class Appended:
    """The answer to one append request.

    Attributes:
        events: the events of the request, in ``seq`` order. For a repeated command id, the
            event that the first attempt stored (only the first event of the command).
        duplicate: the command id had been seen; nothing new was appended.
    """

    events: tuple[StoredEvent, ...]
    duplicate: bool = False

    @property
    def first(self) -> StoredEvent:
        return self.events[0]


Precondition = Callable[[RoomHead], None]
"""A check run inside the appending transaction against the locked head; raising refuses the
request (and only that request)."""
