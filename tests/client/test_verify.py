"""The client's own RFC 8785 encoder and leaf hash, checked against an independent library."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from client.errors import VerificationError
from client.models import Event
from client.verify import MAX_SAFE_INTEGER, NotCanonical, canonical_json, check_event, leaf_hash

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.text(st.characters(exclude_categories=["Cs"])),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(st.characters(exclude_categories=["Cs"])), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_canonical_json_agrees_with_rfc8785(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_members_sort_by_utf16_code_units() -> None:
    value = {"\U0001f600": 1, "\ufb33": 2, "\u20ac": 3, "1": 4}
    assert canonical_json(value).decode() == '{"1":4,"\u20ac":3,"\U0001f600":1,"\ufb33":2}'


@pytest.mark.parametrize("value", [1.5, 2**53, {"a": [float("nan")]}, "\ud800", b"bytes"])
def test_values_without_a_canonical_form_are_refused(value: object) -> None:
    with pytest.raises(NotCanonical):
        canonical_json(value)


def make_event(**overrides: Any) -> Event:
    record: dict[str, Any] = {
        "actor": {"party": "us", "seat": "us-1"},
        "body": {"text": "Good morning."},
        "kind": "message_posted",
        "room": "r-1",
        "salt": "00" * 16,
        "seq": 12,
        "stage": "opening",
        "thread": "plenary",
        "ts": "2026-11-25T10:00:00.123456Z",
        "v": 1,
    }
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    fields: dict[str, Any] = {
        "room": "r-1",
        "seq": 12,
        "kind": "message_posted",
        "stage": "opening",
        "ts": record["ts"],
        "leaf_hash": hashlib.sha256(b"\x00" + canonical).hexdigest(),
        "sealed": False,
        "record": record,
    }
    fields.update(overrides)
    return Event(**fields)


def test_a_full_event_matching_its_leaf_hash_passes() -> None:
    event = make_event()
    assert leaf_hash(event.record or {}) == event.leaf_hash
    check_event(event)


def test_a_tampered_record_fails_verification() -> None:
    event = make_event()
    tampered = dataclasses.replace(event, record={**(event.record or {}), "body": {"text": "No."}})
    with pytest.raises(VerificationError) as failed:
        check_event(tampered)
    assert (failed.value.room, failed.value.seq, failed.value.expected) == (
        "r-1",
        12,
        event.leaf_hash,
    )
    assert failed.value.actual is not None and failed.value.actual != event.leaf_hash


def test_a_record_with_a_float_fails_verification() -> None:
    event = make_event()
    bad = dataclasses.replace(event, record={**(event.record or {}), "seq": 12.0})
    with pytest.raises(VerificationError) as failed:
        check_event(bad)
    assert failed.value.actual is None


def test_a_sealed_event_has_nothing_to_check() -> None:
    check_event(make_event(sealed=True, record=None, leaf_hash="ab" * 32))
