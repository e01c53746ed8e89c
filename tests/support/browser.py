"""Debian's Chromium driven by Playwright (from PyPI; its own browser downloads are never used).

With ``PARLEY_REQUIRE_SERVICES=1`` a missing Chromium fails the browser tests instead of
skipping them (see :mod:`tests.support.services`).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from server.exercise.scenarios import paris_1973
from server.services.rooms import CreatedRoom, RoomSetup
from tests.support import databases
from tests.support.live import LiveServer, create_room, http, redeem
from tests.support.services import need

T = TypeVar("T")
CHROMIUM = os.environ.get("PARLEY_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
AXE = ROOT / "tests" / "web" / "vendor" / "axe.min.js"


@functools.cache
def chromium_problem() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"playwright is not installed: {exc}"
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    need("Chromium", chromium_problem())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Site:
    """One live server over a fresh SQLite database, and a room made from a scenario."""

    server: LiveServer
    room: CreatedRoom
    tokens: dict[str, str] = field(default_factory=dict)

    def invite(self, seat_id: str) -> str:
        return next(s.invite_url for s in self.room.seats if s.id == seat_id)

    def token(self, seat_id: str) -> str:
        """A session token of the seat, for the test's own HTTP calls."""
        if seat_id not in self.tokens:
            self.tokens[seat_id] = redeem(self.server.base_url, self.invite(seat_id))["token"]
        return self.tokens[seat_id]

    def command(self, seat_id: str, type: str, **fields: Any) -> dict[str, Any]:
        """Act as ``seat_id`` over HTTP (the program's way, with a bearer token): for setting
        a scene quickly around the person the test drives through the page."""
        token = self.token(seat_id)
        self.counter = getattr(self, "counter", 0) + 1
        frame = {"v": 1, "type": type, "id": f"t-{self.counter}", "room": self.room.room_id}
        status, body = http(
            "POST",
            f"{self.server.base_url}/api/v1/rooms/{self.room.room_id}/commands",
            {**frame, **fields},
            token=token,
        )
        assert status == 201, body
        return dict(body)


def off_loop(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a thread of its own: Playwright's sync API keeps an event loop running in
    this one, so ``asyncio.run`` (migrations, creating rooms) cannot run here."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


@contextmanager
def site(tmp: Path, setup: RoomSetup | None = None) -> Iterator[Site]:
    (tmp / "template").mkdir(parents=True, exist_ok=True)
    template = off_loop(lambda: databases.make_sqlite_template(tmp / "template"))
    url = databases.copy_sqlite(template, tmp)
    server = LiveServer(url, tmp / "data")
    server.start()
    try:
        room = off_loop(
            lambda: asyncio.run(create_room(url, server.public_url, setup or paris_1973()))
        )
        yield Site(server, room)
    finally:
        if server.process.proc is not None and server.process.proc.poll() is None:
            server.stop()


def screenshot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the page as it is.

    ``add_script_tag`` would insert axe as an inline script, which the page's CSP refuses (as
    it should); evaluating the file through the DevTools protocol is not subject to it.
    """
    page.evaluate(AXE.read_text() + "\n;undefined")
    result = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result
        if v.get("impact") in ("serious", "critical")
    ]
