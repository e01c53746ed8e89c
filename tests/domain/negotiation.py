"""A four-party room from the bundled Paris scenario, as a pure state, and moves played on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from server.domain.commands import Move, then
from server.domain.room import EventView, RoomState, apply
from server.domain.setup import RoomSetup, opening_events, seat_ids
from server.exercise.scenarios import paris_1973

HEADS = {"us": "us-1", "drv": "drv-1", "rvn": "rvn-1", "prg": "prg-1"}
ADVISERS = {"us": "us-2", "drv": "drv-2", "rvn": "rvn-2", "prg": "prg-2"}


def paris(**changes: object) -> RoomState:
    setup = paris_1973()
    if changes:
        setup = replace(setup, **changes)  # type: ignore[arg-type]
    return room_from(setup)


def room_from(setup: RoomSetup) -> RoomState:
    state = RoomState.empty("r-paris")
    for i, new in enumerate(opening_events(setup, seat_ids(setup)), start=1):
        view = EventView(
            seq=i,
            kind=str(new.kind),
            stage=state.stage,
            seat=None,
            party=new.party,
            thread=new.thread,
            body=new.body,
        )
        state = apply(state, view)
    return state


def play(state: RoomState, moves: Move | Sequence[Move]) -> RoomState:
    """The state once ``moves`` (one command's events) are appended."""
    for move in moves if isinstance(moves, Sequence) else (moves,):
        state = then(state, move)
    return state


def kinds(moves: Move | Sequence[Move]) -> list[str]:
    return [str(m.kind) for m in (moves if isinstance(moves, Sequence) else (moves,))]
