"""A room without a facilitator: the heads move the stage by consent, in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from server.domain.room import Party, Role
from server.services.rooms import RoomSetup, SeatSpec
from tests.support.browser import Site, chromium, site

pytestmark = pytest.mark.browser


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    setup = RoomSetup(
        title="Two parties, no chair",
        parties=[Party("east", "East"), Party("west", "West")],
        seats=[
            SeatSpec(Role.DELEGATE, "East head", party="east", head=True),
            SeatSpec(Role.DELEGATE, "West head", party="west", head=True),
        ],
    )
    with site(tmp_path_factory.mktemp("consent"), setup) as s:
        yield s


def test_the_heads_move_the_stage_by_consent(room: Site) -> None:
    with chromium() as browser:
        pages = []
        for seat in ("east-1", "west-1"):
            page = browser.new_context().new_page()
            page.set_default_timeout(10_000)
            page.goto(room.invite(seat))
            expect(page.get_by_role("status", name="Connection")).to_have_text("Live")
            pages.append(page)
        east, west = pages
        east.get_by_role("button", name="Consent to opening").click()
        stage = west.get_by_role("region", name="Stage")
        expect(stage).to_contain_text("East consents to opening")
        expect(west.get_by_label("Your seat")).to_contain_text("pre-negotiation")
        stage.get_by_role("button", name="Consent to opening").click()
        for page in pages:
            expect(page.get_by_label("Your seat")).to_contain_text("opening")
            expect(
                page.get_by_role("button", name="Consent to detailed-discussion")
            ).to_be_visible()
