"""What a live token gives: a seat in a room (the identity every service takes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Grant:
    """A seat in a room, as a session or invite token gives it."""

    room_id: str
    seat_id: str
    invite_hash: str
