"""The WebSocket gateway at ``/api/v1/ws`` (docs/protocol.md is its user manual).

One :class:`Connection` per socket: it reads frames, answers each command with ``ack`` or
``error``, and owns an :class:`~server.realtime.outbox.Outbox` that a single pump task writes to
the socket. Subscriptions in the hub push live events into the same outbox, so frames leave in
one order. A frame the server refuses never closes the connection; the socket is closed only
for the documented reasons (close codes in ``protocol.errors.CloseCode``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

from aiohttp import WSMsgType, web

from protocol.errors import CloseCode, ErrorCode
from protocol.frames import (
    ClientCommand,
    ErrorFrame,
    FrameError,
    Hello,
    Limits,
    Ping,
    Pong,
    SeatInfo,
    Welcome,
    decode_command,
    encode,
    readable_id,
)
from server import __version__
from server.domain.grants import Grant
from server.domain.visibility import Viewer
from server.realtime.hub import Subscription
from server.realtime.outbox import Outbox
from server.realtime.ratelimit import TokenBucket
from server.services.commands import ack
from server.services.decisions import decision
from server.services.errors import Unauthenticated
from server.web.auth import check_origin
from server.web.errors import describe
from server.web.keys import CONNECTIONS, SERVICES, SETTINGS

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

HARD_LIMIT_FACTOR = 16
"""Frames above ``max_frame_bytes`` get an error; above this multiple the socket closes (1009)."""


@routes.get("/api/v1/ws")
async def websocket(request: web.Request) -> web.StreamResponse:
    check_origin(request)
    settings = request.app[SETTINGS]
    ws = web.WebSocketResponse(
        max_msg_size=settings.max_frame_bytes * HARD_LIMIT_FACTOR, heartbeat=20.0
    )
    await ws.prepare(request)
    transport = request.transport

    def backlog() -> int:
        return transport.get_write_buffer_size() if transport is not None else 0

    def write_now(wire: bytes) -> bool:
        # Straight onto the transport, in one write of whole frames; aiohttp's own frames
        # (pings, close) are written whole too, so frames never interleave. Not once the
        # socket is closing.
        if transport is None or transport.is_closing() or ws.closed:
            return False
        transport.write(wire)
        return True

    connection = Connection(request.app, ws, backlog, write_now)
    request.app[CONNECTIONS].add(connection)
    try:
        await connection.run()
    finally:
        request.app[CONNECTIONS].discard(connection)
    return ws


class Connection:
    def __init__(
        self,
        app: web.Application,
        ws: web.WebSocketResponse,
        backlog: Callable[[], int],
        write_now: Callable[[bytes], bool] | None = None,
    ) -> None:
        self.app = app
        self.ws = ws
        self.settings = app[SETTINGS]
        self.outbox = Outbox(
            self.settings.queue_frames,
            backlog=backlog,
            max_backlog=self.settings.send_buffer_bytes,
            write_now=write_now,
        )
        self.bucket = TokenBucket(self.settings.commands_per_second, self.settings.command_burst)
        self.grants: dict[str, Grant] = {}
        self.subscriptions: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        pump = asyncio.create_task(self.outbox.pump(self._send), name="ws-pump")
        try:
            if await self._greet():
                await self._serve()
        finally:
            hub = self.app[SERVICES].hub
            for sub in self.subscriptions:
                hub.unsubscribe(sub)
            self.outbox.close()
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(pump, timeout=5)
            if not self.ws.closed:
                await self.ws.close()

    async def close(self, code: CloseCode, reason: str, *, flush: bool = False) -> None:
        """Close the socket with ``code``; queued frames are sent first only if ``flush``."""
        if self._closing:
            return
        self._closing = True
        if flush:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await self.outbox.drain()
        self.outbox.close()
        with contextlib.suppress(Exception):
            await self.ws.close(code=int(code), message=reason.encode())

    def close_soon(self, code: CloseCode, reason: str) -> None:
        task = asyncio.create_task(self.close(code, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def holds(self, room_id: str, seat_id: str) -> bool:
        grant = self.grants.get(room_id)
        return grant is not None and grant.seat_id == seat_id

    async def _send(self, frame: str) -> None:
        if self.ws.closed:
            self.outbox.close()
            return
        try:
            await self.ws.send_str(frame)
        except (ConnectionError, RuntimeError):
            self.outbox.close()

    # -- frames ----------------------------------------------------------------------------

    def _error(
        self,
        code: ErrorCode,
        message: str,
        *,
        field: str | None = None,
        id: str | None = None,
    ) -> None:
        frame = ErrorFrame(id=id, code=code, message=message, field=field)
        self._push(encode(frame))

    def _push(self, frame: str) -> None:
        if not self.outbox.push(frame):
            self.close_soon(CloseCode.TOO_SLOW, "reader too slow; resume from your last seq")

    def _text_of(self, msg: object, *, quiet: bool = False) -> str | None:
        """The text of a frame worth decoding, or None after answering with an error (unless
        ``quiet``: the caller answers)."""
        kind, data = msg.type, msg.data  # type: ignore[attr-defined]
        if quiet:
            if kind != WSMsgType.TEXT or len(data) > self.settings.max_frame_bytes:
                return None
            return str(data)
        if kind == WSMsgType.BINARY:
            self._error(ErrorCode.BAD_FRAME, "binary frames are not accepted; send JSON text")
            return None
        if kind != WSMsgType.TEXT:
            return None
        limit = self.settings.max_frame_bytes
        size = len(data) if len(data) * 4 <= limit else len(data.encode("utf-8", "replace"))
        if size > limit:
            self._error(
                ErrorCode.FRAME_TOO_LARGE, f"frames are limited to {limit} bytes", field=None
            )
            return None
        return str(data)

    async def _greet(self) -> bool:
        """Wait for a valid ``hello``; True once ``welcome`` is queued."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.hello_timeout
        while True:
            try:
                msg = await asyncio.wait_for(self.ws.receive(), deadline - loop.time())
            except TimeoutError:
                await self.close(CloseCode.HELLO_TIMEOUT, "no hello in time")
                return False
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return False
            text = self._text_of(msg)
            if text is None:
                continue
            try:
                frame = decode_command(text)
            except FrameError as exc:
                self._error(exc.code, exc.message, field=exc.field, id=exc.id)
                continue
            if not isinstance(frame, Hello):
                self._error(
                    ErrorCode.HELLO_REQUIRED,
                    "send hello first",
                    field="type",
                    id=getattr(frame, "id", None),
                )
                continue
            accepted = await self._accept_hello(frame)
            if accepted is not None:
                return accepted

    async def _accept_hello(self, hello: Hello) -> bool | None:
        """True: greeted. False: closed (a bad token). None: refused, another hello may follow."""
        services = self.app[SERVICES]
        seats: list[tuple[Grant, SeatInfo, Viewer, int]] = []
        for i, resume in enumerate(hello.seats):
            try:
                grant = await services.access.authenticate(resume.token)
            except Unauthenticated as exc:
                self._error(ErrorCode.UNAUTHENTICATED, exc.message, field=f"seats.{i}.token")
                await self.close(
                    CloseCode.UNAUTHENTICATED, "unknown, rotated or revoked token", flush=True
                )
                return False
            if any(g.room_id == grant.room_id for g, _, _, _ in seats):
                self._error(
                    ErrorCode.INVALID, "one seat per room on a connection", field=f"seats.{i}"
                )
                return None
            info, viewer, size = await services.views.greeting(grant)
            if resume.after > size:
                self._error(
                    ErrorCode.INVALID,
                    f"seq {resume.after} is beyond the end of the room's log",
                    field=f"seats.{i}.after",
                )
                return None
            seats.append((grant, info, viewer, resume.after))
        infos = [info for _, info, _, _ in seats]
        s = self.settings
        limits = Limits(
            max_frame_bytes=s.max_frame_bytes,
            max_text_chars=s.max_text_chars,
            commands_per_second=s.commands_per_second,
            command_burst=s.command_burst,
            queue_frames=s.queue_frames,
        )
        self._push(encode(Welcome(server=__version__, seats=infos, limits=limits)))
        hub = services.hub
        for grant, _, viewer, after in seats:
            self.grants[grant.room_id] = grant
            self.subscriptions.append(
                hub.subscribe(
                    grant.room_id,
                    grant.seat_id,
                    viewer,
                    self.outbox,
                    after=after,
                    on_slow=lambda: self.close_soon(
                        CloseCode.TOO_SLOW, "reader too slow; resume from your last seq"
                    ),
                )
            )
        return True

    async def _serve(self) -> None:
        async for msg in self.ws:
            if self._closing:
                break
            # Every frame counts against the rate, bad ones too: refusing costs work as well.
            limited = msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) and not self.bucket.take()
            text = self._text_of(msg, quiet=limited)
            if limited:
                cid = _readable_id(text) if text is not None else None
                self._error(
                    ErrorCode.RATE_LIMITED,
                    f"at most {self.settings.commands_per_second} commands per second",
                    id=cid,
                )
                continue
            if text is None:
                continue
            try:
                frame = decode_command(text)
            except FrameError as exc:
                self._error(exc.code, exc.message, field=exc.field, id=exc.id)
                continue
            self._dispatch(frame)

    def _dispatch(self, frame: Hello | ClientCommand) -> None:
        if isinstance(frame, Hello):
            self._error(ErrorCode.ALREADY_GREETED, "this connection has its seats", field="type")
            return
        if isinstance(frame, Ping):
            self._push(encode(Pong(id=frame.id)))
            return
        grant = self.grants.get(frame.room)
        if grant is None:
            self._error(
                ErrorCode.NOT_FOUND,
                f"this connection holds no seat in room {frame.room!r}",
                field="room",
                id=frame.id,
            )
            return
        decide = decision(frame, grant.seat_id, self.settings.max_text_chars)
        pending = self.app[SERVICES].commands.submit(grant, decide, frame.id)
        task = asyncio.create_task(self._answer(frame.id, frame.room, pending))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, command_id: str, room: str, pending: object) -> None:
        try:
            appended = await pending  # type: ignore[misc]
        except Exception as exc:
            code, message, _, field = describe(exc)
            if code == ErrorCode.INTERNAL_ERROR:
                log.error("command %s in room %s failed", command_id, room, exc_info=exc)
            self._error(code, message, field=field, id=command_id)
            return
        self._push(encode(ack(command_id, room, appended)))


def _readable_id(text: str) -> str | None:
    """The command id of a frame, if it has a valid one (for answering a refused frame)."""
    try:
        return readable_id(json.loads(text))
    except (ValueError, RecursionError):
        return None


async def close_all(app: web.Application) -> None:
    """On shutdown: close every socket with 1001 so clients reconnect and resume elsewhere."""
    connections = app[CONNECTIONS].copy()
    await asyncio.gather(
        *(c.close(CloseCode.GOING_AWAY, "server shutting down") for c in connections),
        return_exceptions=True,
    )


def revoke_seat(app: web.Application, room_id: str, seat_id: str) -> None:
    """Close the sockets of a seat whose invite was rotated."""
    connections = app[CONNECTIONS].copy()
    for connection in connections:
        if connection.holds(room_id, seat_id):
            connection.close_soon(CloseCode.SEAT_REVOKED, "this seat's invite was rotated")
