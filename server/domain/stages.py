"""Stages as data: the rules that close actions in a stage, and the stage machine.

A :class:`StageRule` closes one action (optionally only in threads of one kind) in a set of
stages. A room's rules are written into its ``room_created`` record, so the log says which
rules held; a room on the default stage list gets :data:`DEFAULT_RULES`. A refusal names the
rule (:class:`~server.domain.errors.StageClosed`).

The stage machine (:func:`transitions`) moves forward one stage at a time or back to any
earlier stage, never out of the last one. :data:`ENTRY_GUARDS` says what must hold to enter a
stage: the default list enters ``post-agreement`` only once the agreement is signed by every
party. Who moves the stage is in the permission table: the facilitator, or, in a room with
no facilitator, every head of delegation by consent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from server.domain.errors import Invalid, StageClosed
from server.domain.permissions import Action
from server.domain.room_types import DEFAULT_STAGES, ThreadKind


@dataclass(frozen=True, slots=True)
class StageRule:
    name: str
    action: Action
    closed_in: frozenset[str]
    reason: str
    thread_kind: ThreadKind | None = None
    """None: the action is closed whatever the thread (or for actions on no thread)."""

    def closes(self, stage: str, action: Action, kind: ThreadKind | None) -> bool:
        return (
            action == self.action
            and stage in self.closed_in
            and (self.thread_kind is None or self.thread_kind == kind)
        )

    def as_body(self) -> dict[str, object]:
        return {
            "name": self.name,
            "action": self.action.value,
            "thread_kind": None if self.thread_kind is None else self.thread_kind.value,
            "closed_in": sorted(self.closed_in),
            "reason": self.reason,
        }


def _rule(
    name: str,
    action: Action,
    reason: str,
    *,
    closed_in: Sequence[str] = (),
    open_only_in: Sequence[str] = (),
    kind: ThreadKind | None = None,
) -> StageRule:
    closed = {s for s in DEFAULT_STAGES if s not in open_only_in} if open_only_in else closed_in
    return StageRule(name, action, frozenset(closed), reason, kind)


PRE, OPENING, DETAILED, VERIFICATION, FORMALIZATION, POST = DEFAULT_STAGES

DEFAULT_RULES: tuple[StageRule, ...] = (
    _rule(
        "agenda-fixed-after-pre-negotiation",
        Action.ADD_ISSUE,
        "issues are added to the agenda only during pre-negotiation",
        open_only_in=[PRE],
    ),
    _rule(
        "no-proposals-in-pre-negotiation",
        Action.TABLE_PROPOSAL,
        "pre-negotiation settles the framework and agenda; proposals come from the opening",
        closed_in=[PRE],
    ),
    _rule(
        "no-new-proposals-in-formalization",
        Action.TABLE_PROPOSAL,
        "no new proposals once the text is being formalized",
        closed_in=[FORMALIZATION, POST],
    ),
    _rule(
        "no-joint-proposals-in-formalization",
        Action.ENDORSE_PROPOSAL,
        "no new proposals once the text is being formalized",
        closed_in=[FORMALIZATION, POST],
    ),
    _rule(
        "backchannels-closed-in-formalization",
        Action.OPEN_BACKCHANNEL,
        "back-channels are closed during formalization",
        closed_in=[FORMALIZATION],
    ),
    _rule(
        "backchannels-closed-in-formalization",
        Action.ACCEPT_BACKCHANNEL,
        "back-channels are closed during formalization",
        closed_in=[FORMALIZATION],
    ),
    _rule(
        "backchannels-closed-in-formalization",
        Action.POST_MESSAGE,
        "back-channels are closed during formalization",
        closed_in=[FORMALIZATION],
        kind=ThreadKind.BACKCHANNEL,
    ),
    _rule(
        "answers-closed-after-agreement",
        Action.ANSWER_PROPOSAL,
        "proposals are no longer answered after the agreement",
        closed_in=[POST],
    ),
    _rule(
        "answers-closed-after-agreement",
        Action.WITHDRAW_PROPOSAL,
        "proposals are no longer withdrawn after the agreement",
        closed_in=[POST],
    ),
    _rule(
        "signing-only-in-formalization",
        Action.SIGN_AGREEMENT,
        "the agreement is signed during formalization",
        open_only_in=[FORMALIZATION],
    ),
)
"""The rules of the default stage list (DESIGN §3)."""


class Guard(StrEnum):
    AGREEMENT_SIGNED = "agreement_signed"


ENTRY_GUARDS: Mapping[str, Guard] = {POST: Guard.AGREEMENT_SIGNED}
"""What must hold before a stage may be entered (by stage name)."""


def transitions(stages: Sequence[str], current: str) -> tuple[str, ...]:
    """The stages ``current`` may move to: the next one, or any earlier one; none from the last."""
    if current not in stages:
        return ()
    i = list(stages).index(current)
    if i == len(stages) - 1:
        return ()
    return (stages[i + 1], *stages[:i])


def check_open(
    rules: Sequence[StageRule], stage: str, action: Action, kind: ThreadKind | None
) -> None:
    """Raise :class:`StageClosed` naming the first rule that closes ``action`` in ``stage``."""
    for rule in rules:
        if rule.closes(stage, action, kind):
            raise StageClosed(
                f"{rule.reason} (rule {rule.name!r}, stage {stage!r})", rule=rule.name
            )


def parse_rules(raw: object, stages: Sequence[str], where: str = "rules") -> tuple[StageRule, ...]:
    """A room's own rules from their JSON form (a scenario with its own stages)."""
    if not isinstance(raw, list):
        raise Invalid("rules are a list", field=where)
    out = []
    for i, item in enumerate(raw):
        at = f"{where}.{i}"
        if not isinstance(item, Mapping):
            raise Invalid("a rule is an object", field=at)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 80:
            raise Invalid("a rule needs a name of 1 to 80 characters", field=f"{at}.name")
        try:
            action = Action(str(item.get("action")))
        except ValueError:
            raise Invalid("no such action", field=f"{at}.action") from None
        kind_raw = item.get("thread_kind")
        try:
            kind = None if kind_raw is None else ThreadKind(kind_raw)
        except ValueError:
            raise Invalid("no such thread kind", field=f"{at}.thread_kind") from None
        closed = item.get("closed_in")
        if not isinstance(closed, list) or not all(s in stages for s in closed):
            raise Invalid("closed_in lists stages of this room", field=f"{at}.closed_in")
        reason = item.get("reason", name)
        if not isinstance(reason, str) or len(reason) > 200:
            raise Invalid("a reason has at most 200 characters", field=f"{at}.reason")
        out.append(StageRule(name, action, frozenset(closed), reason, kind))
    return tuple(out)
