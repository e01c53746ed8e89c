"""The log as viewers may read it: every page of events, live or stored, judged in one place.

Replay, live fan-out, HTTP history and exports all read the log through :class:`LogViews`, which
pages by ``seq`` (never loading a whole room to answer one page) and judges each event with the
one visibility function against the room's state at least as far as the page goes. What leaves
here is already encoded for the viewer: an ``event`` frame, a page's JSON or an export line.

A :class:`Commit` is one commit's events of one room as the fan-out offers them: verdicts per
(viewer, kind, thread) and frames per (seq, verdict) are shared by every subscription offered
the same commit, so seats that see the same events share one encoding.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from server.domain.events import EventKind, format_timestamp
from server.domain.room import RoomState
from server.domain.visibility import FULL, HIDDEN, SEALED, Viewer, Visibility, visibility
from server.ledger.export import sealed_line
from server.services.coalesce import Batched
from server.services.states import RoomStates
from server.services.views.frames import event_frame, event_object, with_command_id
from server.storage.database import Database
from server.storage.log_reader import (
    LeftOut,
    messages_left_out,
    read_events,
    read_thread_events,
)
from server.storage.records import StoredEvent

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

MAX_PAGE = 500
"""The most events one read of the log takes."""


@dataclass(slots=True)
class Offer:
    """What one subscription gets from a commit.

    Attributes:
        frames: the ``event`` frames it may see, in ``seq`` order.
        keys: one key per frame, equal for equal frames (to share the encoded bytes).
        last: the last seq judged; ``last_sent``: the last seq in ``frames`` (or as before).
        gap: a seq did not follow ``last``: the subscription must read the log instead.
        wire: the frames encoded for the socket, once some subscription needed them.
    """

    frames: tuple[str, ...]
    keys: tuple[FrameKey, ...]
    last: int
    last_sent: int
    gap: bool
    wire: bytes | None = field(default=None, compare=False)


FrameKey = tuple[int, bool, bool]
"""An event frame's seq, whether it is sealed, and whether it carries the command id."""


def shared_frame(
    frames: dict[FrameKey, str], event: StoredEvent, vis: Visibility
) -> tuple[FrameKey, str]:
    """The ``event`` frame every seat but its actor gets as ``vis`` allows, from ``frames`` or
    encoded into it: an event is encoded once per visibility."""
    key = (event.seq, vis is SEALED, False)
    frame = frames.get(key)
    if frame is None:
        frame = frames[key] = event_frame(event, vis)
    return key, frame


def encoded(
    frames: dict[FrameKey, str], event: StoredEvent, vis: Visibility, seat_id: str
) -> tuple[FrameKey, str]:
    """The ``event`` frame ``seat_id`` gets as ``vis`` allows: the shared frame, or for the
    actor that frame with the command id added (kept in ``frames`` too)."""
    key, shared = shared_frame(frames, event, vis)
    if event.seat != seat_id or event.command_id is None:
        return key, shared
    own_key = (key[0], key[1], True)
    frame = frames.get(own_key)
    if frame is None:
        frame = frames[own_key] = with_command_id(shared, event)
    return own_key, frame


@dataclass(slots=True)
class Commit:
    """One commit's events of one room, judged against ``state`` (None: the state is behind)."""

    room_id: str
    events: Sequence[StoredEvent]
    state: RoomState | None
    _verdicts: dict[Viewer, dict[tuple[str, str | None], Visibility]] = field(default_factory=dict)
    _frames: dict[FrameKey, str] = field(default_factory=dict)
    _offers: dict[tuple[str, str | None, int, int], Offer] = field(default_factory=dict)
    _mine: dict[str | None, dict[int, StoredEvent]] | None = None

    @property
    def first(self) -> int:
        return self.events[0].seq

    @property
    def last(self) -> int:
        return self.events[-1].seq

    @property
    def ready(self) -> bool:
        """Whether the state covers every event, so they can be judged now."""
        return self.state is not None and self.state.seq >= self.last

    def offer(self, viewer: Viewer, seat_id: str, last: int, last_sent: int) -> Offer:
        """The frames of this commit after ``last`` that ``viewer`` may see (requires ready);
        the events ``seat_id`` caused carry their command id.

        The commit is judged once per viewer and position (``last``, ``last_sent``), whatever
        the number of seats there: they share that offer. A seat that caused some of the events
        gets a copy with its own frames swapped for the ones carrying its command ids.
        """
        # Keyed by the viewer's fields, not the viewer: hashing and comparing a Viewer runs
        # its dataclass methods in Python, and this is looked up once per seat per commit.
        key = (viewer.role, viewer.party, last, last_sent)
        shared = self._offers.get(key)
        if shared is None:
            shared = self._offers[key] = self._judge(viewer, last, last_sent)
        mine = self._mine
        if mine is None:
            mine = self._mine = {}
            for e in self.events:
                if e.command_id is not None:
                    mine.setdefault(e.seat, {})[e.seq] = e
        own = mine.get(seat_id)
        if not own or not shared.frames:
            return shared
        frames, keys = list(shared.frames), list(shared.keys)
        for i, (seq, sealed, _) in enumerate(shared.keys):
            event = own.get(seq)
            if event is not None:
                vis = SEALED if sealed else FULL
                keys[i], frames[i] = encoded(self._frames, event, vis, seat_id)
        return Offer(tuple(frames), tuple(keys), shared.last, shared.last_sent, shared.gap)

    def _judge(self, viewer: Viewer, last: int, last_sent: int) -> Offer:
        """The offer to ``viewer`` at this position, no frame carrying a command id."""
        state = self.state
        assert state is not None and self.ready
        verdicts = self._verdicts.get(viewer)
        if verdicts is None:
            verdicts = self._verdicts[viewer] = {}
        shared = self._frames
        frames: list[str] = []
        keys: list[FrameKey] = []
        gap = False
        for event in self.events:
            seq = event.seq
            if seq <= last:
                continue
            if seq != last + 1:
                gap = True
                break
            kind, thread = event.kind, event.thread
            vis = verdicts.get((kind, thread))
            if vis is None:
                vis = verdicts[kind, thread] = visibility(kind, thread, viewer, state)
            if vis is not HIDDEN:
                key, frame = shared_frame(shared, event, vis)
                frames.append(frame)
                keys.append(key)
                last_sent = seq
            last = seq
        return Offer(tuple(frames), tuple(keys), last, last_sent, gap)


@dataclass(frozen=True, slots=True)
class ReplayPage:
    """One read of the log for a replaying subscription.

    Attributes:
        frames: (seq, ``event`` frame) of the events the viewer may see.
        last: the last seq read (judged), or ``after`` if nothing was read.
        full: the read came back with a whole page: there may be more.
    """

    frames: list[tuple[int, str]]
    last: int
    full: bool


@dataclass(slots=True)
class Counts:
    lines: int = 0
    sealed: int = 0


def export_line(event: StoredEvent, vis: Visibility) -> bytes:
    """The export line of ``event`` as ``vis`` allows, without its newline."""
    if vis == FULL:
        return event.record
    if vis == SEALED:
        return sealed_line(
            event.seq,
            event.leaf_hash,
            kind=event.kind,
            stage=event.stage,
            ts=format_timestamp(event.created_at),
        )
    return sealed_line(event.seq, event.leaf_hash)


@dataclass(slots=True)
class SharedPage:
    """One read of the log shared by the replays that asked for it, with the frames encoded
    for them so far (seats that see an event alike share its frame)."""

    events: Sequence[StoredEvent]
    frames: dict[FrameKey, str] = field(default_factory=dict)


class LogViews:
    """Pages of a room's log as one viewer may see them.

    Args:
        db: where the log is read.
        states: the rooms' state cache; a page is judged against a state that covers it.
        page: events per read of the log.
    """

    def __init__(self, db: Database, states: RoomStates, *, page: int = MAX_PAGE) -> None:
        self._db = db
        self._states = states
        self._page = page
        self._reads: Batched[tuple[str, int], SharedPage] = Batched(
            self._read_pages, group=lambda key: key[0]
        )
        """Replays of one room from the same seq (a reconnect storm) share one read."""

    # -- live ------------------------------------------------------------------------------

    def commits(self, committed: Sequence[StoredEvent]) -> list[Commit]:
        """One :class:`Commit` per room of a writer commit (after the state cache followed it)."""
        by_room: dict[str, list[StoredEvent]] = {}
        for event in committed:
            by_room.setdefault(event.room_id, []).append(event)
        return [self.commit(room_id, events) for room_id, events in by_room.items()]

    def commit(self, room_id: str, events: Sequence[StoredEvent]) -> Commit:
        return Commit(room_id, events, self._states.cached(room_id))

    def merge(self, commits: Sequence[Commit], after: int) -> Commit | None:
        """The events of ``commits`` after ``after`` as one commit, judged against the current
        state; None if there are none."""
        events = [e for c in commits for e in c.events if e.seq > after]
        if not events:
            return None
        return self.commit(events[0].room_id, events)

    # -- stored ----------------------------------------------------------------------------

    async def replay_page(
        self, room_id: str, viewer: Viewer, seat_id: str, *, after: int
    ) -> ReplayPage:
        """The next page of the log after ``after``, as ``viewer`` may see it (the events
        ``seat_id`` caused carrying their command id)."""
        shared = await self._reads.get((room_id, after))
        events = shared.events
        if not events:
            return ReplayPage([], after, False)
        state = await self._states.at_least(room_id, events[-1].seq)
        frames = []
        for event in events:
            vis = visibility(event.kind, event.thread, viewer, state)
            if vis is not HIDDEN:
                frames.append((event.seq, encoded(shared.frames, event, vis, seat_id)[1]))
        return ReplayPage(frames, events[-1].seq, len(events) == self._page)

    async def _read_pages(
        self, keys: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], SharedPage]:
        out = {}
        async with self._db.engine.connect() as conn:
            for room_id, after in keys:
                events = await read_events(conn, room_id, after=after, limit=self._page)
                out[room_id, after] = SharedPage(events)
        return out

    async def history(
        self,
        room_id: str,
        viewer: Viewer,
        seat_id: str,
        *,
        since: int,
        limit: int,
        recent: int | None = None,
        cut: int | None = None,
    ) -> str:
        """The JSON text of an ``EventPage``: at most ``limit`` events after ``since`` (the
        events ``seat_id`` caused carrying their command id).

        With ``recent``, the messages of each thread the viewer reads in full that are older
        than its last ``recent`` as of ``cut`` (the room's size when not given) are left out;
        the page says ``cut`` and, per such thread, where the kept messages begin. Every page
        read with the same ``cut`` leaves out the same messages, and none after ``cut``."""
        left_out: dict[str, LeftOut] = {}

        def kept(event: StoredEvent) -> bool:
            older = left_out.get(event.thread) if event.thread is not None else None
            return (
                older is None or event.kind != EventKind.MESSAGE_POSTED or event.seq >= older.before
            )

        async with self._db.engine.connect() as conn:
            if recent is not None:
                state = await self._states.at_least(room_id, cut or 0)
                cut = state.seq if cut is None else min(cut, state.seq)
                left_out = await self._left_out(conn, state, viewer, seat_id, recent, cut)
            out, last, more = await self._judged(
                room_id,
                viewer,
                seat_id,
                lambda after: read_events(conn, room_id, after=after, limit=self._page),
                start=since,
                limit=limit,
                kept=kept,
            )
        next_seq = since if last is None else last
        text = '{"events":[' + ",".join(out) + f'],"next":{next_seq},"more":{json.dumps(more)}'
        if recent is not None:
            threads = {
                thread: {"before": o.before, "messages": o.messages, "from_others": o.from_others}
                for thread, o in left_out.items()
            }
            text += f',"cut":{cut},"left_out":{json.dumps(threads)}'
        return text + "}"

    async def _left_out(
        self,
        conn: AsyncConnection,
        state: RoomState,
        viewer: Viewer,
        seat_id: str,
        recent: int,
        cut: int,
    ) -> dict[str, LeftOut]:
        """Per thread whose messages ``viewer`` reads in full (sealed ones are never left
        out), the messages older than its last ``recent`` as of ``cut``."""
        out = {}
        for thread_id in state.threads:
            if visibility(EventKind.MESSAGE_POSTED, thread_id, viewer, state) is not FULL:
                continue
            older = await messages_left_out(
                conn,
                state.room_id,
                thread_id,
                kind=EventKind.MESSAGE_POSTED,
                keep=recent,
                through=cut,
                seat_id=seat_id,
            )
            if older is not None:
                out[thread_id] = older
        return out

    async def thread_history(
        self,
        room_id: str,
        thread_id: str,
        viewer: Viewer,
        seat_id: str,
        *,
        before: int,
        limit: int,
    ) -> str:
        """The JSON text of a ``ThreadEventPage``: the latest ``limit`` events of ``thread_id``
        before ``before`` that ``viewer`` may see, oldest first, judged as :meth:`history`
        judges them (a scroll-back reads one thread, however sparse it is in the log)."""
        async with self._db.engine.connect() as conn:
            out, last, more = await self._judged(
                room_id,
                viewer,
                seat_id,
                lambda cursor: read_thread_events(
                    conn, room_id, thread_id, before=cursor, limit=self._page
                ),
                start=before,
                limit=limit,
            )
        earliest = before if last is None else last
        events = ",".join(reversed(out))
        return f'{{"events":[{events}],"before":{earliest},"more":{json.dumps(more)}}}'

    async def _judged(
        self,
        room_id: str,
        viewer: Viewer,
        seat_id: str,
        read: Callable[[int], Awaitable[list[StoredEvent]]],
        *,
        start: int,
        limit: int,
        kept: Callable[[StoredEvent], bool] = lambda _: True,
    ) -> tuple[list[str], int | None, bool]:
        """Up to ``limit`` events ``viewer`` may see, as JSON objects in the order ``read``
        gives them: ``read(cursor)`` returns the next page of the log after (or, read
        backwards, before) the seq ``cursor``, starting from ``start``. Returns the objects,
        the seq of the last one (None if none), and whether more remain. Events ``kept``
        refuses are passed over like hidden ones."""
        out: list[str] = []
        cursor, last, more = start, None, False
        while not more:
            page = await read(cursor)
            if not page:
                break
            state = await self._states.at_least(room_id, max(page[0].seq, page[-1].seq))
            for event in page:
                vis = visibility(event.kind, event.thread, viewer, state)
                cursor = event.seq
                if vis is HIDDEN or not kept(event):
                    continue
                if len(out) == limit:
                    more = True
                    break
                out.append(event_object(event, vis, own=event.seat == seat_id))
                last = event.seq
            if len(page) < self._page:
                break
        return out, last, more

    async def export_lines(
        self, room_id: str, viewer: Viewer | None, size: int, counts: Counts
    ) -> AsyncIterator[list[bytes]]:
        """Every line of an export of the room's first ``size`` events, by pages, counted into
        ``counts``. ``viewer=None`` is the full view."""
        state: RoomState | None = None
        if viewer is not None:
            state = await self._states.at_least(room_id, size)
        cursor = 0
        async with self._db.engine.connect() as conn:
            while cursor < size:
                page = await read_events(conn, room_id, after=cursor, limit=1000, through=size)
                if not page:
                    break
                out = []
                for event in page:
                    vis = FULL
                    if viewer is not None and state is not None:
                        vis = visibility(event.kind, event.thread, viewer, state)
                    if vis != FULL:
                        counts.sealed += 1
                    out.append(export_line(event, vis))
                counts.lines += len(page)
                cursor = page[-1].seq
                yield out

    async def logged_at(
        self, room_id: str, viewer: Viewer, seqs: Collection[int], kinds: Collection[str]
    ) -> dict[int, str]:
        """When each of ``seqs`` (events of ``kinds``) was logged, for those ``viewer`` sees."""
        if not seqs:
            return {}
        async with self._db.engine.connect() as conn:
            events = await read_events(
                conn, room_id, after=min(seqs) - 1, through=max(seqs), kinds=kinds
            )
        if not events:
            return {}
        state = await self._states.at_least(room_id, events[-1].seq)
        return {
            e.seq: format_timestamp(e.created_at)
            for e in events
            if e.seq in seqs and visibility(e.kind, e.thread, viewer, state) is not HIDDEN
        }
