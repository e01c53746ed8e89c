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
import json
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

    def submit_for_ack(self, actor: Grant, decide: Decide, command_id: str, answer: Answer) -> None:
        """:meth:`submit`, answered by calling ``answer`` once with the command's ``ack`` frame
        (encoded) or with the exception that refused it.

        In the common case (the room's state is cached, the decision is allowed and still
        current at commit) the writer calls back once the commit is durable and fanned out, with
        no task, no future and no loop turn of its own: at thousands of commands a second a task
        each was a tenth of the server's CPU. Anything else (loading the state, a refusal, a
        decision gone stale) runs :meth:`submit` in a task.
        """
        room_id = actor.room_id
        state = self._states.cached(room_id)
        if state is not None:

            def done(outcome: Appended | BaseException) -> None:
                if isinstance(outcome, Appended):
                    answer(ack_frame(command_id, room_id, outcome))
                elif isinstance(outcome, StaleState):
                    again = self._finish(None, actor, decide, command_id)
                    _answer_when_done(_ack_of(command_id, room_id, again), answer)
                else:
                    answer(outcome)

            try:
                self._enqueue(actor, decide, state, command_id, then=done)
            except DomainError:
                pass  # refused: decided again, and answered, the slow way
            else:
                return
        pending = self.submit(actor, decide, command_id)
        _answer_when_done(_ack_of(command_id, room_id, pending), answer)

    async def run(self, actor: Grant, decide: Decide, command_id: str | None) -> Appended:
        return await self.submit(actor, decide, command_id)

    def _enqueue(
        self,
        actor: Grant,
        decide: Decide,
        state: RoomState,
        command_id: str | None,
        then: WriterAnswer | None = None,
    ) -> Any:
        """Decide against ``state`` and queue the append: its future, or None if ``then`` is
        to be called with the outcome instead."""
        decided = decide(state)
        moves = decided if isinstance(decided, tuple) else (decided,)
        decided_at = state.state_seq

        def still_current(head: RoomHead) -> None:
            if head.state_seq != decided_at:
                raise StaleState()

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
