"""A connection's queue of outgoing frames, bounded so that one slow reader cannot hold a room.

Live fan-out pushes without waiting (:meth:`Outbox.push` says False when the reader is too far
behind, and the connection is then closed with 4008: it may resume). "Too far behind" means
``limit`` frames wait while the socket has not taken a frame for ``stall`` seconds, four times
``limit`` wait in any case, or the socket's own write buffer holds more than ``max_backlog``
bytes that the peer has not read. A healthy reader that is handed one large group commit at
once is therefore not mistaken for a slow one. Replay, which reads from the
log at its own pace, waits for room instead (:meth:`Outbox.put`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from server.realtime.wire import text_frame


class Outbox:
    def __init__(
        self,
        limit: int,
        *,
        stall: float = 1.0,
        backlog: Callable[[], int] = lambda: 0,
        max_backlog: int = 4 * 2**20,
        write_now: Callable[[bytes], bool] | None = None,
    ) -> None:
        """
        Args:
            limit: frames queued before a stalled reader counts as too slow.
            stall: seconds the socket may take no frame before that.
            backlog: bytes written to the socket that its peer has not read yet.
            max_backlog: the most of those before the reader counts as too slow.
            write_now: writes frames' wire bytes to the socket at once without waiting, or
                says False.
        """
        self._write_now = write_now
        self.limit = limit
        self._backlog = backlog
        self.max_backlog = max_backlog
        self.stall = stall
        self._send_started = 0.0
        self._frames: deque[str] = deque()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self.closed = False
        self._sending = False
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        return len(self._frames)

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
        queued = len(self._frames)
        if queued >= self.limit and (queued >= 4 * self.limit or self._stalled()):
            return False
        if self._backlog() > self.max_backlog:
            return False
        if not queued and not self._sending and self._write_now is not None:
            # Nothing is waiting ahead of them: hand the frames to the socket right here, in
            # one write, rather than waking the pump task (a task switch and a system call per
            # frame per socket are most of the cost of fan-out). Order holds: this happens
            # only when the queue is empty.
            if wire is None:
                wire = b"".join(map(text_frame, frames))
            if self._write_now(wire):
                return True
        self._frames.extend(frames)
        self._idle.clear()
        self._ready.set()
        if len(self._frames) >= self.limit // 2:
            self._room.clear()
        return True

    async def put(self, frame: str) -> None:
        """Queue ``frame``, first waiting until the queue is at most half full."""
        while not self._room.is_set() and not self.closed:
            await self._room.wait()
        self.push(frame)

    def _stalled(self) -> bool:
        if not self._sending:
            return False
        return asyncio.get_running_loop().time() - self._send_started > self.stall

    async def drain(self) -> None:
        """Wait until every queued frame has been handed to the socket."""
        await self._idle.wait()

    def close(self) -> None:
        self.closed = True
        self._idle.set()
        self._ready.set()
        self._room.set()

    async def pump(self, send: Callable[[str], Awaitable[None]]) -> None:
        """Send frames in order until :meth:`close`; returns when closed and drained."""
        frames = self._frames
        while True:
            await self._ready.wait()
            self._ready.clear()
            while frames:
                self._sending = True
                self._send_started = asyncio.get_running_loop().time()
                await send(frames.popleft())
                self._sending = False
                if len(frames) < self.limit // 2:
                    self._room.set()
            self._room.set()
            self._idle.set()
            if self.closed:
                return
