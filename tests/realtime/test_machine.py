"""The connection state machine, stepped synchronously: no socket, no event loop."""

from __future__ import annotations

import pytest

from protocol.errors import RETRYABLE_CLOSE, CloseCode, ErrorCode
from server.realtime.machine import TRANSITIONS, IllegalStep, Input, Machine, State, Step
from server.services.errors import Unauthenticated
from server.storage.errors import DatabaseUnavailable, WriterClosed
from server.web.errors import close_code


def run(*inputs: Input) -> tuple[Machine, list[Step]]:
    machine = Machine()
    return machine, [machine.step(i) for i in inputs]


def test_a_new_connection_serves_nothing_but_hello() -> None:
    machine, steps = run(Input.COMMAND, Input.PING, Input.BAD_FRAME, Input.HELLO_REFUSED)
    assert [s.answer for s in steps] == [
        ErrorCode.HELLO_REQUIRED,
        ErrorCode.HELLO_REQUIRED,
        None,
        None,
    ]
    assert all(s.close is None for s in steps)
    assert machine.state is State.AWAITING_HELLO and machine.open


def test_hello_greets_and_a_second_hello_is_refused_without_closing() -> None:
    machine, steps = run(Input.HELLO_ACCEPTED, Input.COMMAND, Input.HELLO, Input.PING)
    assert machine.state is State.GREETED
    assert steps[2] == Step(State.GREETED, ErrorCode.ALREADY_GREETED)
    assert steps[1].answer is None and steps[3].answer is None


@pytest.mark.parametrize(
    ("inputs", "close"),
    [
        ((Input.HELLO_TIMEOUT,), CloseCode.HELLO_TIMEOUT),
        ((Input.BAD_TOKEN,), CloseCode.UNAUTHENTICATED),
        ((Input.TOO_SLOW,), CloseCode.TOO_SLOW),
        ((Input.HELLO_ACCEPTED, Input.TOO_SLOW), CloseCode.TOO_SLOW),
        ((Input.HELLO_ACCEPTED, Input.SEAT_REVOKED), CloseCode.SEAT_REVOKED),
        ((Input.HELLO_ACCEPTED, Input.SESSION_ENDED), CloseCode.UNAUTHENTICATED),
        ((Input.HELLO_ACCEPTED, Input.REPLAY_FAILED), CloseCode.INTERNAL_ERROR),
        ((Input.SHUTDOWN,), CloseCode.GOING_AWAY),
        ((Input.HELLO_ACCEPTED, Input.SHUTDOWN), CloseCode.GOING_AWAY),
    ],
)
def test_each_reason_to_close_names_its_close_code(
    inputs: tuple[Input, ...], close: CloseCode
) -> None:
    machine, steps = run(*inputs)
    assert steps[-1].close is close
    assert machine.state is State.CLOSING and not machine.open


def test_closing_ignores_late_reasons_and_ends_closed() -> None:
    machine, steps = run(Input.HELLO_ACCEPTED, Input.TOO_SLOW, Input.SEAT_REVOKED, Input.COMMAND)
    assert steps[2].close is None and steps[3].answer is None  # closed once, answers nothing
    machine.step(Input.CLOSED)
    assert machine.state is State.CLOSED


@pytest.mark.parametrize("event", [i for i in Input if i is not Input.CLOSED])
def test_a_closed_connection_takes_nothing_but_closed(event: Input) -> None:
    machine, _ = run(Input.PEER_CLOSED)
    with pytest.raises(IllegalStep, match=f"state 'closed' cannot take '{event.value}'"):
        machine.step(event)
    assert machine.state is State.CLOSED


def test_steps_that_make_no_sense_are_illegal() -> None:
    machine, _ = run(Input.HELLO_ACCEPTED)
    with pytest.raises(IllegalStep):
        machine.step(Input.HELLO_ACCEPTED)  # greeted twice
    with pytest.raises(IllegalStep):
        run(Input.REPLAY_FAILED)  # no replay runs before hello


def test_every_state_can_end_closed() -> None:
    for state in State:
        assert TRANSITIONS[(state, Input.CLOSED)].next is State.CLOSED


def test_retryable_closes_are_those_a_client_should_resume_after() -> None:
    closes = {step.close for step in TRANSITIONS.values() if step.close is not None}
    assert CloseCode.UNAUTHENTICATED in closes and CloseCode.UNAUTHENTICATED not in RETRYABLE_CLOSE
    assert CloseCode.SEAT_REVOKED not in RETRYABLE_CLOSE
    assert {CloseCode.TOO_SLOW, CloseCode.INTERNAL_ERROR, CloseCode.GOING_AWAY} <= RETRYABLE_CLOSE


def test_the_error_table_and_the_machine_agree_on_close_codes() -> None:
    bad_token = TRANSITIONS[(State.AWAITING_HELLO, Input.BAD_TOKEN)]
    assert close_code(Unauthenticated("no such token")) is bad_token.close
    assert close_code(DatabaseUnavailable("gone")) is CloseCode.INTERNAL_ERROR
    assert close_code(WriterClosed()) is CloseCode.GOING_AWAY
    assert close_code(RuntimeError("unexpected")) is CloseCode.INTERNAL_ERROR
