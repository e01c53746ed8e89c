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
to replay, which reads the missing events from the log. Every event, live or replayed, is judged
by the one visibility function against the room's current state.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence

from server.domain.room import RoomState
from server.domain.visibility import HIDDEN, Viewer, Visibility, visibility
from server.realtime.frames import event_frame
from server.realtime.outbox import Outbox
from server.realtime.wire import text_frame
from server.services.states import RoomStates
from server.storage.database import Database
from server.storage.log_reader import read_events
from server.storage.records import StoredEvent

log = logging.getLogger(__name__)


class Subscription:
    def __init__(
        self,
        room_id: str,
        seat_id: str,
        viewer: Viewer,
        outbox: Outbox,
        after: int,
        on_slow: Callable[[], None],
    ) -> None:
        self.room_id = room_id
        self.seat_id = seat_id
        self.viewer = viewer
        self.outbox = outbox
        self.on_slow = on_slow
        self.last = after
        """The last seq judged (sent or not)."""
        self.last_sent = after
        """The last seq sent (what the client holds)."""
        self.live = False
        self.synced = False
        self.closed = False
        self.buffer: list[StoredEvent] = []
        self.overflowed = False
        self.task: asyncio.Task[None] | None = None


class Hub:
    """Subscriptions per room, fed by the log writer's commit listener.

    Args:
        db: where replay reads the log.
        states: the rooms' state cache (registered as a writer listener before the hub).
        page: events per replay read.
        buffer_limit: events buffered per replaying subscription before it re-reads instead.
    """

    def __init__(
        self, db: Database, states: RoomStates, *, page: int = 500, buffer_limit: int = 5000
    ) -> None:
        self._db = db
        self._states = states
        self._page = page
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
        on_slow: Callable[[], None],
    ) -> Subscription:
        sub = Subscription(room_id, seat_id, viewer, outbox, after, on_slow)
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

    # -- live ------------------------------------------------------------------------------

    def deliver(self, committed: Sequence[StoredEvent]) -> None:
        """Writer listener: fan ``committed`` out (runs after the states cache followed it)."""
        by_room: dict[str, list[StoredEvent]] = {}
        for event in committed:
            if event.room_id in self._rooms:
                by_room.setdefault(event.room_id, []).append(event)
        for room_id, events in by_room.items():
            state = self._states.cached(room_id)
            subs = list(self._rooms.get(room_id, ()))
            if state is None or state.seq < events[-1].seq:
                for sub in subs:  # judge nothing against a state that lacks these events
                    if sub.live:
                        self._replay(sub)
                    else:
                        self._buffer(sub, events)
                continue
            judged: dict[tuple[Viewer, str, str | None], Visibility] = {}
            frames: dict[tuple[int, Visibility], str] = {}
            wires: dict[tuple[tuple[int, Visibility], ...], bytes] = {}
            for sub in subs:
                if sub.live:
                    self._offer(sub, events, state, judged, frames, wires)
                else:
                    self._buffer(sub, events)

    def _buffer(self, sub: Subscription, events: list[StoredEvent]) -> None:
        if sub.overflowed:
            return
        sub.buffer += events
        if len(sub.buffer) > self._buffer_limit:
            sub.overflowed = True  # replay will read these from the log instead
            sub.buffer = []

    def _offer(
        self,
        sub: Subscription,
        events: Sequence[StoredEvent],
        state: RoomState,
        judged: dict[tuple[Viewer, str, str | None], Visibility],
        frames: dict[tuple[int, Visibility], str],
        wires: dict[tuple[tuple[int, Visibility], ...], bytes],
    ) -> None:
        """Send ``sub`` the events of one commit it may see, as one write to its socket.

        ``judged``, ``frames`` and ``wires`` are shared by every subscription offered the same
        commit: a verdict per (viewer, kind, thread), a frame per (seq, verdict), and the bytes
        of a whole run of frames, so that seats that see the same events share one encoding.
        """
        batch: list[str] = []
        keys: list[tuple[int, Visibility]] = []
        last, last_sent = sub.last, sub.last_sent
        gap = False
        for event in events:
            if event.seq <= last:
                continue
            if event.seq != last + 1:
                gap = True
                break
            key = (sub.viewer, event.kind, event.thread)
            vis = judged.get(key)
            if vis is None:
                vis = judged[key] = visibility(event.kind, event.thread, sub.viewer, state)
            if vis is not HIDDEN:
                frame_key = (event.seq, vis)
                frame = frames.get(frame_key)
                if frame is None:
                    frame = frames[frame_key] = event_frame(event, vis)
                batch.append(frame)
                keys.append(frame_key)
                last_sent = event.seq
            last = event.seq
        if batch:
            run = tuple(keys)
            wire = wires.get(run)
            if wire is None:
                wire = wires[run] = b"".join(map(text_frame, batch))
            if not sub.outbox.push_many(batch, wire):
                self.unsubscribe(sub)
                sub.on_slow()
                return
            self.delivered += len(batch)
        sub.last, sub.last_sent = last, last_sent
        if gap:
            self._replay(sub)

    # -- replay ----------------------------------------------------------------------------

    def _replay(self, sub: Subscription) -> None:
        sub.live = False
        sub.buffer = []
        sub.overflowed = False
        if sub.task is None or sub.task.done():
            sub.task = asyncio.create_task(self._run_replay(sub), name=f"replay-{sub.room_id}")

    async def _run_replay(self, sub: Subscription) -> None:
        try:
            while not sub.closed:
                async with self._db.engine.connect() as conn:
                    events = await read_events(conn, sub.room_id, after=sub.last, limit=self._page)
                if events:
                    state = await self._states.at_least(sub.room_id, events[-1].seq)
                    for event in events:
                        vis = visibility(event.kind, event.thread, sub.viewer, state)
                        if vis is not HIDDEN:
                            await sub.outbox.put(event_frame(event, vis))
                            sub.last_sent = event.seq
                        sub.last = event.seq
                        if sub.closed:
                            return
                if len(events) == self._page or sub.overflowed:
                    sub.overflowed = False
                    sub.buffer = []
                    continue
                # From here to going live nothing may yield to the event loop.
                pending = [e for e in sub.buffer if e.seq > sub.last]
                sub.buffer = []
                current = self._states.cached(sub.room_id)
                if pending and (
                    pending[0].seq != sub.last + 1
                    or current is None
                    or current.seq < pending[-1].seq
                ):
                    continue  # they are committed: the next read gets them
                sub.live = True
                if not sub.synced:
                    sub.synced = True
                    room = json.dumps(sub.room_id)
                    sub.outbox.push(
                        f'{{"v":1,"type":"synced","room":{room},"seq":{sub.last_sent}}}'
                    )
                if pending and current is not None:
                    self._offer(sub, pending, current, {}, {}, {})
                if sub.live or sub.closed:
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("replay of room %s for seat %s failed", sub.room_id, sub.seat_id)
            self.unsubscribe(sub)
            sub.on_slow()
