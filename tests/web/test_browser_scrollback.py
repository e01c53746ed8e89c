"""Scrolling back through a thread as a person does it: each click on "Load earlier messages"
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
    for i in range(1, 201):
        room.command("north-2", "post_message", thread="plenary", text=f"Late {i:03d}.")

    context = browser.new_context(viewport={"width": 1200, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(room.invite("south-2"))
    log = page.get_by_role("log", name="Messages")
    expect(log).to_contain_text("Late 200.")
    expect(log).not_to_contain_text("Early 030.")
    earlier = page.get_by_role("button", name="Load earlier messages")
    thread_page = re.compile(r".*/api/v1/rooms/[^/]+/threads/plenary/events\?before=\d+&limit=200")
    with page.expect_request(thread_page):
        earlier.click()
    messages = log.get_by_role("article")
    expect(messages.filter(has_text="Early 001.")).to_have_count(1)
    expect(messages).to_have_count(230)
    expect(messages.filter(has_text="Aside")).to_have_count(0)
    expect(earlier).to_have_count(0)
    expect(log.get_by_text("Beginning of the thread")).to_be_visible()
    # A message arriving now adds to what the person scrolled back through, removing nothing.
    room.command("north-2", "post_message", thread="plenary", text="Later still.")
    expect(messages.filter(has_text="Later still.")).to_have_count(1)
    expect(messages).to_have_count(231)
    expect(messages.filter(has_text="Early 001.")).to_have_count(1)
    context.close()
