"""When to reconnect, and how long to wait first: two pure functions.

:func:`should_retry` reads the close code's contract from ``protocol.errors.RETRYABLE_CLOSE``
and adds the transport failures that a later attempt may not meet (refused or reset
connections, timeouts, a 5xx answer to the upgrade). Anything that would fail the same way
again (a refused token, a revoked seat, a frame the server found too big, a URL that is not a
WebSocket endpoint) is not retried.
"""

from __future__ import annotations

from websockets.exceptions import (
    ConnectionClosed as WebSocketClosed,
)
from websockets.exceptions import (
    InvalidMessage,
    InvalidStatus,
)

from client.errors import ConnectionClosed, ConnectionFailed, HelloRefused, ParleyError
from protocol.errors import RETRYABLE_CLOSE

ABNORMAL_CLOSURE = 1006
"""No close frame: the TCP connection dropped (a killed server, a network failure)."""

RETRYABLE_CODES: frozenset[int] = frozenset(
    {
        *RETRYABLE_CLOSE,  # 1001 going away, 1011, 4000 hello timeout, 4008 too slow
        1000,  # the server never ends a session on purpose with 1000; resuming costs nothing
        ABNORMAL_CLOSURE,
        1012,  # service restart
        1013,  # try again later
        1014,  # bad gateway (a proxy in front of the server)
    }
)
"""Close codes after which the client reconnects and resumes. Every other code is final."""

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
"""HTTP statuses answering the upgrade request that a later attempt may not get."""


def should_retry(failure: BaseException | int | None) -> bool:
    """Whether reconnecting after ``failure`` may succeed.

    Args:
        failure: a close code, None for a connection that ended without one (1006), or the
            exception that ended or prevented a connection.
    """
    if failure is None:
        return True
    if isinstance(failure, int):
        return failure in RETRYABLE_CODES
    if isinstance(failure, HelloRefused | ConnectionFailed):
        return False
    if isinstance(failure, ConnectionClosed):
        return failure.code is not None and should_retry(int(failure.code))
    if isinstance(failure, ParleyError):
        return False
    if isinstance(failure, WebSocketClosed):
        return should_retry(failure.rcvd.code if failure.rcvd is not None else None)
    if isinstance(failure, InvalidStatus):
        return failure.response.status_code in RETRYABLE_STATUS
    # The server closed or reset the connection during the upgrade, a socket error, a timeout.
    return isinstance(failure, InvalidMessage | OSError | TimeoutError | EOFError)


def backoff_delay(
    attempt: int, *, initial: float, maximum: float, factor: float, rand: float
) -> float:
    """Seconds to wait before reconnection attempt number ``attempt`` (0 for the first).

    Exponential with "equal jitter": half of ``min(maximum, initial * factor**attempt)`` is
    fixed, the other half scaled by ``rand`` (a number in [0, 1)), so that clients dropped
    together do not all come back at the same instant.
    """
    base = min(maximum, initial * factor ** min(attempt, 64))
    return base / 2 + base / 2 * rand
