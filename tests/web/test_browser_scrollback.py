"""Scrolling back through a thread as a person does it: a delegate's page opens without reading
the messages older than the last 200 of each thread, and each click on "Load earlier messages"
reaches older messages of that thread, however many events of other threads lie between, until
the page says the thread has begun."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from server.exercise.scenarios import tutorial
from tests.support.browser import Site, chromium, site

pytestmark = pytest.mark.browser


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site(tmp_path_factory.mktemp("scrollback"), tutorial()) as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def test_scrolling_back_reaches_the_first_plenary_message_past_a_busy_backchannel(
    browser: Any, room: Site
) -> None:
    for i in range(1, 31):
        room.command("north-2", "post_message", thread="plenary", text=f"Early {i:03d}.")
    opened = room.command("north-1", "open_backchannel", parties=["south"], title="Aside")
    backchannel = opened["thread"]
    room.command("south-1", "accept_backchannel", thread=backchannel)
    for i in range(1, 251):
        room.command("north-2", "post_message", thread=backchannel, text=f"Aside {i:03d}.")
    for i in range(1, 301):
        room.command("north-2", "post_message", thread="plenary", text=f"Late {i:03d}.")

    context = browser.new_context(viewport={"width": 1200, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    log_pages = re.compile(r".*/api/v1/rooms/[^/]+/events\?.*")
    read: list[Any] = []
    page.on("response", lambda r: read.append(r) if log_pages.match(r.url) else None)
    page.goto(room.invite("south-2"))
    log = page.get_by_role("log", name="Messages")
    expect(log).to_contain_text("Late 300.")
    expect(log).not_to_contain_text("Late 100.")
    messages = log.get_by_role("article")
    expect(messages).to_have_count(200)
    # The page never read the messages it does not show: only the last 200 of each thread.
    assert read and all("recent_messages=200" in r.url for r in read)
    texts = [
        e["record"]["body"]["text"]
        for r in read
        for e in r.json()["events"]
        if e["kind"] == "message_posted"
    ]
    assert len(texts) == 400 and len(set(texts)) == 400
    assert not any(t.startswith("Early") or t in ("Late 100.", "Aside 050.") for t in texts)
    # Messages left out still count as unread: all 250 of the back-channel are North's.
    aside = page.get_by_role("button", name=re.compile(r"^Aside"))
    expect(aside).to_have_accessible_name("Aside, 250 unread")

    earlier = page.get_by_role("button", name="Load earlier messages")
    thread_page = re.compile(r".*/api/v1/rooms/[^/]+/threads/plenary/events\?before=\d+&limit=200")
    with page.expect_request(thread_page):
        earlier.click()
    expect(messages.filter(has_text="Early 001.")).to_have_count(1)
    expect(messages).to_have_count(330)
    expect(messages.filter(has_text="Aside")).to_have_count(0)
    expect(earlier).to_have_count(0)
    expect(log.get_by_text("Beginning of the thread")).to_be_visible()
    # A message arriving now adds to what the person scrolled back through, removing nothing.
    room.command("north-2", "post_message", thread="plenary", text="Later still.")
    expect(messages.filter(has_text="Later still.")).to_have_count(1)
    expect(messages).to_have_count(331)
    expect(messages.filter(has_text="Early 001.")).to_have_count(1)

    # The back-channel opened with its last 200 and pages back to its first message.
    aside.click()
    expect(messages.filter(has_text="Aside 250.")).to_have_count(1)
    expect(messages).to_have_count(200)
    expect(messages.filter(has_text="Aside 050.")).to_have_count(0)
    earlier.click()
    expect(messages.filter(has_text="Aside 001.")).to_have_count(1)
    expect(messages).to_have_count(250)
    expect(log.get_by_text("Beginning of the thread")).to_be_visible()
    context.close()
