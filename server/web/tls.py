"""Serving HTTPS directly: the TLS context, and a site that bounds the handshake.

``parley serve --certfile CERT --keyfile KEY`` (or ``PARLEY_TLS_CERT``/``PARLEY_TLS_KEY``)
serves HTTPS itself; the other tested way is a proxy terminating TLS in front (see
docs/operations.md). A TLS handshake happens before the HTTP protocol sees the connection, so
its time limit is set here: a client that opens a socket and never completes the handshake is
cut off after ``header_timeout`` like one that never sends its headers.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from aiohttp import web


class TLSConfigError(ValueError):
    """The certificate or key cannot be used; the message says which and why."""


def server_context(certfile: Path, keyfile: Path) -> ssl.SSLContext:
    """A server context with the library's secure defaults (TLS 1.2 at least)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile, keyfile)
    except FileNotFoundError as exc:
        raise TLSConfigError(f"TLS: no such file {exc.filename}") from None
    except (ssl.SSLError, OSError) as exc:
        raise TLSConfigError(
            f"TLS: cannot use certificate {certfile} with key {keyfile}: {exc}"
        ) from None
    return context


class Site(web.TCPSite):
    """:class:`aiohttp.web.TCPSite` with a bound on the TLS handshake."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        handshake_timeout: float,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
    ) -> None:
        super().__init__(runner, host, port, ssl_context=ssl_context, backlog=backlog)
        self.handshake_timeout = handshake_timeout

    async def start(self) -> None:
        if self._ssl_context is None:
            await super().start()
            return
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            server,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
            ssl_handshake_timeout=self.handshake_timeout,
        )
        self._bound_port = self._server.sockets[0].getsockname()[1]
