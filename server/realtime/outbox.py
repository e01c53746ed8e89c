"""A connection's queue of outgoing frames, bounded so that one slow reader cannot hold a room.

Live fan-out pushes without waiting (:meth:`Outbox.push` says False when the reader is too far
behind, and the connection is then closed with 4008: it may resume). Replay, which reads from the
log at its own pace, waits for room instead (:meth:`Outbox.put`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable


class Outbox:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._frames: deque[str] = deque()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self.closed = False

    def __len__(self) -> int:
        return len(self._frames)

    def push(self, frame: str) -> bool:
        """Queue ``frame`` now; False if the reader is too far behind (nothing was queued)."""
        if self.closed:
            return True  # dropped: the connection is going away and will be resumed
        if len(self._frames) >= self.limit:
            return False
        self._frames.append(frame)
        self._ready.set()
        if len(self._frames) >= self.limit // 2:
            self._room.clear()
        return True

    async def put(self, frame: str) -> None:
        """Queue ``frame``, first waiting until the queue is at most half full."""
        while not self._room.is_set() and not self.closed:
            await self._room.wait()
        self.push(frame)

    def close(self) -> None:
        self.closed = True
        self._ready.set()
        self._room.set()

    async def pump(self, send: Callable[[str], Awaitable[None]]) -> None:
        """Send frames in order until :meth:`close`; returns when closed and drained."""
        frames = self._frames
        while True:
            await self._ready.wait()
            self._ready.clear()
            while frames:
                await send(frames.popleft())
                if len(frames) < self.limit // 2:
                    self._room.set()
            self._room.set()
            if self.closed:
                return
