"""Which failures are worth a reconnection, and how long to wait: plain functions."""

from __future__ import annotations

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosedError, InvalidMessage, InvalidStatus, InvalidURI
from websockets.frames import Close
from websockets.http11 import Response

from client.errors import (
    AuthenticationFailed,
    ConnectionClosed,
    ConnectionFailed,
    HelloRefused,
    ProtocolError,
    SeatRevoked,
    VerificationError,
)
from client.retry import backoff_delay, should_retry
from protocol.errors import RETRYABLE_CLOSE, CloseCode, ErrorCode


@pytest.mark.parametrize("code", sorted(RETRYABLE_CLOSE))
def test_close_codes_the_protocol_calls_retryable_are_retried(code: int) -> None:
    assert should_retry(code)


@pytest.mark.parametrize("code", [1000, 1006, 1012, 1013, 1014, None])
def test_normal_abnormal_and_restart_closes_are_retried(code: int | None) -> None:
    assert should_retry(code)


@pytest.mark.parametrize(
    "code",
    [
        CloseCode.UNAUTHENTICATED,
        CloseCode.SEAT_REVOKED,
        CloseCode.MESSAGE_TOO_BIG,
        1002,
        1008,
        4999,
    ],
)
def test_closes_that_would_happen_again_are_final(code: int) -> None:
    assert not should_retry(code)


def closed(code: int | None) -> ConnectionClosedError:
    frame = Close(code, "") if code is not None else None
    return ConnectionClosedError(frame, None)


def status(code: int) -> InvalidStatus:
    return InvalidStatus(Response(code, "", Headers()))


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (closed(CloseCode.GOING_AWAY), True),
        (closed(CloseCode.TOO_SLOW), True),
        (closed(None), True),
        (closed(CloseCode.SEAT_REVOKED), False),
        (ConnectionRefusedError(), True),
        (ConnectionResetError(), True),
        (TimeoutError(), True),
        (InvalidMessage("did not receive a valid HTTP response"), True),
        (status(503), True),
        (status(502), True),
        (status(403), False),
        (status(404), False),
        (InvalidURI("nope://", "not a ws URI"), False),
        (ConnectionClosed(CloseCode.GOING_AWAY, "shutting down"), True),
        (SeatRevoked(CloseCode.SEAT_REVOKED, "rotated"), False),
        (AuthenticationFailed(None, ErrorCode.UNAUTHENTICATED, "unknown token"), False),
        (HelloRefused(None, ErrorCode.INVALID, "after is beyond the log"), False),
        (ConnectionFailed("gave up", attempts=3), False),
        (ProtocolError("bad frame"), False),
        (VerificationError("r-1", 1, "ab", "cd"), False),
        (ValueError("a bug"), False),
    ],
)
def test_exceptions_are_retried_when_a_later_attempt_may_succeed(
    failure: BaseException, expected: bool
) -> None:
    assert should_retry(failure) is expected


def test_backoff_doubles_up_to_the_maximum_with_jitter_within_half() -> None:
    def delay(attempt: int, rand: float) -> float:
        return backoff_delay(attempt, initial=0.5, maximum=30.0, factor=2.0, rand=rand)

    assert [delay(n, 0.0) for n in range(8)] == [0.25, 0.5, 1, 2, 4, 8, 15, 15]
    assert [delay(n, 0.999999) for n in range(3)] == pytest.approx([0.5, 1, 2])
    assert delay(10_000, 0.5) == pytest.approx(22.5)
