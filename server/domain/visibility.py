"""The one visibility function: what a viewer may learn of an event (DESIGN §3).

Every read path (WebSocket replay and live fan-out, HTTP history, exports) asks
:func:`visibility` and nothing else. The answer is one of:

- ``full``: the whole record;
- ``sealed``: that the event exists, its seq, kind, stage, time and leaf hash, not its content;
- ``hidden``: nothing; the event never appears in the viewer's stream or history. Only a
  verifiable export shows it, as a bare line (seq and leaf hash), because every checkpoint
  covers the whole room; so a party can count the events it may not see.

The rules, for an event in a thread (room-level events are ``full`` to everyone, except
observer notes, which delegates do not see):

====================  ===========  ============================  =========================
viewer                plenary      back-channel / caucus          ... disclosed to
====================  ===========  ============================  =========================
member delegate       full         full                           full
other delegate        full         hidden                         full if to everyone
observer              full         sealed                         full
facilitator           full         full, or sealed by policy      full
====================  ===========  ============================  =========================

A disclosure applies to the thread's past and future events alike: the state it is judged
against is the room's current state, and disclosures only ever widen.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.domain.events import EventKind
from server.domain.room import Audience, Role, RoomState, ThreadKind


class Visibility(StrEnum):
    FULL = "full"
    SEALED = "sealed"
    HIDDEN = "hidden"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: a seat's role and party (the seat id does not change what it sees)."""

    role: Role
    party: str | None = None


FULL, SEALED, HIDDEN = Visibility.FULL, Visibility.SEALED, Visibility.HIDDEN


def visibility(kind: str, thread_id: str | None, viewer: Viewer, room: RoomState) -> Visibility:
    """What ``viewer`` may learn of an event of ``kind`` in ``thread_id``, given ``room``."""
    if thread_id is None:
        if kind == EventKind.OBSERVER_NOTE_ADDED and viewer.role == Role.DELEGATE:
            return HIDDEN
        return FULL
    thread = room.threads.get(thread_id)
    if thread is None:
        # Not in the state yet (a caller with a stale state): never reveal by mistake.
        return SEALED if viewer.role != Role.DELEGATE else HIDDEN
    if thread.kind == ThreadKind.PLENARY:
        return FULL
    if viewer.role == Role.DELEGATE:
        if viewer.party in thread.parties or thread.disclosed_to == Audience.EVERYONE:
            return FULL
        return HIDDEN
    if thread.disclosed_to is not None:
        return FULL
    if viewer.role == Role.FACILITATOR:
        reads = (
            room.policy.facilitator_reads_backchannels
            if thread.kind == ThreadKind.BACKCHANNEL
            else room.policy.facilitator_reads_caucuses
        )
        return FULL if reads else SEALED
    return SEALED
