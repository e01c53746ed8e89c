"""The floor of an append: the essential work of one, done with the raw driver and nothing else.

For each event: the same record as the append path builds (``build_record``), its canonical
bytes (``canonical_json``, RFC 8785), its leaf hash, and the Merkle nodes it completes
(``append_leaves``); per batch: one transaction (``BEGIN IMMEDIATE`` on SQLite with WAL and
``synchronous=FULL``; a transaction on one ``asyncpg`` connection for PostgreSQL) that inserts
the events and the nodes and moves the room's size and frontier on. The schema is the one
``alembic upgrade head`` builds, with its append-only triggers, so the database does the same
work per row as for the real path. What the floor leaves out is everything a real append adds
around that: requests and their acknowledgements, the event loop, SQLAlchemy, retries, command
ids, hooks.
"""

from __future__ import annotations

import os
import sqlite3
import time
from datetime import UTC, datetime

import asyncpg

from protocol.canonical import canonical_json
from server.domain.events import build_record, format_timestamp
from server.ledger.merkle import Frontier, append_leaves, leaf_hash

EVENT_COLUMNS = (
    "room_id, seq, kind, stage, actor_seat, actor_party, thread_id, created_at, salt, record, "
    "leaf_hash, command_id"
)


def _records(room: str, start: int, count: int, batch_no: int) -> list[tuple[object, ...]]:
    """The rows of one batch, built exactly as the append path builds its records."""
    now = datetime.now(UTC)
    ts = format_timestamp(now)
    rows = []
    for i in range(count):
        seq = start + i + 1
        w = i
        salt = os.urandom(16)
        seat, party = f"seat-{w}", f"p{w % 4}"
        record = canonical_json(
            build_record(
                room=room,
                seq=seq,
                kind="message_posted",
                stage="opening",
                seat=seat,
                party=party,
                thread="plenary",
                ts=ts,
                salt=salt,
                body={"text": f"statement {batch_no} from delegate {w}"},
            )
        )
        rows.append(
            (
                room,
                seq,
                "message_posted",
                "opening",
                seat,
                party,
                "plenary",
                now,
                salt,
                record,
                leaf_hash(record),
                None,
            )
        )
    return rows


def _advance(frontier: Frontier, rows: list[tuple[object, ...]]) -> tuple[Frontier, list]:
    leaves = [row[10] for row in rows]
    return append_leaves(frontier, leaves)  # type: ignore[arg-type]


def sqlite_floor(path: str, room: str, events: int, batch: int) -> float:
    """Events per second appended to ``room`` (already holding its first event) by raw sqlite3."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    size, blob = conn.execute(
        "SELECT size, tree_frontier FROM rooms WHERE id = ?", (room,)
    ).fetchone()
    frontier = Frontier(size, tuple(blob[i : i + 32] for i in range(0, len(blob), 32)))
    insert_event = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
    insert_node = "INSERT INTO merkle_nodes (room_id, level, idx, hash) VALUES (?,?,?,?)"
    update_room = "UPDATE rooms SET size = ?, tree_frontier = ? WHERE id = ?"
    started = time.perf_counter()
    done = 0
    while done < events:
        count = min(batch, events - done)
        rows = _records(room, frontier.size, count, done)
        for i, row in enumerate(rows):  # SQLite stores times as text, as SQLAlchemy writes them
            rows[i] = (*row[:7], row[7].strftime("%Y-%m-%d %H:%M:%S.%f"), *row[8:])  # type: ignore[union-attr]
        frontier, nodes = _advance(frontier, rows)
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert_event, rows)
        conn.executemany(insert_node, [(room, lv, ix, h) for lv, ix, h in nodes])
        conn.execute(update_room, (frontier.size, b"".join(frontier.nodes), room))
        conn.execute("COMMIT")
        done += count
    elapsed = time.perf_counter() - started
    conn.close()
    return done / elapsed


async def postgresql_floor(dsn: str, room: str, events: int, batch: int) -> float:
    """The same with one asyncpg connection (prepared statements, ``executemany``)."""
    conn = await asyncpg.connect(dsn)
    try:
        size, blob = await conn.fetchrow(
            "SELECT size, tree_frontier FROM rooms WHERE id = $1", room
        )
        frontier = Frontier(size, tuple(blob[i : i + 32] for i in range(0, len(blob), 32)))
        placeholders = ",".join(f"${i}" for i in range(1, 13))
        insert_event = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({placeholders})"
        insert_node = "INSERT INTO merkle_nodes (room_id, level, idx, hash) VALUES ($1,$2,$3,$4)"
        update_room = "UPDATE rooms SET size = $1, tree_frontier = $2 WHERE id = $3"
        started = time.perf_counter()
        done = 0
        while done < events:
            count = min(batch, events - done)
            rows = _records(room, frontier.size, count, done)
            frontier, nodes = _advance(frontier, rows)
            async with conn.transaction():
                await conn.executemany(insert_event, rows)
                await conn.executemany(insert_node, [(room, lv, ix, h) for lv, ix, h in nodes])
                await conn.execute(update_room, frontier.size, b"".join(frontier.nodes), room)
            done += count
        elapsed = time.perf_counter() - started
    finally:
        await conn.close()
    return done / elapsed
