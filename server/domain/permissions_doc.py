"""docs/permissions.md, rendered from the permission table and the default stage rules."""

from __future__ import annotations

from server.domain.permissions import CONDITIONS, PERMISSIONS, Action, Also, Needs
from server.domain.room_types import DEFAULT_STAGES, Role, ThreadKind
from server.domain.stages import DEFAULT_RULES, ENTRY_GUARDS, transitions

_NEEDS = {
    Needs.ANY: "yes",
    Needs.MEMBER: "if its party is a member",
    Needs.HEAD: "head of delegation",
    Needs.HEAD_MEMBER: "head, if its party is a member",
}
_KINDS: list[ThreadKind | None] = [None, *ThreadKind]
_ALSO = {
    Also.SPONSOR: "the seat's party sponsors the proposal (a facilitator: a mediator's text)",
    Also.ANSWERING: "the seat's party is one whose answer the proposal waits for",
    Also.NAMED: "the seat's party is named in the coalition",
    Also.NO_FACILITATOR: "the room has no facilitator",
}


def render() -> str:
    out = [
        "# Permissions",
        "",
        "Generated from `server/domain/permissions.py` and `server/domain/stages.py` by",
        "`make schema`; a test fails when this file is out of step. Do not edit by hand.",
        "",
        "An action is allowed when the table below allows it for the seat's role and the",
        "thread's kind, **and** no rule of the room's current stage closes it, **and** the",
        "condition it puts on what it acts on holds (the last table). One function joins the",
        "three (`allowed` in `server/domain/commands.py`). Otherwise the",
        "command is refused: `forbidden` (the role, headship or membership is wrong),",
        "`stage_closed` (a stage rule; the message names the rule), or `not_found` when the",
        "thread or proposal is one the seat may not see (never `forbidden`, so a refusal does",
        "not reveal a back-channel). Observers are in no row: they read, they never act.",
        "",
        "## Role, action and thread kind",
        "",
        "| action | thread | facilitator | delegate | observer |",
        "|---|---|---|---|---|",
    ]
    for action in Action:
        for kind in _KINDS:
            cells = [PERMISSIONS.get((role, action, kind)) for role in Role]
            if all(c is None for c in cells):
                continue
            where = "—" if kind is None else kind.value
            row = ["no" if c is None else _NEEDS[c] for c in cells]
            out.append(f"| `{action.value}` | {where} | " + " | ".join(row) + " |")
    out += [
        "",
        "## Conditions on what is acted on",
        "",
        "| action | only if | refused as | message |",
        "|---|---|---|---|",
    ]
    for action, condition in CONDITIONS.items():
        out.append(
            f"| `{action.value}` | {_ALSO[condition.also]} | `{condition.refusal.value}` "
            f"| {condition.message} |"
        )
    out += [
        "",
        "## Stage rules (default stages)",
        "",
        "A rule closes an action (in threads of one kind, or in all) during some stages.",
        "A room created with its own stage list may carry its own rules; they are written",
        "into its `room_created` record either way.",
        "",
        "| rule | action | thread | " + " | ".join(DEFAULT_STAGES) + " |",
        "|---|---|---|" + "---|" * len(DEFAULT_STAGES),
    ]
    for rule in DEFAULT_RULES:
        where = "any" if rule.thread_kind is None else rule.thread_kind.value
        marks = ["closed" if s in rule.closed_in else "" for s in DEFAULT_STAGES]
        out.append(
            f"| `{rule.name}` | `{rule.action.value}` | {where} | " + " | ".join(marks) + " |"
        )
    out += [
        "",
        "## The stage machine",
        "",
        "The stage moves forward one step, or back to any earlier stage; never out of the last.",
        "The facilitator moves it (`change_stage`); in a room without a facilitator it moves",
        "when every head of delegation has consented to the same stage (`consent_stage`).",
        "",
        "| from | may move to | entry condition |",
        "|---|---|---|",
    ]
    for stage in DEFAULT_STAGES:
        targets = ", ".join(transitions(DEFAULT_STAGES, stage)) or "—"
        guard = ENTRY_GUARDS.get(stage)
        out.append(f"| {stage} | {targets} | {guard.value if guard else ''} |")
    return "\n".join(out) + "\n"
