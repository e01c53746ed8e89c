"""Offline verification of an export, on exports built in memory (no database, no server)."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.canonical import canonical_json
from server.domain.events import build_record
from server.ledger.audit import AuditError, AuditReport, CheckpointFile, verify_export
from server.ledger.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from server.ledger.export import sealed_line
from server.ledger.merkle import leaf_hash, root_from_leaf_hashes

SIGNER = NoteSigner("parley.test", Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
OTHER = NoteSigner("parley.test", Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))))
ROOM = "r-0000000001"
ORIGIN = f"parley.test/room/{ROOM}"


def record(seq: int, *, kind: str = "message_posted", room: str = ROOM) -> dict[str, object]:
    body: dict[str, object] = {"text": f"statement {seq}"}
    if kind == "stage_changed":
        body = {"from": "opening", "to": "verification"}
    return build_record(
        room=room,
        seq=seq,
        kind=kind,
        stage="opening",
        seat="us-1",
        party="us",
        thread=None if kind == "stage_changed" else "plenary",
        ts="2026-11-25T10:00:00.000000Z",
        salt=seq.to_bytes(16, "big"),
        body=body,
    )


def note(
    size: int, leaves: Sequence[bytes], signer: NoteSigner = SIGNER, origin: str = ORIGIN
) -> str:
    return sign_checkpoint(signer, Checkpoint(origin, size, root_from_leaf_hashes(leaves[:size])))


@dataclass
class Export:
    lines: list[bytes]
    leaves: list[bytes]
    files: list[CheckpointFile]
    key_pub: str = SIGNER.verifier_key + "\n"
    held: list[CheckpointFile] = field(default_factory=list)

    def verify(self, trusted_key: str | None = None) -> AuditReport:
        return verify_export(
            self.lines, self.files, self.key_pub, held=self.held, trusted_key=trusted_key
        )


def make_export(
    size: int = 12,
    *,
    sealed: Collection[int] = (),
    stages: Collection[int] = (),
    checkpoints: Sequence[int] = (),
) -> Export:
    lines, leaves = [], []
    for seq in range(1, size + 1):
        kind = "stage_changed" if seq in stages else "message_posted"
        raw = canonical_json(record(seq, kind=kind))
        leaves.append(leaf_hash(raw))
        lines.append((sealed_line(seq, leaves[-1]) if seq in sealed else raw) + b"\n")
    sizes = sorted({*checkpoints, *stages, size})
    files = [CheckpointFile(f"checkpoints/{s}.txt", note(s, leaves), s) for s in sizes]
    return Export(lines, leaves, files)


def fails(export: Export, *fragments: str, trusted_key: str | None = None) -> str:
    with pytest.raises(AuditError) as caught:
        export.verify(trusted_key)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_a_faithful_export_verifies_and_says_what_it_checked() -> None:
    export = make_export(12, sealed={3, 4, 9}, stages={5}, checkpoints=[8])
    report = export.verify()
    assert (report.lines, report.records, report.sealed) == (12, 9, 3)
    assert report.checkpoints == (5, 8, 12) and report.stage_changes == 1
    assert (report.room, report.origin, report.key) == (ROOM, ORIGIN, SIGNER.verifier_key)


def test_lines_may_lack_the_final_newline_and_sealed_lines_may_describe_themselves() -> None:
    export = make_export(3)
    export.lines[-1] = export.lines[-1].rstrip(b"\n")
    described = json.loads(sealed_line(2, export.leaves[1], kind="message_posted", stage="x"))
    export.lines[1] = json.dumps(described).encode()
    assert export.verify().sealed == 1


def test_a_changed_record_breaks_the_first_checkpoint_after_it() -> None:
    export = make_export(12, checkpoints=[4, 8])
    export.lines[5] = export.lines[5].replace(b"statement 6", b"statement 7")
    fails(export, "checkpoints/8.txt", "lines 1..8", "the checkpoint of size 4 holds", "5..8")


def test_a_changed_sealed_hash_breaks_the_checkpoints() -> None:
    export = make_export(6, sealed={2})
    export.lines[1] = sealed_line(2, bytes(32)) + b"\n"
    fails(export, "checkpoints/6.txt", "one of lines 1..6 was changed")


@pytest.mark.parametrize(
    ("mangle", "fragment"),
    [
        (lambda lines: lines.pop(3), "line 4 has seq 5, expected 4"),
        (lambda lines: lines.insert(3, lines[2]), "line 4 has seq 3, expected 4"),
        (lambda lines: lines.__setitem__(slice(5, 7), lines[6:4:-1]), "line 6 has seq 7"),
        (lambda lines: lines.__setitem__(2, b"\n"), "line 3 is empty"),
        (lambda lines: lines.__setitem__(2, b"[1]\n"), "line 3 is not a JSON object"),
        (lambda lines: lines.__setitem__(2, b'{"seq": 3,\n'), "line 3 is not valid JSON"),
        (lambda lines: lines.__setitem__(2, b'{"seq": "3"}\n'), "line 3 has no integer seq"),
        (lambda lines: lines.__setitem__(2, b'{"seq": 3, "seq": 3}\n'), "appears twice"),
        (lambda lines: lines.__setitem__(2, b'{"seq": 3, "x": 1.5}\n'), "not an integer"),
        (lambda lines: lines.__setitem__(2, b'{"seq": 3, "x": NaN}\n'), "line 3"),
        (lambda lines: lines.__setitem__(2, b'{"seq": 3, "sealed": true}\n'), "64-hex"),
        (lambda lines: lines.__setitem__(2, b'{"seq": 3, "room": 7}\n'), "names no room"),
        (lambda lines: lines.__setitem__(2, b'{"seq": 3, "x": 9007199254740993}\n'), "canonical"),
    ],
)
def test_bad_lines_are_named(mangle: object, fragment: str) -> None:
    export = make_export(8)
    mangle(export.lines)  # type: ignore[operator]
    fails(export, "events.jsonl line", fragment)


def test_a_record_of_another_room_is_refused() -> None:
    export = make_export(4)
    export.lines[2] = canonical_json(record(3, room="r-other")) + b"\n"
    fails(export, "line 3", "of room 'r-other'")


def test_the_origin_must_name_the_room_of_the_records() -> None:
    export = make_export(4)
    export.files = [
        CheckpointFile("checkpoints/4.txt", note(4, export.leaves, origin="x/room/y"), 4)
    ]
    fails(export, "origin 'x/room/y' does not name room")


def test_checkpoints_of_another_origin_are_refused() -> None:
    export = make_export(6, checkpoints=[3])
    export.files[0] = CheckpointFile("checkpoints/3.txt", note(3, export.leaves, origin="x"), 3)
    fails(export, "checkpoints/6.txt", "origin")


def test_a_checkpoint_whose_name_and_size_differ_is_refused() -> None:
    export = make_export(6, checkpoints=[3])
    export.files[0] = CheckpointFile("checkpoints/3.txt", note(4, export.leaves), 3)
    fails(export, "checkpoints/3.txt: signs size 4, but its name says 3")


def test_a_checkpoint_signed_by_another_key_is_refused() -> None:
    export = make_export(6, checkpoints=[3])
    export.files[0] = CheckpointFile("checkpoints/3.txt", note(3, export.leaves, OTHER), 3)
    fails(export, "checkpoints/3.txt: not validly signed by parley.test", "trusted key")


@pytest.mark.parametrize("line", [1, 2])
def test_a_changed_size_or_root_line_breaks_the_signature(line: int) -> None:
    export = make_export(6)
    lines = export.files[0].text.split("\n")
    lines[line] = "7" if line == 1 else "A" * 43 + "="
    export.files[0] = CheckpointFile("checkpoints/6.txt", "\n".join(lines), 6)
    fails(export, "checkpoints/6.txt: not validly signed", "is invalid")


def test_missing_checkpoints_are_noticed() -> None:
    export = make_export(10, stages={4}, checkpoints=[7])
    last = export.files.pop()
    fails(export, "lines 8..10 are covered by no checkpoint", "checkpoints/7.txt")
    export.files = [f for f in export.files if f.size != 4] + [last]
    fails(export, "line 4 is a stage change, but checkpoints/4.txt is missing")
    export.files = []
    fails(export, "checkpoints/ holds no checkpoint")


def test_lines_removed_from_the_end_are_noticed() -> None:
    export = make_export(10, checkpoints=[6])
    del export.lines[8:]
    fails(export, "checkpoints/10.txt: covers 10 events but events.jsonl has 8 lines")
    export.lines = []
    fails(export, "events.jsonl has no lines")


def test_held_checkpoints_must_agree_with_the_export() -> None:
    export = make_export(10, checkpoints=[6])
    export.held = [CheckpointFile("saved/7.txt", note(7, export.leaves))]
    assert export.verify().held == (7,)
    forked = list(export.leaves)
    forked[2] = leaf_hash(b"another history")
    export.held = [CheckpointFile("saved/7.txt", note(7, forked))]
    fails(export, "saved/7.txt", "lines 1..7", "the checkpoint of size 6 holds")
    export.held = [CheckpointFile("saved/12.txt", note(12, [*export.leaves, *export.leaves]))]
    fails(export, "saved/12.txt: covers 12 events but events.jsonl has 10", "cut short")


def test_the_trusted_key_must_be_the_exported_one() -> None:
    export = make_export(4)
    assert export.verify(trusted_key=SIGNER.verifier_key).key == SIGNER.verifier_key
    fails(export, "key.pub holds", "not the key you trust", trusted_key=OTHER.verifier_key)
    fails(export, "--key: not a note-verifier key", trusted_key="nonsense")
    export.key_pub = "nonsense\n"
    fails(export, "key.pub: not a note-verifier key")
    export.key_pub = OTHER.verifier_key
    fails(export, "not validly signed")
