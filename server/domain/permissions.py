"""Who may do what, as one table (role x action x thread kind), read by code and docs.

The fourth dimension, the stage, is in :mod:`server.domain.stages` (rules that close an
action in some stages), so the effective answer is this table and then those rules.

A row's requirement says what else must hold for the seat:

- ``any``: nothing more;
- ``member``: the seat's party is a member of the thread;
- ``head``: the seat is its party's head of delegation;
- ``head_member``: both.

A missing row means the action is forbidden. docs/permissions.md is generated from this table.
"""

from __future__ import annotations

from enum import StrEnum

from server.domain.room_types import Role, ThreadKind


class Action(StrEnum):
    POST_MESSAGE = "post_message"
    OPEN_BACKCHANNEL = "open_backchannel"
    ACCEPT_BACKCHANNEL = "accept_backchannel"
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
"""Observers appear in no row: they read, they never act (observer notes come later).

Some actions have one more condition that is about the thing acted on rather than the seat,
checked where it is decided: a proposal is withdrawn only by a sponsor (any member of a
coalition, for a joint proposal; in a caucus, only a coalition's draft); stages move by
consent only in a room without a facilitator; a head tables a joint proposal only for a
coalition its party belongs to.
"""


def requirement(role: Role, action: Action, kind: ThreadKind | None) -> Needs | None:
    """The requirement for ``role`` doing ``action`` on a thread of ``kind``; None: forbidden."""
    return PERMISSIONS.get((role, action, kind))
