"""Where the session stands in each room's log: what ``hello`` asks for, which events are new.

A :class:`Cursor` is the whole resume state and does no I/O: the seats (token and the seq the
caller held when connecting), the room each turned out to be (from ``welcome``), and the last
seq received per room. Every (re)connection's ``hello`` asks each room for what follows that
seq, and :meth:`Cursor.advance` turns away anything at or below it, so no event is delivered
twice and none that the server lets the seat see is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

from client import codec
from client.errors import ProtocolError
from client.models import Seat
from protocol.frames import Welcome


class Cursor:
    def __init__(self, seats: Sequence[tuple[str, int]]) -> None:
        if not 1 <= len(seats) <= 16:
            raise ValueError("a session holds between 1 and 16 seats")
        for token, after in seats:
            if not isinstance(token, str) or not 0 < len(token) <= 200:
                raise ValueError("a session token is a string of 1 to 200 characters")
            if isinstance(after, bool) or not isinstance(after, int) or after < 0:
                raise ValueError(f"after must be a seq (an integer >= 0), not {after!r}")
        self._seats = list(seats)
        self._rooms: list[str] | None = None
        self._last: dict[str, int] = {}

    @property
    def positions(self) -> dict[str, int]:
        """The last seq received per room (rooms known once a ``welcome`` came)."""
        return dict(self._last)

    @property
    def rooms(self) -> list[str]:
        return list(self._rooms or [])

    def starts(self) -> dict[str, tuple[str, int]]:
        """Each room's seat token and the seq its stream started after (once greeted)."""
        if self._rooms is None:
            return {}
        return dict(zip(self._rooms, self._seats, strict=True))

    def hello(self) -> str:
        """The ``hello`` frame that resumes every seat after what it has received."""
        rooms = self._rooms
        return codec.hello(
            [
                (token, self._last[rooms[i]] if rooms is not None else after)
                for i, (token, after) in enumerate(self._seats)
            ]
        )

    def greeted(self, welcome: Welcome) -> list[Seat]:
        """Learn each seat's room from ``welcome`` (seats come back in ``hello`` order)."""
        seats = [Seat.from_info(info) for info in welcome.seats]
        rooms = [seat.room for seat in seats]
        if len(rooms) != len(self._seats):
            raise ProtocolError(
                f"welcome describes {len(rooms)} seats; hello sent {len(self._seats)}"
            )
        if self._rooms is not None and rooms != self._rooms:
            raise ProtocolError(f"the seats' rooms changed on reconnecting: {rooms}")
        if self._rooms is None:
            self._rooms = rooms
            for room, (_, after) in zip(rooms, self._seats, strict=True):
                self._last[room] = after
        return seats

    def advance(self, room: str, seq: int) -> bool:
        """Record event ``seq`` of ``room``; False if it is not past what was received."""
        if seq <= self._last.get(room, 0):
            return False
        self._last[room] = seq
        return True
