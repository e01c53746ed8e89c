"""What a session hands back: events, acks and the seats it holds, as frozen dataclasses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol.frames import Ack as AckFrame
from protocol.frames import EventFrame, SeatInfo


@dataclass(frozen=True, slots=True)
class Event:
    """One event of a room's log, as this seat may see it.

    ``sealed`` events tell that something happened (kind, stage, time, leaf hash) and carry no
    ``record``; full events carry the record whose canonical bytes the log hashed.

    Attributes:
        room: the room's id.
        seq: the event's position in the room's log (1, 2, 3 ...; gaps are events this seat
            may not see at all).
        kind: what happened (``message_posted``, ``thread_opened`` ...).
        stage: the room's stage when it happened.
        ts: when it was appended (RFC 3339, UTC).
        leaf_hash: hex SHA-256 leaf hash of the record in the log.
        sealed: True when the seat may only learn that the event exists.
        record: the full record, or None when sealed.
        command_id: on this seat's own events only, the id of the command that appended it:
            a client that lost an ack can tell from the stream that its command was applied.
    """

    room: str
    seq: int
    kind: str
    stage: str
    ts: str
    leaf_hash: str
    sealed: bool
    record: Mapping[str, Any] | None
    command_id: str | None = None

    @classmethod
    def from_frame(cls, frame: EventFrame) -> Event:
        return cls(
            room=frame.room,
            seq=frame.seq,
            kind=frame.kind,
            stage=frame.stage,
            ts=frame.ts,
            leaf_hash=frame.leaf_hash,
            sealed=frame.sealed,
            record=frame.record,
            command_id=frame.command_id,
        )

    @property
    def thread(self) -> str | None:
        """The thread the event belongs to (None for room-level or sealed events)."""
        value = self.record.get("thread") if self.record is not None else None
        return value if isinstance(value, str) else None

    @property
    def body(self) -> Mapping[str, Any]:
        """The kind-specific part of the record (empty for sealed events)."""
        value = self.record.get("body") if self.record is not None else None
        return value if isinstance(value, Mapping) else {}

    @property
    def seat(self) -> str | None:
        """The seat that caused the event, if one did and the record is visible."""
        actor = self.record.get("actor") if self.record is not None else None
        seat = actor.get("seat") if isinstance(actor, Mapping) else None
        return seat if isinstance(seat, str) else None


@dataclass(frozen=True, slots=True)
class Ack:
    """The server's acceptance of a command.

    Attributes:
        id: the command's id.
        room: the room it acted in.
        seq: the seq of the event it appended.
        duplicate: True when the id had been used already (by you, or by this client re-sending
            a command whose ack a disconnect lost): nothing new was appended and ``seq`` is the
            first attempt's.
        thread: the thread of that event.
        created: the id of what the command created (a back-channel, proposal or coalition).
    """

    id: str
    room: str | None
    seq: int | None
    duplicate: bool
    thread: str | None = None
    created: str | None = None

    @classmethod
    def from_frame(cls, frame: AckFrame) -> Ack:
        return cls(
            id=frame.id,
            room=frame.room,
            seq=frame.seq,
            duplicate=frame.duplicate,
            thread=frame.thread,
            created=frame.created,
        )


@dataclass(frozen=True, slots=True)
class Seat:
    """A seat the session acts for, as the server's ``welcome`` described it.

    Attributes:
        room: the room's id.
        seat: the seat's id.
        role: ``facilitator``, ``delegate`` or ``observer``.
        party: the delegate's party (None for other roles).
        name: the seat's display name.
        head: whether the seat is its party's head of delegation.
        stage: the room's stage when the connection was greeted.
    """

    room: str
    seat: str
    role: str
    party: str | None
    name: str
    head: bool
    stage: str

    @classmethod
    def from_info(cls, info: SeatInfo) -> Seat:
        return cls(
            room=info.room,
            seat=info.seat,
            role=info.role,
            party=info.party,
            name=info.name,
            head=info.head,
            stage=info.stage,
        )
