"""The wire's failure vocabulary: one enum of error codes, one of WebSocket close codes.

Error codes travel in ``error`` frames and HTTP error bodies alike::

    {"error": {"code": "not_found", "message": "no thread 'bc-1' in this room", "field": "thread"}}

Close codes are what the server closes a WebSocket with. Codes 4000-4999 are Parley's own;
whether a client should reconnect is part of each code's contract (see ``RETRYABLE_CLOSE``).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ErrorCode(StrEnum):
    """Every error code a client may see. The docs (docs/protocol.md) list them with examples."""

    # Generic, shared by HTTP and WebSocket.
    BAD_REQUEST = "bad_request"
    """The request is malformed in a way no more specific code covers."""
    INVALID = "invalid"
    """A field is missing, of the wrong type or out of range; ``field`` names it."""
    NOT_FOUND = "not_found"
    """No such room, seat or thread for this viewer (hidden things are reported as absent)."""
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNAUTHENTICATED = "unauthenticated"
    """No credentials, or a token that is unknown, rotated or revoked."""
    FORBIDDEN = "forbidden"
    """The seat is known but may not do this."""
    CONFLICT = "conflict"
    """The room's state does not allow this now (e.g. the back-channel is not live yet)."""
    STAGE_CLOSED = "stage_closed"
    """A rule of the room's current stage closes this action; the message names the rule."""
    TOO_LONG = "too_long"
    """A text field is longer than the documented limit; ``field`` names it."""
    RATE_LIMITED = "rate_limited"
    """Too many commands per second on this connection, or (HTTP 429, with ``Retry-After``) too
    many connections, redemptions or new WebSockets from this address; nothing was done."""
    UNAVAILABLE = "unavailable"
    """The server is shutting down or its database is unreachable; retry later."""
    INTERNAL_ERROR = "internal_error"
    """A bug: the server logged it. Nothing was appended unless an ack says so."""

    # WebSocket framing.
    BAD_FRAME = "bad_frame"
    """Not a JSON object in a text frame (binary frames, invalid JSON, arrays, ...)."""
    FRAME_TOO_LARGE = "frame_too_large"
    """A text frame above the documented frame limit (larger still: close 1009)."""
    UNSUPPORTED_VERSION = "unsupported_version"
    """The frame's ``v`` is not a protocol version this server speaks."""
    UNKNOWN_TYPE = "unknown_type"
    """The frame's ``type`` is not a command this server knows."""
    HELLO_REQUIRED = "hello_required"
    """A command arrived before ``hello`` was answered with ``welcome``."""
    ALREADY_GREETED = "already_greeted"
    """A second ``hello`` on a connection that already has its seats."""


class CloseCode(IntEnum):
    """WebSocket close codes the server uses."""

    NORMAL = 1000
    GOING_AWAY = 1001
    """The server is shutting down. Reconnect (to this or another process) and resume."""
    MESSAGE_TOO_BIG = 1009
    """A frame above the hard limit; the connection cannot continue reading it."""
    HELLO_TIMEOUT = 4000
    """No ``hello`` within the documented time after the connection opened."""
    UNAUTHENTICATED = 4001
    """``hello`` carried a token that is unknown, rotated or revoked. Do not retry as is."""
    SEAT_REVOKED = 4003
    """The seat's invite was rotated while connected; its sessions are void."""
    TOO_SLOW = 4008
    """This reader fell too far behind the room. Reconnect and resume from the last seq."""
    INTERNAL_ERROR = 1011


RETRYABLE_CLOSE = frozenset(
    {CloseCode.GOING_AWAY, CloseCode.TOO_SLOW, CloseCode.INTERNAL_ERROR, CloseCode.HELLO_TIMEOUT}
)
"""Close codes after which a client should reconnect and resume (with backoff)."""
