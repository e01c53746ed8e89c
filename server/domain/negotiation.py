"""The negotiation's parts of a room's state: positions, proposals, coalitions, the agreement.

Plain values, folded from the log by :mod:`server.domain.room`; what they mean (a proposal's
status, the concessions a proposal makes) is derived in :mod:`server.domain.bargaining`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from server.domain.agenda import Value


class Answer(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    RESERVE = "reserve"


class Status(StrEnum):
    """A proposal's status, derived from the log (never stored)."""

    DRAFT = "draft"
    """A coalition's joint proposal waiting for every member's endorsement."""
    TABLED = "tabled"
    ACCEPTED_BY_SOME = "accepted_by_some"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    WITHDRAWN = "withdrawn"
    AGREED = "agreed"


@dataclass(frozen=True, slots=True)
class Position:
    """A party's confidential position on one issue (from its brief or set by its head)."""

    party: str
    issue: str
    direction: str | None = None
    preferred: Value | None = None
    reservation: Value | None = None

    def as_body(self) -> dict[str, Any]:
        return {
            "issue": self.issue,
            "direction": self.direction,
            "preferred": self.preferred,
            "reservation": self.reservation,
        }


@dataclass(frozen=True, slots=True)
class Proposal:
    id: str
    thread: str
    """Where it is (or, for a draft, will be) tabled."""
    sponsors: tuple[str, ...]
    """Parties putting it forward; empty for a mediator's single text."""
    seat: str
    seq: int
    """The event that tabled it (or drafted it, while a draft)."""
    stage: str
    terms: Mapping[str, Value] = field(default_factory=dict)
    clauses: tuple[str, ...] = ()
    title: str = ""
    parent: str | None = None
    coalition: str | None = None
    draft: bool = False
    endorsed: frozenset[str] = frozenset()
    answers: Mapping[str, tuple[Answer, str]] = field(default_factory=dict)
    """Each party's latest answer and its reason."""
    withdrawn: bool = False
    superseded_by: str | None = None

    @property
    def mediator(self) -> bool:
        return not self.sponsors

    def as_body(self) -> dict[str, Any]:
        """The proposal as its tabling record holds it."""
        return {
            "id": self.id,
            "title": self.title,
            "sponsors": list(self.sponsors),
            "parent": self.parent,
            "coalition": self.coalition,
            "terms": dict(self.terms),
            "clauses": list(self.clauses),
        }


@dataclass(frozen=True, slots=True)
class Coalition:
    id: str
    name: str
    parties: frozenset[str]
    joined: frozenset[str]
    declared_by: str

    @property
    def formed(self) -> bool:
        return self.joined >= self.parties


@dataclass(frozen=True, slots=True)
class Agreement:
    id: str
    proposal: str
    seq: int
    terms: Mapping[str, Value]
    clauses: tuple[str, ...]
    parties: tuple[str, ...]
    text: str
    """The text the parties sign (Markdown), fixed when the agreement was reached."""
    text_sha256: str
    signatures: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    """Party → (signatory's name, seq of the signature)."""
    concluded_seq: int | None = None

    @property
    def signed(self) -> bool:
        return set(self.signatures) >= set(self.parties)
