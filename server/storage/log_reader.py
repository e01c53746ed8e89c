"""Reading the log back: rooms, events by ``seq``, and stored Merkle nodes."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.storage.records import StoredEvent
from server.storage.tables import events, rooms
from server.storage.writer import split_frontier, stored_from_row


@dataclass(frozen=True, slots=True)
class RoomRow:
    id: str
    title: str
    created_at: datetime
    size: int
    stage: str
    frontier: tuple[bytes, ...]
    state_seq: int = 0


async def get_room(conn: AsyncConnection, room_id: str) -> RoomRow | None:
    row = (await conn.execute(select(rooms).where(rooms.c.id == room_id))).first()
    if row is None:
        return None
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return RoomRow(
        row.id,
        row.title,
        created,
        row.size,
        row.stage,
        split_frontier(row.tree_frontier),
        row.state_seq,
    )


async def read_events(
    conn: AsyncConnection,
    room_id: str,
    *,
    after: int = 0,
    limit: int | None = None,
    through: int | None = None,
    kinds: Collection[str] | None = None,
) -> list[StoredEvent]:
    """Events of ``room_id`` with ``after < seq <= through``, in ``seq`` order, at most ``limit``,
    only of ``kinds`` if given."""
    query = (
        select(events)
        .where(events.c.room_id == room_id, events.c.seq > after)
        .order_by(events.c.seq)
    )
    if through is not None:
        query = query.where(events.c.seq <= through)
    if kinds is not None:
        query = query.where(events.c.kind.in_(sorted(kinds)))
    if limit is not None:
        query = query.limit(limit)
    return [stored_from_row(row) for row in await conn.execute(query)]


async def read_thread_events(
    conn: AsyncConnection, room_id: str, thread_id: str, *, before: int, limit: int
) -> list[StoredEvent]:
    """The latest ``limit`` events of ``thread_id`` with ``seq < before``, latest first (read
    backwards through the ``(thread_id, room_id, seq)`` index, however sparse the thread)."""
    query = (
        select(events)
        .where(events.c.thread_id == thread_id, events.c.room_id == room_id, events.c.seq < before)
        .order_by(events.c.seq.desc())
        .limit(limit)
    )
    return [stored_from_row(row) for row in await conn.execute(query)]


@dataclass(frozen=True, slots=True)
class LeftOut:
    """The messages of a thread older than its last ``keep``: all those below ``before``."""

    before: int
    messages: int
    from_others: int


async def messages_left_out(
    conn: AsyncConnection,
    room_id: str,
    thread_id: str,
    *,
    kind: str,
    keep: int,
    through: int,
    seat_id: str,
) -> LeftOut | None:
    """The events of ``kind`` in ``thread_id`` (``seq <= through``) older than its last ``keep``:
    ``before`` is the seq of the oldest one kept, with how many are older and how many of those
    another seat than ``seat_id`` appended; None when the thread has no more than ``keep``."""
    in_thread = (
        events.c.thread_id == thread_id,
        events.c.room_id == room_id,
        events.c.kind == kind,
    )
    query = (
        select(events.c.seq)
        .where(*in_thread, events.c.seq <= through)
        .order_by(events.c.seq.desc())
        .offset(keep - 1)
        .limit(2)
    )
    seqs = list((await conn.execute(query)).scalars())
    if len(seqs) < 2:
        return None
    before = seqs[0]
    others = case((events.c.actor_seat.is_distinct_from(seat_id), 1), else_=0)
    counted = select(func.count(), func.coalesce(func.sum(others), 0)).where(
        *in_thread, events.c.seq < before
    )
    messages, from_others = (await conn.execute(counted)).one()
    return LeftOut(before, int(messages), int(from_others))


async def leaf_hashes(conn: AsyncConnection, room_id: str) -> Sequence[bytes]:
    """Every leaf hash of the room in ``seq`` order (for rebuilding and checking)."""
    query = select(events.c.leaf_hash).where(events.c.room_id == room_id).order_by(events.c.seq)
    return [bytes(d) for d in (await conn.execute(query)).scalars()]


async def find_command(
    conn: AsyncConnection, room_id: str, seat_id: str, command_id: str
) -> StoredEvent | None:
    """The event a seat's command id appended, if any."""
    query = select(events).where(
        events.c.room_id == room_id,
        events.c.actor_seat == seat_id,
        events.c.command_id == command_id,
    )
    row = (await conn.execute(query)).first()
    return None if row is None else stored_from_row(row)
