"""Deciding seat commands against a room's state: scenarios read top to bottom."""

from __future__ import annotations

import pytest

from server.domain.bargaining import decide_record_concession, decide_table_proposal
from server.domain.commands import (
    decide_accept_backchannel,
    decide_decline_backchannel,
    decide_disclose_thread,
    decide_open_backchannel,
    decide_post_message,
    then,
)
from server.domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, TooLong
from server.domain.events import EventKind
from server.domain.room import Audience, EventView, Role, RoomState, StateError, apply
from server.domain.visibility import FULL, HIDDEN, SEALED, Viewer, visibility
from tests.domain.builders import room


def post(state: RoomState, seat: str, thread: str, text: str = "statement") -> None:
    decide_post_message(state, seat, thread, text, max_chars=100)


def refused(kind: type[DomainError], field: str | None = None) -> pytest.RaisesExc[DomainError]:
    return pytest.raises(kind, check=lambda e: e.field == field)


def opened(state: RoomState, thread_id: str = "bc-1") -> RoomState:
    return then(
        state, decide_open_backchannel(state, "us-1", ["drv"], "quiet talk", thread_id=thread_id)
    )


def test_a_backchannel_goes_live_when_every_invited_party_accepts() -> None:
    state = opened(room())
    thread = state.threads["bc-1"]
    assert thread.parties == {"us", "drv"} and thread.accepted == {"us"} and not thread.live
    with refused(Conflict):
        post(state, "us-1", "bc-1")
    with refused(Forbidden):  # the adviser is not head of delegation
        decide_accept_backchannel(state, "drv-2", "bc-1")
    state = then(state, decide_accept_backchannel(state, "drv-1", "bc-1"))
    assert state.threads["bc-1"].live
    post(state, "drv-2", "bc-1")
    with refused(Conflict):
        decide_accept_backchannel(state, "drv-1", "bc-1")


def test_an_invited_head_declines_a_backchannel_which_never_goes_live() -> None:
    state = opened(room())
    with refused(Forbidden):  # the adviser is not head of delegation
        decide_decline_backchannel(state, "drv-2", "bc-1")
    with refused(Forbidden):
        decide_decline_backchannel(state, "facilitator", "bc-1")
    with refused(Conflict):  # the opener's party accepted by opening
        decide_decline_backchannel(state, "us-1", "bc-1")
    move = decide_decline_backchannel(state, "drv-1", "bc-1")
    assert (move.kind, move.thread, move.party) == (EventKind.THREAD_DECLINED, "bc-1", "drv")
    state = then(state, move)
    thread = state.threads["bc-1"]
    assert thread.declined == "drv" and not thread.live


def test_a_declined_backchannel_refuses_everything_after_saying_it_is_closed() -> None:
    state = opened(room())
    state = then(state, decide_decline_backchannel(state, "drv-1", "bc-1"))
    for attempt in (
        lambda: decide_accept_backchannel(state, "drv-1", "bc-1"),
        lambda: decide_decline_backchannel(state, "drv-1", "bc-1"),
        lambda: post(state, "us-1", "bc-1"),
        lambda: post(state, "drv-2", "bc-1"),
        lambda: decide_table_proposal(state, "us-1", "bc-1", terms={}),
        lambda: decide_record_concession(state, "us-1", "bc-1", "we give way"),
    ):
        with pytest.raises(Conflict, match="declined by 'drv'"):
            attempt()


def test_a_backchannel_cannot_be_declined_once_accepted_or_by_an_outsider() -> None:
    state = opened(room())
    with refused(NotFound, "thread"):
        decide_decline_backchannel(state, "rvn-1", "bc-1")
    with refused(Invalid, "thread"):
        decide_decline_backchannel(state, "us-1", "plenary")
    state = then(state, decide_accept_backchannel(state, "drv-1", "bc-1"))
    with pytest.raises(Conflict, match="already accepted"):
        decide_decline_backchannel(state, "drv-1", "bc-1")
    assert state.threads["bc-1"].live and state.threads["bc-1"].declined is None


def test_a_decline_is_exactly_as_visible_as_its_backchannel() -> None:
    state = opened(room())
    state = then(state, decide_decline_backchannel(state, "drv-1", "bc-1"))
    seen = {
        who: visibility(EventKind.THREAD_DECLINED, "bc-1", viewer, state)
        for who, viewer in (
            ("us", Viewer(Role.DELEGATE, "us")),
            ("drv", Viewer(Role.DELEGATE, "drv")),
            ("rvn", Viewer(Role.DELEGATE, "rvn")),
            ("observer", Viewer(Role.OBSERVER, None)),
        )
    }
    assert seen == {"us": FULL, "drv": FULL, "rvn": HIDDEN, "observer": SEALED}


def test_a_backchannel_is_invisible_to_other_parties_and_refused_as_not_found() -> None:
    state = opened(room())
    state = then(state, decide_accept_backchannel(state, "drv-1", "bc-1"))
    with refused(NotFound, "thread"):
        post(state, "rvn-1", "bc-1")
    with refused(NotFound, "thread"):
        decide_accept_backchannel(state, "rvn-1", "bc-1")
    assert visibility(EventKind.THREAD_OPENED, "bc-1", Viewer("delegate", "rvn"), state) == HIDDEN  # type: ignore[arg-type]


def test_only_a_head_of_delegation_opens_a_backchannel_to_real_other_parties() -> None:
    state = room()
    with refused(Forbidden):
        decide_open_backchannel(state, "us-2", ["drv"], "")
    with refused(Forbidden):
        decide_open_backchannel(state, "observer", ["drv"], "")
    with refused(Forbidden):
        decide_open_backchannel(state, "facilitator", ["drv"], "")
    with refused(NotFound, "parties.1"):
        decide_open_backchannel(state, "us-1", ["drv", "nato"], "")
    with refused(Invalid, "parties.0"):
        decide_open_backchannel(state, "us-1", ["us"], "")
    with refused(Invalid, "parties.1"):
        decide_open_backchannel(state, "us-1", ["drv", "drv"], "")
    move = decide_open_backchannel(state, "us-1", ["rvn", "drv"], "")
    assert move.thread == move.body["thread"]["id"]  # type: ignore[index]
    assert move.thread is not None and move.thread.startswith("bc-")
    assert move.body["thread"]["parties"] == ["drv", "rvn", "us"]  # type: ignore[index]


def test_each_delegation_posts_only_in_its_own_caucus() -> None:
    state = room()
    post(state, "us-2", "caucus-us")
    with refused(NotFound, "thread"):
        post(state, "us-2", "caucus-drv")
    with refused(Forbidden):
        post(state, "facilitator", "caucus-us")


def test_observers_never_post_and_facilitators_post_only_in_plenary() -> None:
    state = room()
    with refused(Forbidden):
        post(state, "observer", "plenary")
    post(state, "facilitator", "plenary")
    with refused(Forbidden):
        post(opened(state), "facilitator", "bc-1")


def test_message_text_must_be_present_and_within_the_limit() -> None:
    state = room()
    with refused(Invalid, "text"):
        post(state, "us-1", "plenary", "   ")
    with refused(TooLong, "text"):
        post(state, "us-1", "plenary", "x" * 101)
    post(state, "us-1", "plenary", "x" * 100)


def test_unknown_seat_and_thread_are_refused() -> None:
    state = room()
    with refused(Forbidden):
        post(state, "ghost", "plenary")
    with refused(NotFound, "thread"):
        post(state, "us-1", "bc-nope")


def test_disclosure_widens_and_never_narrows() -> None:
    state = opened(room(reads_backchannels=False))
    observer, rvn = Viewer("observer"), Viewer("delegate", "rvn")  # type: ignore[arg-type]
    facilitator = Viewer("facilitator")  # type: ignore[arg-type]
    assert visibility(EventKind.MESSAGE_POSTED, "bc-1", facilitator, state) == SEALED
    with refused(Forbidden):
        decide_disclose_thread(state, "us-1", "bc-1", "observers")
    with refused(NotFound, "thread"):  # a party outside the thread does not learn it exists
        decide_disclose_thread(state, "rvn-1", "bc-1", "observers")
    with refused(Invalid, "thread"):
        decide_disclose_thread(state, "facilitator", "plenary", "everyone")
    with refused(Invalid, "to"):
        decide_disclose_thread(state, "facilitator", "bc-1", "press")

    state = then(state, decide_disclose_thread(state, "facilitator", "bc-1", "observers"))
    assert state.threads["bc-1"].disclosed_to == Audience.OBSERVERS
    assert visibility(EventKind.MESSAGE_POSTED, "bc-1", observer, state) == FULL
    assert visibility(EventKind.MESSAGE_POSTED, "bc-1", facilitator, state) == FULL
    assert visibility(EventKind.MESSAGE_POSTED, "bc-1", rvn, state) == HIDDEN
    with refused(Conflict):
        decide_disclose_thread(state, "facilitator", "bc-1", "observers")

    state = then(state, decide_disclose_thread(state, "facilitator", "bc-1", "everyone"))
    assert visibility(EventKind.MESSAGE_POSTED, "bc-1", rvn, state) == FULL
    with refused(Conflict):
        decide_disclose_thread(state, "facilitator", "bc-1", "observers")
    narrowing = EventView(
        state.seq + 1, EventKind.THREAD_DISCLOSED, thread="bc-1", body={"to": "observers"}
    )
    assert apply(state, narrowing).threads["bc-1"].disclosed_to == Audience.EVERYONE


def test_the_fold_refuses_events_out_of_order_or_malformed() -> None:
    state = room()
    with pytest.raises(StateError):
        apply(state, EventView(state.seq + 2, EventKind.MESSAGE_POSTED))
    with pytest.raises(StateError):
        apply(
            state, EventView(state.seq + 1, EventKind.THREAD_ACCEPTED, thread="bc-none", party="us")
        )
    with pytest.raises(StateError):
        apply(state, EventView(state.seq + 1, EventKind.SEAT_JOINED, body={"seat": {"id": "x"}}))


def test_the_fold_tracks_seq_state_seq_and_stage() -> None:
    state = room()
    assert (state.seq, state.state_seq, state.stage) == (13, 13, "opening")
    state = apply(state, EventView(14, EventKind.MESSAGE_POSTED, thread="plenary"))
    assert (state.seq, state.state_seq) == (14, 13)
    state = apply(
        state,
        EventView(15, EventKind.STAGE_CHANGED, body={"from": "opening", "to": "formalization"}),
    )
    assert (state.seq, state.state_seq, state.stage) == (15, 15, "formalization")
    assert state.head_of("drv") is not None and state.head_of("drv").id == "drv-1"  # type: ignore[union-attr]
