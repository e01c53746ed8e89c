"""Which pure decision answers which command: one mapping for the WebSocket and HTTP alike."""

from __future__ import annotations

from protocol.frames import (
    AcceptBackchannel,
    AddIssue,
    AnswerProposal,
    ChangeStage,
    ClientCommand,
    ConsentStage,
    DeclareCoalition,
    DeclineBackchannel,
    DiscloseThread,
    EndorseProposal,
    JoinCoalition,
    OpenBackchannel,
    PostMessage,
    RecordConcession,
    SetPosition,
    SignAgreement,
    TableProposal,
    WithdrawProposal,
)
from server.domain import bargaining as deal
from server.domain import commands as rules
from server.domain import procedure as proc
from server.domain.commands import Move
from server.domain.room import RoomState
from server.services.commands import Decide


def decision(command: ClientCommand, seat: str, max_chars: int) -> Decide:
    """The pure decision for ``command`` by ``seat``, to run against the room's state."""

    def decide(state: RoomState) -> Move | tuple[Move, ...]:
        return _decide(command, state, seat, max_chars)

    return decide


def _decide(
    command: ClientCommand, state: RoomState, seat: str, max_chars: int
) -> Move | tuple[Move, ...]:
    match command:
        case PostMessage():
            return rules.decide_post_message(
                state, seat, command.thread, command.text, max_chars=max_chars
            )
        case OpenBackchannel():
            return rules.decide_open_backchannel(state, seat, list(command.parties), command.title)
        case AcceptBackchannel():
            return rules.decide_accept_backchannel(state, seat, command.thread)
        case DeclineBackchannel():
            return rules.decide_decline_backchannel(state, seat, command.thread)
        case DiscloseThread():
            return rules.decide_disclose_thread(state, seat, command.thread, command.to)
        case AddIssue():
            return proc.decide_add_issue(state, seat, command.issue)
        case SetPosition():
            return proc.decide_set_position(
                state,
                seat,
                command.issue,
                direction=command.direction,
                preferred=command.preferred,
                reservation=command.reservation,
            )
        case TableProposal():
            return deal.decide_table_proposal(
                state,
                seat,
                command.thread,
                terms=command.terms,
                clauses=command.clauses,
                title=command.title,
                parent=command.parent,
                coalition=command.coalition,
            )
        case EndorseProposal():
            return deal.decide_endorse_proposal(state, seat, command.proposal)
        case AnswerProposal():
            return deal.decide_answer_proposal(
                state, seat, command.proposal, command.answer, command.reason
            )
        case WithdrawProposal():
            return deal.decide_withdraw_proposal(state, seat, command.proposal)
        case RecordConcession():
            return deal.decide_record_concession(
                state,
                seat,
                command.thread,
                command.description,
                issue=command.issue,
                toward=command.toward,
            )
        case ChangeStage():
            return proc.decide_change_stage(state, seat, command.to)
        case ConsentStage():
            return proc.decide_consent_stage(state, seat, command.to)
        case DeclareCoalition():
            return proc.decide_declare_coalition(state, seat, command.parties, command.name)
        case JoinCoalition():
            return proc.decide_join_coalition(state, seat, command.coalition)
        case SignAgreement():
            return proc.decide_sign_agreement(state, seat, command.agreement)
    raise TypeError(f"no decision for {type(command).__name__}")  # pragma: no cover
