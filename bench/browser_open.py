"""How fast a long room opens in the browser, and how fast its history pages back.

    python -m bench.browser_open [--events 10000] [--runs 5]

Builds the bundled ``paris-1973`` room on a fresh SQLite database with N extra plenary
messages appended through the real append path (the delegates of the four parties taking
turns), serves it with ``parley serve``, and drives Debian's Chromium with Playwright (nothing
downloaded). Each run is a new browser context, so nothing is cached between runs:

- *usable*: from opening the delegate's invite link until the newest message is on screen, the
  connection reads *Live* and the composer takes text;
- *first page of history*: from clicking *Load earlier messages* until the first message of the
  page before the ones held is on screen;
- *later pages*: ``--pages`` more clicks, each timed the same way (the page then holds
  200 more messages each time);
- *scrolling back*: the message log scrolled from its newest to its oldest message held with the
  mouse wheel (120 px a step, one step per animation frame), the interval between animation
  frames recorded by the page meanwhile: median, 95th percentile, longest, and how many frames
  took longer than 50 ms (a visible stutter).

The first run (warm-up) is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.exercise.scenarios import paris_1973
from server.services.access import AccessService
from server.services.rooms import RoomService
from server.services.states import RoomStates
from server.storage.database import Database
from server.storage.migrate import upgrade
from server.storage.records import NewEvent
from server.storage.writer import LogWriter

ROOT = Path(__file__).resolve().parents[1]
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
PAGES = 10
"""Pages of history loaded after the first (``--pages``)."""
SPEAKERS = [("us-1", "us"), ("drv-1", "drv"), ("rvn-1", "rvn"), ("prg-1", "prg")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def build(url: str, public_url: str, events: int) -> tuple[str, str, float]:
    """The room and the US head's invite link; returns (room, invite URL, seconds)."""
    db = Database(url)
    await upgrade(db.write_engine)
    writer = LogWriter(db, max_batch=10_000)
    rooms = RoomService(writer, RoomStates(db), AccessService(db, public_url))
    created = await rooms.create(paris_1973())
    invite = next(s.invite_url for s in created.seats if s.id == "us-1")
    started = time.perf_counter()
    for first in range(0, events, 1000):
        chunk = []
        for n in range(first, min(events, first + 1000)):
            seat, party = SPEAKERS[n % len(SPEAKERS)]
            text = f"Statement {n}: the withdrawal timeline and the ceasefire line, again."
            chunk.append(NewEvent("message_posted", {"text": text}, seat, party, "plenary"))
        await writer.enqueue(created.room_id, chunk)
    elapsed = time.perf_counter() - started
    await writer.close()
    await db.dispose()
    return created.room_id, invite, elapsed


@contextmanager
def serving(url: str, folder: Path, port: int) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    base = f"http://127.0.0.1:{port}"
    env.update(PARLEY_DATABASE_URL=url, PARLEY_DATA_DIR=str(folder), PARLEY_PUBLIC_URL=base)
    server = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/api/v1/health", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def one_run(browser: object, invite: str, events: int) -> Run:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    try:
        newest = f"Statement {events - 1}:"
        started = time.perf_counter()
        page.goto(invite)
        expect(page.get_by_text(newest)).to_be_visible(timeout=120_000)
        expect(page.get_by_text("Live", exact=True)).to_be_visible(timeout=120_000)
        composer = page.get_by_placeholder("Write a message…")
        expect(composer).to_be_editable(timeout=120_000)
        usable = time.perf_counter() - started
        # The page holds the last 200 messages of a thread; the page before starts 200 earlier.
        older = f"Statement {events - 201}:"
        started = time.perf_counter()
        page.get_by_role("button", name="Load earlier messages").click()
        expect(page.get_by_text(older, exact=False)).to_be_attached(timeout=60_000)
        history = time.perf_counter() - started
        pages = []
        for n in range(2, PAGES + 2):
            older = f"Statement {events - 1 - 200 * n}:"
            started = time.perf_counter()
            page.get_by_role("button", name="Load earlier messages").click()
            expect(page.get_by_text(older, exact=False)).to_be_attached(timeout=60_000)
            pages.append(time.perf_counter() - started)
        frames = scroll_frames(page)
        return Run(usable, history, pages, frames)
    finally:
        context.close()


RECORD_FRAMES = """
async (steps) => {
  const log = document.querySelector('[role="log"]');
  log.scrollTop = log.scrollHeight;
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const times = [];
  let last = performance.now();
  for (let i = 0; i < steps && log.scrollTop > 0; i++) {
    log.dispatchEvent(new WheelEvent("wheel", { deltaY: -120, bubbles: true }));
    log.scrollTop -= 120;
    await new Promise((r) => requestAnimationFrame(r));
    const now = performance.now();
    times.push(now - last);
    last = now;
  }
  return times;
}
"""


def scroll_frames(page: Any) -> list[float]:
    """Frame intervals (ms) while the message log scrolls from newest to oldest held."""
    return list(page.evaluate(RECORD_FRAMES, 100_000))


@dataclass
class Run:
    usable: float
    history: float
    pages: list[float]
    frames: list[float]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pages", type=int, default=10, help="pages loaded after the first")
    args = parser.parse_args()
    global PAGES
    PAGES = args.pages
    from playwright.sync_api import sync_playwright

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"# {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"# load average before: {load}")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        port = free_port()
        room, invite, seconds = asyncio.run(build(url, f"http://127.0.0.1:{port}", args.events))
        print(f"# room {room}: {args.events:,} messages appended in {seconds:.1f} s")
        with serving(url, Path(tmp), port), sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                one_run(browser, invite, args.events)  # warm-up
                samples = [one_run(browser, invite, args.events) for _ in range(args.runs)]
            finally:
                browser.close()
    usable = [r.usable for r in samples]
    history = [r.history for r in samples]
    later = [p for r in samples for p in r.pages]
    print("| measure | runs | median s | min s | max s |")
    print("|---|---:|---:|---:|---:|")
    for name, values in (
        ("usable view", usable),
        ("first page of history", history),
        (f"pages 2 to {args.pages + 1} of history (each)", later),
    ):
        print(
            f"| {name} | {len(values)} | {statistics.median(values):.2f} | "
            f"{min(values):.2f} | {max(values):.2f} |"
        )
    frames = sorted(f for r in samples for f in r.frames)
    held = 200 * (args.pages + 2)
    print(
        f"\nScrolling back through {held:,} messages held, {len(frames):,} frames over "
        f"{len(samples)} runs: median {statistics.median(frames):.1f} ms, "
        f"p95 {frames[int(len(frames) * 0.95)]:.1f} ms, longest {frames[-1]:.1f} ms, "
        f"{sum(f > 50 for f in frames)} frames over 50 ms"
    )


if __name__ == "__main__":
    main()
