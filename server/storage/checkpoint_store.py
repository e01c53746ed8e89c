"""SQL for signed checkpoints and the stored tree they are read from.

Every function takes a synchronous ``Connection`` first and runs inside the caller's
transaction: the append path calls them from its own transaction (a checkpoint at each stage
change), the checkpoint service through ``AsyncConnection.run_sync``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection

from server.domain.events import EventKind
from server.storage.tables import checkpoints, events, merkle_nodes, rooms
from server.storage.writer import split_frontier


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A signed checkpoint as stored: the note is the exact signed text."""

    room_id: str
    size: int
    root: bytes
    note: str
    reason: str
    signed_at: datetime


@dataclass(frozen=True, slots=True)
class TreeHead:
    """A room's committed size and the frontier of its tree at that size."""

    size: int
    frontier: tuple[bytes, ...]


def _checkpoint(row: object) -> StoredCheckpoint:
    r = row._mapping  # type: ignore[attr-defined]
    signed = r["signed_at"]
    if signed.tzinfo is None:  # SQLite keeps no zone; every stored time is UTC
        signed = signed.replace(tzinfo=UTC)
    return StoredCheckpoint(
        r["room_id"], r["size"], bytes(r["root"]), r["note"], r["reason"], signed
    )


def tree_head(conn: Connection, room_id: str) -> TreeHead | None:
    row = conn.execute(
        select(rooms.c.size, rooms.c.tree_frontier).where(rooms.c.id == room_id)
    ).first()
    return None if row is None else TreeHead(row.size, split_frontier(row.tree_frontier))


def latest_checkpoint(conn: Connection, room_id: str) -> StoredCheckpoint | None:
    row = conn.execute(
        select(checkpoints)
        .where(checkpoints.c.room_id == room_id)
        .order_by(checkpoints.c.size.desc())
        .limit(1)
    ).first()
    return None if row is None else _checkpoint(row)


def get_checkpoint(conn: Connection, room_id: str, size: int) -> StoredCheckpoint | None:
    row = conn.execute(
        select(checkpoints).where(checkpoints.c.room_id == room_id, checkpoints.c.size == size)
    ).first()
    return None if row is None else _checkpoint(row)


def list_checkpoints(
    conn: Connection, room_id: str, *, through: int | None = None
) -> list[StoredCheckpoint]:
    """The room's checkpoints by size, those up to ``through`` if given."""
    query = select(checkpoints).where(checkpoints.c.room_id == room_id)
    if through is not None:
        query = query.where(checkpoints.c.size <= through)
    return [_checkpoint(row) for row in conn.execute(query.order_by(checkpoints.c.size))]


def add_checkpoint(conn: Connection, checkpoint: StoredCheckpoint) -> bool:
    """Store ``checkpoint`` unless the room has one of that size; returns whether it did."""
    # The dialect's own INSERT (for ON CONFLICT), imported here: importing both dialects costs
    # every process that loads this module ~20 ms, and a process only ever talks to one.
    dialect = importlib.import_module(f"sqlalchemy.dialects.{conn.dialect.name}")
    statement = (
        dialect.insert(checkpoints)
        .values(
            room_id=checkpoint.room_id,
            size=checkpoint.size,
            root=checkpoint.root,
            note=checkpoint.note,
            reason=checkpoint.reason,
            signed_at=checkpoint.signed_at,
        )
        .on_conflict_do_nothing(index_elements=["room_id", "size"])
    )
    return bool(conn.execute(statement).rowcount)


def node_hashes(
    conn: Connection, room_id: str, wanted: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """The stored hashes of the perfect subtrees ``wanted`` as (level, index); level 0 = leaves."""
    wanted = set(wanted)
    found: dict[tuple[int, int], bytes] = {}
    leaves = sorted(idx + 1 for level, idx in wanted if level == 0)
    inner = sorted((level, idx) for level, idx in wanted if level > 0)
    if leaves:
        query = select(events.c.seq, events.c.leaf_hash).where(
            events.c.room_id == room_id, events.c.seq.in_(leaves)
        )
        for seq, digest in conn.execute(query):
            found[(0, seq - 1)] = bytes(digest)
    if inner:
        # A top-level OR of "room_id = ? AND level = ? AND idx IN (...)", one per level: both
        # databases probe the primary key once per term. SQLite scans the room's nodes for a
        # row-value "(level, idx) IN (VALUES ...)", and for "room_id = ? AND (... OR ...)",
        # which costs ~0.1 s at a million events.
        by_level: dict[int, list[int]] = {}
        for level, idx in inner:
            by_level.setdefault(level, []).append(idx)
        query = select(merkle_nodes.c.level, merkle_nodes.c.idx, merkle_nodes.c.hash).where(
            or_(
                *(
                    and_(
                        merkle_nodes.c.room_id == room_id,
                        merkle_nodes.c.level == level,
                        merkle_nodes.c.idx.in_(indexes),
                    )
                    for level, indexes in sorted(by_level.items())
                )
            ),
        )
        for row in conn.execute(query):
            found[(row.level, row.idx)] = bytes(row.hash)
    return found


def leaf_range(conn: Connection, room_id: str, after: int, limit: int) -> list[tuple[int, bytes]]:
    """``(seq, leaf hash)`` of the events after ``after``, in order, at most ``limit``."""
    query = (
        select(events.c.seq, events.c.leaf_hash)
        .where(events.c.room_id == room_id, events.c.seq > after)
        .order_by(events.c.seq)
        .limit(limit)
    )
    return [(seq, bytes(digest)) for seq, digest in conn.execute(query)]


def stage_change_seqs(conn: Connection, room_id: str, through: int) -> list[int]:
    """The seqs of the room's ``stage_changed`` events up to ``through``."""
    query = (
        select(events.c.seq)
        .where(
            events.c.room_id == room_id,
            events.c.seq <= through,
            events.c.kind == EventKind.STAGE_CHANGED.value,
        )
        .order_by(events.c.seq)
    )
    return list(conn.execute(query).scalars())
