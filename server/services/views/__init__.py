"""The read side: every viewer-facing read of a room, judged by the one visibility function.

``log``: pages of the log (replay, live commits, HTTP history, export lines). ``room``: the
room, seats, threads, agenda, positions, proposals, coalitions and the agreement. Nothing outside
this package (and the domain itself) calls ``server.domain.visibility``; a test checks it.
"""

from __future__ import annotations

from server.services.views.log import Commit, Counts, LogViews
from server.services.views.room import RoomViews

__all__ = ["Commit", "Counts", "LogViews", "RoomViews"]
