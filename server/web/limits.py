"""Rate limits per client address on the two doors a stranger can knock at without a session.

- ``POST /api/v1/invites/redeem``: a token bucket per address (``PARLEY_REDEEM_PER_MINUTE``,
  ``PARLEY_REDEEM_BURST``), and after ``PARLEY_REDEEM_BACKOFF_AFTER`` failed redemptions in
  a row a wait of 1, 2, 4 ... seconds before the next attempt (up to
  ``PARLEY_REDEEM_BACKOFF_CAP``); a success clears it.
- ``GET /api/v1/ws``: a token bucket per address for new WebSockets
  (``PARLEY_UPGRADES_PER_MINUTE``, ``PARLEY_UPGRADE_BURST``).

A refusal is 429 ``rate_limited`` with ``Retry-After``; it is logged once per address and
minute, never per attempt. The address is the client's as :mod:`server.web.addresses` finds it.
"""

from __future__ import annotations

import logging

from aiohttp import web

from protocol.errors import ErrorCode
from server.config import Settings
from server.web.addresses import TrustedProxies, client_address
from server.web.errors import Handler, error_response
from server.web.throttle import LogBudget, Throttle, retry_after

log = logging.getLogger(__name__)

LOG_LINES = 20
"""Refusal lines a minute, at most, over all addresses."""
REDEEM = ("POST", "/api/v1/invites/redeem")
UPGRADE = ("GET", "/api/v1/ws")


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
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = (request.method, request.path)
        if route == REDEEM:
            throttle, what = self.redeem, "invite redemptions"
        elif route == UPGRADE:
            throttle, what = self.upgrade, "new WebSockets"
        else:
            return await handler(request)
        address = client_address(request, self.trusted)
        wait = throttle.check(address)
        if wait is not None:
            if throttle.first_refusal_in_window(address) and self.log_budget.allow()[0]:
                log.warning(
                    "rate limit: too many %s from %s; refusing for %s s "
                    "(further refusals this minute not logged)",
                    what,
                    address,
                    retry_after(wait),
                )
            response = error_response(
                ErrorCode.RATE_LIMITED,
                f"too many {what} from this address; retry later",
                429,
            )
            response.headers["Retry-After"] = retry_after(wait)
            return response
        answer = await handler(request)
        if throttle is self.redeem:
            if answer.status == 401:  # a guess that missed; a malformed body is not one
                throttle.failed(address)
            elif answer.status < 300:
                throttle.succeeded(address)
        return answer
