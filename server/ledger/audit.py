"""Verifying an export offline (``parley audit verify``): pure, no database, no server.

:func:`verify_export` reads ``events.jsonl`` line by line, once, in constant memory apart from
a few hashes per checkpoint. For every line it recomputes the leaf hash (SHA-256(0x00 || RFC
8785 canonical bytes) of a record; the stated hash of a sealed line) and checks that the line's
``seq`` is its line number. It opens every checkpoint with the trusted key, recomputes the
RFC 6962 root of the first ``size`` lines for each, checks each later checkpoint against each
earlier one with an RFC 9162 consistency proof built from the same lines, and checks that the
last checkpoint covers every line and that every stage change has its checkpoint (the server
signs one at each). Checkpoints held from elsewhere (saved from an earlier export, say) are
checked the same way: the export must agree with every one of them.

The first thing that does not hold raises :class:`AuditError`, whose message names the line or
the checkpoint and why. A changed record or sealed hash cannot be pinned to one line (only
roots are signed), so the message names the checkpoint it breaks and the range of lines
between it and the last checkpoint that held.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from protocol.canonical import CanonicalError, canonical_json
from server.ledger.checkpoint import (
    Checkpoint,
    NoteError,
    SignatureError,
    Verifier,
    open_checkpoint,
    parse_verifier_key,
)
from server.ledger.export import CHECKPOINTS_DIR, EVENTS_FILE, KEY_FILE
from server.ledger.merkle import (
    Frontier,
    MerkleError,
    append_leaves,
    consistency_proof,
    consistency_proof_plan,
    leaf_hash,
    range_nodes,
    root_from_frontier,
    verify_consistency,
)

STAGE_CHANGED = "stage_changed"
_HEX_HASH = re.compile(r"[0-9a-f]{64}")
_FLUSH = 4096


class AuditError(ValueError):
    """The export does not verify; the message names the line or checkpoint and why."""


@dataclass(frozen=True, slots=True)
class CheckpointFile:
    """A signed checkpoint to check the export against.

    Attributes:
        label: how messages name it (``checkpoints/12.txt``, or the path of a held one).
        text: the signed note.
        size: the size its file name promises (the export's own files), or None.
    """

    label: str
    text: str
    size: int | None = None


@dataclass(frozen=True, slots=True)
class AuditReport:
    """What a successful verification established."""

    room: str | None
    origin: str
    key: str
    lines: int
    records: int
    sealed: int
    stage_changes: int
    checkpoints: tuple[int, ...]
    """Sizes of the export's own checkpoints, in order; the last equals ``lines``."""
    held: tuple[int, ...] = ()
    """Sizes of the checkpoints held from elsewhere that the export agrees with."""


@dataclass(slots=True)
class _Opened:
    label: str
    checkpoint: Checkpoint
    held: bool


@dataclass(slots=True)
class _State:
    frontier: Frontier = field(default_factory=lambda: Frontier(0))
    pending: list[bytes] = field(default_factory=list)
    kept: dict[tuple[int, int], bytes] = field(default_factory=dict)
    room: str | None = None
    records: int = 0
    sealed: int = 0
    stage_changes: int = 0
    last_good: int = 0


def _refuse_float(text: str) -> Any:
    raise ValueError(f"the number {text} is not an integer (records hold no floats)")


def _refuse_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise ValueError(f"member {name!r} appears twice")
        out[name] = value
    return out


def trusted_verifier(key_pub: str, trusted_key: str | None) -> Verifier:
    """The key to check signatures with: ``trusted_key`` if given (``key.pub`` must then be
    the same key), else the export's own ``key.pub``."""
    try:
        exported = parse_verifier_key(key_pub.strip())
    except NoteError as exc:
        raise AuditError(f"{KEY_FILE}: not a note-verifier key: {exc}") from None
    if trusted_key is None:
        return exported
    try:
        trusted = parse_verifier_key(trusted_key.strip())
    except NoteError as exc:
        raise AuditError(f"--key: not a note-verifier key: {exc}") from None
    if trusted != exported:
        raise AuditError(f"{KEY_FILE} holds {exported}, not the key you trust ({trusted})")
    return trusted


def _open(file: CheckpointFile, verifier: Verifier, held: bool) -> _Opened:
    try:
        checkpoint = open_checkpoint(file.text, [verifier])
    except SignatureError as exc:
        raise AuditError(f"{file.label}: not validly signed by {verifier.name}: {exc}") from None
    except NoteError as exc:
        raise AuditError(f"{file.label}: not a signed checkpoint: {exc}") from None
    if file.size is not None and checkpoint.size != file.size:
        raise AuditError(
            f"{file.label}: signs size {checkpoint.size}, but its name says {file.size}"
        )
    return _Opened(file.label, checkpoint, held)


def _parse_line(number: int, raw: bytes, state: _State) -> tuple[bytes, dict[str, Any]]:
    """The leaf hash a line stands for, and the parsed line."""
    where = f"{EVENTS_FILE} line {number}"
    if not raw.strip():
        raise AuditError(f"{where} is empty")
    try:
        line = json.loads(
            raw,
            object_pairs_hook=_no_duplicates,
            parse_float=_refuse_float,
            parse_constant=_refuse_constant,
        )
    except (ValueError, RecursionError) as exc:
        raise AuditError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(line, dict):
        raise AuditError(f"{where} is not a JSON object")
    seq = line.get("seq")
    if type(seq) is not int:
        raise AuditError(f"{where} has no integer seq")
    if seq != number:
        raise AuditError(
            f"{where} has seq {seq}, expected {number}: a line was removed, added or moved"
        )
    if line.get("sealed") is True:
        digest = line.get("leaf_hash")
        if not isinstance(digest, str) or not _HEX_HASH.fullmatch(digest):
            raise AuditError(f"{where} is a sealed line without a 64-hex-digit leaf_hash")
        state.sealed += 1
        return bytes.fromhex(digest), line
    try:
        canonical = canonical_json(line)
    except CanonicalError as exc:
        raise AuditError(f"{where}: the record has no canonical form: {exc}") from None
    room = line.get("room")
    if not isinstance(room, str):
        raise AuditError(f"{where}: the record names no room")
    if state.room is None:
        state.room = room
    elif room != state.room:
        raise AuditError(f"{where}: the record is of room {room!r}, not {state.room!r}")
    state.records += 1
    return leaf_hash(canonical), line


def verify_export(
    lines: Iterable[bytes],
    checkpoint_files: Sequence[CheckpointFile],
    key_pub: str,
    *,
    held: Sequence[CheckpointFile] = (),
    trusted_key: str | None = None,
) -> AuditReport:
    """Check an export; return what holds or raise :class:`AuditError` at the first fault.

    Args:
        lines: the lines of ``events.jsonl``, each with or without its final newline.
        checkpoint_files: the export's ``checkpoints/`` files (``size`` from each file name).
        key_pub: the text of ``key.pub``.
        held: checkpoints kept from elsewhere that the export must agree with.
        trusted_key: the verifier key to trust; ``key.pub`` must be the same key.
    """
    verifier = trusted_verifier(key_pub, trusted_key)
    if not checkpoint_files:
        raise AuditError(f"{CHECKPOINTS_DIR}/ holds no checkpoint")
    opened = [_open(f, verifier, False) for f in checkpoint_files]
    opened += [_open(f, verifier, True) for f in held]
    origin = opened[0].checkpoint.origin
    for each in opened:
        if each.checkpoint.origin != origin:
            raise AuditError(
                f"{each.label}: origin {each.checkpoint.origin!r} is not the export's {origin!r}"
            )
    by_size: dict[int, list[_Opened]] = {}
    for each in opened:
        by_size.setdefault(each.checkpoint.size, []).append(each)
    own_sizes = sorted({o.checkpoint.size for o in opened if not o.held})
    own = set(own_sizes)
    sizes = sorted(by_size)
    wanted = {
        node
        for old, new in itertools.pairwise(sizes)
        for start, end in consistency_proof_plan(old, new)
        for node in range_nodes(start, end)
    }

    state = _State()
    count = 0
    for count, raw in enumerate(lines, start=1):
        digest, line = _parse_line(count, raw.removesuffix(b"\n"), state)
        if line.get("kind") == STAGE_CHANGED and not line.get("sealed"):
            state.stage_changes += 1
            if count not in own:
                raise AuditError(
                    f"{EVENTS_FILE} line {count} is a stage change, but "
                    f"{CHECKPOINTS_DIR}/{count}.txt is missing (the server signs one at every "
                    "stage change)"
                )
        if (0, count - 1) in wanted:
            state.kept[(0, count - 1)] = digest
        state.pending.append(digest)
        if count in by_size or len(state.pending) >= _FLUSH:
            _flush(state, wanted)
        if count in by_size:
            _check_root(count, by_size[count], state)
    _flush(state, wanted)

    if count == 0:
        raise AuditError(f"{EVENTS_FILE} has no lines")
    beyond = [o for size in sizes if size > count for o in by_size[size]]
    if beyond:
        first = beyond[0]
        what = "the log was cut short" if first.held else "lines were removed from the end"
        raise AuditError(
            f"{first.label}: covers {first.checkpoint.size} events but {EVENTS_FILE} has "
            f"{count} lines: {what}"
        )
    if own_sizes[-1] < count:
        raise AuditError(
            f"{EVENTS_FILE} lines {own_sizes[-1] + 1}..{count} are covered by no checkpoint: "
            f"the last one, {CHECKPOINTS_DIR}/{own_sizes[-1]}.txt, covers {own_sizes[-1]} "
            "(is a checkpoint file missing?)"
        )
    _check_consistency(sizes, by_size, state)
    if state.room is not None and not origin.endswith(f"/room/{state.room}"):
        raise AuditError(f"the checkpoints' origin {origin!r} does not name room {state.room}")
    return AuditReport(
        room=state.room,
        origin=origin,
        key=str(verifier),
        lines=count,
        records=state.records,
        sealed=state.sealed,
        stage_changes=state.stage_changes,
        checkpoints=tuple(own_sizes),
        held=tuple(sorted({o.checkpoint.size for o in opened if o.held})),
    )


def _flush(state: _State, wanted: set[tuple[int, int]]) -> None:
    if not state.pending:
        return
    state.frontier, created = append_leaves(state.frontier, state.pending)
    state.pending = []
    for level, index, digest in created:
        if (level, index) in wanted:
            state.kept[(level, index)] = digest


def _check_root(size: int, expected: list[_Opened], state: _State) -> None:
    root = root_from_frontier(state.frontier)
    for each in expected:
        if each.checkpoint.root != root:
            if state.last_good:
                where = f"the checkpoint of size {state.last_good} holds, so one of lines "
                where += f"{state.last_good + 1}..{size}"
            else:
                where = f"one of lines 1..{size}"
            raise AuditError(
                f"{each.label}: {EVENTS_FILE} lines 1..{size} hash to root "
                f"{base64.b64encode(root).decode()}, but the checkpoint signs "
                f"{base64.b64encode(each.checkpoint.root).decode()}: {where} was changed, "
                "added or removed"
            )
    state.last_good = size


def _check_consistency(
    sizes: Sequence[int], by_size: dict[int, list[_Opened]], state: _State
) -> None:
    """An RFC 9162 consistency proof between each pair of consecutive checkpoint sizes."""

    def get(level: int, index: int) -> bytes:
        return state.kept[level, index]

    for old, new in itertools.pairwise(sizes):
        first, second = by_size[old][0], by_size[new][0]
        proof = consistency_proof(old, new, get)
        try:
            verify_consistency(old, new, first.checkpoint.root, second.checkpoint.root, proof)
        except MerkleError as exc:
            raise AuditError(f"{second.label}: does not extend {first.label}: {exc}") from None
