"""The one append path of the log, with group commit.

Every append in the process goes through one :class:`LogWriter`. Callers put a request on a
queue and wait; a single task takes everything that is pending (up to ``max_batch`` requests),
writes it in **one** transaction and answers every waiter only after that transaction has
committed. While it commits, new requests pile up and form the next batch, so the cost of a
commit (an fsync) is shared by everyone who arrived meanwhile.

Inside the transaction the room rows are locked (``SELECT … FOR UPDATE`` in id order on
PostgreSQL, the database write lock on SQLite), which is what makes ``seq`` gapless even when
several processes append to the same room: each reads the room's size under the lock, numbers
its events from there and moves the size on. Command ids are checked under the same lock, so a
repeated command is answered with the first attempt's event and never appended twice.

Cancelling a caller does not withdraw its request: once :meth:`LogWriter.submit` has queued it,
it is written, in queue order, whatever happens to the waiter. So nothing is lost or reordered
by a cancellation; the client learns the outcome by repeating its command id.

If a batch fails as a whole (a request violates a constraint, say), every request of it is
retried in a transaction of its own, so one bad request cannot sink its neighbours; unless the
database itself failed (it went away, or no connection could be had in time), which is no
request's fault: then every request of the batch is refused with that error at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy.exc
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from protocol.canonical import canonical_json
from server.domain.events import EventKind, build_record, format_timestamp
from server.domain.room import STATE_KINDS
from server.ledger.merkle import Frontier, append_leaves, leaf_hash
from server.storage.append_sql import AppendStatements, EventRow, HeadRow, NodeRow
from server.storage.database import Database
from server.storage.errors import RoomExists, RoomNotFound, WriterClosed, disconnected
from server.storage.records import (
    Appended,
    NewEvent,
    Precondition,
    RoomHead,
    RoomSpec,
    StoredEvent,
)
from server.storage.tables import rooms
from server.storage.worker import WorkerThread

log = logging.getLogger(__name__)

Answer = Callable[[Appended | BaseException], None]
"""Called once with an append's outcome: what it appended, or the exception that refused it."""

CommitListener = Callable[[Sequence[StoredEvent]], None]
"""Called after each commit with the events it made durable (fan-out hooks in here)."""

TransactionHook = Callable[[Connection, Sequence[StoredEvent]], None]
"""Called inside the appending transaction once its events and Merkle nodes are written, with
those events; raising fails the batch like any other error in it (signed checkpoints at stage
changes hook in here, so a stage change and its checkpoint commit together)."""


@dataclass(slots=True)
class _Request:
    room_id: str
    events: tuple[NewEvent, ...]
    future: asyncio.Future[Appended] | None
    command_id: str | None = None
    create: RoomSpec | None = None
    check: Precondition | None = None
    answer: Answer | None = None
    """Instead of ``future``: called with the outcome once the commit's listeners ran."""
    # Filled in while a batch is prepared:
    result: Appended | None = None
    error: BaseException | None = None
    rows: list[dict[str, object]] = field(default_factory=list)


_STOP = object()


class RandomSalts:
    """16 random bytes per call, read from the OS 4 KiB at a time (one system call per 256
    salts instead of one each). Only the writer's thread calls it, one batch at a time."""

    def __init__(self, chunk: int = 4096) -> None:
        self._chunk = chunk
        self._pool = b""
        self._at = 0

    def __call__(self) -> bytes:
        if self._at >= len(self._pool):
            self._pool, self._at = os.urandom(self._chunk), 0
        salt = self._pool[self._at : self._at + 16]
        self._at += 16
        return salt


def split_frontier(blob: bytes) -> tuple[bytes, ...]:
    return tuple(blob[i : i + 32] for i in range(0, len(blob), 32))


class LogWriter:
    """Appends events to room logs in group-committed transactions.

    Args:
        db: the database.
        max_batch: the most requests one transaction takes.
        clock: returns the current UTC time (tests may pin it).
        salt: returns 16 random bytes per event (default: :class:`RandomSalts`).
        delivery: wraps each commit's listeners and answers (the realtime layer holds socket
            writes there, so that a socket gets one write per commit); nothing by default.
    """

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = 1000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        salt: Callable[[], bytes] | None = None,
        delivery: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> None:
        self._db = db
        self._delivery = delivery
        self._max_batch = max_batch
        self._clock = clock
        self._salt = salt or RandomSalts()
        self._queue: asyncio.Queue[_Request | object] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._listeners: list[CommitListener] = []
        self._hooks: list[TransactionHook] = []
        self._sync_conn: Connection | None = None
        """SQLite: the connection the writer's commits use, on its own thread."""
        self._thread = WorkerThread("parley-log-writer")
        """SQLite: where the transactions run (started by the first commit)."""
        self.batches = 0
        self.appended = 0

    def add_listener(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    def add_transaction_hook(self, hook: TransactionHook) -> None:
        self._hooks.append(hook)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="parley-log-writer")

    async def close(self) -> None:
        """Write everything queued so far, then stop. Later submissions raise WriterClosed."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._queue.put_nowait(_STOP)
            await self._task
        conn, self._sync_conn = self._sync_conn, None
        if conn is not None:
            await self._thread.run(conn.close)
        await self._thread.stop()

    # -- submitting ------------------------------------------------------------------------

    async def append(
        self,
        room_id: str,
        event: NewEvent,
        *,
        command_id: str | None = None,
        check: Precondition | None = None,
    ) -> Appended:
        """Append one event; returns once it is committed."""
        return await self.submit(room_id, (event,), command_id=command_id, check=check)

    async def create_room(self, spec: RoomSpec, first: Sequence[NewEvent]) -> Appended:
        """Create a room and append its first events in the same transaction."""
        return await self.submit(spec.room_id, tuple(first), create=spec)

    async def submit(
        self,
        room_id: str,
        new_events: Sequence[NewEvent],
        *,
        command_id: str | None = None,
        create: RoomSpec | None = None,
        check: Precondition | None = None,
    ) -> Appended:
        """Append ``new_events`` contiguously, atomically, and wait for the commit."""
        return await self.enqueue(
            room_id, new_events, command_id=command_id, create=create, check=check
        )

    def enqueue(
        self,
        room_id: str,
        new_events: Sequence[NewEvent],
        *,
        command_id: str | None = None,
        create: RoomSpec | None = None,
        check: Precondition | None = None,
    ) -> asyncio.Future[Appended]:
        """Queue an append now and return the future of its outcome.

        Requests are written in the order they are queued, so a caller that queues several
        without waiting in between (a connection pipelining its commands) keeps their order.
        """
        future: asyncio.Future[Appended] = asyncio.get_running_loop().create_future()
        self._put(_Request(room_id, tuple(new_events), future, command_id, create, check))
        return future

    def enqueue_then(
        self,
        room_id: str,
        new_events: Sequence[NewEvent],
        answer: Answer,
        *,
        command_id: str | None = None,
        check: Precondition | None = None,
    ) -> None:
        """:meth:`enqueue`, answered by a call instead of a future: ``answer`` gets the outcome
        once the commit is durable and its listeners (the fan-out) have run, so a command's
        events reach the sockets before its answer does. No future, and no loop turn for its
        callback, per append: the WebSocket's commands come this way, thousands a second."""
        self._put(_Request(room_id, tuple(new_events), None, command_id, None, check, answer))

    def _put(self, request: _Request) -> None:
        if self._closed:
            raise WriterClosed()
        if not request.events:
            raise ValueError("nothing to append")
        if request.command_id is not None and request.events[0].seat is None:
            raise ValueError("a command id needs the acting seat")
        self.start()
        self._queue.put_nowait(request)

    # -- the writing task ------------------------------------------------------------------

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            item = await self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            while len(batch) < self._max_batch and not self._queue.empty():
                nxt = self._queue.get_nowait()
                if nxt is _STOP:
                    stopping = True
                    break
                batch.append(nxt)
            requests = [r for r in batch if isinstance(r, _Request)]
            try:
                await self._write(requests)
            except Exception as exc:
                # A bug here must not kill the writer: every later append would hang.
                log.exception("log writer failed on a batch of %d", len(requests))
                for request in requests:
                    if request.future is not None and not request.future.done():
                        request.future.set_exception(exc)
                    _answer(request, exc)

    async def _write(self, batch: list[_Request]) -> None:
        try:
            stored = await self._commit(batch)
        except Exception as exc:
            stored = []
            if len(batch) == 1 or _database_failed(exc):
                # Refused with what failed (a lost database answers 503, a hook's conflict
                # 409), as a request retried alone in a larger batch is below. A database
                # that is gone or out of connections is no one request's fault: retrying each
                # alone would make every waiter wait for it once per request ahead of it.
                if len(batch) == 1:
                    log.exception("append to room %s failed", batch[0].room_id)
                else:
                    log.error("a batch of %d appends failed: %s", len(batch), exc)
                for request in batch:
                    self._fail(request, request.error or exc)
            else:
                # One bad request must not sink the others: retry each on its own.
                for request in batch:
                    request.result = request.error = None
                    request.rows = []
                    try:
                        stored += await self._commit([request])
                    except Exception as exc:
                        log.warning("append to room %s refused: %s", request.room_id, exc)
                        self._fail(request, request.error or exc)
        else:
            self.batches += 1
        self.appended += len(stored)
        answered = False
        for request in batch:
            future = request.future
            if future is None:
                answered = True
            elif future.done():
                continue  # the waiter was cancelled; its events are written all the same
            elif request.result is not None:
                future.set_result(request.result)
            elif request.error is not None:
                future.set_exception(request.error)
        with self._delivery():
            if stored:
                for listener in self._listeners:
                    try:
                        listener(stored)
                    except Exception:
                        log.exception("commit listener failed")
            if answered:
                for request in batch:
                    if request.answer is not None:
                        outcome = request.result
                        _answer(request, outcome if outcome is not None else _refusal(request))

    @staticmethod
    def _fail(request: _Request, error: BaseException) -> None:
        request.result = None
        request.error = error

    async def _commit(self, batch: list[_Request]) -> list[StoredEvent]:
        """Write ``batch`` in one transaction; fills each request's result or error.

        The transaction is opened by synchronous SQLAlchemy; its hot statements run on the driver
        underneath (:mod:`server.storage.append_sql`). On SQLite it runs on the writer's own
        thread on a synchronous connection: one thread hop per commit instead of one per
        statement, which is most of the CPU a small commit costs through the async driver, and
        no pool between (:mod:`server.storage.worker`). On PostgreSQL
        it runs through the async driver (``run_sync``), which keeps the pool and the loop.
        """
        sync_engine = self._db.sync_write_engine
        if sync_engine is not None:

            def in_thread() -> list[StoredEvent]:
                # One connection for the writer's life, not one from the pool per commit: a
                # checkout and its reset cost a quarter of a small commit's CPU.
                conn = self._sync_conn
                if conn is None:
                    conn = self._sync_conn = sync_engine.connect()
                try:
                    with conn.begin():
                        return self._commit_in(conn, batch)
                except BaseException:
                    self._sync_conn = None  # whatever failed, the next commit starts afresh
                    conn.close()
                    raise

            return await self._thread.run(in_thread)
        async with self._db.write_engine.begin() as conn:
            return await conn.run_sync(self._commit_in, batch)

    def _commit_in(self, conn: Connection, batch: list[_Request]) -> list[StoredEvent]:
        sql = AppendStatements(conn)
        heads = self._lock_heads(conn, sql, batch)
        seen = _existing_commands(sql, batch)
        # One reading of the clock per transaction: its events commit together, and formatting
        # the time once instead of once per request was a tenth of the writer's CPU.
        now = self._clock()
        ts = format_timestamp(now)
        stored: list[StoredEvent] = []
        for request in batch:
            if request.error is not None:
                continue
            head = heads.get(request.room_id)
            if head is None:
                request.error = RoomNotFound(request.room_id)
                continue
            if request.command_id is not None:
                key = (request.room_id, request.events[0].seat, request.command_id)
                if key in seen:
                    request.result = Appended((seen[key],), duplicate=True)
                    continue
            try:
                if request.check is not None:
                    request.check(head)
                new = self._number(request, head, now, ts)
            except Exception as exc:
                request.error = exc
                continue
            if request.command_id is not None:
                seen[(request.room_id, new[0].seat, request.command_id)] = new[0]
            request.result = Appended(tuple(new))
            stored += new
        self._insert(sql, heads, stored)
        if stored:
            for hook in self._hooks:
                hook(conn, stored)
        return stored

    def _lock_heads(
        self, conn: Connection, sql: AppendStatements, batch: list[_Request]
    ) -> dict[str, RoomHead]:
        heads: dict[str, RoomHead] = {}
        created = [r.create.room_id for r in batch if r.create is not None]
        taken: set[str] = set()
        if created:
            found = conn.execute(select(rooms.c.id).where(rooms.c.id.in_(created)))
            taken = set(found.scalars())
        for request in batch:
            spec = request.create
            if spec is None:
                continue
            if spec.room_id in heads or spec.room_id in taken:
                request.error = RoomExists(spec.room_id)
                continue
            heads[spec.room_id] = RoomHead(spec.room_id, 0, spec.stage, (), 0)
            conn.execute(
                insert(rooms).values(
                    id=spec.room_id,
                    title=spec.title,
                    created_at=self._clock(),
                    size=0,
                    stage=spec.stage,
                    tree_frontier=b"",
                    state_seq=0,
                )
            )
        wanted = sorted({r.room_id for r in batch if r.create is None} - heads.keys())
        if wanted:
            for room_id, size, stage, frontier, state_seq in sql.lock_heads(wanted):
                heads[room_id] = RoomHead(room_id, size, stage, split_frontier(frontier), state_seq)
        return heads

    def _number(
        self, request: _Request, head: RoomHead, now: datetime, ts: str
    ) -> list[StoredEvent]:
        """Give the request's events their seq, stage, time and salt; advance ``head``."""
        size, stage, state_seq = head.size, head.stage, head.state_seq
        out: list[StoredEvent] = []
        for i, event in enumerate(request.events):
            seq = size + 1
            salt = self._salt()
            record = canonical_json(
                build_record(
                    room=request.room_id,
                    seq=seq,
                    kind=event.kind,
                    stage=stage,
                    seat=event.seat,
                    party=event.party,
                    thread=event.thread,
                    ts=ts,
                    salt=salt,
                    body=event.body,
                )
            )
            out.append(
                StoredEvent(
                    room_id=request.room_id,
                    seq=seq,
                    kind=event.kind,
                    stage=stage,
                    seat=event.seat,
                    party=event.party,
                    thread=event.thread,
                    created_at=now,
                    salt=salt,
                    record=record,
                    leaf_hash=leaf_hash(record),
                    command_id=request.command_id if i == 0 else None,
                )
            )
            size = seq
            if event.kind in STATE_KINDS:
                state_seq = seq
            if event.kind == EventKind.STAGE_CHANGED:
                # The stage-change event itself carries the stage it leaves; later ones the new.
                stage = str(event.body["to"])
        # Only now: a request refused halfway through (a later event that cannot be encoded)
        # leaves the head as it was for the rest of the batch.
        head.size, head.stage, head.state_seq = size, stage, state_seq
        return out

    def _insert(
        self, sql: AppendStatements, heads: dict[str, RoomHead], stored: list[StoredEvent]
    ) -> None:
        if not stored:
            return
        sql.insert_events([_event_row(e) for e in stored])
        by_room: dict[str, list[bytes]] = {}
        for event in stored:
            by_room.setdefault(event.room_id, []).append(event.leaf_hash)
        node_rows: list[NodeRow] = []
        head_rows: list[HeadRow] = []
        for room_id, leaves in by_room.items():
            head = heads[room_id]
            old_size = head.size - len(leaves)
            frontier, nodes = append_leaves(Frontier(old_size, head.frontier), leaves)
            head.frontier = frontier.nodes
            node_rows += [(room_id, level, idx, digest) for level, idx, digest in nodes]
            head_rows.append(
                (head.size, head.stage, b"".join(frontier.nodes), head.state_seq, room_id)
            )
        sql.insert_nodes(node_rows)
        sql.update_heads(head_rows)


def _database_failed(exc: BaseException) -> bool:
    """Whether ``exc`` failed a transaction whatever it held: the database went away, or no
    connection to it could be had in time."""
    return disconnected(exc) or isinstance(exc, sqlalchemy.exc.TimeoutError)


def _refusal(request: _Request) -> BaseException:
    """What a request that got no result is refused with."""
    return request.error if request.error is not None else RuntimeError("append failed")


def _answer(request: _Request, outcome: Appended | BaseException) -> None:
    """Call the request's answer, once."""
    answer, request.answer = request.answer, None
    if answer is None:
        return
    try:
        answer(outcome)
    except Exception:
        log.exception("answering an append to room %s failed", request.room_id)


def _event_row(e: StoredEvent) -> EventRow:
    return (
        e.room_id,
        e.seq,
        e.kind,
        e.stage,
        e.seat,
        e.party,
        e.thread,
        e.created_at,
        e.salt,
        e.record,
        e.leaf_hash,
        e.command_id,
    )


_LOOKUP_CHUNK = 100
"""Command ids looked up per statement (each is an OR term; SQLite caps expression depth)."""


def _existing_commands(
    sql: AppendStatements, batch: list[_Request]
) -> dict[tuple[str, str | None, str], StoredEvent]:
    """The events already appended for the batch's command ids, by (room, seat, command id)."""
    keys = list(
        {(r.room_id, r.events[0].seat, r.command_id) for r in batch if r.command_id is not None}
    )
    found: dict[tuple[str, str | None, str], StoredEvent] = {}
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        for event in sql.find_commands(keys[start : start + _LOOKUP_CHUNK]):
            found[(event.room_id, event.seat, event.command_id)] = event  # type: ignore[index]
    return found


def stored_from_row(row: object) -> StoredEvent:
    """A :class:`StoredEvent` from a row of ``events``."""
    r = row._mapping  # type: ignore[attr-defined]
    created = r["created_at"]
    if created.tzinfo is None:  # SQLite keeps no zone; every stored time is UTC
        created = created.replace(tzinfo=UTC)
    return StoredEvent(
        room_id=r["room_id"],
        seq=r["seq"],
        kind=r["kind"],
        stage=r["stage"],
        seat=r["actor_seat"],
        party=r["actor_party"],
        thread=r["thread_id"],
        created_at=created,
        salt=bytes(r["salt"]),
        record=bytes(r["record"]),
        leaf_hash=bytes(r["leaf_hash"]),
        command_id=r["command_id"],
    )
