"""Tree heads, inclusion and consistency proofs and checkpoint signing on a room of a million
events, read from the stored Merkle nodes, on SQLite and PostgreSQL.

    python -m bench.ledger [--events 1000000] [--databases sqlite,postgresql] [--queries 1000]

For each database: a fresh database (``alembic upgrade head``); one room made by the room
service (seats and invites, as ``parley exercise start`` makes it); then ``--events`` plenary
messages appended through the real append path, ``LogWriter.submit`` with 1,000 events per
request and ``--batch`` requests queued together, so each transaction holds up to
``1000 * batch`` events (records built, canonicalised and hashed, events and Merkle nodes
inserted, room frontier moved, exactly as for any append). Nothing is inserted any other way.

Then, timed one call at a time with ``--queries`` random arguments each, through
``CheckpointService`` (the code behind the HTTP API, database reads included):

- ``tree head (current)``: the room's size and root (the frontier of the room row);
- ``tree head (random size)``: the root at a random size from stored nodes;
- ``inclusion proof``: a random seq in the tree of every event, checked by the client's verifier;
- ``consistency proof``: a random older size to the current one, likewise checked;
- ``sign checkpoint``: one event appended (not timed), then a checkpoint signed at the new size
  (latest checkpoint read, consistency with it checked from stored nodes, Ed25519, insert);

and the same reads over HTTP from a ``parley serve`` on that database, with an observer's
session (``aiohttp`` client, one request at a time, keep-alive), so the figures include routing,
authentication and JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.databases import fresh_database, pg_admin
from client.ledger import verify_consistency, verify_inclusion
from server.domain.room import Party, Role
from server.ledger.checkpoint import NoteSigner
from server.services.access import AccessService
from server.services.checkpoints import ON_DEMAND, CheckpointService
from server.services.rooms import RoomService, RoomSetup, SeatSpec
from server.services.states import RoomStates
from server.storage.database import Database
from server.storage.migrate import upgrade
from server.storage.records import NewEvent
from server.storage.writer import LogWriter

ROOT = Path(__file__).resolve().parents[1]
PER_REQUEST = 1000


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p = lambda q: ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000  # noqa: E731
    return (
        f"{statistics.median(ordered) * 1000:.2f} | {p(0.95):.2f} | {p(0.99):.2f} | "
        f"{ordered[-1] * 1000:.2f}"
    )


async def timed(count: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


async def build(url: str, events: int, batch: int) -> tuple[str, str, float]:
    """The room and an observer's invite token; returns (room, invite token, seconds)."""
    db = Database(url)
    await upgrade(db.write_engine)
    writer = LogWriter(db, max_batch=batch)
    access = AccessService(db, "http://127.0.0.1:8080")
    rooms = RoomService(writer, RoomStates(db), access)
    setup = RoomSetup(
        title="Bench",
        parties=[Party("north", "North"), Party("south", "South")],
        seats=[
            SeatSpec(Role.FACILITATOR, "Facilitator", id="facilitator"),
            SeatSpec(Role.DELEGATE, "North", party="north", head=True),
            SeatSpec(Role.DELEGATE, "South", party="south", head=True),
            SeatSpec(Role.OBSERVER, "Observer", id="observer"),
        ],
    )
    created = await rooms.create(setup)
    observer = next(s for s in created.seats if s.id == "observer")
    started = time.perf_counter()
    done = 0
    while done < events:
        futures = []
        for _ in range(batch):
            size = min(PER_REQUEST, events - done)
            if size <= 0:
                break
            chunk = [
                NewEvent(
                    "message_posted",
                    {"text": f"statement {done + i} in the plenary"},
                    seat="north-1",
                    party="north",
                    thread="plenary",
                )
                for i in range(size)
            ]
            futures.append(writer.enqueue(created.room_id, chunk))
            done += size
        await asyncio.gather(*futures)
        if done % 100_000 < PER_REQUEST * batch:
            rate = done / (time.perf_counter() - started)
            print(f"#   {done:,} events appended ({rate:,.0f}/s)", flush=True)
    elapsed = time.perf_counter() - started
    await writer.close()
    await db.dispose()
    return created.room_id, observer.invite_url.split("#", 1)[1], elapsed


async def measure_service(url: str, room: str, queries: int, rows: list[str], kind: str) -> None:
    db = Database(url)
    signer = NoteSigner("bench.example", Ed25519PrivateKey.generate())
    service = CheckpointService(db, signer)
    writer = LogWriter(db)
    writer.add_transaction_hook(service.stage_hook)
    size, root = await service.tree_head(room)
    rng = random.Random(5)

    async def inclusion() -> None:
        seq = rng.randint(1, size)
        proof = await service.inclusion(room, seq, size)
        verify_inclusion(seq - 1, size, proof.leaf_hash, proof.path, root)

    async def consistency() -> None:
        old = rng.randint(1, size - 1)
        _, old_root = await service.tree_head(room, old)
        proof = await service.consistency(room, old, size)
        verify_consistency(old, size, old_root, root, proof)

    async def consistency_proof_only() -> None:
        await service.consistency(room, rng.randint(1, size - 1), size)

    await service.sign(room, ON_DEMAND)
    cases: list[tuple[str, int, Callable[[], Awaitable[object]]]] = [
        ("tree head (current)", queries, lambda: service.tree_head(room)),
        ("tree head (random size)", queries, lambda: service.tree_head(room, rng.randint(1, size))),
        ("inclusion proof + client check", queries, inclusion),
        ("consistency proof", queries, consistency_proof_only),
        ("consistency proof + old root + client check", queries, consistency),
    ]
    for name, count, call in cases:
        await call()  # warm the connection pool and caches
        samples = await timed(count, call)
        rows.append(f"| {kind} | service | {name} | {count} | {percentiles(samples)} |")
        print(rows[-1], flush=True)

    signing: list[float] = []
    for i in range(min(queries, 200)):
        await writer.append(room, NewEvent("message_posted", {"text": f"late {i}"}))
        started = time.perf_counter()
        _, created = await service.sign(room, ON_DEMAND)
        signing.append(time.perf_counter() - started)
        assert created
    rows.append(f"| {kind} | service | sign checkpoint | {len(signing)} | {percentiles(signing)} |")
    print(rows[-1], flush=True)
    await writer.close()
    await db.dispose()


@contextlib.contextmanager
def serving(url: str, folder: Path) -> Iterator[str]:
    """``parley serve`` on ``url``'s database until the block ends; yields its base URL."""
    port = 18000 + random.randint(0, 999)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(
        PARLEY_DATABASE_URL=url,
        PARLEY_DATA_DIR=str(folder),
        PARLEY_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/api/v1/health", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


async def measure_http(
    url: str, room: str, invite: str, queries: int, rows: list[str], kind: str, folder: Path
) -> None:
    with serving(url, folder) as base:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/api/v1/invites/redeem", json={"token": invite}) as r:
                token = (await r.json())["token"]
            headers = {"Authorization": f"Bearer {token}"}
            async with http.get(f"{base}/api/v1/rooms/{room}/leaves?limit=1", headers=headers) as r:
                size = (await r.json())["size"]
            rng = random.Random(7)

            async def get(path: str) -> None:
                async with http.get(f"{base}/api/v1/rooms/{room}/{path}", headers=headers) as r:
                    assert r.status == 200, await r.text()
                    await r.read()

            cases: list[tuple[str, Callable[[], Awaitable[object]]]] = [
                ("latest checkpoint", lambda: get("checkpoints/latest")),
                (
                    "inclusion proof",
                    lambda: get(f"proofs/inclusion?seq={rng.randint(1, size)}&size={size}"),
                ),
                (
                    "consistency proof",
                    lambda: get(f"proofs/consistency?from={rng.randint(1, size - 1)}&to={size}"),
                ),
            ]
            for name, call in cases:
                await call()
                samples = await timed(queries, call)
                rows.append(f"| {kind} | HTTP | {name} | {queries} | {percentiles(samples)} |")
                print(rows[-1], flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10, help="1000-event requests per commit")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"# {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"# load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.databases.split(","):
            url, pg_name = await fresh_database(kind, Path(tmp), "ledger")
            try:
                room, invite, seconds = await build(url, args.events, args.batch)
                print(
                    f"# {kind}: {args.events:,} events appended in {seconds:.0f} s "
                    f"({args.events / seconds:,.0f}/s); load average "
                    f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}",
                    flush=True,
                )
                await measure_service(url, room, args.queries, rows, kind)
                await measure_http(url, room, invite, args.queries, rows, kind, Path(tmp) / kind)
            finally:
                if pg_name:
                    await pg_admin(f"DROP DATABASE {pg_name} WITH (FORCE)")
    print(f"# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| database | via | operation | calls | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    asyncio.run(main())
