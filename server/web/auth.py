"""Who is calling: a session from the bearer header or the session cookie, and the origin rule.

Programs send ``Authorization: Bearer ps_...``; browsers carry the ``parley_session`` cookie
(HttpOnly, SameSite=Strict). A request authenticated by cookie that changes something must also
come from the server's own origin, so another site cannot make a browser act for its user.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from protocol.errors import ErrorCode
from server.domain.grants import Grant
from server.web.errors import ApiError
from server.web.keys import SERVICES, SETTINGS

COOKIE = "parley_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_origin(request: web.Request) -> None:
    """Refuse a request whose ``Origin`` header names another site (absent: not a browser)."""
    origin = request.headers.get("Origin")
    if origin is not None and origin.lower() != origin_of(request.app[SETTINGS].public_url):
        raise ApiError(
            ErrorCode.FORBIDDEN,
            f"requests from origin {origin!r} are not accepted",
            status=403,
            field="Origin",
        )


def require_same_origin(request: web.Request) -> None:
    """A cookie-authenticated write: an ``Origin`` header naming this server is required."""
    if request.headers.get("Origin") is None:
        raise ApiError(
            ErrorCode.FORBIDDEN,
            "a browser request that changes something must carry an Origin header",
            status=403,
            field="Origin",
        )
    check_origin(request)


async def authenticate(request: web.Request) -> Grant:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                ErrorCode.UNAUTHENTICATED,
                "use 'Authorization: Bearer <session token>'",
                status=401,
                field="Authorization",
            )
        return await request.app[SERVICES].access.authenticate(token.strip())
    cookie = request.cookies.get(COOKIE)
    if cookie is None:
        raise ApiError(
            ErrorCode.UNAUTHENTICATED,
            "no session: redeem an invite first",
            status=401,
            field="Authorization",
        )
    if request.method not in SAFE_METHODS:
        require_same_origin(request)
    return await request.app[SERVICES].access.authenticate(cookie)
