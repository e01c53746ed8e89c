"""Fan-out of one room to N listening seats: delivered events/s, send-to-receive latency and
acknowledged commands/s, against a bare aiohttp broadcast server as the ceiling.

    python -m bench.fanout [--listeners 10,100,1000] [--duration 10] [--database sqlite]

For each N, the same load generator drives two servers, each a separate process (pinned to the
last CPU with ``--pin``, the default; the load generator then runs on the others):

- ``parley``: ``parley serve`` on a fresh database (``parley db upgrade`` first), persisting every
  event with group commit (SQLite ``synchronous=FULL``). One room holds ``--senders`` delegate
  seats and N minus that many observer seats; every seat's invite is redeemed over HTTP and each
  seat is one WebSocket (``hello`` from the room's current seq, then ``synced``). Rate limits and
  the slow-reader bounds are raised through ``PARLEY_*`` variables so that they never interfere.
- ``bare``: ``bench/bare_broadcast.py``, which sends every frame it receives to every socket and
  an ack to the sender: no persistence, authentication, visibility or JSON.

All N sockets listen; the first ``--senders`` of them also post to the plenary. Two phases:

- ``fixed``: ``--rate`` messages/s in all (open loop, round robin over the senders);
- ``saturate``: each sender keeps ``--window`` commands in flight, sending the next on each ack.

Each phase runs ``--warmup`` seconds, then is measured for ``--duration`` seconds, then the
senders stop and the bench waits until every socket has received every message (``drain``).
The message text starts with its send time (``time.perf_counter_ns``, CLOCK_MONOTONIC on Linux;
senders and listeners share this process); a listener takes the clock once per read, so latency
is send to receive as the load generator sees it, over every (listener, message) pair.

The load generator is a minimal asyncio WebSocket client (``WsClient``) rather than ``aiohttp``
or ``websockets``: it counts frames and reads the timestamp without decoding JSON, so that one
process can receive far more frames per second than one Python server process can send. The
``CPU`` columns (of the server process, threads included, and of this process) say which side
saturated: a side near 100% of a core is the bottleneck. "Delivered per server CPU-s" divides
deliveries by the server's own CPU time, so it holds even when other work on the machine took
part of the server's core; the summary gives the Parley/bare ratio both ways.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.databases import fresh_database, pg_admin
from server.domain.room import Party, Role
from server.services.access import AccessService
from server.services.rooms import RoomService, RoomSetup, SeatSpec
from server.services.states import RoomStates
from server.storage.database import Database
from server.storage.log_reader import get_room
from server.storage.writer import LogWriter

ROOT = Path(__file__).resolve().parents[1]
WS_PATH = "/api/v1/ws"
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CLK_TCK = os.sysconf("SC_CLK_TCK")

MARK = b"@@"
"""The message text is ``@@<perf_counter_ns>@@ ...``; nothing else on the wire holds ``@@``."""
ACK = b'{"v":1,"type":"ack"'
ERROR = b'{"v":1,"type":"error"'
SYNCED = b'{"v":1,"type":"synced"'
OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA


# -- the load generator's WebSocket client --------------------------------------------------


@dataclass
class Totals:
    """Counters shared by every socket of this process."""

    delivered: int = 0
    """Message events received, summed over sockets."""
    acks: int = 0
    errors: int = 0
    first_errors: list[str] = field(default_factory=list)
    recording: bool = False
    latencies: array[int] = field(default_factory=lambda: array("q"))
    """Send-to-receive in ns, while ``recording``."""


class WsClient(asyncio.Protocol):
    """A WebSocket client that counts message frames and reads their timestamps.

    Server frames arrive unmasked and (from aiohttp) unfragmented; a frame is classified by the
    bytes it starts with or by the ``@@`` mark of a message, never parsed as JSON.
    """

    def __init__(self, totals: Totals, host: str, port: int) -> None:
        self.totals = totals
        self.host, self.port = host, port
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.upgraded = False
        self.key = base64.b64encode(os.urandom(16))
        self.mask = os.urandom(4)
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = loop.create_future()
        self.synced: asyncio.Future[None] = loop.create_future()
        self.received = 0
        self.on_ack: Callable[[bool], None] | None = None
        self.close_code: int | None = None
        self.lost = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(
            f"GET {WS_PATH} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {self.key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        for future in (self.ready, self.synced):
            if not future.done():
                future.set_exception(ConnectionError(f"socket closed ({self.close_code}): {exc}"))
                future.exception()  # nobody may be waiting any more: no "never retrieved" noise

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        buf = self.buf
        buf += data
        if not self.upgraded and not self._upgrade():
            return
        totals = self.totals
        pos, size = 0, len(buf)
        while size - pos >= 2:
            length = buf[pos + 1] & 0x7F
            if length < 126:
                start = pos + 2
            elif length == 126:
                if size - pos < 4:
                    break
                length, start = int.from_bytes(buf[pos + 2 : pos + 4], "big"), pos + 4
            else:
                if size - pos < 10:
                    break
                length, start = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
            end = start + length
            if end > size:
                break
            head = buf[pos]
            pos = end
            if head != 0x80 | OP_TEXT:
                self._control(head, bytes(buf[start:end]))
                continue
            mark = buf.find(MARK, start, end)
            if mark >= 0:
                stamp = int(buf[mark + 2 : buf.find(MARK, mark + 2, end)])
                self.received += 1
                totals.delivered += 1
                if totals.recording:
                    totals.latencies.append(now - stamp)
            elif buf.startswith(ACK, start):
                totals.acks += 1
                if self.on_ack is not None:
                    self.on_ack(True)
            elif buf.startswith(SYNCED, start):
                if not self.synced.done():
                    self.synced.set_result(None)
            elif buf.startswith(ERROR, start):
                totals.errors += 1
                if len(totals.first_errors) < 5:
                    totals.first_errors.append(buf[start:end].decode())
                if self.on_ack is not None:
                    self.on_ack(False)
        if pos:
            del buf[:pos]

    # internals

    def _upgrade(self) -> bool:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self.buf[:end])
        del self.buf[: end + 4]
        accept = base64.b64encode(hashlib.sha1(self.key + WS_GUID).digest())
        if not head.startswith(b"HTTP/1.1 101") or accept not in head:
            self.ready.set_exception(ConnectionError(f"no upgrade: {head[:200]!r}"))
            assert self.transport is not None
            self.transport.close()
            return False
        self.upgraded = True
        self.ready.set_result(None)
        return True

    def _control(self, head: int, payload: bytes) -> None:
        if not head & 0x80:
            raise RuntimeError("fragmented frames are not expected from the server")
        opcode = head & 0x0F
        if opcode == OP_PING:
            self._send(OP_PONG, payload)
        elif opcode == OP_CLOSE:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if not self.lost:
                self._send(OP_CLOSE, payload[:2])
                assert self.transport is not None
                self.transport.close()

    def _send(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
        keystream = (self.mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(keystream, "big")).to_bytes(
            n, "big"
        )
        assert self.transport is not None
        self.transport.write(head + self.mask + masked)

    # API

    def send_text(self, text: str) -> None:
        self._send(OP_TEXT, text.encode())

    def close(self) -> None:
        if self.transport is not None and not self.lost:
            with contextlib.suppress(Exception):
                self._send(OP_CLOSE, (1000).to_bytes(2, "big"))
            self.transport.close()


class Sender:
    """Posts messages to the plenary from one socket; keeps ``window`` in flight when saturating."""

    def __init__(self, client: WsClient, room: str, name: str, text_chars: int) -> None:
        self.client = client
        self.room = room
        self.name = name
        self.filler = f" from {name}: " + "x" * max(0, text_chars - 40)
        self.sent = 0
        self.saturating = False
        client.on_ack = self._answered

    def send(self) -> None:
        self.sent += 1
        text = f"@@{time.perf_counter_ns()}@@{self.filler}"
        self.client.send_text(
            f'{{"v":1,"type":"post_message","id":"{self.name}.{self.sent}",'
            f'"room":"{self.room}","thread":"plenary","text":"{text}"}}'
        )

    def _answered(self, ok: bool) -> None:
        if self.saturating:  # an error frame frees its slot in the window as an ack does
            self.send()


async def connect_all(
    totals: Totals, host: str, port: int, count: int, hellos: Sequence[str] | None
) -> list[WsClient]:
    """``count`` sockets, upgraded; with ``hellos`` each sends its hello and waits for synced."""
    loop = asyncio.get_running_loop()

    async def one(i: int) -> WsClient:
        _, client = await loop.create_connection(lambda: WsClient(totals, host, port), host, port)
        await asyncio.wait_for(client.ready, 60)
        if hellos is not None:
            client.send_text(hellos[i])
            await asyncio.wait_for(client.synced, 120)
        return client

    clients: list[WsClient] = []
    for first in range(0, count, 100):  # the listen backlog is 128
        clients += await asyncio.gather(*(one(i) for i in range(first, min(first + 100, count))))
    return clients


# -- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_busy_seconds(cpus: set[int] | None) -> float:
    """Busy (not idle, not iowait) seconds of these CPUs so far, from /proc/stat; 0 if None."""
    if not cpus:
        return 0.0
    names = {f"cpu{c}" for c in cpus}
    busy = 0
    with open("/proc/stat") as f:
        for line in f:
            name, *ticks = line.split()
            if name in names:
                values = [int(t) for t in ticks[:8]]
                busy += sum(values) - values[3] - values[4]
    return busy / CLK_TCK


class Server:
    """A server subprocess, optionally pinned to some CPUs, logging to a file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        port: int,
        health: str,
        log_path: Path,
        cpus: set[int] | None,
    ) -> None:
        self.name, self.argv, self.env, self.port = name, argv, env, port
        self.health, self.log_path, self.cpus = health, log_path, cpus
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cpus = self.cpus
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}{self.health}", timeout=1
                ):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer in time: {self.log_tail()}")

    def cpu(self) -> tuple[float, float]:
        """CPU seconds the server used so far, and busy seconds of the CPUs it is pinned to."""
        assert self.proc is not None
        return cpu_seconds(self.proc.pid), cpu_busy_seconds(self.cpus)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""


def server_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(values)
    return env


# -- the Parley side -------------------------------------------------------------------------


@dataclass
class Room:
    id: str
    after: int
    """The room's last seq: sockets resume from here instead of replaying the seat list."""
    tokens: list[str]
    """Session tokens, the delegates (senders) first."""


async def make_room(db_url: str, base_url: str, senders: int, listeners: int) -> Room:
    """A room with ``senders`` delegates and ``listeners - senders`` observers, all redeemed."""
    parties = [Party("north", "North"), Party("south", "South")]
    seats = [
        SeatSpec(Role.DELEGATE, f"Delegate {i + 1}", party=parties[i % 2].id, head=i < 2)
        for i in range(senders)
    ]
    seats += [SeatSpec(Role.OBSERVER, f"Listener {i + 1}") for i in range(listeners - senders)]
    db = Database(db_url)
    writer = LogWriter(db)
    writer.start()
    try:
        service = RoomService(writer, RoomStates(db), AccessService(db, base_url))
        created = await service.create(
            RoomSetup(title="Fan-out bench", parties=parties, seats=seats)
        )
        async with db.engine.connect() as conn:
            row = await get_room(conn, created.room_id)
        assert row is not None
    finally:
        await writer.close()
        await db.dispose()

    limit = asyncio.Semaphore(16)

    async def redeem(http: aiohttp.ClientSession, invite_url: str) -> str:
        async with limit:
            invite = invite_url.split("#", 1)[1]
            async with http.post(f"{base_url}/api/v1/invites/redeem", json={"token": invite}) as r:
                body = await r.json()
                if r.status != 200:
                    raise RuntimeError(f"redeem failed: {r.status} {body}")
                return str(body["token"])

    async with aiohttp.ClientSession() as http:
        tokens = await asyncio.gather(*(redeem(http, s.invite_url) for s in created.seats))
    return Room(created.room_id, row.size, list(tokens))


# -- phases ----------------------------------------------------------------------------------


@dataclass
class Result:
    server: str
    listeners: int
    mode: str
    seconds: float
    sent: int
    acked: int
    delivered: int
    p50_ms: float
    p99_ms: float
    server_cpu: float
    others_on_server_cpu: float | None
    """Share of the server's pinned CPU used by other processes: near 0 on a quiet machine."""
    client_cpu: float
    drain: float
    missing: int

    @property
    def per_cpu(self) -> float:
        """Deliveries per second of server CPU: the cost of a delivery, whatever else ran."""
        return self.delivered / (self.server_cpu * self.seconds) if self.server_cpu else 0.0

    def row(self) -> str:
        others = self.others_on_server_cpu
        return (
            f"| {self.server} | {self.listeners} | {self.mode} | {self.sent / self.seconds:,.0f} | "
            f"{self.acked / self.seconds:,.0f} | {self.delivered / self.seconds:,.0f} | "
            f"{self.p50_ms:.2f} | {self.p99_ms:.2f} | {self.server_cpu:.0%} | "
            f"{'-' if others is None else format(others, '.0%')} | "
            f"{self.per_cpu:,.0f} | {self.client_cpu:.0%} | {self.drain:.1f} |"
            + (f" **{self.missing} missing** |" if self.missing else "")
        )


def percentile(ordered: Sequence[int], q: float) -> float:
    """The q-quantile of ``ordered`` nanoseconds, in milliseconds (nan if empty)."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] / 1e6


HEADER = (
    "| server | listeners | mode | sent/s | acked cmds/s | delivered events/s | p50 ms | "
    "p99 ms | server CPU | others on server's CPU | delivered per server CPU-s | client CPU | "
    "drain s |\n"
    "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


async def run_phase(
    server: Server,
    clients: list[WsClient],
    senders: list[Sender],
    totals: Totals,
    mode: str,
    args: argparse.Namespace,
) -> Result:
    stop = asyncio.Event()

    async def fixed_rate() -> None:
        interval = 1e9 / args.rate
        start = time.perf_counter_ns()
        k = 0
        while not stop.is_set():
            delay = start + k * interval - time.perf_counter_ns()
            if delay > 0:
                await asyncio.sleep(delay / 1e9)
                continue
            senders[k % len(senders)].send()
            k += 1
            if k % 50 == 0:  # behind schedule: catch up, but let the sockets be read
                await asyncio.sleep(0)

    driver: asyncio.Task[None] | None = None
    if mode == "fixed":
        driver = asyncio.create_task(fixed_rate())
    else:
        for sender in senders:
            sender.saturating = True
            for _ in range(args.window):
                sender.send()
    await asyncio.sleep(args.warmup)

    totals.latencies = array("q")
    d0, a0, s0 = totals.delivered, totals.acks, sum(s.sent for s in senders)
    (c0, b0), p0, t0 = server.cpu(), time.process_time(), time.perf_counter()
    totals.recording = True
    await asyncio.sleep(args.duration)
    totals.recording = False
    d1, a1, s1 = totals.delivered, totals.acks, sum(s.sent for s in senders)
    (c1, b1), p1, t1 = server.cpu(), time.process_time(), time.perf_counter()
    latencies = sorted(totals.latencies)
    totals.latencies = array("q")

    stop.set()
    for sender in senders:
        sender.saturating = False
    if driver is not None:
        await driver
    # Drain: every socket receives every message sent so far.
    started = time.perf_counter()
    expected = sum(s.sent for s in senders)
    while time.perf_counter() - started < args.drain_timeout:
        if all(c.received >= expected for c in clients) and totals.acks + totals.errors >= expected:
            break
        if any(c.lost for c in clients):
            break
        await asyncio.sleep(0.01)
    drain = time.perf_counter() - started
    missing = sum(max(0, expected - c.received) for c in clients)
    elapsed = t1 - t0
    return Result(
        server=server.name,
        listeners=len(clients),
        mode=f"{args.rate}/s" if mode == "fixed" else f"saturate (w={args.window})",
        seconds=elapsed,
        sent=s1 - s0,
        acked=a1 - a0,
        delivered=d1 - d0,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        server_cpu=(c1 - c0) / elapsed,
        others_on_server_cpu=max(0.0, (b1 - b0) - (c1 - c0)) / elapsed if server.cpus else None,
        client_cpu=(p1 - p0) / elapsed,
        drain=drain,
        missing=missing,
    )


async def measure(
    server: Server, listeners: int, room: Room | None, args: argparse.Namespace
) -> list[Result]:
    totals = Totals()
    hellos = None
    if room is not None:
        hellos = [
            f'{{"v":1,"type":"hello","seats":[{{"token":"{t}","after":{room.after}}}]}}'
            for t in room.tokens
        ]
    clients = await connect_all(totals, "127.0.0.1", server.port, listeners, hellos)
    room_id = room.id if room is not None else "bare"
    n_senders = min(args.senders, listeners)
    senders = [
        Sender(clients[i], room_id, f"s{i}-{uuid.uuid4().hex[:6]}", args.text_chars)
        for i in range(n_senders)
    ]
    results = []
    try:
        for mode in args.modes.split(","):
            result = await run_phase(server, clients, senders, totals, mode, args)
            print(result.row(), flush=True)
            results.append(result)
            lost = [c.close_code for c in clients if c.lost]
            if lost:
                raise RuntimeError(f"{len(lost)} sockets were closed by {server.name}: {lost[:5]}")
    finally:
        if totals.errors:
            print(f"# {totals.errors} error frames, first: {totals.first_errors}", file=sys.stderr)
        for client in clients:
            client.close()
        await asyncio.sleep(0.5)
    return results


# -- main ------------------------------------------------------------------------------------


def summary(results: list[Result], rate: int) -> str:
    """Parley against the bare ceiling for each N: saturated deliveries and fixed-rate latency."""
    lines = [
        "| listeners | bare delivered/s | parley delivered/s | ratio | ratio per server CPU-s | "
        f"parley acked cmds/s | bare p99 ms @{rate}/s | parley p50 ms @{rate}/s | "
        f"parley p99 ms @{rate}/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by = {(r.server, r.listeners, r.mode.split(" ")[0]): r for r in results}
    nan = float("nan")
    for n in sorted({r.listeners for r in results}):
        bare, parley = by.get(("bare", n, "saturate")), by.get(("parley", n, "saturate"))
        bare_fixed, parley_fixed = (
            by.get(("bare", n, f"{rate}/s")),
            by.get(("parley", n, f"{rate}/s")),
        )
        ratio = ratio_cpu = "-"
        if bare and parley and bare.delivered and bare.per_cpu:
            ratio = f"{parley.delivered / parley.seconds / (bare.delivered / bare.seconds):.0%}"
            ratio_cpu = f"{parley.per_cpu / bare.per_cpu:.0%}"
        lines.append(
            f"| {n} | {bare.delivered / bare.seconds if bare else nan:,.0f} | "
            f"{parley.delivered / parley.seconds if parley else nan:,.0f} | {ratio} | "
            f"{ratio_cpu} | {parley.acked / parley.seconds if parley else nan:,.0f} | "
            f"{bare_fixed.p99_ms if bare_fixed else nan:.2f} | "
            f"{parley_fixed.p50_ms if parley_fixed else nan:.2f} | "
            f"{parley_fixed.p99_ms if parley_fixed else nan:.2f} |"
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listeners", default="10,100,1000", help="comma-separated N")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--servers", default="bare,parley", help="which of bare,parley to run")
    parser.add_argument("--modes", default="fixed,saturate", help="fixed,saturate")
    parser.add_argument("--rate", type=int, default=200, help="messages/s in the fixed phase")
    parser.add_argument("--senders", type=int, default=4, help="sockets that also post")
    parser.add_argument("--window", type=int, default=16, help="commands in flight per sender")
    parser.add_argument("--text-chars", type=int, default=120, help="length of a message text")
    parser.add_argument("--drain-timeout", type=float, default=60.0)
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pin the server to the last CPU and the load generator to the others",
    )
    parser.add_argument(
        "--profile", type=Path, help="run parley serve under cProfile, writing stats here"
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        help="sample parley serve with py-spy (threads holding the GIL), raw stacks to this "
        "file; read them with python -m bench.profile_summary",
    )
    args = parser.parse_args()
    for mode in args.modes.split(","):
        if mode not in ("fixed", "saturate"):
            parser.error(f"--modes: {mode!r} is neither fixed nor saturate")
    for server in args.servers.split(","):
        if server not in ("bare", "parley"):
            parser.error(f"--servers: {server!r} is neither bare nor parley")
    return args


def start_py_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` (threads holding the GIL) until it gets SIGINT."""
    spy = Path(sys.executable).parent / "py-spy"
    argv = [str(spy), "record", "--pid", str(pid), "--gil", "--nonblocking", "-r", "200"]
    argv += ["-f", "raw", "-o", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def bare_server(tmp: Path, cpus: set[int] | None) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "bench.bare_broadcast", "--port", str(port)]
    return Server("bare", argv, server_env(), port, "/health", tmp / "bare.log", cpus)


async def parley_server(
    tmp: Path, db_url: str, cpus: set[int] | None, profile: Path | None
) -> Server:
    """``parley serve`` on a database just brought to the current schema."""
    port = free_port()
    env = server_env(
        PARLEY_DATA_DIR=str(tmp / "data"),
        PARLEY_DATABASE_URL=db_url,
        PARLEY_PUBLIC_URL=f"http://127.0.0.1:{port}",
        PARLEY_COMMANDS_PER_SECOND="100000",
        PARLEY_COMMAND_BURST="100000",
        PARLEY_QUEUE_FRAMES="1000000",
        PARLEY_SEND_BUFFER_BYTES=str(1024 * 2**20),
        PARLEY_HELLO_TIMEOUT="120",
        # Every listener connects from 127.0.0.1: the edge's per-address limits must not count.
        PARLEY_CONNECTIONS_PER_ADDRESS="1000000",
        PARLEY_REDEEM_PER_MINUTE="1000000",
        PARLEY_REDEEM_BURST="1000000",
        PARLEY_UPGRADES_PER_MINUTE="1000000",
        PARLEY_UPGRADE_BURST="1000000",
    )
    cli = [sys.executable, "-m", "server.cli"]
    upgrade = await asyncio.create_subprocess_exec(
        *cli, "db", "upgrade", cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL
    )
    if await upgrade.wait() != 0:
        raise RuntimeError("parley db upgrade failed")
    if profile is not None:
        cli = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "server.cli"]
    argv = [*cli, "serve", "--port", str(port)]
    return Server("parley", argv, env, port, "/api/v1/health", tmp / "parley.log", cpus)


async def main() -> None:
    args = parse_args()
    counts = [int(n) for n in args.listeners.split(",")]
    which = args.servers.split(",")
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus: set[int] | None = None
    if args.pin and len(cpus) >= 2:
        server_cpus = {cpus[-1]}
        os.sched_setaffinity(0, set(cpus[:-1]))
    print(
        f"# {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"database {args.database}, server CPUs {sorted(server_cpus) if server_cpus else 'any'}, "
        f"load generator CPUs {sorted(os.sched_getaffinity(0))}, {args.senders} senders, "
        f"{args.text_chars}-char messages, {args.duration:g} s measured after "
        f"{args.warmup:g} s warm-up"
    )
    print(HEADER, flush=True)

    results: list[Result] = []
    bare = parley = None
    spy: subprocess.Popen[bytes] | None = None
    pg_name = None
    with tempfile.TemporaryDirectory(prefix="parley-fanout-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            if "bare" in which:
                bare = bare_server(tmp, server_cpus)
                bare.start()
            if "parley" in which:
                db_url, pg_name = await fresh_database(args.database, tmp, "parley")
                parley = await parley_server(tmp, db_url, server_cpus, args.profile)
                parley.start()
                if args.py_spy is not None:
                    assert parley.proc is not None
                    spy = start_py_spy(parley.proc.pid, args.py_spy)
            for n in counts:
                if bare is not None:
                    results += await measure(bare, n, None, args)
                if parley is not None:
                    base_url = f"http://127.0.0.1:{parley.port}"
                    room = await make_room(db_url, base_url, min(args.senders, n), n)
                    results += await measure(parley, n, room, args)
        finally:
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
            for server in (bare, parley):
                if server is not None:
                    server.stop()
            if pg_name:
                await pg_admin(f"DROP DATABASE {pg_name} WITH (FORCE)")
    print()
    print(summary(results, args.rate))
    if args.profile:
        import pstats

        pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    asyncio.run(main())
