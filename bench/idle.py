"""Idle sockets and reconnect storms: what a greeted, idle WebSocket costs the server, and how
fast a restarted server greets and resumes every client that reconnects at once.

    python -m bench.idle [--sockets 19900] [--storm 5000] [--database sqlite]

One ``parley serve`` on a fresh database (``alembic upgrade head``) with one room of 100 seats
(2 delegates, 98 observers); each socket has its own session (``--sockets`` sessions, spread
over the seats). Per-address limits are lifted (every socket comes from 127.0.0.1); everything
else, heartbeats included, is at its default.

- ``idle``: the server's resident memory (``VmRSS``) after start-up and after 100 sockets were
  greeted and closed again (so that imports and caches are warm), then with ``--sockets``
  sockets greeted (``hello`` from the room's current seq, then ``synced``) and idle, read again
  after ``--hold`` seconds (at least one heartbeat: the server pings every socket every 20 s and
  each client answers); the highest reading counts. Per socket = (with - without) / sockets.
- ``storm``: ``--storm`` sockets greeted, 20 events appended after them; the server is stopped
  (it closes every socket with 1001) and started again on the same database, and every client
  reconnects at once, each with ``hello`` from the seq it held (so each replays 20 events), as
  soon as the new server accepts connections. Timed from the moment the new server answers its
  health check to the last ``synced``; a client that is refused or closed counts as a failure.

The clients are minimal asyncio WebSocket clients (``bench.fanout.WsClient``) spread over
``--workers`` processes (each under its own open-file limit), on the other CPU than the server's
when ``--pin`` (the default).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection as Pipe
from pathlib import Path

import aiohttp

from bench.databases import fresh_database, pg_admin
from bench.fanout import (
    Room,
    Server,
    Totals,
    WsClient,
    cpu_seconds,
    make_room,
    parley_server,
    start_py_spy,
)
from server.services.access import SESSION_PREFIX, new_token, token_hash
from server.storage import access_store
from server.storage.database import Database

HOST = "127.0.0.1"
SEATS = 100
REPLAYED = 20


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def more_sessions(db_url: str, tokens: list[str], count: int) -> list[str]:
    """``count`` new sessions, round robin over the seats of ``tokens`` (one transaction)."""
    db = Database(db_url)
    try:
        async with db.engine.connect() as conn:
            found = await access_store.find_sessions(conn, [token_hash(t) for t in tokens])
        grants = [found.get(token_hash(t)) for t in tokens]
        fresh = [new_token(SESSION_PREFIX) for _ in range(count)]
        now = datetime.now(UTC)
        async with db.write_engine.begin() as conn:
            for i, token in enumerate(fresh):
                grant = grants[i % len(grants)]
                assert grant is not None
                await access_store.add_session(conn, token_hash(token), grant, now)
        return fresh
    finally:
        await db.dispose()


def hello(token: str, after: int) -> str:
    return f'{{"v":1,"type":"hello","seats":[{{"token":"{token}","after":{after}}}]}}'


# -- client workers (one process each) -------------------------------------------------------


class Worker:
    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self.totals = Totals()
        self.clients: list[WsClient] = []

    async def connect(self, port: int, hellos: list[str], at_once: bool) -> list[float]:
        """Connect and greet one socket per hello; the monotonic time of each ``synced``."""
        loop = asyncio.get_running_loop()
        synced: list[float] = []
        failures: list[str] = []

        async def one(text: str) -> None:
            try:
                _, client = await loop.create_connection(
                    lambda: WsClient(self.totals, HOST, port), HOST, port
                )
                self.clients.append(client)
                await asyncio.wait_for(client.ready, 60)
                client.send_text(text)
                await asyncio.wait_for(client.synced, 60)
                synced.append(time.monotonic())
            except (OSError, TimeoutError) as exc:
                failures.append(repr(exc))

        if at_once:
            await asyncio.gather(*(one(t) for t in hellos))
        else:
            for first in range(0, len(hellos), 200):
                await asyncio.gather(*(one(t) for t in hellos[first : first + 200]))
        if failures:
            raise RuntimeError(f"{len(failures)} sockets failed, first: {failures[:3]}")
        return synced

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            command, *args = await loop.run_in_executor(None, self.pipe.recv)
            try:
                if command == "connect":
                    self.pipe.send(("ok", await self.connect(*args)))
                elif command == "status":
                    lost = sum(c.lost for c in self.clients)
                    self.pipe.send(("ok", (len(self.clients), lost, self.totals.errors)))
                elif command == "forget":  # the server closed them all (restart)
                    deadline = time.monotonic() + 60
                    # WsClient marks a lost socket with a flag, not an awaitable: poll it.
                    while any(not c.lost for c in self.clients) and time.monotonic() < deadline:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                    codes = {c.close_code for c in self.clients}
                    self.clients = []
                    self.pipe.send(("ok", sorted(map(str, codes))))
                elif command == "close":
                    for client in self.clients:
                        client.close()
                    await asyncio.sleep(0.5)
                    self.clients = []
                    self.pipe.send(("ok", None))
                elif command == "exit":
                    self.pipe.send(("ok", None))
                    return
            except Exception as exc:  # reported to the parent, which stops
                self.pipe.send(("error", repr(exc)))


def worker_main(pipe: Pipe, cpus: set[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)
    asyncio.run(Worker(pipe).run())


class Workers:
    def __init__(self, count: int, cpus: set[int] | None) -> None:
        context = mp.get_context("fork")
        self.pipes: list[Pipe] = []
        self.procs = []
        for _ in range(count):
            parent, child = context.Pipe()
            proc = context.Process(target=worker_main, args=(child, cpus), daemon=True)
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)

    async def ask(self, *commands: tuple[object, ...]) -> list[object]:
        """Send one command to each worker (in order) and wait for every answer."""
        loop = asyncio.get_running_loop()
        for pipe, command in zip(self.pipes, commands, strict=False):
            pipe.send(command)
        answers = []
        for pipe in self.pipes[: len(commands)]:
            status, value = await loop.run_in_executor(None, pipe.recv)
            if status != "ok":
                raise RuntimeError(f"client worker: {value}")
            answers.append(value)
        return answers

    async def connect(self, port: int, hellos: list[str], at_once: bool) -> list[float]:
        """Greet one socket per hello, spread over the workers; the times of every ``synced``."""
        n = len(self.pipes)
        answers = await self.ask(*(("connect", port, hellos[i::n], at_once) for i in range(n)))
        return sorted(t for times in answers for t in times)  # type: ignore[attr-defined]

    async def all(self, command: str) -> list[object]:
        return await self.ask(*((command,),) * len(self.pipes))

    async def close(self) -> None:
        await self.ask(*(("exit",),) * len(self.pipes))
        for proc in self.procs:
            proc.join(5)


# -- phases ----------------------------------------------------------------------------------


async def append_messages(base_url: str, token: str, room: str, count: int) -> None:
    """``count`` plenary messages posted over the HTTP API by the first delegate."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        for i in range(count):
            async with http.post(
                f"{base_url}/api/v1/rooms/{room}/threads/plenary/messages",
                json={"id": f"idle-bench-{i}", "text": f"message {i} while the clients listen"},
            ) as response:
                if response.status >= 300:
                    raise RuntimeError(f"post failed: {response.status} {await response.text()}")


async def idle_phase(server: Server, workers: Workers, room: Room, sessions: list[str]) -> str:
    assert server.proc is not None
    pid = server.proc.pid
    warm = [hello(t, room.after) for t in sessions[:100]]
    await workers.connect(server.port, warm, False)
    await workers.all("close")
    await asyncio.sleep(2)
    without = rss_kib(pid)
    started = time.monotonic()
    await workers.connect(server.port, [hello(t, room.after) for t in sessions], False)
    greeted_in = time.monotonic() - started
    await asyncio.sleep(2)
    with_now = rss_kib(pid)
    readings = [with_now]
    for _ in range(int(ARGS.hold // 5)):
        await asyncio.sleep(5)
        readings.append(rss_kib(pid))
    status = await workers.all("status")
    lost = sum(s[1] for s in status)  # type: ignore[index]
    errors = sum(s[2] for s in status)  # type: ignore[index]
    await workers.all("close")
    n = len(sessions)
    most = max(readings)
    per = (most - without) * 1024 / n
    return (
        f"| {n:,} | {without / 1024:,.1f} | {most / 1024:,.1f} | {per / 1024:.1f} KiB "
        f"({per:,.0f} B) | {greeted_in:.1f} | {ARGS.hold:g} | {lost} | {errors} |"
    )


async def storm_phase(server: Server, workers: Workers, room: Room, sessions: list[str]) -> str:
    n = len(sessions)
    await workers.connect(server.port, [hello(t, room.after) for t in sessions], False)
    base_url = f"http://{HOST}:{server.port}"
    await append_messages(base_url, room.tokens[0], room.id, REPLAYED)
    await asyncio.sleep(1)
    server.stop()
    codes = await workers.all("forget")
    started = time.monotonic()
    server.start()  # returns once the health check answers
    healthy = time.monotonic()
    spy = None
    if ARGS.py_spy is not None and server.proc is not None:
        spy = start_py_spy(server.proc.pid, ARGS.py_spy)
    resumes = [hello(t, room.after) for t in sessions]
    assert server.proc is not None
    cpu_before = cpu_seconds(server.proc.pid)
    try:
        done = await workers.connect(server.port, resumes, True)
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
    cpu = cpu_seconds(server.proc.pid) - cpu_before
    assert len(done) == n, (len(done), n)
    await workers.all("close")
    tenth, half, most = (done[int(len(done) * q)] - healthy for q in (0.1, 0.5, 0.9))
    seen = ",".join(sorted({c for cs in codes for c in cs}))  # type: ignore[attr-defined]
    return (
        f"| {n:,} | {healthy - started:.2f} | {tenth:.2f} | {half:.2f} | {most:.2f} | "
        f"{done[-1] - healthy:.2f} | {n / (done[-1] - healthy):,.0f} | {cpu:.2f} | {seen} |"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sockets", type=int, default=19_900, help="idle sockets (0: skip)")
    parser.add_argument("--storm", type=int, default=5_000, help="reconnecting clients (0: skip)")
    parser.add_argument("--hold", type=float, default=30.0, help="seconds idle before reading")
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--py-spy",
        type=Path,
        help="sample the restarted server during the storm (threads holding the GIL), raw "
        "stacks to this file; read them with python -m bench.profile_summary",
    )
    return parser.parse_args()


ARGS = argparse.Namespace()


async def main() -> None:
    global ARGS
    ARGS = args = parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus = client_cpus = None
    if args.pin and len(cpus) >= 2:
        server_cpus, client_cpus = {cpus[-1]}, set(cpus[:-1])
    workers = Workers(args.workers, client_cpus)
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    print(
        f"# {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"database {args.database}, server CPUs {sorted(server_cpus) if server_cpus else 'any'}, "
        f"{args.workers} client processes, open-file limit {soft}/{hard}",
        flush=True,
    )
    pg_name = None
    with tempfile.TemporaryDirectory(prefix="parley-idle-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            db_url, pg_name = await fresh_database(args.database, tmp)
            server = await parley_server(tmp, db_url, server_cpus, None)
            server.start()
            try:
                room = await make_room(db_url, f"http://{HOST}:{server.port}", 2, SEATS)
                sessions = await more_sessions(
                    db_url, room.tokens, max(args.sockets, args.storm, 100)
                )
                if args.sockets:
                    print(
                        "| idle sockets | server RSS without, MiB | with, MiB | per socket | "
                        "greeted in s | held s | lost | errors |\n"
                        "|---:|---:|---:|---:|---:|---:|---:|---:|"
                    )
                    print(await idle_phase(server, workers, room, sessions[: args.sockets]))
                if args.storm:
                    print(
                        "\n| clients | restart to healthy s | from healthy to 10% resumed s | "
                        "50% | 90% | all | resumed/s | server CPU s | close codes seen |\n"
                        "|---:|---:|---:|---:|---:|---:|---:|---:|---|"
                    )
                    print(await storm_phase(server, workers, room, sessions[: args.storm]))
            finally:
                server.stop()
                if server.proc is not None and server.proc.returncode not in (0, None):
                    print(server.log_tail(), file=sys.stderr)
        finally:
            await workers.close()
            if pg_name is not None:
                await pg_admin(f"DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)")


if __name__ == "__main__":
    asyncio.run(main())
