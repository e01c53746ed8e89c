"""In-process fan-out: every committed event to every subscribed seat that may see it.

A :class:`Subscription` is one seat of one connection in one room. It starts in **replay**: a
task reads the log from the seq the client holds, page by page, while events committed meanwhile
are buffered. When a read comes back short, the task adopts the buffer (dropping what the read
already covered) without yielding to the event loop, and the subscription goes **live**: from
then on the writer's commit listener pushes each event straight into the connection's outbox.

That hand-over is what makes a resume exact. An event committed before the subscription existed
is in the database when replay reads; one committed after reaches the buffer; one in between
reaches both and is dropped the second time by its seq. A live subscription that sees a seq that
does not follow its last (its buffer overflowed, or the room's state cache is behind) goes back
to replay, which reads the missing events from the log. The hub never judges an event itself:
commits arrive as :class:`~server.services.views.log.Commit` objects and replay reads pages from
:class:`~server.services.views.log.LogViews`, which judge every event by the one visibility
function.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from protocol.frames import Synced, encode
from server.domain.visibility import Viewer
from server.realtime.outbox import Outbox
from server.realtime.wire import text_frame
from server.services.views.log import Commit, LogViews, Offer

log = logging.getLogger(__name__)


class Subscription:
    __slots__ = (
        "buffer",
        "buffered",
        "closed",
        "last",
        "last_sent",
        "live",
        "on_close",
        "outbox",
        "overflowed",
        "room_id",
        "seat_id",
        "synced",
        "task",
        "viewer",
    )

    def __init__(
        self,
        room_id: str,
        seat_id: str,
        viewer: Viewer,
        outbox: Outbox,
        after: int,
        on_close: Callable[[bool], None],
    ) -> None:
        self.room_id = room_id
        self.seat_id = seat_id
        self.viewer = viewer
        self.outbox = outbox
        self.on_close = on_close
        """Called once the hub drops the subscription: with False if its reader was too slow,
        True if reading the log failed."""
        self.last = after
        """The last seq judged (sent or not)."""
        self.last_sent = after
        """The last seq sent (what the client holds)."""
        self.live = False
        self.synced = False
        self.closed = False
        self.buffer: list[Commit] = []
        self.buffered = 0
        self.overflowed = False
        self.task: asyncio.Task[None] | None = None


class Hub:
    """Subscriptions per room, fed by the log writer's commit listener.

    Args:
        views: where replay reads the log and commits are judged.
        buffer_limit: events buffered per replaying subscription before it re-reads instead.
    """

    def __init__(self, views: LogViews, *, buffer_limit: int = 5000) -> None:
        self._views = views
        self._buffer_limit = buffer_limit
        self._rooms: dict[str, set[Subscription]] = {}
        self.delivered = 0

    def subscribe(
        self,
        room_id: str,
        seat_id: str,
        viewer: Viewer,
        outbox: Outbox,
        *,
        after: int,
        on_close: Callable[[bool], None],
    ) -> Subscription:
        sub = Subscription(room_id, seat_id, viewer, outbox, after, on_close)
        self._rooms.setdefault(room_id, set()).add(sub)
        self._replay(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.closed = True
        subs = self._rooms.get(sub.room_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._rooms[sub.room_id]
        if sub.task is not None and not sub.task.done():
            sub.task.cancel()

    def seats(self, room_id: str, seat_id: str) -> list[Subscription]:
        return [s for s in self._rooms.get(room_id, ()) if s.seat_id == seat_id]

    def watching(self, room_id: str) -> bool:
        return room_id in self._rooms

    # -- live ------------------------------------------------------------------------------

    def deliver(self, commits: Sequence[Commit]) -> None:
        """Fan each commit out (after the states cache followed it)."""
        for commit in commits:
            subs = list(self._rooms.get(commit.room_id, ()))
            if not subs:
                continue
            if not commit.ready:
                for sub in subs:  # judge nothing against a state that lacks these events
                    if sub.live:
                        self._replay(sub)
                    else:
                        self._buffer(sub, commit)
                continue
            wires: dict[tuple[tuple[int, object, bool], ...], bytes] = {}
            for sub in subs:
                if sub.live:
                    self._offer(sub, commit, wires)
                else:
                    self._buffer(sub, commit)

    def _buffer(self, sub: Subscription, commit: Commit) -> None:
        if sub.overflowed:
            return
        sub.buffer.append(commit)
        sub.buffered += len(commit.events)
        if sub.buffered > self._buffer_limit:
            sub.overflowed = True  # replay will read these from the log instead
            sub.buffer, sub.buffered = [], 0

    def _offer(
        self,
        sub: Subscription,
        commit: Commit,
        wires: dict[tuple[tuple[int, object, bool], ...], bytes],
    ) -> None:
        """Send ``sub`` the events of one commit it may see, as one write to its socket.

        ``wires`` is shared by every subscription offered the same commit: the bytes of a whole
        run of frames, so that seats that see the same events share one encoding.
        """
        offer: Offer = commit.offer(sub.viewer, sub.seat_id, sub.last, sub.last_sent)
        if offer.frames:
            wire = offer.wire
            if wire is None:
                wire = wires.get(offer.keys)
                if wire is None:
                    wire = wires[offer.keys] = b"".join(map(text_frame, offer.frames))
                offer.wire = wire
            if not sub.outbox.push_many(offer.frames, wire):
                self.unsubscribe(sub)
                sub.on_close(False)
                return
            self.delivered += len(offer.frames)
        sub.last, sub.last_sent = offer.last, offer.last_sent
        if offer.gap:
            self._replay(sub)

    # -- replay ----------------------------------------------------------------------------

    def _replay(self, sub: Subscription) -> None:
        sub.live = False
        sub.buffer, sub.buffered = [], 0
        sub.overflowed = False
        if sub.task is None or sub.task.done():
            sub.task = asyncio.create_task(self._run_replay(sub), name=f"replay-{sub.room_id}")

    async def _run_replay(self, sub: Subscription) -> None:
        try:
            while not sub.closed:
                page = await self._views.replay_page(
                    sub.room_id, sub.viewer, sub.seat_id, after=sub.last
                )
                if page.frames:
                    if not await sub.outbox.put_many([frame for _, frame in page.frames]):
                        self.unsubscribe(sub)  # the reader stopped reading: 4008, resume
                        sub.on_close(False)
                        return
                    if sub.closed:
                        return
                    sub.last_sent = page.frames[-1][0]
                sub.last = page.last
                if page.full or sub.overflowed:
                    sub.overflowed = False
                    sub.buffer, sub.buffered = [], 0
                    continue
                # From here to going live nothing may yield to the event loop.
                pending = self._views.merge(sub.buffer, sub.last)
                sub.buffer, sub.buffered = [], 0
                if pending is not None and (pending.first != sub.last + 1 or not pending.ready):
                    continue  # they are committed: the next read gets them
                sub.live = True
                if not sub.synced:
                    sub.synced = True
                    synced = encode(Synced(room=sub.room_id, seq=sub.last_sent))
                    if not sub.outbox.push(synced):
                        self.unsubscribe(sub)  # its client would wait for it forever: 4008
                        sub.on_close(False)
                        return
                if pending is not None:
                    self._offer(sub, pending, {})
                if sub.live or sub.closed:
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("replay of room %s for seat %s failed", sub.room_id, sub.seat_id)
            self.unsubscribe(sub)
            sub.on_close(True)
        finally:
            if sub.task is asyncio.current_task():
                sub.task = None  # a finished task is not kept for the subscription's life
