"""Running the application on a socket until SIGINT or SIGTERM, then shutting down cleanly."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from aiohttp import web

from server.config import Settings
from server.web.app import init_app


class ListenError(OSError):
    """The server could not bind its address."""


async def serve(settings: Settings, on_ready: Callable[[str], None]) -> None:
    """Serve ``settings`` until a signal arrives; every socket is closed before returning."""
    runner = web.AppRunner(init_app(settings), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
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
    on_ready(f"http://{settings.host}:{settings.port}")
    try:
        await stop.wait()
    finally:
        await runner.cleanup()  # closes every socket, then the writer drains and stops
