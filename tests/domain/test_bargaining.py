"""Proposals, concessions, coalitions, stages and the agreement, decided and folded purely."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from server.domain import bargaining as deal
from server.domain import procedure as proc
from server.domain.agenda import parse_issue
from server.domain.agreement import agreement_text, document_html, document_markdown
from server.domain.commands import (
    decide_accept_backchannel,
    decide_disclose_thread,
    decide_open_backchannel,
)
from server.domain.errors import Conflict, Forbidden, Invalid, NotFound, StageClosed
from server.domain.events import EventKind
from server.domain.negotiation import Status
from server.domain.room import Policy, RoomState
from server.domain.visibility import Viewer
from server.exercise.scenarios import paris_1973
from tests.domain.negotiation import HEADS, kinds, paris, play, room_from


def at(state: RoomState, stage: str) -> RoomState:
    return play(state, proc.decide_change_stage(state, "facilitator", stage))


def opened() -> RoomState:
    return at(paris(), "opening")


def table(state: RoomState, party: str, thread: str = "plenary", **fields: object):  # type: ignore[no-untyped-def]
    moves = deal.decide_table_proposal(state, HEADS[party], thread, **fields)  # type: ignore[arg-type]
    return play(state, moves), moves


def test_the_agenda_refuses_malformed_issues_naming_the_field() -> None:
    cases = [
        ({"id": "Bad Id", "type": "yesno"}, "i.id"),
        ({"id": "x", "type": "float"}, "i.type"),
        ({"id": "x", "type": "number", "min": 5, "max": 5}, "i.max"),
        ({"id": "x", "type": "number", "min": 1.5, "max": 5}, "i.min"),
        ({"id": "x", "type": "date", "min": "1973-02-30", "max": "1974-01-01"}, "i.min"),
        ({"id": "x", "type": "choice", "options": ["only"]}, "i.options"),
        ({"id": "x", "type": "yesno", "min": 0, "max": 1}, "i.min"),
        ({"id": "x", "type": "text", "colour": "red"}, "i.colour"),
    ]
    for raw, field in cases:
        with pytest.raises(Invalid) as caught:
            parse_issue(raw, "i")
        assert caught.value.field == field, raw


def test_an_issue_type_nested_deeper_than_repr_walks_is_just_not_a_type() -> None:
    nested: list[object] = []
    for _ in range(5000):
        nested = [nested]
    with pytest.raises(Invalid) as caught:
        parse_issue({"id": "x", "type": nested}, "i")
    assert caught.value.field == "i.type"


def test_terms_are_checked_against_each_issue_type_and_range() -> None:
    state = opened()
    bad = [
        ({"troop_ceiling": 70000}, "terms.troop_ceiling"),
        ({"troop_ceiling": "27000"}, "terms.troop_ceiling"),
        ({"withdrawal_date": "1975-01-01"}, "terms.withdrawal_date"),
        ({"ceasefire": 1}, "terms.ceasefire"),
        ({"political_track": "never"}, "terms.political_track"),
        ({"budget": 5}, "terms.budget"),
    ]
    for terms, field in bad:
        with pytest.raises(Invalid) as caught:
            deal.decide_table_proposal(state, "us-1", "plenary", terms=terms)
        assert caught.value.field == field
    with pytest.raises(Invalid) as empty:
        deal.decide_table_proposal(state, "us-1", "plenary", terms={})
    assert empty.value.field == "terms"


def test_a_counter_proposal_supersedes_its_parent_and_compares_term_by_term() -> None:
    state, first = table(opened(), "us", terms={"troop_ceiling": 40000, "ceasefire": True})
    p1 = first[0].body["proposal"]["id"]  # type: ignore[index]
    state, second = table(state, "drv", terms={"troop_ceiling": 0, "ceasefire": True}, parent=p1)
    p2 = second[0].body["proposal"]["id"]  # type: ignore[index]
    assert deal.status(state, state.proposals[p1]) == Status.SUPERSEDED
    assert deal.status(state, state.proposals[p2]) == Status.TABLED
    rows = deal.compare(state, state.proposals[p1], state.proposals[p2])
    by_issue = {row["issue"]: row for row in rows}
    assert by_issue["troop_ceiling"]["changed"] is True
    assert by_issue["troop_ceiling"]["delta"] == -40000
    assert by_issue["troop_ceiling"]["size"] == "0.6667"
    assert by_issue["ceasefire"]["changed"] is False
    assert set(by_issue) == {"troop_ceiling", "ceasefire"}


def test_a_move_toward_a_partys_last_position_is_a_concession_and_away_a_retraction() -> None:
    state, _ = table(opened(), "us", terms={"troop_ceiling": 40000})
    state, _ = table(state, "drv", terms={"troop_ceiling": 0})
    state, moves = table(state, "us", terms={"troop_ceiling": 25000})
    assert kinds(moves) == [EventKind.PROPOSAL_TABLED, EventKind.CONCESSION_RECORDED]
    concession = moves[1].body
    assert concession["issue"] == "troop_ceiling"
    assert (concession["from"], concession["to"], concession["toward"]) == (40000, 25000, "drv")
    assert concession["size"] == "0.2500"  # 15,000 of a 60,000 range
    assert moves[1].thread == "plenary"
    state, moves = table(state, "us", terms={"troop_ceiling": 30000})
    assert kinds(moves) == [EventKind.PROPOSAL_TABLED, EventKind.RETRACTION_RECORDED]
    assert moves[1].body["size"] == "0.0833"


def test_dates_are_measured_in_days_and_a_first_position_concedes_nothing() -> None:
    state, moves = table(opened(), "us", terms={"withdrawal_date": "1973-06-30"})
    assert kinds(moves) == [EventKind.PROPOSAL_TABLED]
    state, _ = table(state, "drv", terms={"withdrawal_date": "1972-08-31"})
    state, moves = table(state, "us", terms={"withdrawal_date": "1973-03-29"})
    assert kinds(moves) == [EventKind.PROPOSAL_TABLED, EventKind.CONCESSION_RECORDED]
    span = 914  # 1972-06-30 to 1974-12-31
    assert moves[1].body["size"] == f"{93 / span:.4f}"


def test_concessions_are_judged_only_against_positions_in_the_same_thread() -> None:
    state = opened()
    opening = decide_open_backchannel(state, "us-1", ["drv"], "Villa")
    bc = opening.thread
    assert bc is not None
    state = play(state, opening)
    state = play(state, decide_accept_backchannel(state, "drv-1", bc))
    state, _ = table(state, "drv", bc, terms={"troop_ceiling": 0})
    state, _ = table(state, "us", terms={"troop_ceiling": 40000})
    state, moves = table(state, "us", terms={"troop_ceiling": 20000})
    # DRV's position exists only in the back-channel: the plenary move concedes to no one.
    assert kinds(moves) == [EventKind.PROPOSAL_TABLED]


def test_a_backchannel_proposal_stays_unknown_outside_and_is_tabled_anew_in_plenary() -> None:
    state = opened()
    opening = decide_open_backchannel(state, "us-1", ["drv"], "Villa")
    bc = str(opening.thread)
    state = play(state, opening)
    state = play(state, decide_accept_backchannel(state, "drv-1", bc))
    state, moves = table(state, "us", bc, terms={"withdrawal_date": "1973-03-29"})
    secret = moves[0].body["proposal"]["id"]  # type: ignore[index]
    for seat in ("rvn-1", "prg-2"):
        with pytest.raises(NotFound):
            deal.decide_answer_proposal(state, seat, secret, "accept")
    with pytest.raises(NotFound):
        deal.visible_proposal(state, Viewer(state.seats["observer-1"].role), secret)
    assert deal.visible_proposal(state, state.seats["drv-2"], secret).id == secret
    # Naming it as a parent from the plenary would tell every party that it exists.
    with pytest.raises(Invalid) as elsewhere:
        table(state, "us", terms={"withdrawal_date": "1973-03-29"}, parent=secret)
    assert elsewhere.value.field == "parent"
    # Tabled anew in the plenary it is a new, public proposal with nothing pointing back.
    state, moves = table(state, "us", terms={"withdrawal_date": "1973-03-29"})
    public = moves[0].body["proposal"]["id"]  # type: ignore[index]
    assert deal.visible_proposal(state, state.seats["rvn-1"], public).parent is None
    assert state.proposals[secret].superseded_by is None


def test_answers_lead_to_agreement_when_every_party_accepts_the_same_version() -> None:
    state, moves = table(opened(), "us", terms={"troop_ceiling": 0}, clauses=["POWs released"])
    pid = moves[0].body["proposal"]["id"]  # type: ignore[index]
    state = play(state, deal.decide_answer_proposal(state, "drv-1", pid, "accept"))
    assert deal.status(state, state.proposals[pid]) == Status.ACCEPTED_BY_SOME
    state = play(state, deal.decide_answer_proposal(state, "rvn-1", pid, "reject", "too fast"))
    assert deal.status(state, state.proposals[pid]) == Status.REJECTED
    with pytest.raises(Conflict):
        deal.decide_answer_proposal(state, "rvn-1", pid, "reject")
    with pytest.raises(Conflict):
        deal.decide_answer_proposal(state, "us-1", pid, "accept")  # the sponsor
    with pytest.raises(Forbidden):
        deal.decide_answer_proposal(state, "rvn-2", pid, "accept")  # not the head
    state = play(state, deal.decide_answer_proposal(state, "rvn-1", pid, "accept"))
    last = deal.decide_answer_proposal(state, "prg-1", pid, "accept")
    assert kinds(last) == [EventKind.PROPOSAL_ANSWERED, EventKind.AGREEMENT_REACHED]
    state = play(state, last)
    assert deal.status(state, state.proposals[pid]) == Status.AGREED
    assert state.agreement is not None and state.agreement.proposal == pid
    text = agreement_text(state, {"troop_ceiling": 0}, ["POWs released"], list(state.parties))
    assert state.agreement.text_sha256 == hashlib.sha256(text.encode()).hexdigest()
    with pytest.raises(Conflict):
        deal.decide_withdraw_proposal(state, "us-1", pid)


def test_only_the_sponsor_withdraws_and_a_withdrawn_proposal_takes_no_answers() -> None:
    state, moves = table(opened(), "rvn", terms={"commission_size": 2000})
    pid = moves[0].body["proposal"]["id"]  # type: ignore[index]
    with pytest.raises(Forbidden):
        deal.decide_withdraw_proposal(state, "us-1", pid)
    state = play(state, deal.decide_withdraw_proposal(state, "rvn-1", pid))
    assert deal.status(state, state.proposals[pid]) == Status.WITHDRAWN
    with pytest.raises(Conflict):
        deal.decide_answer_proposal(state, "drv-1", pid, "accept")


def test_stages_follow_the_machine_and_their_rules_name_themselves() -> None:
    state = paris()
    with pytest.raises(StageClosed) as closed:
        deal.decide_table_proposal(state, "us-1", "plenary", terms={"ceasefire": True})
    assert closed.value.rule == "no-proposals-in-pre-negotiation"
    assert "no-proposals-in-pre-negotiation" in closed.value.message
    with pytest.raises(Conflict) as skip:
        proc.decide_change_stage(state, "facilitator", "verification")
    assert skip.value.field == "to" and "opening" in skip.value.message
    with pytest.raises(Forbidden):
        proc.decide_change_stage(state, "us-1", "opening")
    state = at(at(at(at(state, "opening"), "detailed-discussion"), "verification"), "formalization")
    with pytest.raises(StageClosed) as no_new:
        deal.decide_table_proposal(state, "us-1", "plenary", terms={"ceasefire": True})
    assert no_new.value.rule == "no-new-proposals-in-formalization"
    with pytest.raises(StageClosed) as no_bc:
        decide_open_backchannel(state, "us-1", ["drv"], "late")
    assert no_bc.value.rule == "backchannels-closed-in-formalization"
    with pytest.raises(Conflict) as guarded:
        proc.decide_change_stage(state, "facilitator", "post-agreement")
    assert "signed" in guarded.value.message
    back = at(state, "detailed-discussion")  # going back is allowed
    assert back.stage == "detailed-discussion"


def test_without_a_facilitator_the_stage_moves_when_every_head_consents() -> None:
    setup_state = paris()
    with pytest.raises(Conflict):
        proc.decide_consent_stage(setup_state, "us-1", "opening")  # there is a facilitator

    setup = paris_1973()
    state = room_from(replace(setup, seats=[s for s in setup.seats if s.role != "facilitator"]))
    for party in ("us", "drv", "rvn"):
        moves = proc.decide_consent_stage(state, HEADS[party], "opening")
        assert kinds(moves) == [EventKind.STAGE_CONSENTED]
        state = play(state, moves)
        assert state.stage == "pre-negotiation"
    with pytest.raises(Forbidden):
        proc.decide_consent_stage(state, "prg-2", "opening")
    moves = proc.decide_consent_stage(state, "prg-1", "opening")
    assert kinds(moves) == [EventKind.STAGE_CONSENTED, EventKind.STAGE_CHANGED]
    state = play(state, moves)
    assert state.stage == "opening" and state.stage_consents == {}


def test_a_coalition_forms_when_all_join_and_its_joint_proposal_needs_every_endorsement() -> None:
    state = opened()
    declared = proc.decide_declare_coalition(state, "drv-1", ["prg"], "Vietnamese side")
    coalition = declared.body["coalition"]["id"]  # type: ignore[index]
    state = play(state, declared)
    with pytest.raises(Conflict):
        deal.decide_table_proposal(
            state, "drv-1", "plenary", terms={"ceasefire": True}, coalition=coalition
        )
    with pytest.raises(Forbidden):
        proc.decide_join_coalition(state, "us-1", coalition)
    state = play(state, proc.decide_join_coalition(state, "prg-1", coalition))
    assert state.threads[coalition].parties == {"drv", "prg"}
    drafted = deal.decide_table_proposal(
        state,
        "drv-1",
        "plenary",
        terms={"political_track": "separate track"},
        coalition=coalition,
    )
    assert kinds(drafted) == [EventKind.PROPOSAL_DRAFTED]
    assert drafted[0].thread == coalition
    pid = drafted[0].body["proposal"]["id"]  # type: ignore[index]
    state = play(state, drafted)
    assert deal.status(state, state.proposals[pid]) == Status.DRAFT
    with pytest.raises(NotFound):
        deal.decide_answer_proposal(state, "us-1", pid, "accept")  # a draft is the coalition's
    with pytest.raises(Conflict):
        deal.decide_endorse_proposal(state, "drv-1", pid)  # endorsed by drafting it
    endorsed = deal.decide_endorse_proposal(state, "prg-1", pid)
    assert kinds(endorsed)[:2] == [EventKind.PROPOSAL_ENDORSED, EventKind.PROPOSAL_TABLED]
    assert endorsed[1].thread == "plenary"
    state = play(state, endorsed)
    proposal = state.proposals[pid]
    assert proposal.sponsors == ("drv", "prg") and not proposal.draft
    assert deal.status(state, proposal) == Status.TABLED


def test_each_head_signs_in_formalization_and_the_last_signature_concludes_the_text() -> None:
    state, moves = table(opened(), "us", terms={"troop_ceiling": 0})
    pid = moves[0].body["proposal"]["id"]  # type: ignore[index]
    for party in ("drv", "rvn", "prg"):
        state = play(state, deal.decide_answer_proposal(state, HEADS[party], pid, "accept"))
    with pytest.raises(StageClosed):
        proc.decide_sign_agreement(state, "us-1", pid)
    for stage in ("detailed-discussion", "verification", "formalization"):
        state = at(state, stage)
    for party in ("us", "drv", "rvn"):
        moves = proc.decide_sign_agreement(state, HEADS[party], pid)
        assert kinds(moves) == [EventKind.AGREEMENT_SIGNED]
        state = play(state, moves)
    with pytest.raises(Conflict):
        proc.decide_sign_agreement(state, "us-1", pid)
    last = proc.decide_sign_agreement(state, "prg-1", pid)
    assert kinds(last) == [EventKind.AGREEMENT_SIGNED, EventKind.AGREEMENT_CONCLUDED]
    state = play(state, last)
    assert state.agreement is not None and state.agreement.signed
    concluded = last[1].body
    assert concluded["text_sha256"] == state.agreement.text_sha256
    assert [s["party"] for s in concluded["signatories"]] == ["us", "drv", "rvn", "prg"]
    times = {state.agreement.seq: "1973-01-27T11:00:00.000000Z"}
    markdown = document_markdown(state, times)
    assert "Foreign troop ceiling during the withdrawal: 0 troops" in markdown
    assert "| Republic of Vietnam | Republic of Vietnam, head of delegation |" in markdown
    assert state.agreement.text_sha256 in markdown
    page = document_html(state, times)
    assert "<script" not in page and "0 troops" in page
    assert at(state, "post-agreement").stage == "post-agreement"


def test_html_documents_escape_what_delegates_wrote() -> None:
    state, moves = table(opened(), "us", terms={"ceasefire": True}, clauses=["<script>x</script>"])
    pid = moves[0].body["proposal"]["id"]  # type: ignore[index]
    for party in ("drv", "rvn", "prg"):
        state = play(state, deal.decide_answer_proposal(state, HEADS[party], pid, "accept"))
    page = document_html(state, {})
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


def test_positions_are_set_in_the_caucus_and_checked_against_the_issue() -> None:
    state = opened()
    move = proc.decide_set_position(
        state, "rvn-1", "troop_ceiling", direction="up", preferred=60000, reservation=20000
    )
    assert move.thread == "caucus-rvn"
    state = play(state, move)
    assert state.positions[("rvn", "troop_ceiling")].reservation == 20000
    with pytest.raises(Invalid) as wrong:
        proc.decide_set_position(
            state, "rvn-1", "ceasefire", direction="up", preferred=True, reservation=None
        )
    assert wrong.value.field == "direction"
    with pytest.raises(Forbidden):
        proc.decide_set_position(
            state, "rvn-2", "troop_ceiling", direction=None, preferred=1, reservation=None
        )
    # The brief's positions came in at room creation, in each caucus.
    assert state.positions[("drv", "commission_size")].preferred == 250


def test_an_explicit_concession_is_recorded_by_a_head_in_words() -> None:
    state = opened()
    move = deal.decide_record_concession(
        state,
        "drv-1",
        "plenary",
        "drops the demand that the government resign first",
        issue="political_track",
        toward="us",
    )
    assert move.kind == EventKind.CONCESSION_RECORDED and move.body["explicit"] is True
    with pytest.raises(Invalid):
        deal.decide_record_concession(state, "drv-1", "plenary", "x", toward="drv")
    with pytest.raises(Forbidden):
        deal.decide_record_concession(state, "drv-2", "plenary", "x")


def test_a_mediators_single_text_has_no_sponsor_and_needs_every_partys_acceptance() -> None:
    state = opened()
    moves = deal.decide_table_proposal(
        state, "facilitator", "plenary", terms={"ceasefire": True}, clauses=["Joint commission."]
    )
    assert kinds(moves) == [EventKind.PROPOSAL_TABLED]
    pid = moves[0].body["proposal"]["id"]  # type: ignore[index]
    state = play(state, moves)
    text = state.proposals[pid]
    assert text.mediator and text.sponsors == ()
    with pytest.raises(Forbidden):
        deal.decide_table_proposal(state, "facilitator", "caucus-us", terms={"ceasefire": True})
    for party in ("us", "drv", "rvn"):
        state = play(state, deal.decide_answer_proposal(state, HEADS[party], pid, "accept"))
        assert deal.status(state, state.proposals[pid]) == Status.ACCEPTED_BY_SOME
    last = deal.decide_answer_proposal(state, "prg-1", pid, "accept")
    assert kinds(last) == [EventKind.PROPOSAL_ANSWERED, EventKind.AGREEMENT_REACHED]
    with pytest.raises(Forbidden):
        deal.decide_withdraw_proposal(state, "us-1", pid)
    state = play(state, deal.decide_withdraw_proposal(state, "facilitator", pid))
    assert deal.status(state, state.proposals[pid]) == Status.WITHDRAWN


def test_a_backchannel_proposal_agreed_by_its_parties_is_no_room_agreement() -> None:
    state = opened()
    opening = decide_open_backchannel(state, "us-1", ["drv"], "Villa")
    bc = str(opening.thread)
    state = play(state, opening)
    state = play(state, decide_accept_backchannel(state, "drv-1", bc))
    state, moves = table(state, "us", bc, terms={"troop_ceiling": 27000})
    pid = moves[0].body["proposal"]["id"]  # type: ignore[index]
    accepted = deal.decide_answer_proposal(state, "drv-1", pid, "accept")
    assert kinds(accepted) == [EventKind.PROPOSAL_ANSWERED]
    state = play(state, accepted)
    assert deal.status(state, state.proposals[pid]) == Status.AGREED
    assert state.agreement is None
    assert deal.answering_parties(state, state.proposals[pid]) == ("us", "drv")


def _backchannel(state: RoomState, accept: bool = True) -> tuple[RoomState, str]:
    opening = decide_open_backchannel(state, "us-1", ["drv"], "Villa")
    state = play(state, opening)
    if accept:
        state = play(state, decide_accept_backchannel(state, "drv-1", str(opening.thread)))
    return state, str(opening.thread)


def _coalition(state: RoomState) -> tuple[RoomState, str]:
    declared = proc.decide_declare_coalition(state, "us-1", ["drv"], "Bloc")
    state = play(state, declared)
    coalition = str(declared.body["coalition"]["id"])  # type: ignore[index]
    return play(state, proc.decide_join_coalition(state, "drv-1", coalition)), coalition


def test_a_joint_proposal_is_tabled_only_in_the_plenary() -> None:
    state, bc = _backchannel(opened())
    state, coalition = _coalition(state)
    with pytest.raises(Invalid) as refused:
        deal.decide_table_proposal(
            state, "us-1", bc, terms={"ceasefire": True}, coalition=coalition
        )
    assert refused.value.field == "thread"


def test_a_draft_is_withdrawn_in_its_caucus_and_then_takes_no_endorsement() -> None:
    state, coalition = _coalition(opened())
    drafted = deal.decide_table_proposal(
        state, "us-1", "plenary", terms={"ceasefire": True}, coalition=coalition
    )
    pid = drafted[0].body["proposal"]["id"]  # type: ignore[index]
    state = play(state, drafted)
    withdrawal = deal.decide_withdraw_proposal(state, "drv-1", pid)
    assert withdrawal.thread == coalition
    state = play(state, withdrawal)
    assert deal.status(state, state.proposals[pid]) == Status.WITHDRAWN
    with pytest.raises(Conflict):
        deal.decide_endorse_proposal(state, "drv-1", pid)


def test_passing_the_other_partys_position_still_concedes() -> None:
    state, _ = table(opened(), "us", terms={"commission_size": 1500})
    state, _ = table(state, "drv", terms={"commission_size": 1200})
    state, moves = table(state, "us", terms={"commission_size": 600})
    assert kinds(moves) == [EventKind.PROPOSAL_TABLED, EventKind.CONCESSION_RECORDED]
    assert moves[1].body["size"] == "0.4500"
    state, moves = table(state, "drv", terms={"commission_size": 1300})  # away from 600
    assert kinds(moves) == [EventKind.PROPOSAL_TABLED, EventKind.RETRACTION_RECORDED]


def test_a_backchannel_not_yet_live_takes_no_proposals() -> None:
    state, bc = _backchannel(opened(), accept=False)
    with pytest.raises(Conflict):
        deal.decide_table_proposal(state, "us-1", bc, terms={"ceasefire": True})


def test_a_superseded_version_is_countered_not_answered() -> None:
    state, moves = table(opened(), "us", terms={"troop_ceiling": 40000})
    old = moves[0].body["proposal"]["id"]  # type: ignore[index]
    state, _ = table(state, "drv", terms={"troop_ceiling": 0}, parent=old)
    with pytest.raises(Conflict) as refused:
        deal.decide_answer_proposal(state, "rvn-1", old, "accept")
    assert "superseded" in refused.value.message


def test_after_the_agreement_the_plenary_takes_no_new_proposals() -> None:
    state, moves = table(opened(), "us", terms={"ceasefire": True})
    pid = moves[0].body["proposal"]["id"]  # type: ignore[index]
    for party in ("drv", "rvn", "prg"):
        state = play(state, deal.decide_answer_proposal(state, HEADS[party], pid, "accept"))
    assert state.agreement is not None
    assert state.agreement.text.startswith("# Agreement: Paris, 1973")
    with pytest.raises(Conflict):
        deal.decide_table_proposal(state, "rvn-1", "plenary", terms={"ceasefire": False})


def test_a_thread_sealed_to_the_seat_is_not_found_not_forbidden() -> None:
    state, bc = _backchannel(opened())
    made_up = "bc-000000000000"
    for thread in (bc, made_up):
        with pytest.raises(NotFound):
            deal.decide_table_proposal(state, "observer-1", thread, terms={"ceasefire": True})
    private = paris(policy=Policy(facilitator_reads_backchannels=False))
    private = play(private, proc.decide_change_stage(private, "facilitator", "opening"))
    private, bc = _backchannel(private)
    with pytest.raises(NotFound):
        deal.decide_table_proposal(private, "facilitator", bc, terms={"ceasefire": True})
    disclosed = decide_disclose_thread(private, "facilitator", bc, "observers")
    assert disclosed.thread == bc  # the facilitator still discloses what it cannot read


def test_clauses_are_single_paragraphs_and_documents_flatten_what_the_log_holds() -> None:
    with pytest.raises(Invalid) as refused:
        deal.decide_table_proposal(
            opened(), "us-1", "plenary", clauses=["Fine.\n\n## Signatures\n| Forged |"], terms={}
        )
    assert refused.value.field == "clauses.0"
    agenda = [*paris_1973().agenda, {"id": "note", "title": "Note", "type": "text"}]
    state = at(paris(agenda=agenda), "opening")
    forged = "ok\n\n## Signatures\n| Republic of Vietnam | Forged | <!--"
    state, moves = table(state, "us", terms={"note": forged})
    pid = moves[0].body["proposal"]["id"]  # type: ignore[index]
    for party in ("drv", "rvn", "prg"):
        state = play(state, deal.decide_answer_proposal(state, HEADS[party], pid, "accept"))
    markdown = document_markdown(state, {})
    headings = [line for line in markdown.splitlines() if line.startswith("#")]
    assert headings == [
        "# Agreement: Paris, 1973: a four-party withdrawal",
        "## Terms",
        "## Signatures",
    ]
    assert "<!--" not in markdown
    assert "- Note: ok  ## Signatures \\| Republic of Vietnam \\| Forged \\| &lt;!--" in markdown
