"""Everything the client raises, as one tree::

    ParleyError                     base of every exception of this package
     ├── CommandError               the server refused a command; nothing was appended
     │    │                         (code, message, field, command_id)
     │    ├── Invalid               a field is missing, malformed or out of range
     │    │    └── TooLong          a text or the whole frame is above the server's limit
     │    ├── NotFound              no such room or thread for this seat (hidden = absent)
     │    ├── Forbidden             the seat may not do this
     │    ├── Conflict              the room's state does not allow it now
     │    ├── RateLimited           too many commands per second; retry later, same id
     │    ├── Unavailable           the server is shutting down or lost its database
     │    └── InternalServerError   a server bug; the server logged it
     ├── InviteRefused              redeeming an invite failed (code, message, field, status)
     ├── ConnectionClosed           the session is over and will not reconnect (code, reason)
     │    ├── HelloRefused          the server refused ``hello`` (error_code, message, field)
     │    │    └── AuthenticationFailed   the token is unknown, rotated or revoked (4001)
     │    ├── SeatRevoked           the seat's invite was rotated while connected (4003)
     │    └── ConnectionFailed      could not connect, or gave up reconnecting (attempts)
     ├── ProtocolError              the server sent a frame this client does not understand
     └── VerificationError          an event's leaf hash does not match its record

:class:`CommandError` subclasses are chosen by the wire code through one table
(:data:`COMMAND_ERRORS`); a code this client does not know gives a plain :class:`CommandError`.
Retrying a refused command with the same ``command_id`` is always safe: the server never appends
the same id twice.
"""

from __future__ import annotations

from protocol.errors import CloseCode, ErrorCode


class ParleyError(Exception):
    """Base class of every exception raised by :mod:`client`."""


class CommandError(ParleyError):
    """The server answered a command with an ``error`` frame.

    Attributes:
        code: the wire error code (a :class:`~protocol.errors.ErrorCode` when known).
        message: the server's explanation, meant for people.
        field: dotted path of the field at fault (``thread``, ``parties.0``), if any.
        command_id: the id of the refused command.
    """

    def __init__(
        self,
        code: ErrorCode | str,
        message: str,
        *,
        field: str | None = None,
        command_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.command_id = command_id

    def __str__(self) -> str:
        where = f" (field {self.field})" if self.field else ""
        return f"{self.code}: {self.message}{where}"


class Invalid(CommandError):
    """A field is missing, malformed or out of range, or the frame itself is."""


class TooLong(Invalid):
    """A text is longer than the server allows, or the frame is larger than its limit."""


class NotFound(CommandError):
    """No such room or thread for this seat. Things the seat may not see are reported as absent."""


class Forbidden(CommandError):
    """The seat is known but may not do this (its role, party or head-of-delegation status)."""


class Conflict(CommandError):
    """The room's state does not allow this now (e.g. the back-channel is not live yet)."""


class StageClosed(Conflict):
    """A rule of the room's current stage closes this action; the message names the rule."""


class RateLimited(CommandError):
    """Too many commands per second on this connection; nothing was done."""


class Unavailable(CommandError):
    """The server is shutting down or cannot reach its database; retry with the same id."""


class InternalServerError(CommandError):
    """A bug in the server. Nothing was appended unless an ack says so."""


COMMAND_ERRORS: dict[str, type[CommandError]] = {
    ErrorCode.BAD_REQUEST: Invalid,
    ErrorCode.INVALID: Invalid,
    ErrorCode.BAD_FRAME: Invalid,
    ErrorCode.UNSUPPORTED_VERSION: Invalid,
    ErrorCode.UNKNOWN_TYPE: Invalid,
    ErrorCode.HELLO_REQUIRED: Invalid,
    ErrorCode.ALREADY_GREETED: Invalid,
    ErrorCode.TOO_LONG: TooLong,
    ErrorCode.FRAME_TOO_LARGE: TooLong,
    ErrorCode.NOT_FOUND: NotFound,
    ErrorCode.FORBIDDEN: Forbidden,
    ErrorCode.CONFLICT: Conflict,
    ErrorCode.STAGE_CLOSED: StageClosed,
    ErrorCode.RATE_LIMITED: RateLimited,
    ErrorCode.UNAVAILABLE: Unavailable,
    ErrorCode.INTERNAL_ERROR: InternalServerError,
}
"""The exception class for each wire code an ``error`` frame may carry."""


def command_error(
    code: str, message: str, *, field: str | None = None, command_id: str | None = None
) -> CommandError:
    """The typed exception for an ``error`` frame."""
    cls = COMMAND_ERRORS.get(code, CommandError)
    return cls(wire_code(code), message, field=field, command_id=command_id)


def wire_code(code: str) -> ErrorCode | str:
    """``code`` as an :class:`~protocol.errors.ErrorCode`, or as is if this client lacks it."""
    try:
        return ErrorCode(code)
    except ValueError:
        return code


class InviteRefused(ParleyError):
    """``POST /api/v1/invites/redeem`` failed.

    Attributes:
        code: the wire error code (``unauthenticated`` for an unknown or rotated invite).
        message: the server's explanation.
        field: the field at fault, if any.
        status: the HTTP status.
    """

    def __init__(
        self, code: ErrorCode | str, message: str, *, status: int, field: str | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.field = field


class ConnectionClosed(ParleyError):
    """The session ended and will not reconnect by itself.

    Attributes:
        code: the WebSocket close code, if the connection was closed with one
            (a :class:`~protocol.errors.CloseCode` when it is one of Parley's).
        reason: the close reason or another explanation.
    """

    def __init__(self, code: CloseCode | int | None, reason: str) -> None:
        super().__init__(f"connection closed ({code}): {reason}" if code else reason)
        self.code = code
        self.reason = reason


class HelloRefused(ConnectionClosed):
    """The server answered ``hello`` with an ``error`` frame and closed the connection.

    Attributes:
        error_code: the wire error code of that frame.
        message: its message.
        field: the field at fault (``seats.0.token``, ``seats.0.after``).
    """

    def __init__(
        self,
        code: CloseCode | int | None,
        error_code: ErrorCode | str,
        message: str,
        *,
        field: str | None = None,
    ) -> None:
        super().__init__(code, f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message
        self.field = field


class AuthenticationFailed(HelloRefused):
    """A session token is unknown, rotated or revoked (close 4001). Redeem the invite again."""


class SeatRevoked(ConnectionClosed):
    """The seat's invite was rotated while the session was connected (close 4003)."""


class ConnectionFailed(ConnectionClosed):
    """The client could not connect, or gave up reconnecting; ``__cause__`` is the last error.

    Attributes:
        attempts: connection attempts made before giving up.
    """

    def __init__(self, reason: str, *, attempts: int) -> None:
        super().__init__(None, reason)
        self.attempts = attempts


class ProtocolError(ParleyError):
    """The server sent a frame this client cannot read (wrong shape, unknown version...)."""


class VerificationError(ParleyError):
    """A full event's ``leaf_hash`` is not SHA-256(0x00 || canonical JSON of its record).

    Attributes:
        room, seq: the event.
        expected: the leaf hash the server sent.
        actual: the hash of the record as received (None if it has no canonical form).
    """

    def __init__(self, room: str, seq: int, expected: str, actual: str | None) -> None:
        super().__init__(
            f"event {room}#{seq}: leaf hash {expected} does not match its record ({actual})"
        )
        self.room = room
        self.seq = seq
        self.expected = expected
        self.actual = actual


class ProofError(ParleyError):
    """A checkpoint, proof or leaf the server gave does not verify: the log the seat was shown
    is not the one the server signed (or the key is not the one trusted).

    Attributes:
        room: the room, when known.
        reason: what did not hold.
    """

    def __init__(self, room: str | None, reason: str) -> None:
        super().__init__(f"room {room}: {reason}" if room else reason)
        self.room = room
        self.reason = reason
