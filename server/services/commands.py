"""Carrying out seat commands: decide against the room's state, append, retry if it moved.

The same service serves the WebSocket gateway and the HTTP API. :meth:`CommandService.submit`
decides and queues the append *before* it first yields, so commands submitted one after another
(a connection's frames) are appended in that order. The append re-checks, inside its
transaction, that the room's state is the one the command was decided against; if not (another
command or process changed it meanwhile), the command is decided again against the new state.

A refused command whose id was already used by an appended one (a client repeating a command
after a lost ack) is answered with that first event instead of the refusal.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import orjson

from protocol import PROTOCOL_VERSION
from protocol.frames import Ack
from protocol.views import CommandAck
from server.domain.commands import Move
from server.domain.errors import DomainError
from server.domain.events import CREATING_KINDS, created_id
from server.domain.grants import Grant
from server.domain.room import RoomState
from server.services.errors import StaleState
from server.services.states import RoomStates
from server.storage.database import Database
from server.storage.log_reader import find_command
from server.storage.records import Appended, NewEvent, RoomHead, StoredEvent
from server.storage.writer import Answer as WriterAnswer
from server.storage.writer import LogWriter

log = logging.getLogger(__name__)


def created_by(event: StoredEvent) -> str | None:
    """What a command's first event created, for its ack."""
    if event.kind not in CREATING_KINDS:
        return None
    return created_id(event.kind, json.loads(event.record)["body"])


def ack(command_id: str, room_id: str, appended: Appended) -> Ack:
    """The answer to a command, as the model (the WebSocket sends :func:`ack_frame`)."""
    first = appended.first
    return Ack(
        id=command_id,
        room=room_id,
        seq=first.seq,
        duplicate=appended.duplicate,
        thread=first.thread,
        created=created_by(first),
    )


def ack_frame(command_id: str, room_id: str, appended: Appended) -> str:
    """:func:`ack`, encoded as its frame, without building the model (a test holds the two
    equal): a command's answer on the WebSocket, thousands of times a second."""
    first = appended.first
    return orjson.dumps(
        {
            "v": PROTOCOL_VERSION,
            "type": "ack",
            "id": command_id,
            "room": room_id,
            "seq": first.seq,
            "duplicate": appended.duplicate,
            "thread": first.thread,
            "created": created_by(first),
        }
    ).decode()


def command_ack(command_id: str, room_id: str, appended: Appended) -> CommandAck:
    """The answer to a command over HTTP: the same ``ack``, with the kinds it appended."""
    return CommandAck(
        **ack(command_id, room_id, appended).model_dump(),
        events=[e.kind for e in appended.events],
    )


async def _ack_of(command_id: str, room_id: str, pending: Coroutine[Any, Any, Appended]) -> str:
    return ack_frame(command_id, room_id, await pending)


_ANSWERING: set[asyncio.Task[str]] = set()
"""The tasks answering commands the slow way, held so none is collected while it runs."""


def _answer_when_done(work: Coroutine[Any, Any, str], answer: Answer) -> None:
    """Run ``work`` in a task and call ``answer`` with its ack or its exception."""

    def done(task: asyncio.Task[str]) -> None:
        _ANSWERING.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        answer(task.result() if exc is None else exc)

    task = asyncio.ensure_future(work)
    _ANSWERING.add(task)
    task.add_done_callback(done)


Decide = Callable[[RoomState], Move | tuple[Move, ...]]
"""A pure decision: the event, or events, a command appends given the room's state."""
Answer = Callable[[str | BaseException], None]
"""Called with a command's ``ack`` frame, encoded, or with the exception that refused it."""
ATTEMPTS = 5


class CommandLane:
    """One connection's commands, appended in the order it sent them.

    A command normally takes the fast path: decided against the cached state and queued in the
    writer as its frame is read, so a connection's commands reach the log in order. One whose
    decision is stale at commit (the room's state moved since it was decided, often by the
    connection's own command just ahead of it) must be decided again, and later commands must
    not overtake it. So the first stale decision closes the lane, inside the writer's check:
    every later command of the lane still queued in the writer is refused as stale too, and
    the connection's next commands skip the fast path. All of them then run here one at a time,
    in the order sent, each decided against the state the one before it left, and the lane
    opens again once none is left. A command whose room's state is not cached yet waits here
    the same way.

    ``closed_at`` is set by the writer's check (on the writer's thread for SQLite) and reset
    here only when none of the lane's commands is in the writer; everything else runs on the
    event loop.
    """

    __slots__ = ("_closed_at", "_in_writer", "_runner", "_sent", "_waiting")

    def __init__(self) -> None:
        self._sent = 0
        self._closed_at: int | None = None
        """The number of the lane's first stale command, while the lane is closed."""
        self._in_writer = 0
        """The lane's commands queued in the writer and not answered yet."""
        self._waiting: list[tuple[int, Callable[[], Coroutine[Any, Any, str]], Answer]] = []
        """Commands to run here, by number (a heap)."""
        self._runner: asyncio.Task[None] | None = None

    def take_number(self) -> int:
        self._sent += 1
        return self._sent

    @property
    def open(self) -> bool:
        """Whether the next command may take the fast path."""
        return self._closed_at is None and not self._waiting and self._runner is None

    def check(self, number: int, decided_at: int, head: RoomHead) -> None:
        """The writer's check of the lane's command ``number`` decided at ``decided_at``."""
        closed_at = self._closed_at
        if closed_at is not None and number > closed_at:
            raise StaleState()  # behind a stale one: decided again after it, not before
        if head.state_seq != decided_at:
            if closed_at is None:
                self._closed_at = number
            raise StaleState()

    def queued(self) -> None:
        self._in_writer += 1

    def answered(self) -> None:
        self._in_writer -= 1
        self._start()

    def wait(
        self, number: int, work: Callable[[], Coroutine[Any, Any, str]], answer: Answer
    ) -> None:
        """Run ``work()`` here in its turn and ``answer`` with its ack or its exception."""
        heapq.heappush(self._waiting, (number, work, answer))
        self._start()

    def _start(self) -> None:
        # Only once every command of the lane in the writer is answered: those behind a stale
        # one come back stale, and are waiting here by then, in their places.
        if self._runner is None and self._waiting and not self._in_writer:
            self._runner = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            while self._waiting:
                _, work, answer = heapq.heappop(self._waiting)
                try:
                    outcome: str | BaseException = await work()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    outcome = exc
                try:
                    answer(outcome)
                except Exception:  # one answer's failure must not strand the commands behind it
                    log.exception("answering a command failed")
        finally:
            self._runner = None
            if not self._waiting:
                self._closed_at = None


class CommandService:
    def __init__(self, db: Database, writer: LogWriter, states: RoomStates) -> None:
        self._db = db
        self._writer = writer
        self._states = states

    def submit(
        self, actor: Grant, decide: Decide, command_id: str | None
    ) -> Coroutine[Any, Any, Appended]:
        """Decide and queue now; the coroutine returned waits for the commit (or the refusal)."""
        state = self._states.cached(actor.room_id)
        if state is None:
            return self._submit_slowly(actor, decide, command_id)
        try:
            future = self._enqueue(actor, decide, state, command_id)
        except DomainError as exc:
            return self._refused(actor, command_id, exc)
        return self._finish(future, actor, decide, command_id)

    def submit_for_ack(
        self,
        actor: Grant,
        decide: Decide,
        command_id: str,
        answer: Answer,
        lane: CommandLane | None = None,
    ) -> None:
        """:meth:`submit`, answered by calling ``answer`` once with the command's ``ack`` frame
        (encoded) or with the exception that refused it; ``lane`` keeps a connection's commands
        in the order sent (:class:`CommandLane`).

        In the common case (the room's state is cached, the decision is allowed and still
        current at commit) the writer calls back once the commit is durable and fanned out, with
        no task, no future and no loop turn of its own: at thousands of commands a second a task
        each was a tenth of the server's CPU. Anything else (loading the state, a refusal, a
        decision gone stale) runs :meth:`submit` in a task, or in its turn in the lane.
        """
        room_id = actor.room_id

        def in_turn() -> Coroutine[Any, Any, str]:
            return _ack_of(command_id, room_id, self.submit(actor, decide, command_id))

        number = 0
        if lane is not None:
            number = lane.take_number()
            if not lane.open:
                lane.wait(number, in_turn, answer)
                return
        state = self._states.cached(room_id)
        if state is not None:

            def done(outcome: Appended | BaseException) -> None:
                if lane is not None:
                    lane.answered()
                if isinstance(outcome, Appended):
                    answer(ack_frame(command_id, room_id, outcome))
                elif isinstance(outcome, StaleState):

                    def again() -> Coroutine[Any, Any, str]:
                        retried = self._finish(None, actor, decide, command_id)
                        return _ack_of(command_id, room_id, retried)

                    if lane is None:
                        _answer_when_done(again(), answer)
                    else:
                        lane.wait(number, again, answer)
                else:
                    answer(outcome)

            try:
                self._enqueue(actor, decide, state, command_id, then=done, lane=lane, number=number)
            except DomainError:
                pass  # refused: decided again, and answered, the slow way
            else:
                if lane is not None:
                    lane.queued()
                return
        if lane is not None and state is None:
            lane.wait(number, in_turn, answer)  # the commands sent after it wait for its state
            return
        _answer_when_done(in_turn(), answer)

    async def run(self, actor: Grant, decide: Decide, command_id: str | None) -> Appended:
        return await self.submit(actor, decide, command_id)

    def _enqueue(
        self,
        actor: Grant,
        decide: Decide,
        state: RoomState,
        command_id: str | None,
        then: WriterAnswer | None = None,
        lane: CommandLane | None = None,
        number: int = 0,
    ) -> Any:
        """Decide against ``state`` and queue the append: its future, or None if ``then`` is
        to be called with the outcome instead; checked at commit by ``lane`` if given."""
        decided = decide(state)
        moves = decided if isinstance(decided, tuple) else (decided,)
        decided_at = state.state_seq

        if lane is None:

            def still_current(head: RoomHead) -> None:
                if head.state_seq != decided_at:
                    raise StaleState()

        else:

            def still_current(head: RoomHead) -> None:
                lane.check(number, decided_at, head)

        new = tuple(
            NewEvent(m.kind, m.body, seat=m.seat, party=m.party, thread=m.thread) for m in moves
        )
        room_id = actor.room_id
        if then is not None:
            writer = self._writer
            writer.enqueue_then(room_id, new, then, command_id=command_id, check=still_current)
            return None
        return self._writer.enqueue(room_id, new, command_id=command_id, check=still_current)

    async def _finish(
        self, future: Any, actor: Grant, decide: Decide, command_id: str | None
    ) -> Appended:
        """Wait for ``future``; while the decision turns out stale at commit, decide again
        against the refreshed state, up to :data:`ATTEMPTS` decisions in all. ``future`` None:
        the first decision was already stale.

        Nothing is left queued when this gives up: the last decision's append is awaited, so a
        client told ``StaleState`` knows its command was not appended."""
        decided = 1
        while True:
            if future is not None:
                try:
                    result: Appended = await future
                    return result
                except StaleState:
                    pass
            if decided >= ATTEMPTS:
                raise StaleState()
            state = await self._states.refresh(actor.room_id)
            try:
                future = self._enqueue(actor, decide, state, command_id)
            except DomainError as exc:
                return await self._refused(actor, command_id, exc)
            decided += 1

    async def _submit_slowly(
        self, actor: Grant, decide: Decide, command_id: str | None
    ) -> Appended:
        state = await self._states.get(actor.room_id)
        try:
            future = self._enqueue(actor, decide, state, command_id)
        except DomainError as exc:
            return await self._refused(actor, command_id, exc)
        return await self._finish(future, actor, decide, command_id)

    async def _refused(self, actor: Grant, command_id: str | None, exc: DomainError) -> Appended:
        if command_id is not None:
            async with self._db.engine.connect() as conn:
                first = await find_command(conn, actor.room_id, actor.seat_id, command_id)
            if first is not None:
                return Appended((first,), duplicate=True)
        raise exc
