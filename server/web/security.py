"""Security headers on every response: a strict Content-Security-Policy and friends.

They are added as each response is prepared (``on_response_prepare``), so they reach every
answer the application routes: handlers' own, errors raised by aiohttp (404 for unknown paths,
405, 413), streamed downloads and WebSocket upgrades. Answers to requests too malformed to
route are built by :mod:`server.web.edge`, which adds the same headers.
"""

from __future__ import annotations

from aiohttp import web

from server.config import Settings
from server.web.auth import COOKIE
from server.web.keys import SETTINGS

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

REDEEM_PATH = "/api/v1/invites/redeem"

HSTS = "max-age=31536000"
"""One year; sent only when the public URL is https (a browser ignores it over plain HTTP)."""


def headers_for(settings: Settings) -> dict[str, str]:
    """The headers every answer of a server with ``settings`` carries."""
    if settings.https:
        return {**HEADERS, "Strict-Transport-Security": HSTS}
    return dict(HEADERS)


def carries_session(request: web.BaseRequest, response: web.StreamResponse) -> bool:
    """Whether the answer holds or depends on a session: no cache may keep it."""
    return (
        request.path == REDEEM_PATH
        or "Authorization" in request.headers
        or ("Cookie" in request.headers and COOKIE in request.cookies)
        or COOKIE in response.cookies
    )


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: the security headers, and ``no-store`` where a session is."""
    response.headers.update(headers_for(request.app[SETTINGS]))
    if carries_session(request, response):
        response.headers["Cache-Control"] = "no-store"
