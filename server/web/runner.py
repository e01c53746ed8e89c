"""Running the application on a socket until SIGINT or SIGTERM, then shutting down cleanly."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Callable

from server.config import Settings
from server.web.app import init_app
from server.web.edge import EdgeRunner
from server.web.tls import Site, server_context

BACKLOG = 4096
"""Connections the kernel queues before the server accepts them (capped by somaxconn)."""


GC_YOUNGEST = 20_000
"""Allocations between collections of the youngest generation (CPython's default is 700)."""


def tune_garbage_collector() -> None:
    """Collect less often, and never walk what start-up built.

    A server holding thousands of sockets has millions of long-lived objects, and a reconnect
    storm allocates tens of thousands a second: with CPython's defaults the cyclic collector
    then runs hundreds of times a second and its older generations hold everything. What exists
    once the server listens (modules, the application, caches) is frozen out of collection;
    the youngest generation is collected every 20,000 allocations. Reference counting still
    frees almost everything at once; only cycles wait for the collector.
    """
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNGEST, middle, oldest)


class ListenError(OSError):
    """The server could not bind its address."""


async def serve(settings: Settings, on_ready: Callable[[str], None]) -> None:
    """Serve ``settings`` until a signal arrives; every socket is closed before returning."""
    context = None
    if settings.tls_cert is not None and settings.tls_key is not None:
        context = server_context(settings.tls_cert, settings.tls_key)
    runner = EdgeRunner(init_app(settings), settings, handle_signals=False)
    await runner.setup()
    site = Site(
        runner,
        settings.host,
        settings.port,
        ssl_context=context,
        backlog=BACKLOG,
        handshake_timeout=settings.header_timeout,
    )
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ListenError(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}"
        ) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    tune_garbage_collector()
    scheme = "https" if context is not None else "http"
    on_ready(f"{scheme}://{settings.host}:{settings.port}")
    try:
        await stop.wait()
    finally:
        await runner.cleanup()  # closes every socket, then the writer drains and stops
