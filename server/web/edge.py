"""The connection edge: timeouts, connections per address, and answers to malformed requests.

aiohttp's own server closes an idle keep-alive connection (``keepalive_timeout``) but has no
bound on how long a client may take to send its request: a client that trickles its headers a
byte a second, or connects and says nothing, would hold its socket forever. :class:`EdgeProtocol`
is aiohttp's protocol with one watchdog per connection, in four phases::

    HEADERS --(headers parsed, body to come)--> BODY --(body complete)--> BUSY
       |                                                                   |
       +------------------(headers parsed, no body)------------------------+
    BUSY --(response sent)--> IDLE --(first byte of the next request)--> HEADERS

A request pipelined behind the one being answered is parsed as its bytes arrive: if its body
is still coming, the phase is BODY already, and sending the first answer leaves it (and its
watchdog) as it is.

- HEADERS: from the connection's opening, or from the first byte of a later request, the
  complete headers must arrive within ``header_timeout``;
- BODY: the body must arrive within ``body_timeout`` of the headers;
- BUSY: the handler runs; WebSockets have their own ``hello`` timeout and heartbeat;
- IDLE: aiohttp's ``keepalive_timeout`` closes the connection.

A watchdog that fires closes the socket; nothing is answered (the client is not listening).

A connection from an address that already holds ``connections_per_address`` is answered 429
before anything is read, and closed; that is logged once per address and minute. Trusted
proxies are exempt: behind a proxy every client shares its address, and the proxy enforces
its own limit.

A request aiohttp cannot parse (a NUL in a header, a bad request line) gets the documented
JSON error body with every security header, and one warning line without a traceback; under
a flood at most :data:`MALFORMED_LOG_LINES` such lines a minute are written.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import Counter
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from protocol.errors import ErrorCode
from protocol.views import dump
from server.config import Settings
from server.web.addresses import TrustedProxies
from server.web.errors import error_body, error_response
from server.web.security import headers_for
from server.web.throttle import LogBudget, Throttle, retry_after

log = logging.getLogger(__name__)

MALFORMED_LOG_LINES = 20
"""Warning lines about malformed requests per minute, at most."""


class Phase(enum.Enum):
    HEADERS = "headers"
    BODY = "body"
    BUSY = "busy"
    IDLE = "idle"
    UPGRADED = "upgraded"


class Edge:
    """What every connection of one server shares: settings, counts per address, log budgets."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.trusted = TrustedProxies(settings.trusted_proxies)
        self.headers = headers_for(settings)
        self.connections: Counter[str] = Counter()
        self.malformed_log = LogBudget(lines=MALFORMED_LOG_LINES, window=60.0)
        self.refusal_log = LogBudget(lines=MALFORMED_LOG_LINES, window=60.0)
        self.refused = Throttle(per_minute=1, burst=1, log_window=60.0)
        """Only to log a refused address once a minute."""
        self.too_many = self._too_many_response(settings)

    def admit(self, address: str) -> bool:
        """Count a new connection from ``address``; False if it is one too many."""
        if address in self.trusted:
            return True
        if self.connections[address] >= self.settings.connections_per_address:
            return False
        self.connections[address] += 1
        return True

    def release(self, address: str) -> None:
        if address in self.trusted:
            return
        self.connections[address] -= 1
        if self.connections[address] <= 0:
            del self.connections[address]

    def _too_many_response(self, settings: Settings) -> bytes:
        body = dump(
            error_body(
                ErrorCode.RATE_LIMITED,
                f"too many connections from this address (at most "
                f"{settings.connections_per_address})",
            )
        ).encode()
        head = [
            "HTTP/1.1 429 Too Many Requests",
            "Content-Type: application/json; charset=utf-8",
            f"Content-Length: {len(body)}",
            f"Retry-After: {retry_after(settings.header_timeout)}",
            "Connection: close",
            *(f"{name}: {value}" for name, value in self.headers.items()),
        ]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    def warn_malformed(self, address: str, reason: str) -> None:
        allowed, held = self.malformed_log.allow()
        if allowed:
            more = f" ({held} more not logged)" if held else ""
            log.warning("malformed request from %s: %s%s", address, reason, more)

    def warn_too_many(self, address: str) -> None:
        if not self.refused.first_refusal_in_window(address):
            return
        allowed, held = self.refusal_log.allow()
        if allowed:
            more = f" ({held} more not logged)" if held else ""
            log.warning(
                "refused a connection from %s: it holds %d already "
                "(further refusals this minute not logged)%s",
                address,
                self.settings.connections_per_address,
                more,
            )


class EdgeProtocol(RequestHandler):
    """aiohttp's HTTP protocol with the watchdog and the address count of :class:`Edge`."""

    __slots__ = ("_address", "_body", "_edge", "_phase", "_watchdog")
    # aiohttp's protocol has slots; without ours every connection would carry a dict too.

    def __init__(self, manager: web.Server, *, edge: Edge, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._edge = edge
        self._phase = Phase.HEADERS
        self._watchdog: asyncio.TimerHandle | None = None
        self._body: Any = None
        self._address: str | None = None

    # -- the connection --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        admitted = self._edge.admit(address)
        super().connection_made(transport)
        if not admitted:
            self._edge.warn_too_many(address)
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(self._edge.too_many)
            self.force_close()  # the transport flushes the answer, then closes
            return
        self._address = address
        self._arm(self._edge.settings.header_timeout)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        if self._address is not None:
            self._edge.release(self._address)
            self._address = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase is Phase.UPGRADED or not data:
            super().data_received(data)
            return
        if self._phase is Phase.IDLE:
            self._phase = Phase.HEADERS
            self._arm(self._edge.settings.header_timeout)
        parsed_before = self._request_count
        super().data_received(data)
        if self._upgraded:
            self._enter(Phase.UPGRADED)
        elif self._request_count > parsed_before and self._messages:
            _, payload = self._messages[-1]
            if payload.is_eof():
                self._enter(Phase.BUSY)
            else:
                self._body = payload
                self._phase = Phase.BODY
                self._arm(self._edge.settings.body_timeout)
        elif self._phase is Phase.BODY and self._body is not None and self._body.is_eof():
            self._enter(Phase.BUSY)

    def set_parser(self, parser: Any, data_received_cb: Any = None) -> None:
        """An upgrade was accepted: from here on the WebSocket reader parses what arrives, and
        the HTTP parser (needed only for an upgrade that is declined) is let go."""
        super().set_parser(parser, data_received_cb)
        self._parser = None

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        result = await super().finish_response(request, resp, start_time)
        if self._payload_parser is None and not self._next_body_coming():
            # Not a WebSocket (a declined upgrade goes on as HTTP), and no pipelined request
            # waiting for its body: aiohttp's keep-alive timeout takes over.
            self._enter(Phase.IDLE)
        return result

    def _next_body_coming(self) -> bool:
        """Whether the watchdog is timing the body of a request pipelined behind this one.

        Only the last request parsed can still be missing body bytes. The answered request's
        own unread body is not one: aiohttp's lingering close deals with that.
        """
        return (
            self._phase is Phase.BODY
            and bool(self._messages)
            and self._messages[-1][1] is self._body
        )

    # -- the watchdog ----------------------------------------------------------------------

    def _enter(self, phase: Phase) -> None:
        self._phase = phase
        self._body = None
        self._disarm()

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._watchdog = self._loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _expire(self) -> None:
        self._watchdog = None
        if self._phase is Phase.BODY and self._body is not None and self._body.is_eof():
            self._enter(Phase.BUSY)
            return
        if self._phase in (Phase.HEADERS, Phase.BODY):
            log.debug("closing %s: %s too slow", self._address, self._phase.value)
            self.force_close()

    # -- malformed requests ----------------------------------------------------------------

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """The JSON error body and security headers, instead of aiohttp's plain text."""
        if status >= 500:
            return self._internal_error(request, status, exc, message)
        reason = _reason(exc, message)
        self._edge.warn_malformed(request.remote or "unknown", reason)
        if request.writer.output_size > 0:
            raise ConnectionError("the answer had started; the connection cannot continue")
        response = error_response(ErrorCode.BAD_REQUEST, f"malformed request: {reason}", status)
        response.headers.update(self._edge.headers)
        response.force_close()
        return response

    def _internal_error(
        self,
        request: web.BaseRequest,
        status: int,
        exc: BaseException | None,
        message: str | None,
    ) -> web.StreamResponse:
        # Not a client's fault: aiohttp logs it (with the traceback); the body is ours.
        super().handle_error(request, status, exc, message)
        code = ErrorCode.UNAVAILABLE if status == 504 else ErrorCode.INTERNAL_ERROR
        response = error_response(code, "internal error", status)
        response.headers.update(self._edge.headers)
        response.force_close()
        return response


def _reason(exc: BaseException | None, message: str | None) -> str:
    if isinstance(exc, HttpProcessingError) and exc.message:
        text = str(exc.message)
    else:
        text = message or (type(exc).__name__ if exc is not None else "bad request")
    text = text.splitlines()[0] if text else "bad request"
    return text[:200]


class EdgeServer(web.Server):
    """aiohttp's low-level server, making :class:`EdgeProtocol` connections."""

    def __init__(self, base: web.Server, edge: Edge) -> None:
        super().__init__(
            base.request_handler,
            request_factory=base.request_factory,
            handler_cancellation=base.handler_cancellation,
            loop=base._loop,
            # The keyword arguments aiohttp's application gave its own server (debug, logging).
            **base._kwargs,
        )
        self.edge = edge

    def __call__(self) -> RequestHandler:
        return EdgeProtocol(self, loop=self._loop, edge=self.edge, **self._kwargs)


class EdgeRunner(web.AppRunner):
    """An :class:`aiohttp.web.AppRunner` whose connections are :class:`EdgeProtocol`."""

    def __init__(self, app: web.Application, settings: Settings, **kwargs: Any) -> None:
        super().__init__(app, keepalive_timeout=settings.keepalive_timeout, **kwargs)
        self.edge = Edge(settings)

    async def _make_server(self) -> web.Server:
        return EdgeServer(await super()._make_server(), self.edge)
