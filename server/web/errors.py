"""Mapping exceptions to wire errors: one table, looked up along the class hierarchy.

Anything not in the table is logged with its traceback and answered as ``internal_error``;
a client never sees a stack trace and never gets an HTML error page from the API.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from protocol.errors import CloseCode, ErrorCode
from protocol.views import ErrorBody, ErrorDetail, dump
from server.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    StageClosed,
    TooLong,
)
from server.services.errors import StaleState, Unauthenticated
from server.storage.errors import (
    DatabaseUnavailable,
    RoomExists,
    RoomNotFound,
    WriterClosed,
    disconnected,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WireError:
    """How an exception reaches the client: its code, the HTTP status, and the WebSocket close
    code if it ends a connection (``None``: the connection answers with an error frame and
    stays open)."""

    code: ErrorCode
    status: int
    close: CloseCode | None = None


ERROR_TABLE: dict[type[BaseException], WireError] = {
    DomainError: WireError(ErrorCode.BAD_REQUEST, 400),
    Invalid: WireError(ErrorCode.INVALID, 400),
    TooLong: WireError(ErrorCode.TOO_LONG, 400),
    NotFound: WireError(ErrorCode.NOT_FOUND, 404),
    Forbidden: WireError(ErrorCode.FORBIDDEN, 403),
    Conflict: WireError(ErrorCode.CONFLICT, 409),
    StageClosed: WireError(ErrorCode.STAGE_CLOSED, 409),
    StaleState: WireError(ErrorCode.CONFLICT, 409),
    Unauthenticated: WireError(ErrorCode.UNAUTHENTICATED, 401, CloseCode.UNAUTHENTICATED),
    RoomNotFound: WireError(ErrorCode.NOT_FOUND, 404),
    RoomExists: WireError(ErrorCode.CONFLICT, 409),
    WriterClosed: WireError(ErrorCode.UNAVAILABLE, 503, CloseCode.GOING_AWAY),
    # Also the database going away under a running server: see ``disconnected``.
    DatabaseUnavailable: WireError(ErrorCode.UNAVAILABLE, 503, CloseCode.INTERNAL_ERROR),
}


class ApiError(Exception):
    """An error meant for the client, raised by handlers that check input."""

    def __init__(
        self, code: ErrorCode, message: str, *, status: int = 400, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.field = code, message, status, field


def lookup(exc: BaseException) -> WireError | None:
    if disconnected(exc):
        return ERROR_TABLE[DatabaseUnavailable]
    for cls in type(exc).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return None


def close_code(exc: BaseException) -> CloseCode:
    """The close code for a connection that ``exc`` ends (unknown errors: 1011, retryable)."""
    wire = lookup(exc)
    if wire is None or wire.close is None:
        return CloseCode.INTERNAL_ERROR
    return wire.close


def describe(exc: BaseException) -> tuple[ErrorCode, str, int, str | None]:
    """(code, message, HTTP status, field) for any exception; unknown ones are internal errors,
    logged by the caller."""
    if isinstance(exc, ApiError):
        return exc.code, exc.message, exc.status, exc.field
    wire = lookup(exc)
    if wire is None:
        return ErrorCode.INTERNAL_ERROR, "internal error", 500, None
    if isinstance(exc, StaleState):
        return wire.code, "the room kept changing; try again", wire.status, None
    if wire.code == ErrorCode.UNAVAILABLE:
        return wire.code, "the database is unavailable; try again later", wire.status, None
    message = getattr(exc, "message", None) or str(exc)
    return wire.code, message, wire.status, getattr(exc, "field", None)


def error_body(code: ErrorCode, message: str, field: str | None = None) -> ErrorBody:
    return ErrorBody(error=ErrorDetail(code=code, message=message, field=field))


def error_response(
    code: ErrorCode, message: str, status: int, field: str | None = None
) -> web.Response:
    return web.Response(
        text=dump(error_body(code, message, field)), status=status, content_type="application/json"
    )


_HTTP_CODES = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    429: ErrorCode.RATE_LIMITED,
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.code, exc.message, exc.status, exc.field)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/api/"):
            raise
        code = _HTTP_CODES.get(exc.status, ErrorCode.BAD_REQUEST)
        response = error_response(code, exc.reason, exc.status)
        if "Allow" in exc.headers:  # RFC 9110: a 405 names the methods the resource has
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception as exc:
        code, message, status, field = describe(exc)
        if code == ErrorCode.INTERNAL_ERROR:
            log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(code, message, status, field)
