"""The cache of rooms' current states, kept in step with the log.

A state is a fold of the log (server/domain/room.py). The cache loads it once per room from the
state-changing events only, then follows every commit of this process through the writer's
listener. Anything it cannot follow (an event from another process, a gap) is caught up from the
database by :meth:`RoomStates.refresh`, so a state is never wrong, at worst behind, and callers
that need it at least at some seq ask :meth:`RoomStates.at_least`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from server.domain.room import STATE_KINDS, EventView, RoomState, apply
from server.services.coalesce import Batched
from server.storage.database import Database
from server.storage.errors import RoomNotFound
from server.storage.log_reader import get_room, read_events
from server.storage.records import StoredEvent


def event_view(event: StoredEvent) -> EventView:
    """The fold's view of a stored event; only state-changing kinds need their body parsed."""
    body = json.loads(event.record)["body"] if event.kind in STATE_KINDS else {}
    return EventView(
        seq=event.seq,
        kind=event.kind,
        stage=event.stage,
        seat=event.seat,
        party=event.party,
        thread=event.thread,
        body=body,
    )


def fold(state: RoomState, events: Sequence[StoredEvent], through: int) -> RoomState:
    """``state`` advanced by ``events`` to seq ``through`` (events of kinds that change nothing
    may be left out)."""
    for event in events:
        if event.seq <= state.seq:
            continue
        if event.seq > state.seq + 1:
            state = replace(state, seq=event.seq - 1)
        state = apply(state, event_view(event))
    if through > state.seq:
        state = replace(state, seq=through)
    return state


class RoomStates:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._states: dict[str, RoomState] = {}
        self._refreshes: Batched[str, RoomState | None] = Batched(
            self._refresh_many, group=lambda room_id: room_id
        )

    def cached(self, room_id: str) -> RoomState | None:
        return self._states.get(room_id)

    async def get(self, room_id: str) -> RoomState:
        """The room's state, loaded if this process has not seen the room; RoomNotFound."""
        state = self._states.get(room_id)
        if state is None:
            state = await self.refresh(room_id)
        return state

    async def at_least(self, room_id: str, seq: int) -> RoomState:
        state = await self.get(room_id)
        if state.seq < seq:
            state = await self.refresh(room_id)
        return state

    async def refresh(self, room_id: str) -> RoomState:
        """Catch the cached state up with the database (as it is after this call began).

        Concurrent refreshes (a reconnect storm greets thousands of sockets of one room) share
        one read that starts after they asked; RoomNotFound if there is no such room.
        """
        state = await self._refreshes.get(room_id)
        if state is None:
            raise RoomNotFound(room_id)
        return state

    async def _refresh_many(self, room_ids: Sequence[str]) -> dict[str, RoomState | None]:
        out: dict[str, RoomState | None] = {}
        async with self._db.engine.connect() as conn:
            for room_id in room_ids:
                state = self._states.get(room_id) or RoomState.empty(room_id)
                row = await get_room(conn, room_id)
                if row is None:
                    out[room_id] = None
                    continue
                if row.size > state.seq:
                    found = await read_events(
                        conn, room_id, after=state.seq, through=row.size, kinds=STATE_KINDS
                    )
                    state = fold(state, found, row.size)
                # Commits followed meanwhile may have moved the cache further; keep the newest.
                current = self._states.get(room_id)
                if current is None or current.seq < state.seq:
                    self._states[room_id] = state
                out[room_id] = self._states[room_id]
        return out

    def follow(self, committed: Sequence[StoredEvent]) -> None:
        """Writer listener: fold this process's commits into the cached states.

        Events of kinds that change no state only move ``seq`` on; a run of them is folded
        with one copy of the state instead of one per event.
        """
        moved: dict[str, tuple[RoomState, int]] = {}
        for event in committed:
            room_id = event.room_id
            entry = moved.get(room_id)
            if entry is None:
                state = self._states.get(room_id)
                if state is None:
                    if event.seq != 1:
                        continue  # not cached: it will be loaded when someone asks
                    state = RoomState.empty(room_id)
                seq = state.seq
            else:
                state, seq = entry
            if event.seq != seq + 1:
                # seq <= the state's: already folded (a refresh got there first). A gap: leave
                # the state behind; whoever needs the later seq refreshes it from the database.
                continue
            if event.kind in STATE_KINDS:
                if seq != state.seq:
                    state = replace(state, seq=seq)
                state = apply(state, event_view(event))
                seq = state.seq
            else:
                seq = event.seq
            moved[room_id] = (state, seq)
        for room_id, (state, seq) in moved.items():
            self._states[room_id] = state if seq == state.seq else replace(state, seq=seq)
