"""Every cell of role x action x thread kind x stage: allowed, or the documented refusal.

The expectations are written out here by hand from docs/permissions.md's intent, not read
from ``PERMISSIONS`` or ``DEFAULT_RULES``: a change to either table must be made here too.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import pytest

from server.domain.commands import Permit, Subject, allowed
from server.domain.errors import Conflict, Forbidden, StageClosed
from server.domain.permissions import CONDITIONS, Action
from server.domain.permissions_doc import render
from server.domain.room import DEFAULT_STAGES, Role, Seat, Thread, ThreadKind
from tests.domain.negotiation import paris

ROOT = Path(__file__).resolve().parents[2]

# role -> "action@kind" it may do, with what more it needs of the seat.
ALLOWED: dict[tuple[str, str, str], str] = {}
for line in """
    delegate     post_message        plenary      any
    delegate     post_message        backchannel  member
    delegate     post_message        caucus       member
    facilitator  post_message        plenary      any
    delegate     open_backchannel    backchannel  head
    delegate     accept_backchannel  backchannel  head_member
    delegate     decline_backchannel backchannel  head_member
    facilitator  disclose_thread     backchannel  any
    facilitator  disclose_thread     caucus       any
    facilitator  rotate_invite       -            any
    facilitator  sign_checkpoint     -            any
    facilitator  add_issue           -            any
    delegate     set_position        caucus       head_member
    delegate     table_proposal      plenary      head
    delegate     table_proposal      backchannel  head_member
    facilitator  table_proposal      plenary      any
    delegate     endorse_proposal    caucus       head_member
    delegate     answer_proposal     plenary      head
    delegate     answer_proposal     backchannel  head_member
    delegate     withdraw_proposal   plenary      head
    delegate     withdraw_proposal   backchannel  head_member
    delegate     withdraw_proposal   caucus       head_member
    facilitator  withdraw_proposal   plenary      any
    delegate     record_concession   plenary      head
    delegate     record_concession   backchannel  head_member
    facilitator  change_stage        -            any
    delegate     consent_stage       -            head
    delegate     declare_coalition   -            head
    delegate     join_coalition      -            head
    delegate     sign_agreement      plenary      head
""".strip().splitlines():
    role, action, kind, needs = line.split()
    ALLOWED[(role, action, kind)] = needs

PRE, OPENING, DETAILED, VERIFICATION, FORMAL, POST = DEFAULT_STAGES
# (action, kind or "*") -> {stage: rule that closes it}
CLOSED: dict[tuple[str, str], dict[str, str]] = {
    ("add_issue", "*"): dict.fromkeys(
        [OPENING, DETAILED, VERIFICATION, FORMAL, POST], "agenda-fixed-after-pre-negotiation"
    ),
    ("table_proposal", "*"): {
        PRE: "no-proposals-in-pre-negotiation",
        FORMAL: "no-new-proposals-in-formalization",
        POST: "no-new-proposals-in-formalization",
    },
    ("endorse_proposal", "*"): dict.fromkeys([FORMAL, POST], "no-joint-proposals-in-formalization"),
    ("open_backchannel", "*"): {FORMAL: "backchannels-closed-in-formalization"},
    ("accept_backchannel", "*"): {FORMAL: "backchannels-closed-in-formalization"},
    ("post_message", "backchannel"): {FORMAL: "backchannels-closed-in-formalization"},
    ("answer_proposal", "*"): {POST: "answers-closed-after-agreement"},
    ("withdraw_proposal", "*"): {POST: "answers-closed-after-agreement"},
    ("sign_agreement", "*"): dict.fromkeys(
        [PRE, OPENING, DETAILED, VERIFICATION, POST], "signing-only-in-formalization"
    ),
}

KINDS = ["-", "plenary", "backchannel", "caucus"]
CELLS = list(itertools.product(Role, Action, KINDS, DEFAULT_STAGES))


def _thread(kind: str) -> Thread | None:
    if kind == "-":
        return None
    return Thread(f"t-{kind}", ThreadKind(kind), frozenset({"us", "drv"}))


def _seat(role: Role, *, head: bool = True, party: str = "us") -> Seat:
    if role != Role.DELEGATE:
        return Seat(role.value, role, None, role.value)
    return Seat("us-x", role, party, "x", head=head)


def _expected_rule(action: str, kind: str, stage: str) -> str | None:
    for key in ((action, kind), (action, "*")):
        rule = CLOSED.get(key, {}).get(stage)
        if rule is not None:
            return rule
    return None


@pytest.mark.parametrize(
    ("role", "action", "kind", "stage"),
    CELLS,
    ids=[f"{r.value}-{a.value}-{k}-{s}" for r, a, k, s in CELLS],
)
def test_every_cell(role: Role, action: Action, kind: str, stage: str) -> None:
    room = replace(paris(), stage=stage)
    thread = _thread(kind)
    ok = (role.value, action.value, kind) in ALLOWED

    def attempt(seat: Seat) -> None:
        allowed(
            room,
            seat,
            action,
            thread,
            what="do this",
            kind=None if kind == "-" else ThreadKind(kind),
        )

    if not ok:
        with pytest.raises(Forbidden) as refused:
            attempt(_seat(role))
        assert "may not" in refused.value.message
        return
    rule = _expected_rule(action.value, kind, stage)
    if rule is not None:
        with pytest.raises(StageClosed) as closed:
            attempt(_seat(role))
        assert closed.value.rule == rule and rule in closed.value.message
        return
    attempt(_seat(role))  # allowed: no exception
    needs = ALLOWED[(role.value, action.value, kind)]
    if needs in ("head", "head_member"):
        with pytest.raises(Forbidden) as not_head:
            attempt(_seat(role, head=False))
        assert "head of delegation" in not_head.value.message
    if needs in ("member", "head_member"):
        with pytest.raises(Forbidden) as outsider:
            attempt(_seat(role, party="prg"))
        assert "not a member" in outsider.value.message


def test_the_permissions_doc_is_in_step_with_the_tables() -> None:
    on_disk = (ROOT / "docs" / "permissions.md").read_text()
    assert on_disk == render(), "docs/permissions.md is stale: run `make schema`"


# -- conditions on what an action acts on (written out by hand, as above) --------------------


def _permit(action: Action, *, seat_id: str = "us-1", facilitator: bool = True) -> Permit:
    room = paris()
    if not facilitator:
        room = replace(
            room, seats={k: s for k, s in room.seats.items() if s.role != Role.FACILITATOR}
        )
    seat = room.seats[seat_id]
    thread = room.threads["plenary"]
    kind = None if action in (Action.CONSENT_STAGE, Action.JOIN_COALITION) else thread
    return allowed(room, seat, action, kind, what="act")


def test_only_a_sponsor_withdraws() -> None:
    permit = _permit(Action.WITHDRAW_PROPOSAL)
    permit.on(Subject(sponsors=frozenset({"us", "rvn"})))
    with pytest.raises(Forbidden, match="only the sponsor withdraws a proposal"):
        permit.on(Subject(sponsors=frozenset({"drv"})))


def test_a_facilitator_withdraws_only_a_mediators_text() -> None:
    permit = _permit(Action.WITHDRAW_PROPOSAL, seat_id="facilitator")
    permit.on(Subject(mediator=True))
    with pytest.raises(Forbidden):
        permit.on(Subject(sponsors=frozenset({"us"})))


def test_only_an_answering_party_answers() -> None:
    permit = _permit(Action.ANSWER_PROPOSAL)
    permit.on(Subject(answering=frozenset({"us", "drv"})))
    with pytest.raises(Forbidden, match="not a party to this proposal's thread"):
        permit.on(Subject(answering=frozenset({"drv"})))


def test_only_a_named_party_joins_a_coalition() -> None:
    permit = _permit(Action.JOIN_COALITION)
    permit.on(Subject(named=frozenset({"us", "rvn"})))
    with pytest.raises(Forbidden, match="not named in this coalition"):
        permit.on(Subject(named=frozenset({"rvn", "prg"})))


def test_heads_consent_to_a_stage_only_without_a_facilitator() -> None:
    with pytest.raises(Conflict, match="this room has a facilitator"):
        _permit(Action.CONSENT_STAGE).on(Subject())
    _permit(Action.CONSENT_STAGE, facilitator=False).on(Subject())


def test_actions_without_a_condition_ignore_the_subject() -> None:
    _permit(Action.POST_MESSAGE).on(Subject())
    assert set(CONDITIONS) == {
        Action.WITHDRAW_PROPOSAL,
        Action.ANSWER_PROPOSAL,
        Action.JOIN_COALITION,
        Action.CONSENT_STAGE,
    }
