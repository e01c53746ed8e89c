"""``protocol.frames.decode_command``: strict decoding, and the error code, field and id it
reports for every defect. The bad-frame corpus (tests/web/bad_frames.py) is checked here too,
without a server: every case the decoder refuses must be refused with the corpus's answer, and
every case the corpus leaves to the gateway or the room's rules must decode."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import PROTOCOL_VERSION
from protocol.errors import ErrorCode
from protocol.frames import (
    CLIENT_TYPES,
    SERVER_FRAME,
    AcceptBackchannel,
    Ack,
    DeclineBackchannel,
    DiscloseThread,
    ErrorFrame,
    EventFrame,
    FrameError,
    Hello,
    OpenBackchannel,
    Ping,
    PostMessage,
    SeatResume,
    TableProposal,
    decode_command,
    encode,
)
from tests.web.bad_frames import BadFrame, Layer, build, example_targets

CORPUS = build(example_targets())


def frame(**fields: Any) -> str:
    return json.dumps({"v": 1, **fields})


def refusal(text: str) -> FrameError:
    with pytest.raises(FrameError) as caught:
        decode_command(text)
    return caught.value


# -- valid frames ------------------------------------------------------------------------


def test_hello_decodes_with_defaults() -> None:
    hello = decode_command(
        frame(type="hello", seats=[{"token": "ps_a"}, {"token": "ps_b", "after": 9}])
    )
    assert hello == Hello(
        type="hello",
        seats=[SeatResume(token="ps_a", after=0), SeatResume(token="ps_b", after=9)],
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"type": "post_message", "id": "c1", "room": "r-1", "thread": "plenary", "text": "Hi"},
            PostMessage(type="post_message", id="c1", room="r-1", thread="plenary", text="Hi"),
        ),
        (
            {"type": "open_backchannel", "id": "c2", "room": "r-1", "parties": ["drv"]},
            OpenBackchannel(
                type="open_backchannel", id="c2", room="r-1", parties=["drv"], title=""
            ),
        ),
        (
            {"type": "accept_backchannel", "id": "c3", "room": "r-1", "thread": "bc-1"},
            AcceptBackchannel(type="accept_backchannel", id="c3", room="r-1", thread="bc-1"),
        ),
        (
            {"type": "decline_backchannel", "id": "c3", "room": "r-1", "thread": "bc-1"},
            DeclineBackchannel(type="decline_backchannel", id="c3", room="r-1", thread="bc-1"),
        ),
        (
            {
                "type": "disclose_thread",
                "id": "c4",
                "room": "r-1",
                "thread": "bc-1",
                "to": "everyone",
            },
            DiscloseThread(
                type="disclose_thread", id="c4", room="r-1", thread="bc-1", to="everyone"
            ),
        ),
        ({"type": "ping", "id": "c5"}, Ping(type="ping", id="c5")),
    ],
)
def test_each_command_decodes_to_its_model(fields: dict[str, Any], expected: object) -> None:
    assert decode_command(frame(**fields)) == expected


def test_every_client_type_is_decodable() -> None:
    assert sorted(CLIENT_TYPES) == sorted(
        [
            "hello",
            "post_message",
            "open_backchannel",
            "accept_backchannel",
            "decline_backchannel",
            "disclose_thread",
            "add_issue",
            "set_position",
            "table_proposal",
            "endorse_proposal",
            "answer_proposal",
            "withdraw_proposal",
            "record_concession",
            "change_stage",
            "consent_stage",
            "declare_coalition",
            "join_coalition",
            "sign_agreement",
            "ping",
        ]
    )


def test_proposal_terms_keep_their_json_types() -> None:
    fields = {
        "type": "table_proposal",
        "id": "c9",
        "room": "r-1",
        "thread": "plenary",
        "terms": {"troops": 27000, "ceasefire": True, "withdrawal": "1973-03-29"},
    }
    decoded = decode_command(frame(**fields))
    assert isinstance(decoded, TableProposal)
    assert decoded.terms == {"troops": 27000, "ceasefire": True, "withdrawal": "1973-03-29"}
    assert type(decoded.terms["ceasefire"]) is bool
    assert type(decoded.terms["troops"]) is int


@pytest.mark.parametrize("value", [1.5, None, [1], {"a": 1}])
def test_proposal_terms_refuse_floats_and_structures(value: object) -> None:
    fields = {
        "type": "table_proposal",
        "id": "c9",
        "room": "r-1",
        "thread": "plenary",
        "terms": {"troops": value},
    }
    with pytest.raises(FrameError) as caught:
        decode_command(frame(**fields))
    assert caught.value.code == ErrorCode.INVALID
    assert caught.value.field is not None and caught.value.field.startswith("terms.troops")


@pytest.mark.parametrize(
    "cid", ["a", "0", "c-1", "c_1", "c.1", "c:1", "A" * 64, "2024-05-01T10:00:00.123Z"]
)
def test_command_ids_of_the_allowed_alphabet_decode(cid: str) -> None:
    assert decode_command(frame(type="ping", id=cid)) == Ping(type="ping", id=cid)


def test_text_keeps_every_valid_character() -> None:
    text = "Ça va? 😀 \u0000 \u200b \ufeff \U0010ffff"
    decoded = decode_command(frame(type="post_message", id="c", room="r", thread="t", text=text))
    assert isinstance(decoded, PostMessage) and decoded.text == text


def test_the_order_of_keys_does_not_matter() -> None:
    text = '{"text":"Hi","thread":"plenary","room":"r-1","id":"c1","type":"post_message","v":1}'
    assert isinstance(decode_command(text), PostMessage)


def test_whitespace_around_the_object_is_allowed() -> None:
    assert isinstance(decode_command(' \n{"v":1,"type":"ping","id":"c"}\n '), Ping)


def test_a_duplicated_key_keeps_its_last_value() -> None:
    # Python's JSON parser keeps the last value; documented so clients do not rely on either.
    assert decode_command('{"v":2,"v":1,"type":"ping","id":"c"}') == Ping(type="ping", id="c")


# -- the order of the checks, and what each error carries ----------------------------------


def test_json_is_checked_before_anything_else() -> None:
    error = refusal('{"v":2,"type":"nope","id":"c1",}')
    assert (error.code, error.field, error.id) == (ErrorCode.BAD_FRAME, None, None)


def test_version_is_checked_before_type() -> None:
    error = refusal(json.dumps({"v": 2, "type": "nope", "id": "c1"}))
    assert (error.code, error.field, error.id) == (ErrorCode.UNSUPPORTED_VERSION, "v", "c1")
    assert "2" in error.message and str(PROTOCOL_VERSION) in error.message


def test_type_is_checked_before_fields() -> None:
    error = refusal(json.dumps({"v": 1, "type": "nope", "id": 5, "extra": 1}))
    assert (error.code, error.field, error.id) == (ErrorCode.UNKNOWN_TYPE, "type", None)


def test_a_missing_version_is_invalid_not_unsupported() -> None:
    error = refusal(json.dumps({"type": "ping", "id": "c1"}))
    assert (error.code, error.field, error.id) == (ErrorCode.INVALID, "v", "c1")


def test_a_boolean_is_not_version_1() -> None:
    error = refusal(json.dumps({"v": True, "type": "ping", "id": "c1"}))
    assert (error.code, error.field) == (ErrorCode.UNSUPPORTED_VERSION, "v")


def test_no_coercion_a_string_is_not_an_integer() -> None:
    error = refusal(frame(type="hello", seats=[{"token": "t", "after": "3"}]))
    assert (error.code, error.field, error.id) == (ErrorCode.INVALID, "seats.0.after", None)


def test_the_first_of_several_defects_is_reported() -> None:
    error = refusal(frame(type="post_message", id="c1", room=1, thread=2, text=3))
    assert (error.code, error.field, error.id) == (ErrorCode.INVALID, "room", "c1")


def test_an_unknown_field_is_named() -> None:
    error = refusal(frame(type="ping", id="c1", colour="red"))
    assert (error.code, error.field, error.id) == (ErrorCode.INVALID, "colour", "c1")
    assert "colour" in error.message


def test_the_field_of_a_nested_defect_is_a_dotted_path() -> None:
    error = refusal(frame(type="hello", seats=[{"token": "a"}, {"token": 3}]))
    assert error.field == "seats.1.token"


def test_a_lone_surrogate_in_text_is_invalid() -> None:
    error = refusal(frame(type="post_message", id="c1", room="r", thread="t", text="a\ud800"))
    assert (error.code, error.field, error.id) == (ErrorCode.INVALID, "text", "c1")
    assert "surrogate" in error.message


@pytest.mark.parametrize(
    ("raw_id", "echoed"),
    [
        ("c1", "c1"),
        ("not valid!", None),
        ("i" * 64, "i" * 64),
        ("i" * 65, None),
        ("", None),
        (7, None),
        (None, None),
        (["c1"], None),
    ],
)
def test_the_id_is_echoed_only_when_readable(raw_id: object, echoed: str | None) -> None:
    error = refusal(json.dumps({"v": 1, "type": "nope", "id": raw_id}))
    assert error.id == echoed


def test_a_deep_structure_is_a_bad_frame_not_a_crash() -> None:
    error = refusal("[" * 100_000 + "]" * 100_000)
    assert error.code == ErrorCode.BAD_FRAME


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_constants_are_refused(constant: str) -> None:
    error = refusal('{"v":1,"type":"ping","id":"c1","n":' + constant + "}")
    assert (error.code, error.id) == (ErrorCode.BAD_FRAME, None)
    assert constant.lstrip("-") in error.message


def test_the_message_never_echoes_more_than_40_characters_of_an_unknown_type() -> None:
    error = refusal(frame(type="x" * 5000, id="c1"))
    assert error.code == ErrorCode.UNKNOWN_TYPE and len(error.message) < 80


# -- errors become frames ------------------------------------------------------------------


def test_an_error_frame_round_trips_through_the_server_frame_schema() -> None:
    error = refusal(frame(type="ping", id="c1", extra=1))
    text = encode(
        ErrorFrame(id=error.id, code=error.code, message=error.message, field=error.field)
    )
    assert json.loads(text) == {
        "v": 1,
        "type": "error",
        "id": "c1",
        "code": "invalid",
        "message": error.message,
        "field": "extra",
    }
    assert SERVER_FRAME.validate_json(text) == ErrorFrame(
        id="c1", code=ErrorCode.INVALID, message=error.message, field="extra"
    )


def test_server_frames_validate() -> None:
    ack = SERVER_FRAME.validate_json('{"v":1,"type":"ack","id":"c1","room":"r","seq":3}')
    assert ack == Ack(id="c1", room="r", seq=3, duplicate=False)
    event = SERVER_FRAME.validate_json(
        '{"v":1,"type":"event","room":"r","seq":4,"kind":"message_posted","stage":"opening",'
        '"ts":"2024-01-01T00:00:00.000000Z","leaf_hash":"00","sealed":true,"record":null}'
    )
    assert isinstance(event, EventFrame) and event.record is None


def test_an_error_for_a_lone_surrogate_id_can_be_encoded() -> None:
    error = refusal('{"v":1,"type":"ping","id":"\\ud800"}')
    assert error.code == ErrorCode.INVALID and error.field == "id"
    encode(ErrorFrame(id=error.id, code=error.code, message=error.message, field=error.field))


# -- any input: a frame or a FrameError, never anything else -------------------------------

KEYS = st.sampled_from(
    [
        "v",
        "type",
        "id",
        "room",
        "thread",
        "text",
        "parties",
        "title",
        "to",
        "seats",
        "token",
        "after",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from([1, "hello", "ping", "post_message", "plenary", "r-1", "everyone"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=20,
)
FRAMES = st.fixed_dictionaries(
    {},
    optional={
        "v": st.just(1) | VALUES,
        "type": st.sampled_from(sorted(CLIENT_TYPES)) | VALUES,
        "id": st.text(alphabet="abc-:.", min_size=1, max_size=3) | VALUES,
        "room": st.just("r-1") | VALUES,
        "thread": st.just("plenary") | VALUES,
        "text": VALUES,
        "parties": st.just(["drv"]) | VALUES,
        "title": VALUES,
        "to": st.sampled_from(["observers", "everyone"]) | VALUES,
        "seats": st.just([{"token": "t"}]) | VALUES,
    },
)


@settings(max_examples=400, deadline=None)
@given(FRAMES | VALUES)
def test_any_json_decodes_or_is_refused_with_an_encodable_error(data: object) -> None:
    text = json.dumps(data)
    try:
        decoded = decode_command(text)
    except FrameError as error:
        assert error.code in ErrorCode
        assert error.message
        encode(ErrorFrame(id=error.id, code=error.code, message=error.message, field=error.field))
        if error.id is not None:
            assert isinstance(data, dict) and data.get("id") == error.id
        return
    assert type(decoded) is CLIENT_TYPES[decoded.type]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | st.binary(max_size=60).map(lambda b: b.decode("latin-1")))
def test_any_text_decodes_or_is_refused(text: str) -> None:
    try:
        decode_command(text)
    except FrameError as error:
        assert error.code in ErrorCode


# -- the bad-frame corpus, checked without a server ---------------------------------------


def corpus_id(case: BadFrame) -> str:
    return case.name


@pytest.mark.parametrize("case", [c for c in CORPUS if c.layer == Layer.DECODE], ids=corpus_id)
def test_corpus_decode_cases_are_refused_as_the_corpus_says(case: BadFrame) -> None:
    assert isinstance(case.frame, str)
    error = refusal(case.frame)
    assert (error.code, error.field, error.id) == (case.code, case.field, case.id), error.message


@pytest.mark.parametrize(
    "case", [c for c in CORPUS if c.layer in (Layer.GATEWAY, Layer.RULES)], ids=corpus_id
)
def test_corpus_gateway_and_rules_cases_decode(case: BadFrame) -> None:
    assert isinstance(case.frame, str)
    decoded = decode_command(case.frame)
    assert getattr(decoded, "id", None) == case.id


def test_the_corpus_is_large_and_covers_every_client_error_code() -> None:
    assert len(CORPUS) >= 200
    codes = {case.code for case in CORPUS}
    assert codes >= {
        ErrorCode.BAD_FRAME,
        ErrorCode.INVALID,
        ErrorCode.UNSUPPORTED_VERSION,
        ErrorCode.UNKNOWN_TYPE,
        ErrorCode.FRAME_TOO_LARGE,
        ErrorCode.ALREADY_GREETED,
        ErrorCode.NOT_FOUND,
        ErrorCode.FORBIDDEN,
        ErrorCode.CONFLICT,
        ErrorCode.TOO_LONG,
    }


# -- orjson's reading never changes the answer ----------------------------------------------

_ODD_NUMBERS = [
    "123456789012345678901234567890",  # beyond 64 bits: orjson reads a float, json an int
    "-98765432109876543210",
    "18446744073709551615",  # the largest unsigned 64-bit integer
    "9223372036854775808",
    "1E400",  # beyond a double: orjson refuses it, json reads inf
    "1.5",
    "-0",
    "NaN",
]
_ODD_STRINGS = ['"\\ud800"', '"\\udfff tail"', '"\\u0000"', '"caf\\u00e9"']


def _answer(text: str) -> object:
    try:
        return decode_command(text)
    except FrameError as exc:
        return (exc.code, exc.message, exc.field, exc.id)


def _exact_answer(text: str) -> object:
    from protocol.frames import _decode, _parse

    try:
        return _decode(_parse(text))
    except FrameError as exc:
        return (exc.code, exc.message, exc.field, exc.id)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [path] + [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [path] + [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_the_fast_reading_answers_as_json_reads(data: st.DataObject) -> None:
    """Every command's example with one member (or the whole frame) replaced by a number or
    string the two parsers read differently: decoded, or refused with the same error, exactly
    as ``json``'s reading decides."""
    from tests.web.frame_models import SHAPES

    kind = data.draw(st.sampled_from(sorted(SHAPES)))
    example = SHAPES[kind].example()
    path = data.draw(st.sampled_from(_leaves(example)))
    odd = data.draw(st.sampled_from(_ODD_NUMBERS + _ODD_STRINGS + ["1", '"x"']))
    marker = "\u2063odd\u2063"
    if path:
        target = example
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = marker
        text = json.dumps(example).replace(json.dumps(marker), odd)
        assert odd in text
    else:
        text = odd
    assert _answer(text) == _exact_answer(text), text


def test_no_frame_but_add_issue_accepts_a_float() -> None:
    """What the fast reading rests on: a float (orjson's reading of a very large integer) is
    refused everywhere but in ``add_issue``, which is always read by ``json``."""
    from tests.web.frame_models import SHAPES

    for kind in sorted(set(SHAPES) - {"add_issue"}):
        example = SHAPES[kind].example()
        every_field = [(name,) for name in SHAPES[kind].fields if name not in ("v", "type")]
        for path in _leaves(example)[1:] + every_field:
            changed = json.loads(json.dumps(example))
            target = changed
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = 1e30
            with pytest.raises(FrameError):
                decode_command(json.dumps(changed))


def test_add_issue_keeps_a_very_large_integer_exact() -> None:
    big = 123456789012345678901234567890
    issue = {"id": "troops", "title": "Troops", "type": "number", "min": 0, "max": big}
    decoded = decode_command(frame(type="add_issue", id="c1", room="r1", issue=issue))
    assert decoded.issue["max"] == big and type(decoded.issue["max"]) is int  # type: ignore[union-attr]
