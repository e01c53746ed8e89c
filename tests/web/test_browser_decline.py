"""Declining a back-channel in real Chromium, through the page only (by role and label): the
invited head declines, the opener sees it marked declined and closed, a third party sees
nothing of it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import Site, axe_violations, chromium, site

pytestmark = pytest.mark.browser

TIMEOUT = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def paris(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site(tmp_path_factory.mktemp("paris-decline")) as s:
        yield s


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def enter(browser: Any, room: Site, seat: str) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    page.goto(room.invite(seat))
    expect(page.get_by_role("status", name="Connection")).to_have_text("Live")
    return page


def test_an_invited_head_declines_and_the_opener_sees_it_declined(
    browser: Any, paris: Site
) -> None:
    us, drv, rvn = (enter(browser, paris, seat) for seat in ("us-1", "drv-1", "rvn-1"))
    form = us.get_by_role("form", name="Open a back-channel")
    form.get_by_label("Democratic Republic of Vietnam").check()
    form.get_by_label("Title").fill("Not now")
    form.get_by_role("button", name="Open back-channel").click()

    drv.get_by_role("button", name=re.compile("Not now")).click()
    invitation = drv.get_by_role("region", name="Back-channel invitation")
    expect(invitation.get_by_role("button", name="Accept back-channel")).to_be_visible()
    assert axe_violations(drv) == []
    invitation.get_by_role("button", name="Decline back-channel").click()
    expect(invitation).to_have_count(0)
    expect(drv.get_by_role("region", name="Back-channel declined")).to_contain_text(
        "Democratic Republic of Vietnam declined this back-channel"
    )

    expect(us.get_by_role("button", name="Not now, declined")).to_be_visible()
    us.get_by_role("button", name=re.compile("Not now")).click()
    expect(us.get_by_role("region", name="Back-channel declined")).to_contain_text(
        "Democratic Republic of Vietnam declined this back-channel"
    )
    expect(us.get_by_role("form", name="Write a message")).to_have_count(0)
    assert axe_violations(us) == []

    # The third party: a plenary message sent after the decline reaches rvn, and nothing else did.
    us.get_by_role("button", name=re.compile("^Plenary")).click()
    us.get_by_label("Message", exact=True).fill("Shall we begin?")
    us.get_by_role("button", name="Send").click()
    expect(rvn.get_by_role("log", name="Messages")).to_contain_text("Shall we begin?")
    expect(rvn.get_by_role("navigation", name="Threads")).not_to_contain_text("Not now")
    assert "declined" not in rvn.content()
