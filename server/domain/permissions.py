"""Who may do what, as tables read by code and docs: role x action x thread kind
(:data:`PERMISSIONS`), and the conditions some actions put on the thing acted on
(:data:`CONDITIONS`).

The fourth dimension, the stage, is in :mod:`server.domain.stages` (rules that close an
action in some stages). The one function that joins the three is
:func:`server.domain.commands.allowed`: the seat's row, then the stage's rules, then (through
the :class:`~server.domain.commands.Permit` it returns) the action's condition. No decision
asks a table directly.

A row's requirement says what else must hold for the seat:

- ``any``: nothing more;
- ``member``: the seat's party is a member of the thread;
- ``head``: the seat is its party's head of delegation;
- ``head_member``: both.

A missing row means the action is forbidden. docs/permissions.md is generated from this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.domain.room_types import Role, ThreadKind


class Action(StrEnum):
    POST_MESSAGE = "post_message"
    OPEN_BACKCHANNEL = "open_backchannel"
    ACCEPT_BACKCHANNEL = "accept_backchannel"
    DECLINE_BACKCHANNEL = "decline_backchannel"
    DISCLOSE_THREAD = "disclose_thread"
    ROTATE_INVITE = "rotate_invite"
    ADD_ISSUE = "add_issue"
    SET_POSITION = "set_position"
    TABLE_PROPOSAL = "table_proposal"
    ENDORSE_PROPOSAL = "endorse_proposal"
    ANSWER_PROPOSAL = "answer_proposal"
    WITHDRAW_PROPOSAL = "withdraw_proposal"
    RECORD_CONCESSION = "record_concession"
    CHANGE_STAGE = "change_stage"
    CONSENT_STAGE = "consent_stage"
    DECLARE_COALITION = "declare_coalition"
    JOIN_COALITION = "join_coalition"
    SIGN_AGREEMENT = "sign_agreement"
    SIGN_CHECKPOINT = "sign_checkpoint"


class Refusal(StrEnum):
    """How a breached condition is answered (``forbidden`` or ``conflict``)."""

    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"


class Needs(StrEnum):
    ANY = "any"
    MEMBER = "member"
    HEAD = "head"
    HEAD_MEMBER = "head_member"


D, F = Role.DELEGATE, Role.FACILITATOR
PLENARY, BACKCHANNEL, CAUCUS = ThreadKind.PLENARY, ThreadKind.BACKCHANNEL, ThreadKind.CAUCUS

A = Action
PERMISSIONS: dict[tuple[Role, Action, ThreadKind | None], Needs] = {
    (D, A.POST_MESSAGE, PLENARY): Needs.ANY,
    (D, A.POST_MESSAGE, BACKCHANNEL): Needs.MEMBER,
    (D, A.POST_MESSAGE, CAUCUS): Needs.MEMBER,
    (F, A.POST_MESSAGE, PLENARY): Needs.ANY,
    (D, A.OPEN_BACKCHANNEL, BACKCHANNEL): Needs.HEAD,
    (D, A.ACCEPT_BACKCHANNEL, BACKCHANNEL): Needs.HEAD_MEMBER,
    (D, A.DECLINE_BACKCHANNEL, BACKCHANNEL): Needs.HEAD_MEMBER,
    (F, A.DISCLOSE_THREAD, BACKCHANNEL): Needs.ANY,
    (F, A.DISCLOSE_THREAD, CAUCUS): Needs.ANY,
    (F, A.ROTATE_INVITE, None): Needs.ANY,
    (F, A.ADD_ISSUE, None): Needs.ANY,
    (D, A.SET_POSITION, CAUCUS): Needs.HEAD_MEMBER,
    (D, A.TABLE_PROPOSAL, PLENARY): Needs.HEAD,
    (D, A.TABLE_PROPOSAL, BACKCHANNEL): Needs.HEAD_MEMBER,
    (F, A.TABLE_PROPOSAL, PLENARY): Needs.ANY,
    (D, A.ENDORSE_PROPOSAL, CAUCUS): Needs.HEAD_MEMBER,
    (D, A.ANSWER_PROPOSAL, PLENARY): Needs.HEAD,
    (D, A.ANSWER_PROPOSAL, BACKCHANNEL): Needs.HEAD_MEMBER,
    (D, A.WITHDRAW_PROPOSAL, PLENARY): Needs.HEAD,
    (D, A.WITHDRAW_PROPOSAL, BACKCHANNEL): Needs.HEAD_MEMBER,
    (D, A.WITHDRAW_PROPOSAL, CAUCUS): Needs.HEAD_MEMBER,
    (F, A.WITHDRAW_PROPOSAL, PLENARY): Needs.ANY,
    (D, A.RECORD_CONCESSION, PLENARY): Needs.HEAD,
    (D, A.RECORD_CONCESSION, BACKCHANNEL): Needs.HEAD_MEMBER,
    (F, A.CHANGE_STAGE, None): Needs.ANY,
    (D, A.CONSENT_STAGE, None): Needs.HEAD,
    (D, A.DECLARE_COALITION, None): Needs.HEAD,
    (D, A.JOIN_COALITION, None): Needs.HEAD,
    (D, A.SIGN_AGREEMENT, PLENARY): Needs.HEAD,
    (F, A.SIGN_CHECKPOINT, None): Needs.ANY,
}
"""Observers appear in no row: they read, they never act (observer notes come later)."""


class Also(StrEnum):
    """A condition on the thing acted on, rather than on the seat."""

    SPONSOR = "sponsor"
    """The seat's party sponsors the proposal (any member, for a coalition's joint proposal);
    a facilitator, a mediator's single text."""
    ANSWERING = "answering"
    """The seat's party is one whose answer the proposal waits for."""
    NAMED = "named"
    """The seat's party is named in the coalition."""
    NO_FACILITATOR = "no_facilitator"
    """The room has no facilitator (the stage then moves by every head's consent)."""


@dataclass(frozen=True, slots=True)
class Condition:
    also: Also
    refusal: Refusal
    message: str


CONDITIONS: dict[Action, Condition] = {
    A.WITHDRAW_PROPOSAL: Condition(
        Also.SPONSOR, Refusal.FORBIDDEN, "only the sponsor withdraws a proposal"
    ),
    A.ANSWER_PROPOSAL: Condition(
        Also.ANSWERING, Refusal.FORBIDDEN, "your party is not a party to this proposal's thread"
    ),
    A.JOIN_COALITION: Condition(
        Also.NAMED, Refusal.FORBIDDEN, "your party was not named in this coalition"
    ),
    A.CONSENT_STAGE: Condition(
        Also.NO_FACILITATOR, Refusal.CONFLICT, "this room has a facilitator, who moves the stage"
    ),
}
"""The condition an action puts on what it acts on, with how a breach is refused."""


def requirement(role: Role, action: Action, kind: ThreadKind | None) -> Needs | None:
    """The requirement for ``role`` doing ``action`` on a thread of ``kind``; None: forbidden."""
    return PERMISSIONS.get((role, action, kind))
