"""The client's own checkpoint and proof verifier: the RFC vectors, agreement with the server's
ledger on random trees, and refusal of every single-hash mutation."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from client.errors import ProofError
from client.ledger import (
    EMPTY_ROOT,
    LogVerifier,
    SignedCheckpoint,
    TrustedKey,
    fold,
    open_checkpoint,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from server.ledger import merkle
from server.ledger.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from tests.ledger.test_checkpoint import GO_VKEY
from tests.ledger.test_merkle_vectors import CONSISTENCY, INCLUSION, INPUTS, ROOTS, h

SIGNER = NoteSigner("parley.test", Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
KEY = TrustedKey.parse(SIGNER.verifier_key)
ROOM = "r-0000000001"
LEAVES = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(200)]
TREE = merkle.MemoryTree(LEAVES)


def note(
    size: int, *, origin: str = f"parley.test/room/{ROOM}", signer: NoteSigner = SIGNER
) -> str:
    return sign_checkpoint(signer, Checkpoint(origin, size, TREE.root(size)))


def flips(proof: list[bytes]) -> list[list[bytes]]:
    """Each element with its first bit flipped, one element dropped, one added."""
    out = [[*proof[:i], bytes([p[0] ^ 1]) + p[1:], *proof[i + 1 :]] for i, p in enumerate(proof)]
    out += [proof[:i] + proof[i + 1 :] for i in range(len(proof))]
    out.append([*proof, LEAVES[0]])
    return out


# -- the RFC vectors -------------------------------------------------------------------------


def test_roots_of_the_reference_vectors() -> None:
    leaves = [hashlib.sha256(b"\x00" + data).digest() for data in INPUTS]
    for size, expected in enumerate(ROOTS):
        _, nodes = fold(0, [], leaves[:size])
        assert root_of(nodes).hex() == expected
    assert root_of([]) == EMPTY_ROOT


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_vectors(index: int, size: int, path: list[str]) -> None:
    leaf = hashlib.sha256(b"\x00" + INPUTS[index]).digest()
    root = bytes.fromhex(ROOTS[size])
    verify_inclusion(index, size, leaf, h(path), root)
    for bad in flips(h(path)):
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf, bad, root)
    with pytest.raises(ProofError):
        verify_inclusion(index, size * 2, leaf, h(path), root)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_vectors(old: int, new: int, proof: list[str]) -> None:
    old_root, new_root = bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new])
    verify_consistency(old, new, old_root, new_root, h(proof))
    for bad in flips(h(proof)):
        with pytest.raises(ProofError):
            verify_consistency(old, new, old_root, new_root, bad)


# -- agreement with the server's ledger ------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 199), st.data())
def test_the_servers_proofs_verify_and_their_mutations_do_not(
    size: int, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, size - 1))
    path = TREE.inclusion_proof(index, size)
    verify_inclusion(index, size, LEAVES[index], path, TREE.root(size))
    for bad in flips(path):
        with pytest.raises(ProofError):
            verify_inclusion(index, size, LEAVES[index], bad, TREE.root(size))
    old = data.draw(st.integers(0, size))
    proof = TREE.consistency_proof(old, size)
    verify_consistency(old, size, TREE.root(old), TREE.root(size), proof)
    for bad in flips(proof) if old else []:
        with pytest.raises(ProofError):
            verify_consistency(old, size, TREE.root(old), TREE.root(size), bad)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 120), st.integers(0, 80))
def test_folding_agrees_with_the_servers_frontier(start: int, more: int) -> None:
    frontier = TREE.frontier if start == TREE.size else merkle.MemoryTree(LEAVES[:start]).frontier
    size, nodes = fold(start, list(frontier.nodes), LEAVES[start : start + more])
    assert size == start + more
    assert root_of(nodes) == TREE.root(size) == merkle.root_from_leaf_hashes(LEAVES[:size])


# -- signed checkpoints ----------------------------------------------------------------------


def test_a_checkpoint_signed_by_the_server_opens() -> None:
    opened = open_checkpoint(note(37), KEY, room=ROOM)
    assert opened == SignedCheckpoint(f"parley.test/room/{ROOM}", 37, TREE.root(37), note(37))
    witness = NoteSigner("witness.example", Ed25519PrivateKey.from_private_bytes(bytes(32)))
    cosigned = note(37) + witness.signature_line(Checkpoint(opened.origin, 37, opened.root).body())
    assert open_checkpoint(cosigned, KEY).size == 37


def test_the_go_note_verifier_key_parses() -> None:
    key = TrustedKey.parse(GO_VKEY)
    assert (key.name, key.key_id.hex()) == ("PeterNeumann", "c74f20a3")


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda n: n.replace("\n37\n", "\n38\n"), "is invalid"),
        (
            lambda n: note(37, signer=NoteSigner("parley.test", Ed25519PrivateKey.generate())),
            "not signed",
        ),
        (lambda n: note(37, origin="parley.test/room/r-other"), "is not room"),
        (lambda n: n.replace("\n\n", "\n"), "not a signed note"),
        (lambda n: n.replace("\u2014", "-"), "malformed signature"),
    ],
)
def test_bad_checkpoints_are_refused(mangle: object, message: str) -> None:
    with pytest.raises(ProofError, match=message):
        open_checkpoint(mangle(note(37)), KEY, room=ROOM)  # type: ignore[operator]


@pytest.mark.parametrize(
    "text", ["", "a+b", "x+0000000+AQ==", SIGNER.verifier_key.replace("+", "+0", 1)]
)
def test_bad_verifier_keys_are_refused(text: str) -> None:
    with pytest.raises(ProofError):
        TrustedKey.parse(text)


# -- following a room ------------------------------------------------------------------------


def checkpoint(size: int) -> SignedCheckpoint:
    return open_checkpoint(note(size), KEY, room=ROOM)


def leaves(start: int, end: int) -> list[tuple[int, bytes]]:
    return [(seq, LEAVES[seq - 1]) for seq in range(start, end + 1)]


def test_a_log_is_followed_across_checkpoints_with_gaps_filled_by_the_server() -> None:
    log = LogVerifier(ROOM)
    for seq in (1, 2, 5, 9, 10):  # what the seat received; the rest was hidden from it
        log.received(seq, LEAVES[seq - 1])
    log.extend(checkpoint(10), leaves(1, 10))
    assert (log.size, log.checkpoint) == (10, checkpoint(10))
    log.received(12, LEAVES[11])
    log.extend(checkpoint(17), leaves(11, 17))
    assert log.size == 17


def test_a_log_joined_midway_trusts_the_frontier_only_through_the_root() -> None:
    log = LogVerifier(ROOM, start=23)
    assert log.needs_frontier
    frontier = list(merkle.MemoryTree(LEAVES[:23]).frontier.nodes)
    with pytest.raises(ProofError, match="root of the signed checkpoint"):
        log.extend(checkpoint(30), leaves(24, 30), [bytes(32)] * len(frontier))
    log.extend(checkpoint(30), leaves(24, 30), frontier)
    assert log.size == 30 and not log.needs_frontier


def test_a_server_that_lists_another_hash_than_it_sent_is_caught() -> None:
    log = LogVerifier(ROOM)
    log.received(3, LEAVES[2])
    listed = leaves(1, 8)
    listed[2] = (3, LEAVES[100])
    with pytest.raises(ProofError, match="event 3 with a leaf hash other than the one it sent"):
        log.extend(checkpoint(8), listed)


def test_a_forged_hidden_leaf_breaks_the_root() -> None:
    log = LogVerifier(ROOM)
    log.received(1, LEAVES[0])
    listed = leaves(1, 8)
    listed[5] = (6, LEAVES[100])
    with pytest.raises(ProofError, match="do not give the root"):
        log.extend(checkpoint(8), listed)
    with pytest.raises(ProofError, match=r"are not events 1\.\.8"):
        log.extend(checkpoint(8), leaves(1, 7))
    assert log.size == 0 and log.checkpoint is None


def test_events_on_their_way_when_their_checkpoint_is_checked_must_match_it() -> None:
    log = LogVerifier(ROOM)
    log.received(2, LEAVES[1])
    log.extend(checkpoint(9), leaves(1, 9))  # events 3..9 not received yet (or hidden)
    log.received(4, LEAVES[3])  # 3 was hidden from the seat
    log.received(7, LEAVES[6])
    with pytest.raises(ProofError, match="event 9 arrived with a leaf hash other than"):
        log.received(9, LEAVES[100])
    log.received(12, LEAVES[11])  # beyond the checkpoint: kept for the next one
    log.extend(checkpoint(12), leaves(10, 12))
