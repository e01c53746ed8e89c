"""Mapping exceptions to wire errors: one table, looked up along the class hierarchy.

Anything not in the table is logged with its traceback and answered as ``internal_error``;
a client never sees a stack trace and never gets an HTML error page from the API.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from protocol.errors import ErrorCode
from server.storage.errors import RoomExists, RoomNotFound, WriterClosed

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WireError:
    code: ErrorCode
    status: int


ERROR_TABLE: dict[type[BaseException], WireError] = {
    RoomNotFound: WireError(ErrorCode.NOT_FOUND, 404),
    RoomExists: WireError(ErrorCode.CONFLICT, 409),
    WriterClosed: WireError(ErrorCode.UNAVAILABLE, 503),
}


class ApiError(Exception):
    """An error meant for the client, raised by handlers that check input."""

    def __init__(
        self, code: ErrorCode, message: str, *, status: int = 400, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.field = code, message, status, field


def lookup(exc: BaseException) -> WireError | None:
    for cls in type(exc).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return None


def error_body(code: ErrorCode, message: str, field: str | None = None) -> dict[str, object]:
    return {"error": {"code": code.value, "message": message, "field": field}}


def error_response(
    code: ErrorCode, message: str, status: int, field: str | None = None
) -> web.Response:
    return web.json_response(error_body(code, message, field), status=status)


_HTTP_CODES = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
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
        return error_response(code, exc.reason, exc.status)
    except Exception as exc:
        wire = lookup(exc)
        if wire is not None:
            return error_response(wire.code, str(exc), wire.status)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(ErrorCode.INTERNAL_ERROR, "internal error", 500)
