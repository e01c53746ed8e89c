"""Properties of the Merkle tree: agreement with the RFC's recursive definitions, incremental
append, proof soundness under every single mutation, and the documented edge cases."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.ledger.merkle import (
    EMPTY_ROOT,
    Frontier,
    MemoryTree,
    MerkleError,
    ProofError,
    RangeError,
    append_leaves,
    consistency_proof,
    consistency_proof_plan,
    fold_range,
    frontier_nodes,
    inclusion_proof,
    inclusion_proof_plan,
    leaf_hash,
    range_nodes,
    root_at,
    root_from_frontier,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 300


# --- an independent reference: the RFC 6962 recursive definitions, written from the text ---


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return _h(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = _k(len(leaves))
    return _h(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:]))


def ref_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _k(len(leaves))
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    if m == len(leaves):
        return [] if complete else [ref_mth(leaves)]
    k = _k(len(leaves))
    if m <= k:
        return [*ref_subproof(m, leaves[:k], complete), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(MAX_SIZE + 1)]  # one spare leaf
TREE = MemoryTree(LEAVES)
ROOTS = [ref_mth(LEAVES[:n]) for n in range(MAX_SIZE + 2)]

sizes = st.integers(min_value=1, max_value=MAX_SIZE)


def flip_bit(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


def list_mutations(proof: list[bytes], bit: int) -> list[list[bytes]]:
    """Every element with one bit flipped, plus an element added, dropped and duplicated."""
    mutated = [[*proof[:i], flip_bit(p, bit), *proof[i + 1 :]] for i, p in enumerate(proof)]
    mutated.append([*proof, proof[-1] if proof else LEAVES[0]])
    mutated.append([LEAVES[1], *proof])
    for i in range(len(proof)):
        mutated.append(proof[:i] + proof[i + 1 :])
        mutated.append([*proof[: i + 1], proof[i], *proof[i + 1 :]])
    return mutated


def rejects(verify: Callable[..., None], *args: object) -> bool:
    """Return whether ``verify(*args)`` raises ``ProofError``."""
    try:
        verify(*args)
    except ProofError:
        return True
    return False


# --- roots and incremental append -----------------------------------------------------------


def test_every_prefix_root_matches_the_recursive_definition() -> None:
    for n in range(MAX_SIZE + 1):
        assert TREE.root(n) == ROOTS[n]
        assert root_from_leaf_hashes(LEAVES[:n]) == ROOTS[n]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=8), max_size=MAX_SIZE))
def test_memory_tree_root_equals_root_from_leaf_hashes(data: list[bytes]) -> None:
    leaves = [leaf_hash(d) for d in data]
    tree = MemoryTree(leaves)
    assert tree.root() == root_from_leaf_hashes(leaves) == ref_mth(leaves)
    assert root_from_frontier(tree.frontier) == tree.root()


def _chunk(items: list[bytes], cuts: list[int]) -> list[list[bytes]]:
    bounds = sorted({0, len(items), *(c % (len(items) + 1) for c in cuts)})
    return [items[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=150, deadline=None)
@given(
    st.integers(min_value=0, max_value=MAX_SIZE),
    st.integers(min_value=0, max_value=MAX_SIZE),
    st.lists(st.integers(min_value=0, max_value=MAX_SIZE), max_size=12),
)
def test_chunked_append_equals_one_at_a_time(start: int, count: int, cuts: list[int]) -> None:
    start = min(start, MAX_SIZE - count) if count <= MAX_SIZE else 0
    base, _ = append_leaves(Frontier(0), LEAVES[:start])
    new = LEAVES[start : start + count]

    single, single_nodes = base, set[tuple[int, int, bytes]]()
    for leaf in new:
        single, created = append_leaves(single, [leaf])
        single_nodes.update(created)
    chunked, chunked_nodes = base, set[tuple[int, int, bytes]]()
    for part in _chunk(new, cuts):
        chunked, created = append_leaves(chunked, part)
        assert not chunked_nodes.intersection(created), "a node was reported twice"
        chunked_nodes.update(created)

    end = start + count
    assert chunked == single
    assert chunked_nodes == single_nodes
    assert root_from_frontier(chunked) == ROOTS[end]
    # Exactly the level >= 1 perfect subtrees that end in (start, end] were completed.
    expected = {
        (level, index)
        for level in range(1, end.bit_length() + 1)
        for index in range(start >> level, end >> level)
    }
    assert {(level, index) for level, index, _ in chunked_nodes} == expected
    for level, index, value in chunked_nodes:
        assert value == TREE.get_node(level, index)
    assert [TREE.get_node(*pos) for pos in frontier_nodes(end)] == list(chunked.nodes)


def test_frontier_holds_one_node_per_set_bit_largest_first() -> None:
    assert frontier_nodes(0) == []
    assert frontier_nodes(13) == [(3, 0), (2, 2), (0, 12)]
    assert frontier_nodes(16) == [(4, 0)]
    assert root_from_frontier(Frontier(0)) == EMPTY_ROOT
    with pytest.raises(MerkleError, match="needs 3 nodes, got 2"):
        Frontier(13, (LEAVES[0], LEAVES[1]))
    with pytest.raises(MerkleError, match="31 bytes"):
        Frontier(1, (LEAVES[0][:31],))
    with pytest.raises(MerkleError, match="33 bytes"):
        append_leaves(Frontier(0), [LEAVES[0] + b"\x00"])


# --- proofs from stored nodes ---------------------------------------------------------------


def test_every_proof_in_small_trees_matches_the_rfc_definition_and_verifies() -> None:
    for n in range(1, 65):
        for m in range(n):
            proof = TREE.inclusion_proof(m, n)
            assert proof == ref_path(m, LEAVES[:n])
            verify_inclusion(m, n, LEAVES[m], proof, ROOTS[n])
        for old in range(1, n + 1):
            proof = TREE.consistency_proof(old, n)
            assert proof == ref_subproof(old, LEAVES[:n], True)
            verify_consistency(old, n, ROOTS[old], ROOTS[n], proof)


@settings(max_examples=300, deadline=None)
@given(sizes, st.data())
def test_inclusion_proof_verifies_and_every_mutation_fails(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    bit = data.draw(st.integers(min_value=0, max_value=255), label="bit")
    proof = TREE.inclusion_proof(index, size)
    assert proof == ref_path(index, LEAVES[:size])
    leaf, root = LEAVES[index], ROOTS[size]
    verify_inclusion(index, size, leaf, proof, root)

    for bad in list_mutations(proof, bit):
        assert rejects(verify_inclusion, index, size, leaf, bad, root)
    for i in (index - 1, index + 1):
        assert rejects(verify_inclusion, i, size, LEAVES[i], proof, root)
        assert rejects(verify_inclusion, i, size, leaf, proof, root)
    for bad_size in (size * 2, size // 2):
        assert rejects(verify_inclusion, index, bad_size, leaf, proof, root)
    for other in (size - 1, size + 1):  # another size with that size's own root
        if other > index:
            assert rejects(verify_inclusion, index, other, leaf, proof, ROOTS[other])
            assert rejects(verify_inclusion, index, size, leaf, proof, ROOTS[other])
    assert rejects(verify_inclusion, index, size, flip_bit(leaf, bit), proof, root)
    assert rejects(verify_inclusion, index, size, leaf, proof, flip_bit(root, bit))


@settings(max_examples=300, deadline=None)
@given(sizes, st.data())
def test_consistency_proof_verifies_and_every_mutation_fails(new: int, data: st.DataObject) -> None:
    old = data.draw(st.integers(min_value=1, max_value=new), label="old")
    bit = data.draw(st.integers(min_value=0, max_value=255), label="bit")
    proof = TREE.consistency_proof(old, new)
    assert proof == ref_subproof(old, LEAVES[:new], True)
    r_old, r_new = ROOTS[old], ROOTS[new]
    verify_consistency(old, new, r_old, r_new, proof)

    for bad in list_mutations(proof, bit):
        assert rejects(verify_consistency, old, new, r_old, r_new, bad)
    for o, n in [
        (old - 1, new),
        (old + 1, new),
        (old * 2, new),
        (old // 2, new),
        (old, new * 2),
        (old, new // 2),
    ]:
        if (o, n) != (old, new):
            assert rejects(verify_consistency, o, n, r_old, r_new, proof), (o, n)
    for o, n in [(old - 1, new), (old + 1, new), (old, new - 1), (old, new + 1)]:
        if (0 < o < n or o == n > 0) and (o, n) != (old, new):  # each size with its own root
            assert rejects(verify_consistency, o, n, ROOTS[o], ROOTS[n], proof), (o, n)
    if old != new:
        assert rejects(verify_consistency, old, new, r_new, r_old, proof)
    assert rejects(verify_consistency, old, new, flip_bit(r_old, bit), r_new, proof)
    assert rejects(verify_consistency, old, new, r_old, flip_bit(r_new, bit), proof)


def test_root_alone_does_not_bind_the_tree_size() -> None:
    # Documented RFC 6962 property: with the root unchanged, a size off by one can verify,
    # because the verifier cannot tell the last leaf hash from an interior node. Sizes must
    # therefore come from the same signed checkpoint as the root.
    assert TREE.inclusion_proof(0, 3) == [LEAVES[1], LEAVES[2]]
    verify_inclusion(0, 3, LEAVES[0], [LEAVES[1], LEAVES[2]], ROOTS[3])
    verify_inclusion(0, 4, LEAVES[0], [LEAVES[1], LEAVES[2]], ROOTS[3])
    verify_consistency(1, 3, ROOTS[1], ROOTS[3], [LEAVES[1], LEAVES[2]])
    verify_consistency(1, 4, ROOTS[1], ROOTS[3], [LEAVES[1], LEAVES[2]])


def test_proof_plans_use_few_node_reads_in_a_million_leaf_tree() -> None:
    size = 1_000_000
    reads: list[tuple[int, int]] = []

    def get_node(level: int, index: int) -> bytes:
        assert (index + 1) << level <= size, "node is not complete in the tree"
        reads.append((level, index))
        return _h(b"%d/%d" % (level, index))

    for index in (0, 1, 524_287, 524_288, 999_999):
        reads.clear()
        assert len(inclusion_proof(index, size, get_node)) == len(ref_plan_len(index, size))
        assert len(reads) <= 2 * size.bit_length()
    for old in (1, 3, 524_288, 999_999):
        reads.clear()
        consistency_proof(old, size, get_node)
        assert len(reads) <= 2 * size.bit_length()
    reads.clear()
    root_at(size, get_node)
    assert len(reads) == size.bit_count()


def ref_plan_len(index: int, size: int) -> list[tuple[int, int]]:
    inner = (index ^ (size - 1)).bit_length()
    return [(0, 0)] * (inner + (index >> inner).bit_count())


def test_plans_give_ranges_and_range_nodes_enforce_alignment() -> None:
    assert inclusion_proof_plan(3, 7) == [(2, 3), (0, 2), (4, 7)]
    assert consistency_proof_plan(3, 7) == [(2, 3), (3, 4), (0, 2), (4, 7)]
    assert consistency_proof_plan(4, 7) == [(4, 7)]
    assert range_nodes(4, 7) == [(1, 2), (0, 6)]
    assert range_nodes(0, 13) == frontier_nodes(13)
    assert range_nodes(0, 0) == []
    assert fold_range([]) == EMPTY_ROOT
    for start, end in [(1, 3), (2, 5), (4, 9), (3, 3), (-1, 0), (5, 4)]:
        with pytest.raises(RangeError):
            range_nodes(start, end)


def test_memory_tree_refuses_sizes_beyond_its_leaves() -> None:
    tree = MemoryTree(LEAVES[:5])
    with pytest.raises(RangeError, match=r"outside 0\.\.5"):
        tree.root(6)
    with pytest.raises(RangeError, match="not complete"):
        tree.get_node(3, 0)
    with pytest.raises(RangeError):
        tree.consistency_proof(4, 3)


# --- decided edge cases ---------------------------------------------------------------------


def test_consistency_from_empty_tree_needs_empty_proof_and_empty_root() -> None:
    assert consistency_proof_plan(0, 9) == []
    assert TREE.consistency_proof(0, 9) == []
    verify_consistency(0, 9, EMPTY_ROOT, ROOTS[9], [])
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(ProofError, match="must be empty, got 1"):
        verify_consistency(0, 9, EMPTY_ROOT, ROOTS[9], [LEAVES[0]])
    with pytest.raises(ProofError, match="old root"):
        verify_consistency(0, 9, ROOTS[1], ROOTS[9], [])


def test_consistency_between_equal_sizes_needs_empty_proof_and_equal_roots() -> None:
    assert TREE.consistency_proof(7, 7) == []
    verify_consistency(7, 7, ROOTS[7], ROOTS[7], [])
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(7, 7, ROOTS[7], ROOTS[7], [ROOTS[7]])
    with pytest.raises(ProofError, match="expected root"):
        verify_consistency(7, 7, ROOTS[7], ROOTS[6], [])


def test_consistency_with_old_size_greater_than_new_is_rejected() -> None:
    with pytest.raises(ProofError, match="not between 0 and new size 5"):
        verify_consistency(6, 5, ROOTS[6], ROOTS[5], [])
    with pytest.raises(ProofError, match="not between"):
        verify_consistency(-1, 5, ROOTS[6], ROOTS[5], [])
    with pytest.raises(RangeError):
        consistency_proof_plan(6, 5)


def test_empty_proof_is_rejected_where_one_is_needed() -> None:
    with pytest.raises(ProofError, match="is empty"):
        verify_consistency(1, 2, ROOTS[1], ROOTS[2], [])
    with pytest.raises(ProofError, match="must have 1 hashes, got 0"):
        verify_inclusion(0, 2, LEAVES[0], [], ROOTS[2])


@pytest.mark.parametrize("length", [0, 31, 33])
def test_hashes_of_the_wrong_length_are_rejected(length: int) -> None:
    bad = b"\x00" * length
    proof = TREE.inclusion_proof(2, 5)
    with pytest.raises(ProofError, match=f"leaf hash is {length} bytes"):
        verify_inclusion(2, 5, bad, proof, ROOTS[5])
    with pytest.raises(ProofError, match=f"root is {length} bytes"):
        verify_inclusion(2, 5, LEAVES[2], proof, bad)
    with pytest.raises(ProofError, match=f"proof element 1 is {length} bytes"):
        verify_inclusion(2, 5, LEAVES[2], [proof[0], bad, *proof[2:]], ROOTS[5])
    cproof = TREE.consistency_proof(3, 5)
    with pytest.raises(ProofError, match=f"old root is {length} bytes"):
        verify_consistency(3, 5, bad, ROOTS[5], cproof)
    with pytest.raises(ProofError, match=f"new root is {length} bytes"):
        verify_consistency(3, 5, ROOTS[3], bad, cproof)
    with pytest.raises(ProofError, match=f"proof element 0 is {length} bytes"):
        verify_consistency(3, 5, ROOTS[3], ROOTS[5], [bad, *cproof[1:]])
    with pytest.raises(ProofError, match=f"old root is {length} bytes"):
        verify_consistency(0, 0, bad, bad, [])


def test_inclusion_index_out_of_range_is_rejected() -> None:
    for index, size in [(0, 0), (5, 5), (6, 5), (-1, 5)]:
        with pytest.raises(ProofError, match="not in a tree of size"):
            verify_inclusion(index, size, LEAVES[0], [], ROOTS[1])
