"""RFC 8785 canonical encoding: known answers, and agreement with an independent implementation."""

from __future__ import annotations

import hashlib

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.canonical import MAX_SAFE_INTEGER, CanonicalError, _encode, _fast, canonical_json
from server.domain.events import EventKind, build_record
from server.ledger.merkle import leaf_hash


def test_members_sort_by_utf16_code_units_rfc8785_3_2_3() -> None:
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    names = [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]
    encoded = canonical_json(value).decode()
    positions = [encoded.index(name) for name in names]
    assert positions == sorted(positions)


def test_string_escapes_rfc8785_3_2_2_2() -> None:
    value = {"string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/"}
    assert canonical_json(value) == '{"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'.encode()


def test_control_characters_use_short_or_lowercase_unicode_escapes() -> None:
    value = ["\b\t\n\f\r", "\x00\x1f\x7f", "\u2028"]
    assert canonical_json(value) == b'["\\b\\t\\n\\f\\r","\\u0000\\u001f\x7f","\xe2\x80\xa8"]'


def test_nested_structures_have_no_whitespace() -> None:
    value = {"b": [1, {"d": None, "c": True}], "a": {"z": False, "y": -0}}
    assert canonical_json(value) == b'{"a":{"y":0,"z":false},"b":[1,{"c":true,"d":null}]}'


def test_integers_up_to_two_to_the_53_minus_one() -> None:
    assert canonical_json([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]) == (
        b"[9007199254740991,-9007199254740991]"
    )
    with pytest.raises(CanonicalError, match="/0"):
        canonical_json([MAX_SAFE_INTEGER + 1])


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"terms": {"ceiling": 1.5}}, "/terms/ceiling"),
        ({"bad": "\ud800"}, "/bad"),
        ({1: "x"}, "/"),
        ({"blob": b"raw"}, "/blob"),
    ],
)
def test_values_without_a_canonical_form_are_refused_with_their_path(
    value: object, where: str
) -> None:
    with pytest.raises(CanonicalError) as caught:
        canonical_json(value)
    assert caught.value.path == where.rstrip("/") or str(caught.value).endswith(where)


def test_leaf_hash_of_a_record_known_answer() -> None:
    record = {"seq": 1, "kind": "room_created", "body": {"title": "Paris"}}
    encoded = canonical_json(record)
    assert encoded == b'{"body":{"title":"Paris"},"kind":"room_created","seq":1}'
    assert leaf_hash(encoded).hex() == hashlib.sha256(b"\x00" + encoded).hexdigest()
    assert leaf_hash(encoded).hex() == (
        "e29fb0d69dd6d4dd8b7ee732ad683b033860a5cae1efecd2ee2117c4d6562f57"
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.text(st.characters(exclude_categories=("Cs",))),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.text(st.characters(exclude_categories=("Cs",)), max_size=6), children, max_size=5
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_agrees_with_the_independent_rfc8785_package(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
optional_ids = st.none() | st.text(max_size=12)
records = st.builds(
    build_record,
    room=st.text(max_size=12),
    seq=st.integers(1, MAX_SAFE_INTEGER),
    kind=st.sampled_from([str(kind) for kind in EventKind]),
    stage=texts,
    seat=optional_ids,
    party=optional_ids,
    thread=optional_ids,
    ts=st.just("2026-12-04T18:00:00.123456Z"),
    salt=st.binary(min_size=16, max_size=16),
    body=st.dictionaries(texts, json_values, max_size=6),
)


@settings(max_examples=500, deadline=None)
@given(records)
def test_records_agree_with_the_independent_rfc8785_package(record: dict[str, object]) -> None:
    assert canonical_json(record) == rfc8785.dumps(record)


@settings(max_examples=300, deadline=None)
@given(json_values | records)
def test_fast_path_gives_the_exact_encoders_bytes_or_declines(value: object) -> None:
    fast = _fast(value)
    exact: list[str] = []
    _encode(value, "", exact)
    assert fast is None or fast == "".join(exact).encode("utf-8")


def test_fast_path_declines_what_it_cannot_vouch_for() -> None:
    assert _fast({"a": 1.5}) is None
    assert _fast([2**53]) is None
    assert _fast({1: "x"}) is None
    assert _fast({"\U0001f600": 1, "\uffff": 2}) is None  # order differs in UTF-16
    assert _fast({"text": "plain ascii"}) == b'{"text":"plain ascii"}'
