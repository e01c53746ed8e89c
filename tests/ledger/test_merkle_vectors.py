"""Known-answer vectors: transparency-dev/merkle, CT C++ and the RFC 6962 §2.1.3 worked example."""

from __future__ import annotations

import base64

import pytest

from server.ledger.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    ProofError,
    RangeError,
    inclusion_proof_plan,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

INPUTS = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f"]
]  # fmt: skip

LEAF_HASHES = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]

NODES = {
    (1, 0): "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    (1, 1): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    (1, 2): "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    (1, 3): "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    (2, 0): "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    (2, 1): "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    (3, 0): "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# (0-based leaf index, tree size, audit path)
INCLUSION = [
    (0, 1, []),
    (0, 8, [LEAF_HASHES[1], NODES[1, 1], NODES[2, 1]]),
    (5, 8, [LEAF_HASHES[4], NODES[1, 3], NODES[2, 0]]),
    (2, 3, [NODES[1, 0]]),
    (1, 5, [LEAF_HASHES[0], NODES[1, 1], LEAF_HASHES[4]]),
]

# (old size, new size, proof)
CONSISTENCY = [
    (1, 1, []),
    (1, 8, [LEAF_HASHES[1], NODES[1, 1], NODES[2, 1]]),
    (6, 8, [NODES[1, 2], NODES[1, 3], NODES[2, 0]]),
    (2, 5, [NODES[1, 1], LEAF_HASHES[4]]),
    (6, 7, [NODES[1, 2], LEAF_HASHES[6], NODES[2, 0]]),
]


def h(hex_values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in hex_values]


@pytest.fixture(scope="module")
def tree() -> MemoryTree:
    return MemoryTree([leaf_hash(d) for d in INPUTS])


def test_tables_agree_with_each_other_and_with_base64_values() -> None:
    # Guards against typos in the tables above; the base64 forms are quoted by the JSON probes.
    assert base64.b64encode(bytes.fromhex(ROOTS[8])) == (
        b"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg="
    )
    assert base64.b64encode(bytes.fromhex(LEAF_HASHES[0])) == (
        b"bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0="
    )
    assert (ROOTS[1], ROOTS[2], ROOTS[4], ROOTS[8]) == (
        LEAF_HASHES[0],
        NODES[1, 0],
        NODES[2, 0],
        NODES[3, 0],
    )


@pytest.mark.parametrize("i", range(8))
def test_leaf_hash_matches_vector(i: int) -> None:
    assert leaf_hash(INPUTS[i]).hex() == LEAF_HASHES[i]


def test_all_stored_interior_nodes_match_vectors(tree: MemoryTree) -> None:
    for (level, index), value in NODES.items():
        assert tree.get_node(level, index).hex() == value


def test_empty_root_is_sha256_of_empty_string() -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]


@pytest.mark.parametrize("size", range(9))
def test_root_for_each_size_matches_vector(tree: MemoryTree, size: int) -> None:
    assert tree.root(size).hex() == ROOTS[size]
    assert root_from_leaf_hashes([leaf_hash(d) for d in INPUTS[:size]]).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proof_generated_matches_vector(
    tree: MemoryTree, index: int, size: int, path: list[str]
) -> None:
    assert [p.hex() for p in tree.inclusion_proof(index, size)] == path


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_vector_verifies(index: int, size: int, path: list[str]) -> None:
    leaf = bytes.fromhex(LEAF_HASHES[index])
    verify_inclusion(index, size, leaf, h(path), bytes.fromhex(ROOTS[size]))


def test_inclusion_in_empty_tree_is_rejected(tree: MemoryTree) -> None:
    with pytest.raises(ProofError, match="not in a tree of size 0"):
        verify_inclusion(0, 0, bytes.fromhex(LEAF_HASHES[0]), [], EMPTY_ROOT)
    with pytest.raises(RangeError):
        inclusion_proof_plan(0, 0)
    with pytest.raises(RangeError):
        tree.inclusion_proof(0, 0)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proof_generated_matches_vector(
    tree: MemoryTree, old: int, new: int, proof: list[str]
) -> None:
    assert [p.hex() for p in tree.consistency_proof(old, new)] == proof


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_vector_verifies(old: int, new: int, proof: list[str]) -> None:
    verify_consistency(old, new, bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new]), h(proof))


# RFC 6962 §2.1.3 worked example, 7 leaves: a..f, j are leaf hashes of d0..d6.
a, b, c, d, e, f, j = LEAF_HASHES[:7]
g, hh, i_, k = NODES[1, 0], NODES[1, 1], NODES[1, 2], NODES[2, 0]
L = "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e"  # l = (i, j), derived


def test_rfc_example_node_l_and_root() -> None:
    seven = MemoryTree([leaf_hash(x) for x in INPUTS[:7]])
    assert seven.root().hex() == ROOTS[7]
    # l is MTH(D[4:7]); its two parts are stored perfect nodes (1, 2) and (0, 6).
    assert seven.consistency_proof(4, 7)[0].hex() == L


@pytest.mark.parametrize(
    ("index", "path"),
    [(0, [b, hh, L]), (3, [c, g, L]), (4, [f, j, k]), (6, [i_, k])],
)
def test_rfc_example_audit_paths(tree: MemoryTree, index: int, path: list[str]) -> None:
    assert [p.hex() for p in tree.inclusion_proof(index, 7)] == path
    verify_inclusion(index, 7, bytes.fromhex(LEAF_HASHES[index]), h(path), bytes.fromhex(ROOTS[7]))


@pytest.mark.parametrize(
    ("old", "proof"),
    [(3, [c, d, g, L]), (4, [L]), (6, [i_, j, k])],
)
def test_rfc_example_consistency_proofs(tree: MemoryTree, old: int, proof: list[str]) -> None:
    assert [p.hex() for p in tree.consistency_proof(old, 7)] == proof
    verify_consistency(old, 7, bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[7]), h(proof))
