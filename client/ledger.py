"""Checking a room's log against the server's signed checkpoints, without trusting the server.

This module is deliberately the client's own: it is written from RFC 9162 (Merkle tree heads,
inclusion and consistency proofs) and the C2SP signed-note and checkpoint specifications, and
shares no code with the server's ledger (the suite checks the two against each other and
against the RFCs' vectors). An observer's verifier should not be the operator's code.

- :func:`open_checkpoint` checks a checkpoint's Ed25519 signature with a trusted note-verifier
  key and parses it.
- :class:`LogVerifier` follows one room: the leaf hashes of the events the seat received, the
  leaf hashes of those it did not (from the server, as bare seq and hash), folded in order onto
  a compact tree, must give the root of each signed checkpoint.
- :func:`verify_inclusion` and :func:`verify_consistency` check single proofs.

Every failure raises :class:`~client.errors.ProofError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from client.errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
DASH = "\u2014 "


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


# -- signed checkpoints -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A checkpoint whose signature was checked: the log ``origin``, its ``size`` and ``root``,
    and the signed ``note`` itself (keep it: later exports and proofs can be checked against
    it)."""

    origin: str
    size: int
    root: bytes
    note: str


@dataclass(frozen=True, slots=True)
class TrustedKey:
    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> TrustedKey:
        """Parse a note-verifier key ``<name>+<8 hex key id>+<base64(0x01 || key)>``."""
        name, _, rest = text.strip().partition("+")
        kid, _, key = rest.partition("+")
        if not name or not re.fullmatch(r"[0-9a-f]{8}", kid) or not key:
            raise ProofError(None, f"{text.strip()!r} is not a note-verifier key")
        try:
            raw = base64.b64decode(key, validate=True)
        except binascii.Error:
            raise ProofError(None, "the verifier key is not base64") from None
        if len(raw) != 33 or raw[0] != 0x01:
            raise ProofError(None, "the verifier key is not an Ed25519 key")
        expected = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
        if expected.hex() != kid:
            raise ProofError(None, "the verifier key's id does not match its key")
        return cls(name, bytes.fromhex(kid), raw[1:])


def open_checkpoint(note: str, key: TrustedKey, *, room: str | None = None) -> SignedCheckpoint:
    """Check ``note``'s signature by ``key`` and parse its checkpoint (of ``room``, if given).

    Raises:
        ProofError: a malformed note or checkpoint, no signature by the key, a bad signature,
            or an origin that does not name ``room``.
    """
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise ProofError(room, "the checkpoint is not a signed note")
    text = note[: split + 1]
    signed = False
    for line in note[split + 2 : -1].split("\n"):
        if not line.startswith(DASH):
            raise ProofError(room, "the checkpoint has a malformed signature line")
        name, _, blob_b64 = line[len(DASH) :].partition(" ")
        try:
            blob = base64.b64decode(blob_b64, validate=True)
        except binascii.Error:
            raise ProofError(room, "the checkpoint has a malformed signature line") from None
        if name != key.name or blob[:4] != key.key_id:
            continue  # someone else's signature (a witness, say): not ours to judge
        try:
            Ed25519PublicKey.from_public_bytes(key.public_key).verify(blob[4:], text.encode())
        except (InvalidSignature, ValueError):
            raise ProofError(room, f"the checkpoint's signature by {key.name} is invalid") from None
        signed = True
    if not signed:
        raise ProofError(room, f"the checkpoint is not signed by the trusted key {key.name}")
    lines = text[:-1].split("\n")
    if len(lines) != 3 or not re.fullmatch(r"0|[1-9][0-9]*", lines[1]):
        raise ProofError(room, "the signed text is not a checkpoint (origin, size, root)")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except binascii.Error:
        root = b""
    if len(root) != HASH_SIZE:
        raise ProofError(room, "the checkpoint's root is not a base64 SHA-256 hash")
    if room is not None and not lines[0].endswith(f"/room/{room}"):
        raise ProofError(room, f"the checkpoint's origin {lines[0]!r} is not room {room}'s")
    return SignedCheckpoint(lines[0], int(lines[1]), root, note)


# -- compact trees ----------------------------------------------------------------------------


def fold(size: int, nodes: Sequence[bytes], leaves: Iterable[bytes]) -> tuple[int, list[bytes]]:
    """Append leaf hashes to the tree of ``size`` leaves given by its perfect subtrees
    (``nodes``, largest first, one per set bit of ``size``); return the new size and nodes."""
    if len(nodes) != size.bit_count():
        raise ProofError(None, f"a tree of {size} leaves has {size.bit_count()} subtrees")
    levels = [bit for bit in range(size.bit_length() - 1, -1, -1) if size >> bit & 1]
    stack = list(zip(levels, nodes, strict=True))
    for leaf in leaves:
        stack.append((0, leaf))
        size += 1
        while len(stack) > 1 and stack[-1][0] == stack[-2][0]:
            level, right = stack.pop()
            _, left = stack.pop()
            stack.append((level + 1, _node(left, right)))
    return size, [digest for _, digest in stack]


def root_of(nodes: Sequence[bytes]) -> bytes:
    """The root of a tree given by its perfect subtrees, largest first."""
    if not nodes:
        return EMPTY_ROOT
    root = nodes[-1]
    for digest in reversed(nodes[:-1]):
        root = _node(digest, root)
    return root


# -- proofs (RFC 9162 §2.1.3.2 and §2.1.4.2) --------------------------------------------------


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` is leaf ``index`` (0-based) of the tree of ``size`` with ``root``."""
    if not 0 <= index < size:
        raise ProofError(None, f"leaf {index} is not in a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError(None, "the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or r != root:
        raise ProofError(None, f"the inclusion proof of leaf {index} in {size} does not verify")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``second`` leaves with ``second_root`` extends the one of
    ``first`` leaves with ``first_root``."""
    if not 0 <= first <= second:
        raise ProofError(None, f"size {first} cannot be consistent with size {second}")
    if first == 0 or first == second:
        if proof or (first == second and first_root != second_root):
            raise ProofError(None, f"the trees of {first} and {second} leaves disagree")
        return
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root is a node of the new tree
        path.insert(0, first_root)
    if not path:
        raise ProofError(None, "the consistency proof is empty")
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(None, "the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != first_root or sr != second_root:
        raise ProofError(None, f"the tree of {second} leaves does not extend the one of {first}")


# -- one room's log ---------------------------------------------------------------------------


class LogVerifier:
    """Follows one room's log as a seat receives it, and checks it against checkpoints.

    ``start`` is the seq the seat's stream started after (its ``after``). Up to :attr:`size`
    the log is verified: the leaves received and the ones fetched for the events not received
    gave the root of the signed :attr:`checkpoint` of that size. An event that arrives after
    its checkpoint was checked (it was on its way) must have the leaf hash that was checked.
    """

    def __init__(self, room: str, start: int = 0) -> None:
        self.room = room
        self.size = start
        self.last = start
        """The last seq received."""
        self.checkpoint: SignedCheckpoint | None = None
        self._nodes: list[bytes] | None = [] if start == 0 else None
        self._received: dict[int, bytes] = {}
        self._expected: dict[int, bytes] = {}
        """Checked leaves after :attr:`last` (events on their way, or hidden), in seq order."""

    def received(self, seq: int, leaf_hash: bytes) -> None:
        """An event the seat received (full or sealed) and its leaf hash, in seq order.

        Raises:
            ProofError: the event is covered by a checked checkpoint with another leaf hash.
        """
        self.last = max(self.last, seq)
        if seq > self.size:
            self._received[seq] = leaf_hash
            return
        while self._expected:  # seqs skipped over were hidden from the seat
            first = next(iter(self._expected))
            if first >= seq:
                break
            del self._expected[first]
        expected = self._expected.pop(seq, None)
        if expected is not None and expected != leaf_hash:
            raise ProofError(
                self.room,
                f"event {seq} arrived with a leaf hash other than the one the signed "
                f"checkpoint of size {self.size} covers",
            )

    @property
    def needs_frontier(self) -> bool:
        """Whether :meth:`extend` needs the server's frontier at :attr:`size` (a stream that
        started after 0 has not seen the tree before it)."""
        return self._nodes is None

    def extend(
        self,
        checkpoint: SignedCheckpoint,
        leaves: Sequence[tuple[int, bytes]],
        frontier: Sequence[bytes] | None = None,
    ) -> None:
        """Fold the leaves after :attr:`size` up to ``checkpoint.size`` and check its root.

        Args:
            checkpoint: a checkpoint of this room, larger than :attr:`size`, signature checked.
            leaves: ``(seq, leaf hash)`` of every event after :attr:`size` up to the
                checkpoint's size, as the server lists them.
            frontier: the server's frontier at :attr:`size`, if :attr:`needs_frontier`; the
                root check vouches for it.

        Raises:
            ProofError: a leaf the server lists differs from the event it sent, the leaves are
                not exactly the range, or the root is not the checkpoint's.
        """
        room, size = self.room, checkpoint.size
        expected = list(range(self.size + 1, size + 1))
        if [seq for seq, _ in leaves] != expected:
            raise ProofError(room, f"the server's leaves are not events {self.size + 1}..{size}")
        for seq, digest in leaves:
            sent = self._received.get(seq)
            if sent is not None and sent != digest:
                raise ProofError(
                    room, f"the log lists event {seq} with a leaf hash other than the one it sent"
                )
        nodes = self._nodes if self._nodes is not None else list(frontier or ())
        _, nodes = fold(self.size, nodes, (digest for _, digest in leaves))
        if root_of(nodes) != checkpoint.root:
            raise ProofError(
                room,
                f"events {self.size + 1}..{size} do not give the root of the signed "
                f"checkpoint of size {size}: the log is not the one the server signed",
            )
        self.size, self._nodes, self.checkpoint = size, nodes, checkpoint
        self._received = {s: d for s, d in self._received.items() if s > size}
        self._expected.update((s, d) for s, d in leaves if s > self.last)
