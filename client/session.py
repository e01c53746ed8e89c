"""A session: one WebSocket to a Parley server acting for one or more seats, kept alive.

The session is a thin pump around the pure parts: :class:`~client.cursor.Cursor` (where each
room's log stands), :mod:`client.codec` (frames), :mod:`client.retry` (whether and when to
reconnect) and :mod:`client.pacing` (the command rate). One task reads the socket and
reconnects; one task per connection sends commands.

Commands wait in an ordered table until the server answers their id. Each new connection
re-sends, in order, every command still unanswered: one never sent, or one whose answer a
disconnect lost. The server appends an id at most once and answers a repeat with the first
attempt's seq (``duplicate=True``), so each command is appended exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed as WebSocketClosed
from websockets.version import version as websockets_version

from client import codec
from client.auditor import LogChecks
from client.cursor import Cursor
from client.errors import (
    ConnectionClosed,
    ConnectionFailed,
    ParleyError,
    ProofError,
    ProtocolError,
    TooLong,
)
from client.handshake import closed_error, read_welcome
from client.ledger import SignedCheckpoint
from client.models import Ack, Event, Seat
from client.pacing import TokenBucket
from client.retry import backoff_delay, should_retry
from client.urls import websocket_url
from client.verify import check_event
from protocol.errors import CloseCode, ErrorCode
from protocol.frames import Ack as AckFrame
from protocol.frames import Audience, ErrorFrame, EventFrame, Limits, Pong, Synced, Welcome

log = logging.getLogger(__name__)
USER_AGENT = f"parley-client (python-websockets/{websockets_version})"
MAX_SERVER_FRAME = 2**24
"""Largest frame accepted from the server (an event carries a record of bounded size)."""

Reply = Ack | float


@dataclass(frozen=True, slots=True)
class Options:
    """A session's settings; :func:`client.connect` documents each one."""

    reconnect: bool = True
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    backoff_factor: float = 2.0
    max_attempts: int | None = None
    open_timeout: float = 10.0
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    verify: bool = True
    checkpoint_key: str | None = None


@dataclass(eq=False)
class _Link:
    """One connection, from ``welcome`` until it closes."""

    ws: ClientConnection
    seats: list[Seat]
    limits: Limits
    bucket: TokenBucket
    unsent: deque[str]
    """Ids of commands to send on this connection, in order."""
    wake: asyncio.Event
    unsynced: set[str]
    """Rooms whose replay is not complete yet."""


@dataclass(eq=False)
class _Command:
    id: str
    text: str
    answer: type[AckFrame] | type[Pong]
    future: asyncio.Future[Reply]
    sent_on: _Link | None = None
    sent_at: float = 0.0


class Session:
    """Seats of a Parley server over one WebSocket; see :func:`client.connect`."""

    def __init__(self, url: str, seats: Sequence[tuple[str, int]], options: Options) -> None:
        self.url = websocket_url(url)
        self.options = options
        self.reconnects = 0
        """Connections made after the first one."""
        self._cursor = Cursor(seats)
        self._pending: dict[str, _Command] = {}
        self._events: asyncio.Queue[Event | None] = asyncio.Queue()
        self._link: _Link | None = None
        self._ws: ClientConnection | None = None
        """The last connection made (closed by :meth:`close`)."""
        self._seats: list[Seat] = []
        self._limits: Limits | None = None
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._done = False
        self._failure: ParleyError | None = None
        self._checks: LogChecks | None = None
        if options.verify:
            self._checks = LogChecks(url, options.checkpoint_key, on_failure=self._proof_failed)
        self._closing: asyncio.Task[None] | None = None

    # -- state -----------------------------------------------------------------------------

    @property
    def seats(self) -> list[Seat]:
        """The seats held, as the last ``welcome`` described them (in the order given)."""
        return list(self._seats)

    @property
    def room(self) -> str:
        """The room of a single-seat session."""
        rooms = self._cursor.rooms
        if len(rooms) != 1:
            raise ValueError(f"this session holds seats in {len(rooms)} rooms; name one")
        return rooms[0]

    @property
    def positions(self) -> dict[str, int]:
        """The last seq received per room: pass it as ``after`` to resume in a new session."""
        return self._cursor.positions

    @property
    def connected(self) -> bool:
        return self._link is not None

    @property
    def closed(self) -> bool:
        return self._done

    @property
    def verified(self) -> dict[str, int]:
        """Per room, the size of the last signed checkpoint the received log was checked
        against (``verify=True``); rooms not checked yet are absent."""
        return self._checks.verified if self._checks is not None else {}

    async def check_log(self, room: str | None = None) -> SignedCheckpoint | None:
        """Check ``room``'s log (default: the session's only room) against its latest signed
        checkpoint now, and return that checkpoint (None if none is signed yet).

        Events received so far are checked up to the checkpoint's size; events up to it still
        on their way are checked as they arrive (a mismatch then ends the session).

        Raises:
            ProofError: the log does not match (the session ends with it as well).
            RuntimeError: the session was opened with ``verify=False``.
        """
        if self._checks is None:
            raise RuntimeError("this session was opened with verify=False")
        if self._done:
            raise self._ended()
        try:
            return await self._checks.check(room or self.room)
        except ProofError as exc:
            self._proof_failed(exc)
            raise
        except Exception:
            if self._done:  # the session ended meanwhile (a background check failed, say)
                raise self._ended() from None
            raise

    @property
    def failure(self) -> ParleyError | None:
        """Why the session ended, if it ended by failing rather than by :meth:`close`."""
        return self._failure

    # -- reading ---------------------------------------------------------------------------

    async def events(self) -> AsyncGenerator[Event, None]:
        """Every event the seats may see, each room's in seq order, each seq once.

        Replay of what followed ``after`` comes first, then live events; reconnecting resumes
        after the last seq received. The iteration ends when the session is closed and raises
        the session's failure if it failed (:class:`~client.errors.SeatRevoked`, ...).
        """
        while True:
            event = await self._events.get()
            if event is None:
                self._events.put_nowait(None)  # so that every iterator ends
                if self._failure is not None:
                    raise self._failure
                return
            yield event

    async def wait_synced(self) -> None:
        """Wait until the current connection has replayed every room; live events follow."""
        await self._synced.wait()
        if self._done:
            raise self._ended()

    # -- commands --------------------------------------------------------------------------

    async def post_message(
        self, room: str, thread: str, text: str, *, id: str | None = None
    ) -> Ack:
        """Post ``text`` to ``thread``."""
        fields = {"type": "post_message", "room": room, "thread": thread, "text": text}
        return await self._ack(fields, id)

    async def open_backchannel(
        self, room: str, parties: Sequence[str], title: str = "", *, id: str | None = None
    ) -> Ack:
        """Open a back-channel from the seat's party to ``parties`` (head of delegation only).

        The new thread's id is in the ``thread_opened`` event whose seq the ack gives.
        """
        fields = {"type": "open_backchannel", "room": room, "parties": list(parties)}
        return await self._ack({**fields, "title": title}, id)

    async def accept_backchannel(self, room: str, thread: str, *, id: str | None = None) -> Ack:
        """Accept, for the seat's party, a back-channel it was invited to."""
        return await self._ack({"type": "accept_backchannel", "room": room, "thread": thread}, id)

    async def decline_backchannel(self, room: str, thread: str, *, id: str | None = None) -> Ack:
        """Decline, for the seat's party, a back-channel it was invited to and has not accepted."""
        fields = {"type": "decline_backchannel", "room": room, "thread": thread}
        return await self._ack(fields, id)

    async def disclose_thread(
        self, room: str, thread: str, to: Audience, *, id: str | None = None
    ) -> Ack:
        """Disclose a back-channel or caucus to ``observers`` or ``everyone`` (facilitator)."""
        fields = {"type": "disclose_thread", "room": room, "thread": thread, "to": to}
        return await self._ack(fields, id)

    # negotiation: each method sends the command of the same name (docs/protocol.md)

    async def add_issue(self, room: str, issue: dict[str, Any], *, id: str | None = None) -> Ack:
        """Put an issue on the agenda (facilitator, pre-negotiation)."""
        return await self._ack({"type": "add_issue", "room": room, "issue": issue}, id)

    async def set_position(
        self,
        room: str,
        issue: str,
        *,
        direction: str | None = None,
        preferred: Any = None,
        reservation: Any = None,
        id: str | None = None,
    ) -> Ack:
        """Set the party's confidential position on ``issue`` (head; kept in its caucus)."""
        fields = {"type": "set_position", "room": room, "issue": issue, "direction": direction}
        return await self._ack({**fields, "preferred": preferred, "reservation": reservation}, id)

    async def table_proposal(
        self,
        room: str,
        thread: str,
        terms: dict[str, Any] | None = None,
        *,
        clauses: Sequence[str] = (),
        title: str = "",
        parent: str | None = None,
        coalition: str | None = None,
        id: str | None = None,
    ) -> Ack:
        """Table a proposal (``ack.created`` is its id); with ``coalition``, draft a joint one."""
        fields = {
            "type": "table_proposal",
            "room": room,
            "thread": thread,
            "terms": dict(terms or {}),
            "clauses": list(clauses),
            "title": title,
            "parent": parent,
            "coalition": coalition,
        }
        return await self._ack(fields, id)

    async def endorse_proposal(self, room: str, proposal: str, *, id: str | None = None) -> Ack:
        return await self._ack({"type": "endorse_proposal", "room": room, "proposal": proposal}, id)

    async def answer_proposal(
        self, room: str, proposal: str, answer: str, reason: str = "", *, id: str | None = None
    ) -> Ack:
        """Answer ``accept``, ``reject`` or ``reserve`` for the seat's party (head)."""
        fields = {"type": "answer_proposal", "room": room, "proposal": proposal}
        return await self._ack({**fields, "answer": answer, "reason": reason}, id)

    async def withdraw_proposal(self, room: str, proposal: str, *, id: str | None = None) -> Ack:
        return await self._ack(
            {"type": "withdraw_proposal", "room": room, "proposal": proposal}, id
        )

    async def record_concession(
        self,
        room: str,
        thread: str,
        description: str,
        *,
        issue: str | None = None,
        toward: str | None = None,
        id: str | None = None,
    ) -> Ack:
        """Record a concession in words (a move no number shows)."""
        fields: dict[str, Any] = {"type": "record_concession", "room": room, "thread": thread}
        fields |= {"description": description, "issue": issue, "toward": toward}
        return await self._ack(fields, id)

    async def change_stage(self, room: str, to: str, *, id: str | None = None) -> Ack:
        """Move the room to stage ``to`` (facilitator)."""
        return await self._ack({"type": "change_stage", "room": room, "to": to}, id)

    async def consent_stage(self, room: str, to: str, *, id: str | None = None) -> Ack:
        """Consent to moving to ``to`` (head; rooms without a facilitator)."""
        return await self._ack({"type": "consent_stage", "room": room, "to": to}, id)

    async def declare_coalition(
        self, room: str, parties: Sequence[str], name: str, *, id: str | None = None
    ) -> Ack:
        """Declare a coalition with ``parties`` (``ack.created`` is its id)."""
        fields = {"type": "declare_coalition", "room": room, "parties": list(parties)}
        return await self._ack({**fields, "name": name}, id)

    async def join_coalition(self, room: str, coalition: str, *, id: str | None = None) -> Ack:
        return await self._ack({"type": "join_coalition", "room": room, "coalition": coalition}, id)

    async def sign_agreement(self, room: str, agreement: str, *, id: str | None = None) -> Ack:
        """Sign the agreement for the seat's party (head, formalization)."""
        return await self._ack({"type": "sign_agreement", "room": room, "agreement": agreement}, id)

    async def ping(self, *, id: str | None = None) -> float:
        """Round-trip time to the server in seconds (from the ping leaving to the pong)."""
        reply = await self._wait(self._submit({"type": "ping"}, id, Pong))
        assert isinstance(reply, float)
        return reply

    async def _ack(self, fields: dict[str, Any], id: str | None) -> Ack:
        reply = await self._wait(self._submit(fields, id, AckFrame))
        assert isinstance(reply, Ack)
        return reply

    def _submit(
        self, fields: dict[str, Any], id: str | None, answer: type[AckFrame] | type[Pong]
    ) -> _Command:
        if self._done:
            raise self._ended()
        command_id = uuid.uuid4().hex if id is None else id
        _, text = codec.command({**fields, "id": command_id})
        if self._limits is not None and len(text.encode()) > self._limits.max_frame_bytes:
            raise TooLong(
                ErrorCode.FRAME_TOO_LARGE,
                f"frames are limited to {self._limits.max_frame_bytes} bytes",
                command_id=command_id,
            )
        if command_id in self._pending:
            raise ValueError(f"command {command_id!r} is already waiting for its answer")
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        command = _Command(command_id, text, answer, future)
        self._pending[command_id] = command
        if self._link is not None:
            self._link.unsent.append(command_id)
            self._link.wake.set()
        return command

    async def _wait(self, command: _Command) -> Reply:
        try:
            return await command.future
        finally:
            # Cancelled by the caller: stop re-sending it (it may or may not have been applied;
            # repeating the same id later is safe).
            if self._pending.get(command.id) is command:
                del self._pending[command.id]

    def _answer(self, command_id: str, answer: AckFrame | Pong | ErrorFrame) -> None:
        command = self._pending.pop(command_id, None)
        if command is None or command.future.done():
            return  # the answer to a re-sent command that was answered already
        future = command.future
        if isinstance(answer, ErrorFrame):
            future.set_exception(codec.error_of(answer))
        elif not isinstance(answer, command.answer):
            future.set_exception(ProtocolError(f"{answer.type} answered command {command_id}"))
        elif isinstance(answer, AckFrame):
            future.set_result(Ack.from_frame(answer))
        else:
            future.set_result(asyncio.get_running_loop().time() - command.sent_at)

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, say ``hello`` and wait for ``welcome``; the first attempt is not retried.

        Raises:
            AuthenticationFailed: a token is unknown, rotated or revoked.
            HelloRefused: the server refused ``hello`` for another reason (``after`` beyond
                the end of a room's log, two seats in one room).
            ConnectionFailed: the server could not be reached.
        """
        if self._task is not None or self._done:
            raise RuntimeError("a session is opened once")
        try:
            link = await self._handshake()
        except ParleyError as exc:
            self._finish(exc)
            raise
        except Exception as exc:
            failure = ConnectionFailed(f"cannot connect to {self.url}: {exc!r}", attempts=1)
            failure.__cause__ = exc
            self._finish(failure)
            raise failure from exc
        if self._checks is not None:
            self._checks.start(self._cursor.starts())
        self._task = asyncio.create_task(self._run(link), name="parley-session")

    def _proof_failed(self, failure: ProofError) -> None:
        """A check against the checkpoints failed: the stream cannot be trusted; end it."""
        self._finish(failure)
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()

    async def close(self) -> None:
        """Close the connection; waiting commands fail with ConnectionClosed, events() ends."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._ws is not None:  # the task may have been cancelled before it first ran
            await self._ws.close()
        self._finish(None)
        if self._closing is not None:
            await self._closing

    def _ended(self) -> ParleyError:
        return self._failure or ConnectionClosed(CloseCode.NORMAL, "the session is closed")

    def _finish(self, failure: ParleyError | None) -> None:
        if self._done:
            return
        self._done = True
        self._failure = failure
        error = self._ended()
        for command in self._pending.values():
            if not command.future.done():
                command.future.set_exception(error)
        self._pending.clear()
        self._events.put_nowait(None)
        self._synced.set()
        if self._checks is not None:
            self._closing = asyncio.get_running_loop().create_task(self._checks.close())

    async def _run(self, link: _Link) -> None:
        failure: ParleyError | None = None
        try:
            while True:
                closed = await self._serve(link)
                if not self.options.reconnect or not should_retry(closed):
                    raise closed_error(closed) from closed
                log.info("connection to %s lost (%s); reconnecting", self.url, closed)
                link = await self._reconnect(closed)
                self.reconnects += 1
        except ParleyError as exc:
            failure = exc
        except Exception as exc:  # a bug here: end the session rather than hang its users
            log.exception("the session to %s failed", self.url)
            failure = ConnectionClosed(None, f"client failure: {exc!r}")
        finally:
            self._finish(failure)

    async def _reconnect(self, cause: BaseException) -> _Link:
        options, attempt, last = self.options, 0, cause
        while options.max_attempts is None or attempt < options.max_attempts:
            delay = backoff_delay(
                attempt,
                initial=options.backoff_initial,
                maximum=options.backoff_max,
                factor=options.backoff_factor,
                rand=random.random(),
            )
            await asyncio.sleep(delay)
            attempt += 1
            try:
                return await self._handshake()
            except ParleyError:
                raise
            except Exception as exc:
                if not should_retry(exc):
                    raise ConnectionFailed(
                        f"cannot reconnect to {self.url}: {exc!r}", attempts=attempt
                    ) from exc
                log.info("reconnection attempt %d to %s failed: %r", attempt, self.url, exc)
                last = exc
        raise ConnectionFailed(
            f"gave up reconnecting to {self.url} after {attempt} attempts: {last!r}",
            attempts=attempt,
        ) from last

    async def _handshake(self) -> _Link:
        options = self.options
        ws = await ws_connect(
            self.url,
            open_timeout=options.open_timeout,
            ping_interval=options.ping_interval,
            ping_timeout=options.ping_timeout,
            max_size=MAX_SERVER_FRAME,
            user_agent_header=USER_AGENT,
        )
        try:
            async with asyncio.timeout(options.open_timeout):
                await ws.send(self._cursor.hello())
                welcome = await read_welcome(ws)
            seats = self._cursor.greeted(welcome)
        except BaseException:
            await ws.close()
            raise
        limits = welcome.limits
        self._ws, self._seats, self._limits = ws, seats, limits
        return _Link(
            ws=ws,
            seats=seats,
            limits=limits,
            bucket=TokenBucket.for_server(limits.commands_per_second, limits.command_burst),
            unsent=deque(),
            wake=asyncio.Event(),
            unsynced={seat.room for seat in seats},
        )

    async def _serve(self, link: _Link) -> WebSocketClosed:
        """Read ``link`` until it closes; returns how it closed."""
        self._link = link
        self._synced.clear()
        link.unsent.extend(self._pending)  # everything unanswered, in the order submitted
        sender = asyncio.create_task(self._send(link), name="parley-send")
        try:
            while True:
                try:
                    text = await link.ws.recv()
                except WebSocketClosed as exc:
                    return exc
                self._receive(link, text)
        finally:
            self._link = None
            self._synced.clear()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            await link.ws.close()

    async def _send(self, link: _Link) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                if not link.unsent:
                    link.wake.clear()
                    await link.wake.wait()
                    continue
                command = self._pending.get(link.unsent[0])
                if command is None or command.sent_on is link:
                    link.unsent.popleft()
                    continue
                delay = link.bucket.delay()
                if delay > 0:
                    await asyncio.sleep(delay)
                    continue
                link.unsent.popleft()
                link.bucket.take()
                command.sent_on, command.sent_at = link, loop.time()
                await link.ws.send(command.text)
        except WebSocketClosed:
            return  # the reader sees the close too and decides what follows
        except Exception:
            log.exception("sending to %s failed", self.url)
            await link.ws.close(CloseCode.INTERNAL_ERROR, "client error")
            raise

    def _receive(self, link: _Link, text: str | bytes) -> None:
        frame = codec.parse(text)
        if isinstance(frame, EventFrame):
            event = Event.from_frame(frame)
            if self.options.verify:
                check_event(event)
            if self._cursor.advance(event.room, event.seq):
                if self._checks is not None:
                    self._checks.received(event)  # may raise ProofError: then not delivered
                self._events.put_nowait(event)
        elif isinstance(frame, Synced):
            if self._checks is not None:
                self._checks.synced(frame.room)
            link.unsynced.discard(frame.room)
            if not link.unsynced:
                self._synced.set()
        elif isinstance(frame, AckFrame | Pong):
            self._answer(frame.id, frame)
        elif isinstance(frame, ErrorFrame):
            if frame.code == ErrorCode.RATE_LIMITED:
                self._slow_down(link, frame.id)
            elif frame.id is not None:
                self._answer(frame.id, frame)
            else:
                log.warning("error frame from %s: %s: %s", self.url, frame.code, frame.message)
        elif isinstance(frame, Welcome):
            raise ProtocolError("a second welcome on one connection")

    def _slow_down(self, link: _Link, command_id: str | None) -> None:
        """The server refused a command for going too fast: nothing was done, send it again.

        Pacing keeps this from happening unless frames bunch up on the way. A refusal without
        an id (a frame the server did not read) cannot name its command, so every command sent
        on this connection and not answered yet goes again: the server never appends an id
        twice. Commands go again in the order they were submitted.
        """
        link.bucket.drain()
        if command_id is not None:
            again = {command_id} if command_id in self._pending else set()
        else:
            again = {c.id for c in self._pending.values() if c.sent_on is link}
        for each in again:
            self._pending[each].sent_on = None
        waiting = again.union(link.unsent)
        link.unsent = deque(each for each in self._pending if each in waiting)
        link.wake.set()
