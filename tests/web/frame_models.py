"""What the protocol's models say of each client frame, read from their JSON Schema.

The bad-frame corpus (``bad_frames.py``) builds its cases from this, so a command added to
``protocol/frames.py`` gets its cases without anyone listing its fields: :data:`SHAPES` has, for
every client frame type, its fields with the JSON types each may hold and which are required,
and :func:`example` makes a value the model accepts for any field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from protocol.frames import CLIENT_FRAME

SCHEMA: dict[str, Any] = CLIENT_FRAME.json_schema()
DEFS: dict[str, Any] = SCHEMA["$defs"]
JSON_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
ENVELOPE = ("v", "type")
"""Fields every frame has; the corpus breaks them with cases of their own."""

_CANDIDATE_STRINGS = ("x1", "plenary", "bf-001", "ps_x", "a", "A quiet word")


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = DEFS[node["$ref"].rsplit("/", 1)[-1]]
    return node


def json_types(node: dict[str, Any]) -> frozenset[str]:
    """The JSON types a value of ``node`` may have (``integer`` also admits no ``number``)."""
    node = resolve(node)
    if "anyOf" in node:
        return frozenset().union(*(json_types(option) for option in node["anyOf"]))
    if "const" in node:
        return frozenset({_type_of(node["const"])})
    if "enum" in node:
        return frozenset(_type_of(v) for v in node["enum"])
    kind = node.get("type")
    if kind is None:
        return frozenset(JSON_TYPES)  # any value
    return frozenset([kind] if isinstance(kind, str) else kind)


def _type_of(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def example(node: dict[str, Any]) -> Any:
    """A value that ``node`` accepts: the smallest one the schema allows."""
    node = resolve(node)
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if json_types(o) != {"null"}]
        return example(options[0] if options else node["anyOf"][0])
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if kind == "string":
        return _string(node)
    if kind == "integer":
        return int(node.get("minimum", 0))
    if kind == "boolean":
        return False
    if kind == "array":
        return [example(node.get("items", {}))] * int(node.get("minItems", 0))
    if kind == "object":
        props = node.get("properties", {})
        return {name: example(props[name]) for name in node.get("required", [])}
    return "x1"


def _string(node: dict[str, Any]) -> str:
    low, high = node.get("minLength", 0), node.get("maxLength", 10**9)
    pattern = node.get("pattern")
    for candidate in _CANDIDATE_STRINGS:
        if low <= len(candidate) <= high and (
            pattern is None or re.search(pattern, candidate) is not None
        ):
            return candidate
    raise ValueError(f"no example string for {node}")


@dataclass(frozen=True)
class Shape:
    """One client frame type as its model declares it."""

    kind: str
    fields: dict[str, frozenset[str]]
    """Every field but ``v`` and ``type``, with the JSON types it may hold."""
    required: frozenset[str]
    nodes: dict[str, dict[str, Any]]
    """Each field's schema, for :func:`example`."""

    def example(self) -> dict[str, Any]:
        """A frame of this type that the protocol accepts, with every field set."""
        body = {name: example(self.nodes[name]) for name in self.fields}
        return {"v": 1, "type": self.kind, **body}


def _shapes() -> dict[str, Shape]:
    out: dict[str, Shape] = {}
    for option in SCHEMA.get("oneOf") or SCHEMA["discriminator"]["mapping"].values():
        node = resolve(option if isinstance(option, dict) else {"$ref": option})
        props: dict[str, Any] = node["properties"]
        kind = props["type"]["const"]
        names = [n for n in props if n not in ENVELOPE]
        out[kind] = Shape(
            kind,
            {n: json_types(props[n]) for n in names},
            frozenset(node.get("required", ())) - set(ENVELOPE),
            {n: props[n] for n in names},
        )
    return out


SHAPES: dict[str, Shape] = _shapes()
"""Every client frame type (``hello`` included), by its ``type``."""
COMMANDS: list[str] = sorted(kind for kind in SHAPES if kind != "hello")
