"""The words of a room: roles, thread kinds, audiences, the default stages."""

from __future__ import annotations

from enum import StrEnum

DEFAULT_STAGES = (
    "pre-negotiation",
    "opening",
    "detailed-discussion",
    "verification",
    "formalization",
    "post-agreement",
)

PLENARY = "plenary"


class Role(StrEnum):
    FACILITATOR = "facilitator"
    DELEGATE = "delegate"
    OBSERVER = "observer"


class ThreadKind(StrEnum):
    PLENARY = "plenary"
    BACKCHANNEL = "backchannel"
    CAUCUS = "caucus"


class Audience(StrEnum):
    """Whom a disclosed thread is disclosed to."""

    OBSERVERS = "observers"
    EVERYONE = "everyone"
