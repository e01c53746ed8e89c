"""The edges of a connection: reading ``welcome`` after ``hello``, and reading its close.

Both turn what the server said into the client's own errors: a refused ``hello`` is a
:class:`~client.errors.HelloRefused` (an :class:`~client.errors.AuthenticationFailed` for a bad
token), and a close that will not be resumed is a :class:`~client.errors.ConnectionClosed` of
the kind its code means.
"""

from __future__ import annotations

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed as WebSocketClosed

from client import codec
from client.errors import (
    AuthenticationFailed,
    ConnectionClosed,
    HelloRefused,
    ProtocolError,
    SeatRevoked,
)
from protocol.errors import CloseCode, ErrorCode
from protocol.frames import ErrorFrame, Welcome


async def read_welcome(ws: ClientConnection) -> Welcome:
    """Read until ``welcome``; an ``error`` frame instead is a refusal of ``hello``."""
    while True:
        try:
            text = await ws.recv()
        except WebSocketClosed as exc:
            if exc.rcvd is not None and exc.rcvd.code == CloseCode.UNAUTHENTICATED:
                reason = exc.rcvd.reason or "unknown, rotated or revoked token"
                raise AuthenticationFailed(
                    CloseCode.UNAUTHENTICATED, ErrorCode.UNAUTHENTICATED, reason
                ) from exc
            raise
        frame = codec.parse(text)
        if isinstance(frame, Welcome):
            return frame
        if isinstance(frame, ErrorFrame):
            cls = AuthenticationFailed if frame.code == ErrorCode.UNAUTHENTICATED else HelloRefused
            raise cls(None, frame.code, frame.message, field=frame.field)
        if frame is not None:
            raise ProtocolError(f"expected welcome, got a {frame.type} frame")


def close_code(exc: WebSocketClosed) -> CloseCode | int | None:
    if exc.rcvd is None:
        return None
    try:
        return CloseCode(exc.rcvd.code)
    except ValueError:
        return exc.rcvd.code


def closed_error(exc: WebSocketClosed) -> ConnectionClosed:
    """The final error for a connection that closed and will not be resumed."""
    code = close_code(exc)
    reason = (exc.rcvd.reason if exc.rcvd is not None else "") or "no close frame"
    if code == CloseCode.SEAT_REVOKED:
        return SeatRevoked(code, reason)
    if code == CloseCode.UNAUTHENTICATED:
        return AuthenticationFailed(code, ErrorCode.UNAUTHENTICATED, reason)
    return ConnectionClosed(code, reason)
