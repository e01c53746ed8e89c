"""The verifiable export's layout (DESIGN §5): file names, sealed lines and the README.

An export is a folder (or a zip of one)::

    events.jsonl            one line per event in seq order: the record itself, or a sealed line
    checkpoints/<size>.txt  C2SP signed checkpoints; the last covers every line
    key.pub                 the server's note-verifier key
    README.md               how to verify

A line the viewer may read is the record, exactly the object whose RFC 8785 bytes are hashed.
A line the viewer may not read is ``{"seq": N, "sealed": true, "leaf_hash": "<64 hex>"}``; an
event the viewer may know of (sealed) also says its ``kind``, ``stage`` and ``ts``, which the
hash does not cover. An event hidden from the viewer has only the three required members.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

EVENTS_FILE = "events.jsonl"
CHECKPOINTS_DIR = "checkpoints"
KEY_FILE = "key.pub"
README_FILE = "README.md"
SEALED_REQUIRED = ("seq", "sealed", "leaf_hash")
CHECKPOINT_NAME = re.compile(r"(0|[1-9][0-9]*)\.txt")


def checkpoint_file(size: int) -> str:
    """The name of a checkpoint's file inside ``checkpoints/``."""
    return f"{size}.txt"


def sealed_line(
    seq: int,
    leaf_hash: bytes,
    *,
    kind: str | None = None,
    stage: str | None = None,
    ts: str | None = None,
) -> bytes:
    """The line of an event the viewer may not read, without its newline."""
    line: dict[str, object] = {"seq": seq, "sealed": True, "leaf_hash": leaf_hash.hex()}
    for name, value in (("kind", kind), ("stage", stage), ("ts", ts)):
        if value is not None:
            line[name] = value
    return json.dumps(line, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def readme(
    *,
    room: str,
    origin: str,
    viewer: str,
    lines: int,
    sealed: int,
    checkpoint_sizes: Sequence[int],
    verifier_key: str,
) -> str:
    """The export's README.md: what the folder holds and how to check it."""
    sizes = ", ".join(str(size) for size in checkpoint_sizes)
    return f"""\
# Verifiable export of room {room}

This is {viewer} of the log of room `{room}`, up to event {lines}, as signed by the server
whose key is in `key.pub` (checkpoint origin `{origin}`).

- `{EVENTS_FILE}`: one line per event in seq order, {lines} lines: {lines - sealed} records and
  {sealed} sealed lines. A record line is the event's record itself; its RFC 6962 leaf hash is
  SHA-256(0x00 || the RFC 8785 canonical JSON of the line). A sealed line
  `{{"seq": N, "sealed": true, "leaf_hash": "..."}}` stands for an event this view may not read:
  it gives only its position and leaf hash (and, for an event the view knows of, its kind,
  stage and time, which the hash does not cover). Sealed lines can be counted: that is the
  price of one verifiable log per room.
- `{CHECKPOINTS_DIR}/<size>.txt`: C2SP signed checkpoints (sizes {sizes}): the origin, the
  tree size, the base64 RFC 6962 root of the first `size` lines, a blank line and the server's
  Ed25519 signature line. The last one covers every line. The server signs one at every stage
  change, on request, and for every export.
- `{KEY_FILE}`: the server's public key in note-verifier form: `{verifier_key}`.

## Verifying

    parley audit verify <this folder or its zip> [--key KEY] [--checkpoint FILE ...]

needs no server and no database. It recomputes every leaf hash and the root at every
checkpoint's size, checks every signature and that each checkpoint extends the earlier ones,
and exits 0 only if all of it holds; otherwise it names the first bad line or checkpoint.

- `key.pub` comes with the export; pass the key you obtained from the server earlier (or from
  another channel) with `--key` so that the check does not rest on the export alone.
- Pass checkpoints you saved earlier (from an earlier export, or from
  `GET /api/v1/rooms/{room}/checkpoints`) with `--checkpoint`: the export must agree with
  them. That is what shows that nothing signed before was rewritten since, and that records
  disclosed later are the ones that were sealed then.

Any RFC 6962 implementation and any C2SP signed-note verifier (Go's
`golang.org/x/mod/sumdb/note`, say) can check the same files. A tree root does not fix the tree
size by itself: always take a size and a root from the same signed checkpoint.
"""
