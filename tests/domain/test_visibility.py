"""The visibility table: every role x thread kind x event kind x disclosure state."""

from __future__ import annotations

from dataclasses import replace

import pytest

from server.domain.events import EventKind
from server.domain.room import Audience, Role, RoomState, Thread, ThreadKind
from server.domain.visibility import FULL, HIDDEN, SEALED, Viewer, Visibility, visibility
from tests.domain.builders import room

F, S, H = FULL, SEALED, HIDDEN
MEMBER = Viewer(Role.DELEGATE, "us")
OTHER = Viewer(Role.DELEGATE, "rvn")
OBSERVER = Viewer(Role.OBSERVER)
FACILITATOR = Viewer(Role.FACILITATOR)

# Written out by hand from DESIGN §3, not derived from the code.
# (thread kind, disclosed to, facilitator policy reads it) -> member, other, observer, facilitator
THREAD_TABLE: dict[tuple[str, str | None, bool], tuple[Visibility, ...]] = {
    ("plenary", None, True): (F, F, F, F),
    ("plenary", None, False): (F, F, F, F),
    ("backchannel", None, True): (F, H, S, F),
    ("backchannel", None, False): (F, H, S, S),
    ("backchannel", "observers", True): (F, H, F, F),
    ("backchannel", "observers", False): (F, H, F, F),
    ("backchannel", "everyone", True): (F, F, F, F),
    ("backchannel", "everyone", False): (F, F, F, F),
    ("caucus", None, True): (F, H, S, F),
    ("caucus", None, False): (F, H, S, S),
    ("caucus", "observers", True): (F, H, F, F),
    ("caucus", "observers", False): (F, H, F, F),
    ("caucus", "everyone", True): (F, F, F, F),
    ("caucus", "everyone", False): (F, F, F, F),
}
VIEWERS = (MEMBER, OTHER, OBSERVER, FACILITATOR)


def state_with(kind: str, disclosed: str | None, reads: bool) -> tuple[RoomState, str]:
    state = room(reads_backchannels=reads, reads_caucuses=reads)
    if kind == "plenary":
        return state, "plenary"
    thread_id = "bc-1" if kind == "backchannel" else "caucus-us"
    parties = frozenset({"us", "drv"}) if kind == "backchannel" else frozenset({"us"})
    thread = Thread(
        thread_id,
        ThreadKind(kind),
        parties,
        accepted=parties,
        disclosed_to=Audience(disclosed) if disclosed else None,
    )
    return replace(state, threads={**state.threads, thread_id: thread}), thread_id


@pytest.mark.parametrize("event_kind", list(EventKind))
@pytest.mark.parametrize(("thread_kind", "disclosed", "reads"), list(THREAD_TABLE))
def test_thread_events_follow_the_table(
    event_kind: EventKind, thread_kind: str, disclosed: str | None, reads: bool
) -> None:
    state, thread_id = state_with(thread_kind, disclosed, reads)
    got = tuple(visibility(event_kind, thread_id, v, state) for v in VIEWERS)
    assert got == THREAD_TABLE[(thread_kind, disclosed, reads)]


@pytest.mark.parametrize("event_kind", list(EventKind))
def test_room_level_events_are_full_except_observer_notes_to_delegates(
    event_kind: EventKind,
) -> None:
    state = room()
    got = tuple(visibility(event_kind, None, v, state) for v in VIEWERS)
    if event_kind == EventKind.OBSERVER_NOTE_ADDED:
        assert got == (H, H, F, F)
    else:
        assert got == (F, F, F, F)


def test_a_thread_unknown_to_the_state_is_never_shown() -> None:
    state = room()
    for viewer in VIEWERS:
        assert visibility(EventKind.MESSAGE_POSTED, "bc-unknown", viewer, state) in (S, H)
    assert visibility(EventKind.MESSAGE_POSTED, "bc-unknown", MEMBER, state) == H


def test_the_seat_id_does_not_matter_only_role_and_party() -> None:
    state, thread_id = state_with("backchannel", None, True)
    for party, expected in (("us", F), ("drv", F), ("rvn", H), (None, H)):
        assert (
            visibility(EventKind.MESSAGE_POSTED, thread_id, Viewer(Role.DELEGATE, party), state)
            == expected
        )
