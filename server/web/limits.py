"""Rate limits per client address on the two doors a stranger can knock at without a session.

- Redeeming a secret token (``POST /api/v1/invites/redeem``, ``POST /api/v1/browser/join``,
  ``POST /api/v1/organiser/session``): a token bucket per address
  (``PARLEY_REDEEM_PER_MINUTE``, ``PARLEY_REDEEM_BURST``), and after
  ``PARLEY_REDEEM_BACKOFF_AFTER`` failed redemptions in a row a wait of 1, 2, 4 ... seconds
  before the next attempt (up to ``PARLEY_REDEEM_BACKOFF_CAP``); a success clears it.
- New WebSockets (``GET /api/v1/ws``, ``GET /api/v1/browser/ws``): a token bucket per address
  (``PARLEY_UPGRADES_PER_MINUTE``, ``PARLEY_UPGRADE_BURST``).

Each door's routes share one bucket: a guesser gains nothing by spreading its attempts.

A refusal is 429 ``rate_limited`` with ``Retry-After``; it is logged once per address and
minute, never per attempt. The address is the client's as :mod:`server.web.addresses` finds it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from aiohttp import web

from protocol.errors import ErrorCode
from server.config import Settings
from server.web.addresses import TrustedProxies, client_address
from server.web.errors import Handler, error_response
from server.web.throttle import LogBudget, Throttle, retry_after

log = logging.getLogger(__name__)

LOG_LINES = 20
"""Refusal lines a minute, at most, over all addresses."""
REDEEM = frozenset(
    {
        ("POST", "/api/v1/invites/redeem"),
        ("POST", "/api/v1/browser/join"),
        ("POST", "/api/v1/organiser/session"),
    }
)
UPGRADE = frozenset({("GET", "/api/v1/ws"), ("GET", "/api/v1/browser/ws")})


class Limits:
    """The throttles of one application."""

    def __init__(self, settings: Settings) -> None:
        self.trusted = TrustedProxies(settings.trusted_proxies)
        self.redeem = Throttle(
            per_minute=settings.redeem_per_minute,
            burst=settings.redeem_burst,
            backoff_after=settings.redeem_backoff_after,
            backoff_cap=settings.redeem_backoff_cap,
        )
        self.upgrade = Throttle(
            per_minute=settings.upgrades_per_minute, burst=settings.upgrade_burst
        )
        self.log_budget = LogBudget(lines=LOG_LINES, window=60.0)
        """Many addresses at once (a botnet) still write a bounded log."""

    @web.middleware
    def middleware(self, request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
        """Not a coroutine: a request it lets through is handed on as the handler's own
        awaitable, so no frame of this middleware stays alive under a WebSocket's handler for
        the socket's life."""
        route = (request.method, request.path)
        if route in REDEEM:
            return self._redeem(request, handler)
        if route not in UPGRADE:
            return handler(request)
        address = client_address(request, self.trusted)
        refused = self._refusal(self.upgrade, "new WebSockets", address)
        return handler(request) if refused is None else _ready(refused)

    async def _redeem(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        address = client_address(request, self.trusted)
        refused = self._refusal(self.redeem, "invite redemptions", address)
        if refused is not None:
            return refused
        answer = await handler(request)
        if answer.status == 401:  # a guess that missed; a malformed body is not one
            self.redeem.failed(address)
        elif answer.status < 300:
            self.redeem.succeeded(address)
        return answer

    def _refusal(self, throttle: Throttle, what: str, address: str) -> web.Response | None:
        """The 429 for a request over ``throttle``'s rate, or None to let it through."""
        wait = throttle.check(address)
        if wait is None:
            return None
        if throttle.first_refusal_in_window(address) and self.log_budget.allow()[0]:
            log.warning(
                "rate limit: too many %s from %s; refusing for %s s "
                "(further refusals this minute not logged)",
                what,
                address,
                retry_after(wait),
            )
        response = error_response(
            ErrorCode.RATE_LIMITED, f"too many {what} from this address; retry later", 429
        )
        response.headers["Retry-After"] = retry_after(wait)
        return response


async def _ready(response: web.StreamResponse) -> web.StreamResponse:
    return response
