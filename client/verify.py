"""Checking an event against its leaf hash: SHA-256(0x00 || RFC 8785 canonical JSON of record).

The server sends each full event's record as the exact bytes its log hashed. Once parsed, the
record is encoded again per RFC 8785 (JSON Canonicalization Scheme, ``protocol.canonical``: the
one encoder the server's log uses too) and hashed as an RFC 6962 leaf. A record that has no
canonical form (a float, an integer beyond ±(2**53 - 1)) cannot be checked and fails
verification.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from client.errors import VerificationError
from client.models import Event
from protocol.canonical import MAX_SAFE_INTEGER, CanonicalError, canonical_json

__all__ = ["MAX_SAFE_INTEGER", "NotCanonical", "canonical_json", "check_event", "leaf_hash"]

LEAF_PREFIX = b"\x00"

NotCanonical = CanonicalError
"""A value with no canonical form in a Parley record (float, huge integer, ...)."""


def leaf_hash(record: Mapping[str, object]) -> str:
    """The hex RFC 6962 leaf hash of a record."""
    return hashlib.sha256(LEAF_PREFIX + canonical_json(record)).hexdigest()


def check_event(event: Event) -> None:
    """Raise :class:`~client.errors.VerificationError` unless a full event matches its hash.

    Sealed events carry no record, so only their presence is known; they pass.
    """
    if event.record is None:
        return
    try:
        actual: str | None = leaf_hash(event.record)
    except NotCanonical:
        actual = None
    if actual != event.leaf_hash.lower():
        raise VerificationError(event.room, event.seq, event.leaf_hash, actual)
