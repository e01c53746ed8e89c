"""Whatever a client sends, a negotiation command is refused with a DomainError or appends
events that fold: never another exception, never an event the state cannot take."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.canonical import canonical_json
from protocol.frames import FrameError, Hello, Ping, decode_command
from server.domain import bargaining as deal
from server.domain import procedure as proc
from server.domain.commands import decide_accept_backchannel, decide_open_backchannel
from server.domain.errors import DomainError
from server.domain.events import build_record
from server.domain.room import DEFAULT_STAGES, RoomState
from server.services.decisions import decision
from tests.domain.negotiation import paris, play


def _busy_room() -> RoomState:
    """A room with proposals, a back-channel, a coalition and a draft in it."""
    state = play(paris(), proc.decide_change_stage(paris(), "facilitator", "opening"))
    opening = decide_open_backchannel(state, "us-1", ["drv"], "Villa")
    state = play(state, opening)
    state = play(state, decide_accept_backchannel(state, "drv-1", str(opening.thread)))
    for seat, thread, terms in (
        ("us-1", "plenary", {"troop_ceiling": 40000}),
        ("drv-1", "plenary", {"troop_ceiling": 0, "ceasefire": True}),
        ("drv-1", str(opening.thread), {"withdrawal_date": "1973-03-29"}),
    ):
        state = play(state, deal.decide_table_proposal(state, seat, thread, terms=terms))
    declared = proc.decide_declare_coalition(state, "drv-1", ["prg"], "bloc", coalition_id="co-1")
    state = play(state, declared)
    state = play(state, proc.decide_join_coalition(state, "prg-1", "co-1"))
    draft = deal.decide_table_proposal(
        state, "drv-1", "plenary", terms={"ceasefire": True}, coalition="co-1", proposal_id="pr-d"
    )
    return play(state, draft)


ROOM = _busy_room()
HEADS = ["us-1", "drv-1", "rvn-1", "prg-1", "facilitator"]
IDS = [*ROOM.proposals, *ROOM.threads, "co-1", "pr-none", "plenary", "", "x" * 41]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.sampled_from(IDS + list(DEFAULT_STAGES) + ["1973-03-29", "1973-02-30", "up", "accept"]),
    st.text(max_size=30),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
ids = st.sampled_from(IDS)
parties = st.sampled_from([*ROOM.parties, "nobody"])
term_values = st.one_of(
    st.sampled_from([0, 27000, 60000, 99999, -1, True, "1973-03-29", "1975-01-01"]),
    st.sampled_from(["separate track", "never", "1973-02-30", 2**60, -(2**53), "\ud800"]),
)
terms = st.dictionaries(st.sampled_from([*ROOM.agenda, "nope"]), term_values, max_size=4)
issues = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["dmz", "troop_ceiling", "Bad Id", "x"]),
        "type": st.sampled_from(["number", "date", "choice", "yesno", "text", "float"]),
    },
    optional={
        "title": st.one_of(st.text(max_size=5), st.just("\udfff")),
        "min": term_values,
        "max": term_values,
        "options": st.lists(st.one_of(st.text(max_size=3), st.just("\ud800")), max_size=3),
        "unit": st.text(max_size=3),
    },
)
GOOD: dict[str, st.SearchStrategy[Any]] = {
    "issue": st.sampled_from([*ROOM.agenda, "nope"]),
    "direction": st.sampled_from([None, "up", "down"]),
    "preferred": term_values,
    "reservation": term_values,
    "thread": ids,
    "terms": terms,
    "clauses": st.lists(st.text(min_size=1, max_size=10), max_size=3),
    "title": st.text(max_size=10),
    "parent": st.one_of(st.none(), ids),
    "coalition": st.one_of(st.none(), ids),
    "proposal": ids,
    "answer": st.sampled_from(["accept", "reject", "reserve"]),
    "reason": st.text(max_size=10),
    "description": st.text(max_size=10),
    "toward": st.one_of(st.none(), parties),
    "to": st.sampled_from([*DEFAULT_STAGES, "nowhere"]),
    "parties": st.lists(parties, min_size=1, max_size=3),
    "name": st.text(min_size=1, max_size=10),
    "agreement": ids,
}
SHAPES = {
    "add_issue": ["issue"],
    "set_position": ["issue", "direction", "preferred", "reservation"],
    "table_proposal": ["thread", "terms", "clauses", "title", "parent", "coalition"],
    "endorse_proposal": ["proposal"],
    "answer_proposal": ["proposal", "answer", "reason"],
    "withdraw_proposal": ["proposal"],
    "record_concession": ["thread", "description", "issue", "toward"],
    "change_stage": ["to"],
    "consent_stage": ["to"],
    "declare_coalition": ["parties", "name"],
    "join_coalition": ["coalition"],
    "sign_agreement": ["agreement"],
}


@st.composite
def commands(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(SHAPES)))
    fields: dict[str, Any] = {}
    for name in SHAPES[kind]:
        if draw(st.integers(0, 9)) == 0:
            continue  # leave it out
        if kind == "add_issue":
            fields[name] = draw(issues)
        elif draw(st.integers(0, 9)) == 0:
            fields[name] = draw(values)  # junk of any shape
        else:
            fields[name] = draw(GOOD[name])
    return {"v": 1, "type": kind, "id": "c-1", "room": ROOM.room_id, **fields}


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frame=commands(),
    seat=st.one_of(st.sampled_from(HEADS), st.sampled_from(sorted(ROOM.seats))),
    stage=st.one_of(st.just("opening"), st.sampled_from(DEFAULT_STAGES)),
)
def test_any_command_is_refused_cleanly_or_folds(
    frame: dict[str, Any], seat: str, stage: str
) -> None:
    try:
        command = decode_command(json.dumps(frame))
    except FrameError:
        return  # refused on sight, with its code and field (tested elsewhere)
    assert not isinstance(command, Hello | Ping)
    state = replace(ROOM, stage=stage)
    try:
        decided = decision(command, seat, 8000)(state)
    except DomainError as exc:
        assert exc.message
        return
    moves = decided if isinstance(decided, tuple) else (decided,)
    play(state, moves)
    for move in moves:  # every record the append would write can be encoded (RFC 8785)
        record = build_record(
            room=state.room_id,
            seq=state.seq + 1,
            kind=move.kind,
            stage=state.stage,
            seat=move.seat,
            party=move.party,
            thread=move.thread,
            ts="1973-01-27T00:00:00.000000Z",
            salt=bytes(16),
            body=move.body,
        )
        canonical_json(record)
