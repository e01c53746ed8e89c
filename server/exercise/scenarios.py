"""Bundled scenarios: a name -> the room they set up (full scenario packages come later)."""

from __future__ import annotations

from collections.abc import Callable

from server.domain.room import Party, Role
from server.services.rooms import RoomSetup, SeatSpec


def tutorial() -> RoomSetup:
    """The smallest useful table: two parties of two delegates, a facilitator, an observer."""
    return RoomSetup(
        title="Tutorial: a withdrawal in two steps",
        parties=[Party("north", "Northern Republic"), Party("south", "Southern Federation")],
        seats=[
            SeatSpec(Role.FACILITATOR, "Facilitator"),
            SeatSpec(Role.DELEGATE, "North, head of delegation", party="north", head=True),
            SeatSpec(Role.DELEGATE, "North, military adviser", party="north"),
            SeatSpec(Role.DELEGATE, "South, head of delegation", party="south", head=True),
            SeatSpec(Role.DELEGATE, "South, legal adviser", party="south"),
            SeatSpec(Role.OBSERVER, "Observer"),
        ],
    )


SCENARIOS: dict[str, Callable[[], RoomSetup]] = {"tutorial": tutorial}
