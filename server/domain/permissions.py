"""Who may do what, as one table (role x action x thread kind), read by code and docs.

A row's requirement says what else must hold for the seat:

- ``any``: nothing more;
- ``member``: the seat's party is a member of the thread;
- ``head``: the seat is its party's head of delegation;
- ``head_member``: both.

A missing row means the action is forbidden. docs/permissions.md is generated from this table.
"""

from __future__ import annotations

from enum import StrEnum

from server.domain.room import Role, ThreadKind


class Action(StrEnum):
    POST_MESSAGE = "post_message"
    OPEN_BACKCHANNEL = "open_backchannel"
    ACCEPT_BACKCHANNEL = "accept_backchannel"
    DISCLOSE_THREAD = "disclose_thread"
    ROTATE_INVITE = "rotate_invite"
    SIGN_CHECKPOINT = "sign_checkpoint"


class Needs(StrEnum):
    ANY = "any"
    MEMBER = "member"
    HEAD = "head"
    HEAD_MEMBER = "head_member"


D, F = Role.DELEGATE, Role.FACILITATOR
PLENARY, BACKCHANNEL, CAUCUS = ThreadKind.PLENARY, ThreadKind.BACKCHANNEL, ThreadKind.CAUCUS

PERMISSIONS: dict[tuple[Role, Action, ThreadKind | None], Needs] = {
    (D, Action.POST_MESSAGE, PLENARY): Needs.ANY,
    (D, Action.POST_MESSAGE, BACKCHANNEL): Needs.MEMBER,
    (D, Action.POST_MESSAGE, CAUCUS): Needs.MEMBER,
    (F, Action.POST_MESSAGE, PLENARY): Needs.ANY,
    (D, Action.OPEN_BACKCHANNEL, BACKCHANNEL): Needs.HEAD,
    (D, Action.ACCEPT_BACKCHANNEL, BACKCHANNEL): Needs.HEAD_MEMBER,
    (F, Action.DISCLOSE_THREAD, BACKCHANNEL): Needs.ANY,
    (F, Action.DISCLOSE_THREAD, CAUCUS): Needs.ANY,
    (F, Action.ROTATE_INVITE, None): Needs.ANY,
    (F, Action.SIGN_CHECKPOINT, None): Needs.ANY,
}
"""Observers appear in no row: they read, they never act (observer notes come later)."""


def requirement(role: Role, action: Action, kind: ThreadKind | None) -> Needs | None:
    """The requirement for ``role`` doing ``action`` on a thread of ``kind``; None: forbidden."""
    return PERMISSIONS.get((role, action, kind))
