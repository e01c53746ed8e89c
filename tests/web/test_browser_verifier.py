"""The browser's verifier (client/web/js/verify.js) against RFC 6962's recursive definitions
and the server's RFC 8785 encoder, run in Chromium: every inclusion and consistency proof of
trees up to 17 leaves verifies, and every proof with one byte changed does not."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from protocol.canonical import canonical_json
from server.exercise.scenarios import tutorial
from tests.support.browser import chromium, site

pytestmark = pytest.mark.browser
MAX = 17


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: Sequence[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return h(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = split(len(leaves))
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    if m == len(leaves):
        return [] if complete else [mth(leaves)]
    k = split(len(leaves))
    if m <= k:
        return [*subproof(m, leaves[:k], complete), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


LEAVES = [h(b"\x00" + i.to_bytes(4, "big")) for i in range(MAX)]


def flip(proof: list[bytes]) -> list[bytes]:
    return [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with site(tmp_path_factory.mktemp("verifier"), tutorial()) as s, chromium() as browser:
        page = browser.new_page()
        page.goto(s.server.base_url + "/")
        yield page


RUN = """async (cases) => {
  const v = await import("/web/js/verify.js");
  const out = [];
  for (const c of cases) {
    const un = (list) => list.map(v.unhex);
    if (c.kind === "inclusion") {
      out.push(await v.verifyInclusion(
        c.index, c.size, v.unhex(c.leaf), un(c.proof), v.unhex(c.root)));
    } else {
      out.push(await v.verifyConsistency(
        c.first, c.second, v.unhex(c.firstRoot), v.unhex(c.secondRoot), un(c.proof)));
    }
  }
  return out;
}"""


def test_every_inclusion_proof_verifies_and_none_altered_does(page: Any) -> None:
    cases, expected = [], []
    for size in range(1, MAX + 1):
        leaves, root = LEAVES[:size], mth(LEAVES[:size])
        for m in range(size):
            proof = path(m, leaves)
            good = {
                "kind": "inclusion",
                "index": m,
                "size": size,
                "leaf": leaves[m].hex(),
                "root": root.hex(),
                "proof": [p.hex() for p in proof],
            }
            cases.append(good)
            expected.append(True)
            if proof:
                cases.append({**good, "proof": [p.hex() for p in flip(proof)]})
                expected.append(False)
            cases.append({**good, "index": (m + 1) % size} if size > 1 else {**good, "size": 2})
            expected.append(False)
    assert page.evaluate(RUN, cases) == expected


def test_every_consistency_proof_verifies_and_none_altered_does(page: Any) -> None:
    cases, expected = [], []
    for second in range(1, MAX + 1):
        for first in range(1, second + 1):
            proof = subproof(first, LEAVES[:second], True)
            good = {
                "kind": "consistency",
                "first": first,
                "second": second,
                "firstRoot": mth(LEAVES[:first]).hex(),
                "secondRoot": mth(LEAVES[:second]).hex(),
                "proof": [p.hex() for p in proof],
            }
            cases.append(good)
            expected.append(True)
            if proof:
                cases.append({**good, "proof": [p.hex() for p in flip(proof)]})
                expected.append(False)
            if first < second:
                cases.append({**good, "firstRoot": mth(LEAVES[: first + 1]).hex()})
                expected.append(False)
    assert page.evaluate(RUN, cases) == expected


RECORDS: list[dict[str, Any]] = [
    {"b": 1, "a": [True, False, None], "c": {"z": "", "y": -7}},
    {"text": 'quote " backslash \\ slash / tab \t newline \n nul \u0000 del \u007f'},
    {"é": "accent", "e": "plain", "\u20ac": "euro", "\U0001f600": "emoji \U0001f600"},
    {"big": 2**53 - 1, "neg": -(2**53 - 1), "zero": 0, "line": "\u2028\u2029"},
    {"\ud7ff": 1, "\ue000": 2, "\U00010000": 3},
]


def test_the_browser_hashes_records_exactly_as_the_server_does(page: Any) -> None:
    got = page.evaluate(
        """async (records) => {
          const v = await import("/web/js/verify.js");
          const one = async (r) => [v.canonical(r), v.hex(await v.leafHash(r))];
          return Promise.all(records.map(one));
        }""",
        RECORDS,
    )
    for record, (text, digest) in zip(RECORDS, got, strict=True):
        assert text.encode() == canonical_json(record)
        assert digest == h(b"\x00" + canonical_json(record)).hex()
