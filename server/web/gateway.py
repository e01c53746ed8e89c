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
from collections.abc import Callable, Collection, Coroutine
from typing import Any

from aiohttp import WSMessage, WSMsgType, web

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
from server.realtime.machine import Input, Machine, State, Step
from server.realtime.outbox import Outbox
from server.realtime.ratelimit import TokenBucket
from server.services.access import token_hash
from server.services.commands import CommandLane
from server.services.decisions import decision
from server.services.errors import Unauthenticated
from server.web.auth import check_origin
from server.web.errors import close_code, describe
from server.web.keys import CONNECTIONS, REVOCATIONS, SERVICES, SETTINGS

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

CLOSED_MESSAGES = frozenset((WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED))
"""What ``receive`` answers once the socket is closing or closed."""

HARD_LIMIT_FACTOR = 16
"""Frames above ``max_frame_bytes`` get an error; above this multiple the socket closes (1009)."""


@routes.get("/api/v1/ws")
async def websocket(request: web.Request) -> web.StreamResponse:
    check_origin(request)
    return await serve_socket(request, Connection)


ConnectionFactory = Callable[
    [web.Application, web.WebSocketResponse, asyncio.Transport | None], "Connection"
]


async def serve_socket(request: web.Request, make: ConnectionFactory) -> web.WebSocketResponse:
    """Upgrade ``request`` and run the connection ``make`` builds until the socket closes."""
    settings = request.app[SETTINGS]
    ws = web.WebSocketResponse(
        max_msg_size=settings.max_frame_bytes * HARD_LIMIT_FACTOR, heartbeat=20.0
    )
    await ws.prepare(request)
    # The 101's headers are on the wire; an idle socket need not keep them (most sockets
    # are idle, and every byte a socket holds is multiplied by their number).
    ws.headers.clear()
    connection = make(request.app, ws, request.transport)
    request.app[CONNECTIONS].add(connection)
    try:
        await connection.run()
    finally:
        request.app[CONNECTIONS].discard(connection)
    return ws


CLOSE_REASONS: dict[CloseCode, str] = {
    CloseCode.GOING_AWAY: "server shutting down",
    CloseCode.HELLO_TIMEOUT: "no hello in time",
    CloseCode.UNAUTHENTICATED: "unknown, rotated or revoked token",
    CloseCode.SEAT_REVOKED: "this seat's invite was rotated",
    CloseCode.TOO_SLOW: "reader too slow; resume from your last seq",
    CloseCode.INTERNAL_ERROR: "the server failed; reconnect and resume from your last seq",
}


class Connection:
    """One socket: its state machine (``server/realtime/machine.py``), outbox and seats."""

    __slots__ = (
        "_tasks",
        "app",
        "bucket",
        "grants",
        "lane",
        "machine",
        "outbox",
        "sessions",
        "settings",
        "subscriptions",
        "transport",
        "ws",
    )

    def __init__(
        self,
        app: web.Application,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None,
    ) -> None:
        self.app = app
        self.ws = ws
        self.transport = transport
        self.settings = app[SETTINGS]
        self.outbox = Outbox(
            self.settings.queue_frames,
            self._send,
            # The transport's own count, called for every frame the socket is handed.
            backlog=transport.get_write_buffer_size if transport is not None else _nothing,
            max_backlog=self.settings.send_buffer_bytes,
            write_now=self._write_now,
        )
        self.bucket = TokenBucket(self.settings.commands_per_second, self.settings.command_burst)
        self.machine = Machine()
        self.grants: dict[str, Grant] = {}
        self.sessions: tuple[str, ...] = ()
        """The hashes of the session tokens the grants came from: ending one closes the
        socket, which would otherwise keep its grants (signing out). A tuple: every idle
        socket holds one."""
        self.subscriptions: list[Subscription] = []
        self.lane: CommandLane | None = None
        """Keeps this connection's commands in the order sent (made by the first command)."""
        self._tasks: set[asyncio.Task[None]] | None = None
        """Closes under way (made when there is one: most connections never have any)."""

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            if await self._greet():
                # The loop lives here rather than in a method of its own: every coroutine frame
                # under an idle socket's wait costs memory times the number of sockets.
                receive, closed = self.ws.receive, CLOSED_MESSAGES
                while (msg := await receive()).type not in closed and self._receive(msg):
                    pass
                if self.machine.open:
                    self.machine.step(Input.PEER_CLOSED)
        finally:
            hub = self.app[SERVICES].hub
            for sub in self.subscriptions:
                hub.unsubscribe(sub)
            self.outbox.close()
            with contextlib.suppress(TimeoutError, Exception):
                async with asyncio.timeout(5):
                    await self.outbox.drain()
            if not self.ws.closed:
                await self.ws.close()
            self.machine.step(Input.CLOSED)

    def happen(self, event: Input) -> Step:
        """Feed ``event`` to the state machine; close the socket if the step says so."""
        step = self.machine.step(event)
        if step.close is not None:
            self._spawn(self._close(step.close))
        return step

    async def close(self, event: Input) -> None:
        """Close for ``event`` (shutdown) and wait until the close is sent."""
        if self.machine.state is State.CLOSED:
            return
        step = self.machine.step(event)
        if step.close is not None:
            await self._close(step.close)

    async def _close(self, code: CloseCode, *, flush: bool = False) -> None:
        """Close the socket with ``code``; queued frames are sent first only if ``flush``."""
        if flush:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await self.outbox.drain()
        self.outbox.close()
        with contextlib.suppress(Exception):
            await self.ws.close(code=int(code), message=CLOSE_REASONS[code].encode())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        if self._tasks is None:
            self._tasks = set()
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _write_now(self, wire: bytes) -> bool:
        """Write whole frames straight onto the transport, without waiting; False once the
        socket is closing. aiohttp's own frames (pings, close) are written whole too, so frames
        never interleave."""
        transport = self.transport
        if transport is None or transport.is_closing() or self.ws.closed:
            return False
        transport.write(wire)
        return True

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
        if not self.outbox.push(frame) and self.machine.open:
            self.happen(Input.TOO_SLOW)

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
        while self.machine.state is State.AWAITING_HELLO:
            try:
                async with asyncio.timeout_at(deadline):
                    msg = await self.ws.receive()
            except TimeoutError:
                await self.close(Input.HELLO_TIMEOUT)
                return False
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                self.machine.step(Input.PEER_CLOSED)
                return False
            text = self._text_of(msg)
            if text is None:
                self.happen(Input.BAD_FRAME)
                continue
            try:
                frame = decode_command(text)
            except FrameError as exc:
                self.happen(Input.BAD_FRAME)
                self._error(exc.code, exc.message, field=exc.field, id=exc.id)
                continue
            if not isinstance(frame, Hello):
                step = self.happen(Input.PING if isinstance(frame, Ping) else Input.COMMAND)
                if step.answer is not None:
                    self._error(step.answer, "send hello first", field="type", id=frame.id)
                continue
            try:
                await self._accept_hello(frame)
            except Exception as exc:  # the database went away, say: answer, then close
                await self._fail(exc)
        return self.machine.state is State.GREETED

    async def _fail(self, exc: Exception) -> None:
        code, message, _, field = describe(exc)
        if code == ErrorCode.INTERNAL_ERROR:
            log.error("greeting a connection failed", exc_info=exc)
        if self.machine.step(Input.FAILED).next is State.CLOSING:
            self._error(code, message, field=field)
            await self._close(close_code(exc), flush=True)

    async def _accept_hello(self, hello: Hello) -> None:
        """Greet (GREETED), refuse with an error (another hello may follow) or, for a bad
        token, answer and close.

        Its tokens are read, then the connection is greeted after a few waits. A seat rotated
        or a session ended in between closes only the sockets greeted by then, so if one was,
        the tokens are read again: a connection is never greeted with a token already void.
        """
        revocations = self.app[REVOCATIONS]
        for _ in range(HELLO_READS):
            seen = revocations.count
            seats = await self._read_seats(hello)
            if seats is None:
                return
            if revocations.count == seen:
                break
        else:
            self.happen(Input.HELLO_REFUSED)
            self._error(ErrorCode.CONFLICT, "access to these seats kept changing; send hello again")
            return
        self._greet_with(hello, seats)

    async def _read_seats(self, hello: Hello) -> list[tuple[Grant, SeatInfo, Viewer, int]] | None:
        """Each seat's grant, what the welcome says of it, its viewer and where its replay
        starts; None once refused (answered, and closed for a bad token)."""
        services = self.app[SERVICES]
        seats: list[tuple[Grant, SeatInfo, Viewer, int]] = []
        for i, resume in enumerate(hello.seats):
            try:
                grant = await services.access.authenticate(resume.token)
            except Unauthenticated as exc:
                step = self.machine.step(Input.BAD_TOKEN)
                if step.answer is not None and step.close is not None:
                    self._error(step.answer, exc.message, field=f"seats.{i}.token")
                    await self._close(step.close, flush=True)
                return None
            if any(g.room_id == grant.room_id for g, _, _, _ in seats):
                self.happen(Input.HELLO_REFUSED)
                self._error(
                    ErrorCode.INVALID, "one seat per room on a connection", field=f"seats.{i}"
                )
                return None
            info, viewer, size = await services.views.greeting(grant)
            if resume.after > size:
                self.happen(Input.HELLO_REFUSED)
                self._error(
                    ErrorCode.INVALID,
                    f"seq {resume.after} is beyond the end of the room's log",
                    field=f"seats.{i}.after",
                )
                return None
            seats.append((grant, info, viewer, resume.after))
        return seats

    def _greet_with(self, hello: Hello, seats: list[tuple[Grant, SeatInfo, Viewer, int]]) -> None:
        """Welcome, and subscribe each seat; nothing here waits, so no revocation can come
        between the check that none came and the grants it would have to find."""
        services = self.app[SERVICES]
        s = self.settings
        limits = Limits(
            max_frame_bytes=s.max_frame_bytes,
            max_text_chars=s.max_text_chars,
            commands_per_second=s.commands_per_second,
            command_burst=s.command_burst,
            queue_frames=s.queue_frames,
        )
        infos = [info for _, info, _, _ in seats]
        if self.happen(Input.HELLO_ACCEPTED).next is not State.GREETED:
            return  # closed meanwhile (shutdown)
        self._push(encode(Welcome(server=__version__, seats=infos, limits=limits)))
        self.sessions = tuple({token_hash(resume.token) for resume in hello.seats})
        for grant, _, viewer, after in seats:
            self.grants[grant.room_id] = grant
            self.subscriptions.append(
                services.hub.subscribe(
                    grant.room_id,
                    grant.seat_id,
                    viewer,
                    self.outbox,
                    after=after,
                    on_close=self._subscription_closed,
                )
            )

    def _subscription_closed(self, failed: bool) -> None:
        """The hub dropped a subscription: its reader was too slow, or its replay failed."""
        if self.machine.open:
            self.happen(Input.REPLAY_FAILED if failed else Input.TOO_SLOW)

    def _receive(self, msg: WSMessage) -> bool:
        """Handle one frame of a greeted connection; False once the connection is closing."""
        if not self.machine.open:
            return False
        # Every frame counts against the rate, bad ones too: refusing costs work as well.
        limited = msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) and not self.bucket.take()
        text = self._text_of(msg, quiet=limited)
        if limited:
            step = self.happen(Input.RATE_LIMITED)
            if step.answer is not None:
                cid = _readable_id(text) if text is not None else None
                self._error(
                    step.answer,
                    f"at most {self.settings.commands_per_second} commands per second",
                    id=cid,
                )
            return True
        if text is None:
            self.happen(Input.BAD_FRAME)
            return True
        try:
            frame = decode_command(text)
        except FrameError as exc:
            self.happen(Input.BAD_FRAME)
            self._error(exc.code, exc.message, field=exc.field, id=exc.id)
            return True
        self._dispatch(frame)
        return True

    def _dispatch(self, frame: Hello | ClientCommand) -> None:
        if isinstance(frame, Hello):
            step = self.happen(Input.HELLO)
            if step.answer is not None:
                self._error(step.answer, "this connection has its seats", field="type")
            return
        if isinstance(frame, Ping):
            self.happen(Input.PING)
            self._push(encode(Pong(id=frame.id)))
            return
        self.happen(Input.COMMAND)
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
        command_id, room = frame.id, frame.room
        lane = self.lane
        if lane is None:
            lane = self.lane = CommandLane()
        self.app[SERVICES].commands.submit_for_ack(
            grant, decide, command_id, lambda outcome: self._answer(command_id, room, outcome), lane
        )

    def _answer(self, command_id: str, room: str, outcome: str | BaseException) -> None:
        """Answer a command once it is committed or refused (a callback: no task each)."""
        if isinstance(outcome, BaseException):
            code, message, _, field = describe(outcome)
            if code == ErrorCode.INTERNAL_ERROR:
                log.error("command %s in room %s failed", command_id, room, exc_info=outcome)
            self._error(code, message, field=field, id=command_id)
            return
        self._push(outcome)


def _nothing() -> int:
    """No transport, so nothing written that the peer has not read."""
    return 0


def _readable_id(text: str) -> str | None:
    """The command id of a frame, if it has a valid one (for answering a refused frame)."""
    try:
        return readable_id(json.loads(text))
    except (ValueError, RecursionError):
        return None


async def close_all(app: web.Application) -> None:
    """On shutdown: close every socket with 1001 so clients reconnect and resume elsewhere."""
    connections = app[CONNECTIONS].copy()
    await asyncio.gather(*(c.close(Input.SHUTDOWN) for c in connections), return_exceptions=True)


class Revocations:
    """How many times seats were revoked or sessions ended in this process (each after its
    commit): a hello that sees the count move while it reads its tokens reads them again."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


HELLO_READS = 5
"""Readings of a hello's tokens before it is refused for access changing under it."""


def revoke_seat(app: web.Application, room_id: str, seat_id: str) -> None:
    """Close the sockets of a seat whose invite was rotated."""
    app[REVOCATIONS].count += 1
    connections = app[CONNECTIONS].copy()
    for connection in connections:
        if connection.holds(room_id, seat_id) and connection.machine.open:
            connection.happen(Input.SEAT_REVOKED)


def end_sessions(app: web.Application, session_tokens: Collection[str]) -> None:
    """Close (4001) the sockets greeted with any of these sessions, which were just ended."""
    app[REVOCATIONS].count += 1
    ended = {token_hash(token) for token in session_tokens}
    for connection in app[CONNECTIONS].copy():
        if not ended.isdisjoint(connection.sessions) and connection.machine.open:
            connection.happen(Input.SESSION_ENDED)
