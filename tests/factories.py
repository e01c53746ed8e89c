"""Builders with keyword overrides, shared by the tests."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterable, Mapping

from server.domain.events import EventKind
from server.domain.room import EventView, RoomState, apply
from server.storage.records import NewEvent, RoomSpec, StoredEvent

_counter = itertools.count(1)


def make_room_spec(**overrides: object) -> RoomSpec:
    fields: dict[str, object] = {
        "room_id": f"room-{uuid.uuid4().hex[:10]}",
        "title": "Withdrawal talks",
        "stage": "pre-negotiation",
    }
    fields.update(overrides)
    return RoomSpec(**fields)  # type: ignore[arg-type]


def make_event(**overrides: object) -> NewEvent:
    fields: dict[str, object] = {
        "kind": EventKind.MESSAGE_POSTED.value,
        "body": {"text": f"statement {next(_counter)}"},
        "seat": "seat-us-1",
        "party": "us",
        "thread": "plenary",
    }
    fields.update(overrides)
    return NewEvent(**fields)  # type: ignore[arg-type]


def room_created(title: str = "Withdrawal talks", **body: object) -> NewEvent:
    payload: Mapping[str, object] = {"title": title, **body}
    return NewEvent(kind=EventKind.ROOM_CREATED.value, body=payload)


def fold_records(room_id: str, log: Iterable[StoredEvent]) -> RoomState:
    """A room's state folded from its records alone (not the indexed columns)."""
    state = RoomState.empty(room_id)
    for event in log:
        record = json.loads(event.record)
        state = apply(
            state,
            EventView(
                seq=record["seq"],
                kind=record["kind"],
                stage=record["stage"],
                seat=record["actor"]["seat"],
                party=record["actor"]["party"],
                thread=record["thread"],
                body=record["body"],
            ),
        )
    return state
