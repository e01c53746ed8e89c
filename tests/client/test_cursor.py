"""The resume state: what hello asks for, which events are new. No I/O."""

from __future__ import annotations

import json
from typing import Any

import pytest

from client.cursor import Cursor
from client.errors import ProtocolError
from protocol.frames import Limits, SeatInfo, Welcome

LIMITS = Limits(
    max_frame_bytes=65536,
    max_text_chars=8000,
    commands_per_second=20,
    command_burst=40,
    queue_frames=2000,
)


def welcome(*rooms: str) -> Welcome:
    seats = [
        SeatInfo(
            room=room, seat="us-1", role="delegate", party="us", name="US", head=True, stage="s"
        )
        for room in rooms
    ]
    return Welcome(server="test", seats=seats, limits=LIMITS)


def hello_seats(cursor: Cursor) -> list[dict[str, Any]]:
    frame = json.loads(cursor.hello())
    assert (frame["v"], frame["type"]) == (1, "hello")
    return list(frame["seats"])


def test_the_first_hello_asks_for_what_the_caller_holds() -> None:
    cursor = Cursor([("ps_a", 0), ("ps_b", 7)])
    assert hello_seats(cursor) == [{"token": "ps_a", "after": 0}, {"token": "ps_b", "after": 7}]


def test_a_resuming_hello_asks_for_what_follows_the_last_event_received() -> None:
    cursor = Cursor([("ps_a", 0), ("ps_b", 7)])
    cursor.greeted(welcome("r-a", "r-b"))
    assert cursor.advance("r-a", 3)
    assert cursor.advance("r-b", 9)
    assert hello_seats(cursor) == [{"token": "ps_a", "after": 3}, {"token": "ps_b", "after": 9}]
    assert cursor.positions == {"r-a": 3, "r-b": 9}


def test_events_at_or_below_the_position_are_turned_away() -> None:
    cursor = Cursor([("ps_a", 5)])
    cursor.greeted(welcome("r-a"))
    assert [cursor.advance("r-a", seq) for seq in (4, 5, 6, 6, 9, 8)] == [
        False,
        False,
        True,
        False,
        True,
        False,
    ]


def test_a_welcome_that_does_not_match_the_hello_is_a_protocol_error() -> None:
    cursor = Cursor([("ps_a", 0)])
    with pytest.raises(ProtocolError):
        cursor.greeted(welcome("r-a", "r-b"))
    cursor.greeted(welcome("r-a"))
    with pytest.raises(ProtocolError):
        cursor.greeted(welcome("r-other"))


@pytest.mark.parametrize(
    "seats", [[], [("", 0)], [("ps_a", -1)], [("ps_a", True)], [("ps_a", 0)] * 17]
)
def test_bad_seats_are_refused_before_connecting(seats: list[tuple[str, int]]) -> None:
    with pytest.raises(ValueError):
        Cursor(seats)
