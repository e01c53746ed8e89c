"""RFC 6962 / RFC 9162 Merkle tree over SHA-256: hashing, incremental append, proofs, checks.

Leaves are numbered from 0. A *node* ``(level, index)`` is the hash of the perfect subtree that
covers leaves ``[index * 2**level, (index + 1) * 2**level)``; level-0 nodes are leaf hashes. A
perfect subtree's hash never changes once its last leaf is appended, so a storage layer can
save each node once (``append_leaves`` reports them) and serve any proof with O(log n) reads:
every proof element is MTH(D[start:end]) of a range that splits into at most log2(n) + 1
stored perfect subtrees (``range_nodes``), which ``fold_range`` combines exactly as MTH does.

Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 in the ``transparency-dev/merkle`` form:
the expected proof length is computed from the sizes first, so padded, truncated or re-sized
proofs are rejected before any hashing (this is the RFC's ``sn == 0`` check). Edge cases the
RFC leaves open are decided as follows (all raise ``ProofError`` with a specific message):

* Every hash handed to a verifier (leaf, roots, proof elements) must be exactly 32 bytes.
* Inclusion: ``index >= size`` is an error, so nothing is ever included in the empty tree.
* Consistency ``old_size > new_size``: error.
* Consistency ``old_size == new_size``: the proof must be empty and the two roots equal.
* Consistency ``old_size == 0``: the proof must be empty, ``old_root`` must be ``EMPTY_ROOT``,
  and the check passes whatever ``new_root`` is, because every tree extends the empty tree.
  This is the one deviation from ``transparency-dev/merkle``, which calls the case meaningless
  and errors (the CT C++ code accepts it, as here).

Proof generation mirrors this: ``consistency_proof_plan(0, n)`` and ``(n, n)`` are empty.

A root does not by itself fix the tree size: the verifier cannot tell the last leaf hash from
an interior node, so a proof can also verify against the same root with a size off by one
(e.g. leaf 0's path ``[b, c]`` checks against the 3-leaf root as size 3 or size 4). Sizes
must come from the same signed checkpoint as the root.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

HASH_SIZE = 32
EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()

NodeGetter = Callable[[int, int], bytes]
"""Returns the stored hash of node ``(level, index)``; level 0 must give the leaf hash."""


class MerkleError(ValueError):
    """Base class: a size, index, range or hash that the tree cannot work with."""


class ProofError(MerkleError):
    """An inclusion or consistency proof does not verify, or is malformed."""


class RangeError(MerkleError):
    """A leaf range, index or tree size is outside what the requested operation allows."""


def _check_hash(value: bytes, what: str, error: type[MerkleError] = MerkleError) -> None:
    if len(value) != HASH_SIZE:
        raise error(f"{what} is {len(value)} bytes, a SHA-256 hash is {HASH_SIZE}")


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 leaf hash SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH of the given leaf hashes by the iterative stack method of RFC 9162 §2.1.2."""
    stack: list[bytes] = []
    for i, leaf in enumerate(leaf_hashes):
        _check_hash(leaf, f"leaf hash {i}")
        stack.append(leaf)
        n = i
        while n & 1:
            right = stack.pop()
            stack.append(node_hash(stack.pop(), right))
            n >>= 1
    return fold_range(stack)


# --- incremental append ---------------------------------------------------------------------


@dataclass(frozen=True)
class Frontier:
    """The right edge of a tree: enough state to append leaves and compute the root.

    Attributes:
        size: number of leaves in the tree.
        nodes: hashes of the perfect subtrees making up the tree, largest (leftmost) first, one
            per set bit of ``size``; their positions are ``frontier_nodes(size)``.
    """

    size: int
    nodes: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if self.size < 0:
            raise MerkleError(f"frontier size {self.size} is negative")
        expected = self.size.bit_count()
        if len(self.nodes) != expected:
            raise MerkleError(
                f"frontier of size {self.size} needs {expected} nodes, got {len(self.nodes)}"
            )
        for i, node in enumerate(self.nodes):
            _check_hash(node, f"frontier node {i}")


def frontier_nodes(size: int) -> list[tuple[int, int]]:
    """Return the (level, index) of the perfect subtrees making up a tree of ``size`` leaves."""
    if size < 0:
        raise RangeError(f"tree size {size} is negative")
    return range_nodes(0, size)


def append_leaves(
    frontier: Frontier, leaf_hashes: Sequence[bytes]
) -> tuple[Frontier, list[tuple[int, int, bytes]]]:
    """Append leaf hashes to a tree given by its frontier, in amortised O(1) hashes per leaf.

    Returns:
        The new frontier, and every perfect-subtree node of level >= 1 completed by the append
        as ``(level, index, hash)``, in the order they were completed (children before parents).
    """
    levels = [level for level, _ in frontier_nodes(frontier.size)]
    stack = list(zip(levels, frontier.nodes, strict=True))
    created: list[tuple[int, int, bytes]] = []
    size = frontier.size
    for i, leaf in enumerate(leaf_hashes):
        _check_hash(leaf, f"leaf hash {i}")
        stack.append((0, leaf))
        size += 1
        while len(stack) >= 2 and stack[-1][0] == stack[-2][0]:
            level, right = stack.pop()
            _, left = stack.pop()
            merged = node_hash(left, right)
            created.append((level + 1, (size >> (level + 1)) - 1, merged))
            stack.append((level + 1, merged))
    return Frontier(size, tuple(node for _, node in stack)), created


def root_from_frontier(frontier: Frontier) -> bytes:
    """Return the root of the tree the frontier describes (``EMPTY_ROOT`` for size 0)."""
    return fold_range(frontier.nodes)


# --- proofs from stored nodes -------------------------------------------------------------------


def _split(n: int) -> int:
    """Return the largest power of two strictly less than ``n`` (for ``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof_plan(index: int, size: int) -> list[tuple[int, int]]:
    """Return the leaf ranges ``(start, end)`` whose MTHs form PATH(index, D[0:size]), in order.

    Raises:
        RangeError: unless ``0 <= index < size``.
    """
    if not 0 <= index < size:
        raise RangeError(f"leaf index {index} is not in a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def consistency_proof_plan(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Return the leaf ranges whose MTHs form PROOF(old_size, D[0:new_size]), in order.

    The plan is empty when ``old_size`` is 0 or equal to ``new_size`` (see the module notes).

    Raises:
        RangeError: if ``old_size`` is negative or greater than ``new_size``.
    """
    if not 0 <= old_size <= new_size:
        raise RangeError(f"cannot prove size {old_size} consistent with size {new_size}")
    ranges: list[tuple[int, int]] = []
    if old_size == 0:
        return ranges
    lo, hi, m, complete = 0, new_size, old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            m -= k
            complete = False
    if not complete:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def range_nodes(start: int, end: int) -> list[tuple[int, int]]:
    """Return the perfect subtrees ``(level, index)`` whose fold is MTH(D[start:end]).

    Precondition: ``0 <= start <= end`` and ``start`` is a multiple of the smallest power of
    two that is ``>= end - start``. Then MTH(D[start:end]) is the hash of a subtree with the
    same shape as a tree of ``end - start`` leaves: perfect subtrees for the set bits of the
    length, largest first, all aligned. Every range in a proof plan, and ``[0, size)``, meets
    this; an arbitrary range such as ``[1, 3)`` does not (its MTH is not a node of the tree).
    The empty range gives no nodes (``fold_range([])`` is ``EMPTY_ROOT``); only ``[0, 0)``
    is allowed.

    Raises:
        RangeError: if the range violates the precondition.
    """
    length = end - start
    if start < 0 or length < 0:
        raise RangeError(f"leaf range [{start}, {end}) is not a valid range")
    if length == 0:
        if start != 0:
            raise RangeError(f"empty leaf range [{start}, {end}) is only allowed at 0")
        return []
    span = 1 << (length - 1).bit_length()
    if start % span:
        raise RangeError(
            f"leaf range [{start}, {end}) does not start on a multiple of {span}, so its MTH "
            "is not a fold of stored perfect subtrees"
        )
    nodes: list[tuple[int, int]] = []
    pos = start
    for level in range(length.bit_length() - 1, -1, -1):
        if length >> level & 1:
            nodes.append((level, pos >> level))
            pos += 1 << level
    return nodes


def fold_range(nodes: Sequence[bytes]) -> bytes:
    """Fold perfect-subtree hashes right to left as MTH does; ``EMPTY_ROOT`` if there are none."""
    if not nodes:
        return EMPTY_ROOT
    for i, node in enumerate(nodes):
        _check_hash(node, f"node {i}")
    acc = nodes[-1]
    for node in reversed(nodes[:-1]):
        acc = node_hash(node, acc)
    return acc


def _range_hash(start: int, end: int, get_node: NodeGetter) -> bytes:
    return fold_range([get_node(level, index) for level, index in range_nodes(start, end)])


def inclusion_proof(index: int, size: int, get_node: NodeGetter) -> list[bytes]:
    """Return the audit path of leaf ``index`` in the tree of ``size`` leaves."""
    return [_range_hash(s, e, get_node) for s, e in inclusion_proof_plan(index, size)]


def consistency_proof(old_size: int, new_size: int, get_node: NodeGetter) -> list[bytes]:
    """Return the consistency proof between the trees of ``old_size`` and ``new_size`` leaves."""
    return [_range_hash(s, e, get_node) for s, e in consistency_proof_plan(old_size, new_size)]


def root_at(size: int, get_node: NodeGetter) -> bytes:
    """Return the root of the tree of the first ``size`` leaves."""
    if size < 0:
        raise RangeError(f"tree size {size} is negative")
    return _range_hash(0, size, get_node)


class MemoryTree:
    """A tree kept in memory, every perfect-subtree node (level 0 included) in a dict."""

    def __init__(self, leaf_hashes: Sequence[bytes] = ()) -> None:
        self._frontier = Frontier(0)
        self._nodes: dict[tuple[int, int], bytes] = {}
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        return self._frontier.size

    @property
    def frontier(self) -> Frontier:
        return self._frontier

    def append(self, leaf: bytes) -> None:
        self.extend([leaf])

    def extend(self, leaf_hashes: Sequence[bytes]) -> None:
        start = self.size
        self._frontier, created = append_leaves(self._frontier, leaf_hashes)
        for offset, leaf in enumerate(leaf_hashes):
            self._nodes[0, start + offset] = leaf
        for level, index, value in created:
            self._nodes[level, index] = value

    def get_node(self, level: int, index: int) -> bytes:
        try:
            return self._nodes[level, index]
        except KeyError:
            raise RangeError(
                f"node ({level}, {index}) is not complete in a tree of size {self.size}"
            ) from None

    def root(self, size: int | None = None) -> bytes:
        return root_at(self._size_arg(size), self.get_node)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self._size_arg(size), self.get_node)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return consistency_proof(old_size, self._size_arg(new_size), self.get_node)

    def _size_arg(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise RangeError(f"tree size {size} is outside 0..{self.size}")
        return size


# --- verification ---------------------------------------------------------------------------


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for i, element in enumerate(proof):
        _check_hash(element, f"proof element {i}", ProofError)


def _check_match(computed: bytes, expected: bytes, what: str) -> None:
    if computed != expected:
        raise ProofError(
            f"proof gives {what} {computed.hex()}, but the expected {what} is {expected.hex()}"
        )


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` (a leaf hash) is at ``index`` in the tree of ``size`` with ``root``.

    Raises:
        ProofError: saying which check failed.
    """
    _check_hash(leaf, "leaf hash", ProofError)
    _check_hash(root, "root", ProofError)
    _check_proof_hashes(proof)
    if index < 0 or index >= size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    if len(proof) != inner + border:
        raise ProofError(
            f"inclusion proof for leaf {index} in a tree of size {size} must have "
            f"{inner + border} hashes, got {len(proof)}"
        )
    acc = leaf
    for level, sibling in enumerate(proof[:inner]):
        acc = node_hash(sibling, acc) if index >> level & 1 else node_hash(acc, sibling)
    for sibling in proof[inner:]:
        acc = node_hash(sibling, acc)
    _check_match(acc, root, "root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``new_size`` with ``new_root`` extends the one of ``old_size``.

    Raises:
        ProofError: saying which check failed.
    """
    _check_hash(old_root, "old root", ProofError)
    _check_hash(new_root, "new root", ProofError)
    _check_proof_hashes(proof)
    if old_size < 0 or old_size > new_size:
        raise ProofError(f"old size {old_size} is not between 0 and new size {new_size}")
    if (old_size == 0 or old_size == new_size) and proof:
        raise ProofError(
            f"consistency proof from size {old_size} to {new_size} must be empty, "
            f"got {len(proof)} hashes"
        )
    if old_size == 0:
        _check_match(old_root, EMPTY_ROOT, "old root")
        return
    if old_size == new_size:
        _check_match(new_root, old_root, "root")
        return
    if not proof:
        raise ProofError(f"consistency proof from size {old_size} to {new_size} is empty")

    # The proof is a suffix of the inclusion proof of leaf old_size - 1 in the new tree,
    # starting at the level of the largest perfect subtree that ends at old_size.
    inner = ((old_size - 1) ^ (new_size - 1)).bit_length()
    border = ((old_size - 1) >> inner).bit_count()
    shift = (old_size & -old_size).bit_length() - 1
    inner -= shift
    if old_size == 1 << shift:
        seed, rest = old_root, proof
    else:
        seed, rest = proof[0], proof[1:]
    expected = len(proof) - len(rest) + inner + border
    if len(proof) != expected:
        raise ProofError(
            f"consistency proof from size {old_size} to {new_size} must have {expected} "
            f"hashes, got {len(proof)}"
        )
    mask = (old_size - 1) >> shift
    old_acc = new_acc = seed
    for level, sibling in enumerate(rest[:inner]):
        if mask >> level & 1:
            old_acc = node_hash(sibling, old_acc)
            new_acc = node_hash(sibling, new_acc)
        else:
            new_acc = node_hash(new_acc, sibling)
    for sibling in rest[inner:]:
        old_acc = node_hash(sibling, old_acc)
        new_acc = node_hash(sibling, new_acc)
    _check_match(old_acc, old_root, "old root")
    _check_match(new_acc, new_root, "new root")
