"""Checking an event against its leaf hash: SHA-256(0x00 || RFC 8785 canonical JSON of record).

The server sends each full event's record as the exact bytes its log hashed. Once parsed, the
record is encoded again here per RFC 8785 (JSON Canonicalization Scheme) and hashed as an
RFC 6962 leaf. Records hold no floats (numbers are integers within ±(2**53 - 1), decimals are
strings), which keeps this encoder exact and small; a record that breaks that rule cannot be
checked and fails verification.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

from client.errors import VerificationError
from client.models import Event

MAX_SAFE_INTEGER = 2**53 - 1
LEAF_PREFIX = b"\x00"


class NotCanonical(ValueError):
    """A value with no canonical form in a Parley record (float, huge integer, ...)."""


def _string(value: str) -> str:
    # json.dumps escapes exactly as RFC 8785 §3.2.2.2 does: \b \t \n \f \r \" \\ and lowercase
    # \u00xx for the other controls, every other character as itself.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise NotCanonical("a string holds a lone surrogate") from None
    return json.dumps(value, ensure_ascii=False)


def _sort_key(name: str) -> bytes:
    # RFC 8785 §3.2.3 orders member names by their UTF-16 code units.
    return name.encode("utf-16-be", "surrogatepass")


def _encode(value: object, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise NotCanonical("an integer outside ±(2**53 - 1)")
        out.append(str(int(value)))
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, Mapping):
        if not all(isinstance(name, str) for name in value):
            raise NotCanonical("a member name that is not a string")
        out.append("{")
        for i, name in enumerate(sorted(value, key=_sort_key)):
            out.append("," if i else "")
            out.append(_string(name))
            out.append(":")
            _encode(value[name], out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        out.append("[")
        for i, item in enumerate(value):
            out.append("," if i else "")
            _encode(item, out)
        out.append("]")
    else:
        raise NotCanonical(f"a {type(value).__name__} (records hold no floats)")


def canonical_json(value: object) -> bytes:
    """The RFC 8785 encoding of ``value`` as UTF-8, or :class:`NotCanonical`."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode("utf-8")


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
