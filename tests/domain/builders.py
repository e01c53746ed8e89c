"""Small builders for domain tests: a room state from a few events, without a database."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from server.domain.events import EventKind
from server.domain.room import EventView, RoomState, apply

PARTIES = ("us", "drv", "rvn")


def opening(*, reads_backchannels: bool = True, reads_caucuses: bool = True) -> list[EventView]:
    """room_created, seats (facilitator, observer, two delegates per party), plenary, caucuses."""
    events: list[dict[str, Any]] = [
        {
            "kind": EventKind.ROOM_CREATED,
            "body": {
                "title": "Withdrawal talks",
                "stages": ["opening", "formalization"],
                "stage": "opening",
                "policy": {
                    "facilitator_reads_backchannels": reads_backchannels,
                    "facilitator_reads_caucuses": reads_caucuses,
                },
                "parties": [{"id": p, "name": p.upper()} for p in PARTIES],
            },
        },
        seat("facilitator", "facilitator"),
        seat("observer", "observer"),
    ]
    for party in PARTIES:
        events.append(seat(f"{party}-1", "delegate", party, head=True))
        events.append(seat(f"{party}-2", "delegate", party))
    events.append(thread("plenary", "plenary", []))
    for party in PARTIES:
        events.append(thread(f"caucus-{party}", "caucus", [party]))
    return [EventView(seq=i, **e) for i, e in enumerate(events, start=1)]


def seat(
    seat_id: str, role: str, party: str | None = None, *, head: bool = False
) -> dict[str, Any]:
    return {
        "kind": EventKind.SEAT_JOINED,
        "body": {
            "seat": {"id": seat_id, "role": role, "party": party, "name": seat_id, "head": head}
        },
    }


def thread(
    thread_id: str, kind: str, parties: list[str], *, party: str | None = None
) -> dict[str, Any]:
    return {
        "kind": EventKind.THREAD_OPENED,
        "party": party,
        "thread": thread_id,
        "body": {"thread": {"id": thread_id, "kind": kind, "parties": parties, "title": ""}},
    }


def fold(events: Iterable[EventView], room_id: str = "r-test") -> RoomState:
    state = RoomState.empty(room_id)
    for event in events:
        state = apply(state, event)
    return state


def room(**policy: bool) -> RoomState:
    return fold(opening(**policy))
