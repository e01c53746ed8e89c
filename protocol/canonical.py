"""RFC 8785 (JSON Canonicalization Scheme) for the records of the log.

Records hold no floats (DESIGN §5): numbers are integers, decimals are strings. That keeps the
encoder exact and small: an integer's canonical form is its decimal digits, which is what the
ECMAScript number serialisation of RFC 8785 gives for every integer that a double represents
exactly. Integers outside ±(2**53 - 1) are refused because RFC 8785 would round them.

Object members are sorted by their names as arrays of UTF-16 code units (RFC 8785 §3.2.3);
comparing the UTF-16-BE encodings byte by byte gives exactly that order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import cast

import orjson

MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalError(ValueError):
    """A value that has no canonical encoding in a Parley record.

    Attributes:
        path: where in the value the problem is, as a JSON-pointer-like string ("/body/terms/0").
    """

    def __init__(self, message: str, path: str) -> None:
        super().__init__(f"{message} at {path or '/'}")
        self.path = path


_SHORT_ESCAPES = {
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
    0x22: '\\"',
    0x5C: "\\\\",
}
_ESCAPES = {code: _SHORT_ESCAPES.get(code, f"\\u{code:04x}") for code in [*range(0x20), 0x22, 0x5C]}
_TRANSLATION = str.maketrans(_ESCAPES)


def _encode_string(value: str, path: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalError("string holds a lone surrogate", path) from exc
    return '"' + value.translate(_TRANSLATION) + '"'


def _sort_key(name: str) -> bytes:
    return name.encode("utf-16-be", "surrogatepass")


def _encode(value: object, path: str, out: list[str]) -> None:
    # bool before int: bool is a subclass of int.
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CanonicalError("integer outside ±(2**53 - 1)", path)
        out.append(str(int(value)))
    elif isinstance(value, str):
        out.append(_encode_string(value, path))
    elif isinstance(value, float):
        raise CanonicalError("floats are not allowed in records; use a decimal string", path)
    elif isinstance(value, Mapping):
        out.append("{")
        names = list(value)
        for name in names:
            if not isinstance(name, str):
                raise CanonicalError("object member names must be strings", path)
        for i, name in enumerate(sorted(names, key=_sort_key)):
            if i:
                out.append(",")
            member_path = f"{path}/{name}"
            out.append(_encode_string(name, member_path))
            out.append(":")
            _encode(value[name], member_path, out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, f"{path}/{i}", out)
        out.append("]")
    else:
        raise CanonicalError(f"{type(value).__name__} has no JSON form", path)


def canonical_json(value: object) -> bytes:
    """Encode ``value`` per RFC 8785 and return the UTF-8 bytes.

    Raises:
        CanonicalError: the value holds a float, a too-large integer, a non-string member
            name, a lone surrogate or a type JSON cannot express.
    """
    fast = _fast(value)
    if fast is not None:
        return fast
    out: list[str] = []
    _encode(value, "", out)
    return "".join(out).encode("utf-8")


_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_AT_OR_ABOVE_D800 = re.compile(rb"\xed[\xa0-\xbf]|[\xee-\xf4]")
"""UTF-8 of characters whose UTF-16 order may differ from their code point order."""


def _fast(value: object) -> bytes | None:
    """The same bytes through ``orjson``, or None when it cannot vouch for them.

    ``orjson`` escapes exactly as RFC 8785 does (the short forms ``\\b \\t \\n \\f \\r \\" \\\\``
    and lowercase ``\\u00xx`` for other controls, nothing else) and writes UTF-8 without
    whitespace. It differs in three places, each checked here: member order (code points vs
    UTF-16 units — equal while no character is at or above U+D800), numbers (floats, which
    :func:`_plain` refuses, and integers beyond 2**53, which ``OPT_STRICT_INTEGER`` refuses),
    and values of other types. Anything doubtful goes to the exact encoder, which also names the
    bad path. ``tests/protocol/test_canonical.py`` compares both with the ``rfc8785`` package on
    generated values and generated records.
    """
    try:
        data = orjson.dumps(value, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: a lone surrogate, a big integer, a type
        return None
    # ``isascii`` is a flag check; the bytes are scanned only when they hold more than ASCII.
    if not data.isascii() and _AT_OR_ABOVE_D800.search(data) is not None:
        return None
    if not _plain(value):
        return None
    return data


def _plain(value: object) -> bool:
    """No floats, no oversized integers, no non-string keys, no unknown types."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            children: Iterable[object] = item.values()  # type: ignore[attr-defined]
            for key in item:  # type: ignore[attr-defined]
                if type(key) is not str:
                    return False
        elif kind is list or kind is tuple:
            children = cast("Sequence[object]", item)
        else:
            children = (item,)
        # Scalars are checked here rather than pushed: most members of a record are strings.
        for child in children:
            ckind = type(child)
            if ckind is str or child is None or ckind is bool:
                continue
            if ckind is int:
                if not -MAX_SAFE_INTEGER <= child <= MAX_SAFE_INTEGER:  # type: ignore[operator]
                    return False
            elif ckind is dict or ckind is list or ckind is tuple:
                stack.append(child)
            else:
                return False
    return True
