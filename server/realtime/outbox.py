"""A connection's queue of outgoing frames, bounded so that one slow reader cannot hold a room.

Live fan-out pushes without waiting (:meth:`Outbox.push` says False when the reader is too far
behind, and the connection is then closed with 4008: it may resume). "Too far behind" means
``limit`` frames wait while the socket has not taken a frame for ``stall`` seconds, four times
``limit`` wait in any case, or the socket's own write buffer holds more than ``max_backlog``
bytes that the peer has not read. A healthy reader that is handed one large group commit at
once is therefore not mistaken for a slow one. Replay, which reads from the
log at its own pace, waits for room instead (:meth:`Outbox.put_many`).

An idle connection is most connections, so an outbox holds nothing while nothing waits: frames
go straight to the socket when none are queued ahead of them, and the queue, the task that
sends it (the pump) and the futures its waiters wait on exist only while frames are queued.

A commit reaches a socket twice: its events (the fan-out) and, on the sockets that sent its
commands, an answer per command. Inside :func:`one_write_per_socket`, which the log writer
wraps around both, frames bound straight for a socket are held and each socket gets them in
one write at the end: a system call costs as much as the frames it carries (about 5 µs on
loopback), so a sender of eight commands of a commit makes one call instead of nine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence

from server.realtime.wire import text_frame

log = logging.getLogger(__name__)


class Outbox:
    __slots__ = (
        "_backlog",
        "_drained",
        "_frames",
        "_pump",
        "_room",
        "_send",
        "_send_started",
        "_write_now",
        "closed",
        "limit",
        "max_backlog",
        "stall",
    )

    def __init__(
        self,
        limit: int,
        send: Callable[[str], Awaitable[None]],
        *,
        stall: float = 1.0,
        backlog: Callable[[], int] = lambda: 0,
        max_backlog: int = 4 * 2**20,
        write_now: Callable[[bytes], bool] | None = None,
    ) -> None:
        """
        Args:
            limit: frames queued before a stalled reader counts as too slow.
            send: sends one frame, waiting while the socket cannot take it.
            stall: seconds the socket may take no frame before that.
            backlog: bytes written to the socket that its peer has not read yet.
            max_backlog: the most of those before the reader counts as too slow.
            write_now: writes frames' wire bytes to the socket at once without waiting, or
                says False.
        """
        self.limit = limit
        self._send = send
        self.stall = stall
        self._backlog = backlog
        self.max_backlog = max_backlog
        self._write_now = write_now
        self._send_started = 0.0
        """When the frame being sent was handed to ``send``; 0 when none is."""
        self._frames: deque[str] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._room: asyncio.Future[None] | None = None
        """Resolved once the queue is at most half full (replay waits on it)."""
        self._drained: asyncio.Future[None] | None = None
        """Resolved once the queue is empty and no frame is being sent."""
        self.closed = False

    def __len__(self) -> int:
        return len(self._frames) if self._frames is not None else 0

    def push(self, frame: str) -> bool:
        """Queue ``frame`` now; False if the reader is too far behind (nothing was queued)."""
        return self.push_many((frame,), None)

    def push_many(self, frames: Sequence[str], wire: bytes | None) -> bool:
        """Queue ``frames`` in order; False if the reader is too far behind (nothing queued).

        ``wire`` is the frames already encoded for the socket, all of them in one piece, or
        None to encode them here.
        """
        if self.closed:
            return True  # dropped: the connection is going away and will be resumed
        waiting = self._frames
        if waiting:
            queued = len(waiting)
            if queued >= self.limit and (queued >= 4 * self.limit or self._stalled()):
                return False
        if self._backlog() > self.max_backlog:
            return False
        self._enqueue(frames, wire)
        return True

    async def put_many(self, frames: Sequence[str]) -> bool:
        """Queue ``frames``, first waiting until the queue is at most half full (replay reads
        at the reader's pace, so it waits instead of being refused); False if the reader
        stopped reading meanwhile: its socket took no frame for ``stall`` seconds (nothing was
        queued)."""
        while len(self) > self.limit // 2 and not self.closed:
            if self._stalled():
                return False
            if self._room is None:
                self._room = asyncio.get_running_loop().create_future()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.stall):
                    await asyncio.shield(self._room)
        if not self.closed:
            # Straight to the socket only while its peer keeps up: otherwise through the
            # queue, whose pump waits for the socket to drain, and so does the next page.
            self._enqueue(frames, None, direct=self._backlog() <= self.max_backlog // 2)
        return True

    def _enqueue(self, frames: Sequence[str], wire: bytes | None, *, direct: bool = True) -> None:
        if direct and not self._frames and self._pump is None and self._write_now is not None:
            # Nothing is waiting ahead of them: hand the frames to the socket right here, in
            # one write, rather than waking the pump (a task switch and a system call per frame
            # per socket are most of the cost of fan-out). Order holds: this happens only when
            # nothing is queued or being sent.
            if wire is None:
                wire = b"".join(map(text_frame, frames))
            held = _held
            if held is not None:
                parts = held.get(self)
                if parts is None:
                    held[self] = [wire]
                else:
                    parts.append(wire)
                return
            if self._write_now(wire):
                return
        if self._frames is None:
            self._frames = deque()
        self._frames.extend(frames)
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._run_pump())

    def _stalled(self) -> bool:
        if not self._send_started:
            return False
        return asyncio.get_running_loop().time() - self._send_started > self.stall

    async def drain(self) -> None:
        """Wait until every queued frame has been handed to the socket (or the pump failed)."""
        while self._pump is not None:
            if self._drained is None:
                self._drained = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._drained)

    def close(self) -> None:
        """No frame is accepted from now on; those queued are still sent."""
        self.closed = True
        self._wake_room()

    async def _run_pump(self) -> None:
        """Send the queued frames in order, then end (a later push starts another)."""
        frames = self._frames
        assert frames is not None
        loop = asyncio.get_running_loop()
        try:
            while frames:
                self._send_started = loop.time()
                await self._send(frames.popleft())
                self._send_started = 0.0
                if len(frames) <= self.limit // 2:
                    self._wake_room()
        finally:
            self._send_started = 0.0
            self._frames = None
            self._pump = None
            self._wake_room()
            drained, self._drained = self._drained, None
            if drained is not None and not drained.done():
                drained.set_result(None)

    def _wake_room(self) -> None:
        room, self._room = self._room, None
        if room is not None and not room.done():
            room.set_result(None)


_held: dict[Outbox, list[bytes]] | None = None
"""While :func:`one_write_per_socket` runs: the wire bytes held for each outbox, in order."""


@contextlib.contextmanager
def one_write_per_socket() -> Iterator[None]:
    """Hold the frames that go straight to sockets meanwhile; at the end, write each socket's
    in one piece, in the order they came.

    What runs inside must not yield to the event loop (the log writer's listeners and answers
    do not), so nothing else writes to those sockets in between and their order holds. A socket
    that is closing by then drops its frames, as a direct write to it would: its client
    resumes. Nested, the outer one writes.
    """
    global _held
    if _held is not None:
        yield
        return
    held: dict[Outbox, list[bytes]] = {}
    _held = held
    try:
        yield
    finally:
        _held = None
        for outbox, parts in held.items():
            write = outbox._write_now
            if write is None:
                continue
            try:
                write(parts[0] if len(parts) == 1 else b"".join(parts))
            except Exception:  # one socket's failure must not cost the others their frames
                log.exception("writing a commit's frames to a socket failed")
                outbox.close()
