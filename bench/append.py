"""Acknowledged appends per second and append-to-commit latency, group commit vs one
transaction per event, on SQLite and PostgreSQL.

    python -m bench.append [--events N] [--writers 1,10,100] [--databases sqlite,postgresql]
                           [--modes group,per-event,floor]

Each run creates a fresh database (``alembic upgrade head``), one room, and W concurrent
writers that each append their share of N events, one at a time, waiting for every ack. The
"per-event" mode is the same append path with ``max_batch=1``: one transaction per event.

The "floor" (``bench/floor.py``) is measured in the same run on a fresh database of the same
schema: the same records built, canonicalised, hashed and inserted with their Merkle nodes by the
raw driver, one transaction per batch of W events (the batch group commit forms with W writers).
Floor and group commit run ``--repeat`` times, alternating, each on a fresh database; the table
shows medians (and the range), and Parley's share of the floor as the median over the pairs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.databases import fresh_database, pg_admin
from bench.floor import postgresql_floor, sqlite_floor
from server.storage.database import Database
from server.storage.migrate import upgrade
from server.storage.records import NewEvent, RoomSpec
from server.storage.writer import LogWriter


async def run_one(url: str, writers: int, events: int, max_batch: int) -> dict[str, float]:
    db = Database(url)
    await upgrade(db.write_engine)
    writer = LogWriter(db, max_batch=max_batch)
    room = f"bench-{uuid.uuid4().hex[:8]}"
    await writer.create_room(RoomSpec(room, "bench", "opening"), [NewEvent("room_created")])
    per_writer = max(1, events // writers)
    latencies: list[float] = []

    async def one_writer(w: int) -> None:
        for n in range(per_writer):
            event = NewEvent(
                "message_posted",
                {"text": f"statement {n} from delegate {w}"},
                seat=f"seat-{w}",
                party=f"p{w % 4}",
                thread="plenary",
            )
            started = time.perf_counter()
            await writer.append(room, event)
            latencies.append(time.perf_counter() - started)

    batches_before = writer.batches
    started = time.perf_counter()
    await asyncio.gather(*(one_writer(w) for w in range(writers)))
    elapsed = time.perf_counter() - started
    batches = writer.batches - batches_before
    await writer.close()
    await db.dispose()
    latencies.sort()
    total = per_writer * writers
    return {
        "acks_per_s": total / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "events": total,
        "mean_batch": total / max(1, batches),
    }


async def run_floor(url: str, writers: int, events: int) -> float:
    """Events/s of the raw-driver floor on a fresh database at ``url`` (batches of ``writers``)."""
    db = Database(url)
    await upgrade(db.write_engine)
    writer = LogWriter(db)
    room = f"floor-{uuid.uuid4().hex[:8]}"
    await writer.create_room(RoomSpec(room, "bench", "opening"), [NewEvent("room_created")])
    await writer.close()
    await db.dispose()
    if db.sqlite_path is not None:
        return await asyncio.to_thread(sqlite_floor, str(db.sqlite_path), room, events, writers)
    return await postgresql_floor(url.replace("+asyncpg", ""), room, events, writers)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--per-event-events", type=int, default=2_000)
    parser.add_argument("--writers", default="1,10,100")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--modes", default="group,per-event,floor")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of the floor and of group commit, alternating; medians are shown",
    )
    args = parser.parse_args()
    modes = args.modes.split(",")
    print(
        f"# {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        "| database | writers | mode | events | acks/s (median, min-max) | p50 ms | p99 ms "
        "| mean batch | share of floor (median of pairs) |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:

        async def fresh(kind: str, job: Any) -> Any:
            url, pg_name = await fresh_database(kind, Path(tmp))
            try:
                return await job(url)
            finally:
                if pg_name:
                    await pg_admin(f"DROP DATABASE {pg_name} WITH (FORCE)")

        for kind in args.databases.split(","):
            for writers in (int(w) for w in args.writers.split(",")):
                grouped = args.events if writers > 1 else args.events // 10
                floors: list[float] = []
                runs: list[dict[str, float]] = []
                # Alternating runs, so that a busy spell on a shared machine hits both sides.
                for _ in range(args.repeat):
                    if "floor" in modes:
                        floors.append(
                            await fresh(
                                kind, lambda url, w=writers, n=grouped: run_floor(url, w, n)
                            )
                        )
                    if "group" in modes:
                        runs.append(
                            await fresh(
                                kind, lambda url, w=writers, n=grouped: run_one(url, w, n, 1000)
                            )
                        )
                if floors:
                    print(
                        f"| {kind} | {writers} | floor (raw driver) | {grouped} | "
                        f"{_spread(floors)} | | | {writers:.1f} | 100% |",
                        flush=True,
                    )
                if runs:
                    rates = [r["acks_per_s"] for r in runs]
                    share = ""
                    if floors:
                        pairs = [r / f for r, f in zip(rates, floors, strict=True)]
                        share = (
                            f"{statistics.median(pairs):.0%} ({min(pairs):.0%}-{max(pairs):.0%})"
                        )
                    print(
                        f"| {kind} | {writers} | group commit | {grouped} | {_spread(rates)} | "
                        f"{statistics.median(r['p50_ms'] for r in runs):.2f} | "
                        f"{statistics.median(r['p99_ms'] for r in runs):.2f} | "
                        f"{statistics.median(r['mean_batch'] for r in runs):.1f} | {share} |",
                        flush=True,
                    )
                if "per-event" in modes:
                    r = await fresh(
                        kind, lambda url, w=writers: run_one(url, w, args.per_event_events, 1)
                    )
                    print(
                        f"| {kind} | {writers} | per-event tx | {r['events']:.0f} | "
                        f"{r['acks_per_s']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                        f"{r['mean_batch']:.1f} | |",
                        flush=True,
                    )


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:,.0f}"
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


if __name__ == "__main__":
    asyncio.run(main())
