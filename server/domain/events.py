"""Event kinds and the record: the object whose canonical bytes the log hashes (DESIGN §2, §5)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

RECORD_VERSION = 1


class EventKind(StrEnum):
    """Every kind of change in a room. Past tense: an event is something that happened."""

    ROOM_CREATED = "room_created"
    SEAT_JOINED = "seat_joined"
    SEAT_INVITE_ROTATED = "seat_invite_rotated"
    THREAD_OPENED = "thread_opened"
    THREAD_ACCEPTED = "thread_accepted"
    THREAD_DECLINED = "thread_declined"
    MESSAGE_POSTED = "message_posted"
    PROPOSAL_TABLED = "proposal_tabled"
    PROPOSAL_ANSWERED = "proposal_answered"
    PROPOSAL_WITHDRAWN = "proposal_withdrawn"
    CONCESSION_RECORDED = "concession_recorded"
    STAGE_CHANGED = "stage_changed"
    EXERCISE_PAUSED = "exercise_paused"
    EXERCISE_RESUMED = "exercise_resumed"
    INJECT_PUBLISHED = "inject_published"
    THREAD_DISCLOSED = "thread_disclosed"
    AGREEMENT_REACHED = "agreement_reached"
    AGREEMENT_SIGNED = "agreement_signed"
    OBSERVER_NOTE_ADDED = "observer_note_added"
    CORRECTION_ISSUED = "correction_issued"
    AGENDA_ISSUE_ADDED = "agenda_issue_added"
    POSITION_SET = "position_set"
    PROPOSAL_DRAFTED = "proposal_drafted"
    PROPOSAL_ENDORSED = "proposal_endorsed"
    RETRACTION_RECORDED = "retraction_recorded"
    STAGE_CONSENTED = "stage_consented"
    COALITION_DECLARED = "coalition_declared"
    COALITION_JOINED = "coalition_joined"
    AGREEMENT_CONCLUDED = "agreement_concluded"


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds and a ``Z``: the only timestamp form in records."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    # ``isoformat`` is a third of the cost of ``strftime`` and gives the same text for years
    # 1000-9999 ("+00:00" replaced by "Z"); this runs once per append.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_timestamp(text: str) -> datetime:
    """Inverse of :func:`format_timestamp`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def build_record(
    *,
    room: str,
    seq: int,
    kind: str,
    stage: str,
    seat: str | None,
    party: str | None,
    thread: str | None,
    ts: str,
    salt: bytes,
    body: Mapping[str, object],
) -> dict[str, object]:
    """The record of one event. Every key is always present, so the shape never depends on data."""
    return {
        "v": RECORD_VERSION,
        "room": room,
        "seq": seq,
        # Plain str (not a StrEnum member): the canonical encoder's fast path takes only str.
        "kind": str(kind),
        "stage": str(stage),
        "actor": {"seat": seat, "party": party},
        "thread": thread,
        "ts": ts,
        "salt": salt.hex(),
        "body": dict(body),
    }


CREATING_KINDS = frozenset(
    {
        EventKind.THREAD_OPENED,
        EventKind.PROPOSAL_TABLED,
        EventKind.PROPOSAL_DRAFTED,
        EventKind.COALITION_DECLARED,
    }
)


def created_id(kind: str, body: Mapping[str, Any]) -> str | None:
    """The id of what an event of ``kind`` created (a back-channel, proposal or coalition)."""
    if kind == EventKind.THREAD_OPENED:
        return str(body["thread"]["id"])
    if kind in (EventKind.PROPOSAL_TABLED, EventKind.PROPOSAL_DRAFTED):
        return str(body["proposal"]["id"])
    if kind == EventKind.COALITION_DECLARED:
        return str(body["coalition"]["id"])
    return None
