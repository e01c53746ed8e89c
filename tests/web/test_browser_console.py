"""Organisers and facilitators in Chromium: creating a room from a scenario, the console
(counts, invite links, rotation and revocation, disclosure), several rooms in one browser,
and signing out."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from server.exercise.scenarios import tutorial
from tests.support.browser import Site, axe_violations, chromium, screenshot, site
from tests.support.processes import run_parley

pytestmark = pytest.mark.browser


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site(tmp_path_factory.mktemp("console"), tutorial()) as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


class Scene:
    """The organiser's page (later the facilitator's), and the invite links it was shown."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser
        self.page: Any = None
        self.links: dict[str, str] = {}
        self.others: dict[str, Any] = {}
        self.organiser_link = ""

    def person(self, name: str, link: str) -> Any:
        context = self.browser.new_context(viewport={"width": 1200, "height": 800})
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.goto(link)
        self.others[name] = page
        return page


@pytest.fixture(scope="module")
def scene(browser: Any) -> Scene:
    return Scene(browser)


def connection(page: Any) -> Any:
    return page.get_by_role("status", name="Connection")


def test_an_anonymous_visitor_cannot_create_rooms(browser: Any, first: Site) -> None:
    page = browser.new_page()
    page.goto(first.server.base_url + "/organise")
    expect(page.get_by_role("alert")).to_contain_text("only an organiser may do this")
    expect(page.get_by_role("button", name="Create room")).to_have_count(0)
    page.close()


def test_an_organiser_creates_a_room_from_a_scenario(scene: Scene, first: Site) -> None:
    made = run_parley(
        "organiser", "create", "--name", "Exercise staff", "--json", env=first.server.process.env
    )
    assert made.returncode == 0, made.stderr
    link = scene.organiser_link = json.loads(made.stdout)["organiser_url"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/organise#po_[\w-]+", link)
    context = scene.browser.new_context(viewport={"width": 1400, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    context.set_default_timeout(10_000)
    page = scene.page = context.new_page()
    page.goto(link)
    expect(page.get_by_role("heading", name="Rooms of Exercise staff")).to_be_visible()
    assert page.url.endswith("/organise")
    expect(connection(page)).to_have_text("Not connected")  # no room, no socket yet
    form = page.get_by_role("form", name="Create a room")
    form.get_by_label("Scenario").select_option("tutorial")
    form.get_by_role("button", name="Create room").click()
    new = page.get_by_role("region", name="New room")
    expect(new).to_contain_text("Tutorial")
    for box in new.get_by_role("textbox").all():
        name = box.get_attribute("aria-label").removeprefix("Invite link for ")
        scene.links[name] = box.input_value()
    assert all("/join#pi_" in url for url in scene.links.values()) and len(scene.links) == 6
    expect(page.get_by_role("region", name="Your rooms")).to_contain_text("Tutorial")
    screenshot(page, "organiser")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Enter as facilitator").click()
    expect(page.get_by_label("Your seat")).to_contain_text("facilitator")
    expect(connection(page)).to_have_text("Live")


def test_the_console_counts_messages_and_proposals_live(scene: Scene) -> None:
    north = scene.person("north", scene.links["North, head of delegation"])
    expect(connection(north)).to_have_text("Live")
    north.get_by_label("Message", exact=True).fill("North opens.")
    north.get_by_role("button", name="Send").click()
    activity = scene.page.get_by_role("region", name="Activity")
    row = activity.get_by_role("row", name=re.compile("^Plenary"))
    expect(row.get_by_role("cell").nth(0)).to_have_text("1 msg · 0 prop")
    plenary = scene.page.get_by_role("button", name=re.compile("^Plenary"))
    expect(plenary).to_have_accessible_name("Plenary")  # open, so nothing unread


def test_disclosing_a_backchannel_from_the_console(scene: Scene) -> None:
    north = scene.others["north"]
    form = north.get_by_role("form", name="Open a back-channel")
    form.get_by_label("Southern Federation").check()
    form.get_by_label("Title").fill("Side talk")
    form.get_by_role("button", name="Open back-channel").click()
    disclosure = scene.page.get_by_role("region", name="Disclosure and policy")
    item = disclosure.get_by_role("listitem").filter(has_text="Side talk")
    expect(item).to_contain_text("private")
    item.get_by_role("button", name="Disclose to observers").click()
    expect(item).to_contain_text("disclosed to observers")
    expect(disclosure).to_contain_text("Facilitator reads back-channels: yes")
    screenshot(scene.page, "facilitator")


def test_a_new_invite_link_ends_the_old_session(scene: Scene) -> None:
    north = scene.others["north"]
    seats = scene.page.get_by_role("region", name="Seats")
    seats.get_by_role("button", name="New invite link for North, head of delegation").click()
    box = seats.get_by_role("textbox", name="Invite link for North, head of delegation")
    expect(box).to_have_value(re.compile("/join#pi_"))
    assert box.input_value() != scene.links["North, head of delegation"]
    seats.get_by_role("button", name="Copy invite link for North, head of delegation").click()
    assert scene.page.evaluate("navigator.clipboard.readText()") == box.input_value()
    expect(connection(north)).to_contain_text("Session ended")
    north.goto(box.input_value())
    expect(connection(north)).to_have_text("Live")


def test_a_revoked_invite_no_longer_opens(scene: Scene) -> None:
    seats = scene.page.get_by_role("region", name="Seats")
    seats.get_by_role("button", name="Revoke invite of South, legal adviser").click()
    expect(seats).to_contain_text("Invite revoked")
    page = scene.person("south-2", scene.links["South, legal adviser"])
    expect(page.get_by_role("heading", name="This link did not work")).to_be_visible()


def test_a_person_with_seats_in_two_rooms_switches_between_them(scene: Scene, first: Site) -> None:
    page = scene.page
    page.goto(first.invite("observer-1"))
    expect(page.get_by_label("Your seat")).to_contain_text("observer")
    switch = page.get_by_label("Room", exact=True)
    expect(switch.get_by_role("option")).to_have_count(2)
    other = switch.get_by_role("option", name=re.compile("— Facilitator"))
    expect(other).to_contain_text("unread")  # North's messages arrived while away
    switch.select_option(other.get_attribute("value"))
    expect(page.get_by_label("Your seat")).to_contain_text("facilitator")
    expect(page.get_by_role("region", name="Activity")).to_be_visible()


def test_the_console_has_no_serious_accessibility_violation(scene: Scene) -> None:
    assert axe_violations(scene.page) == []


def test_signing_out_ends_the_sessions_on_the_server(scene: Scene) -> None:
    page = scene.page
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Signed out")).to_be_visible()
    screenshot(page, "signed-out")
    assert axe_violations(page) == []
    status = page.evaluate("async () => (await fetch('/api/v1/session')).status")
    assert status == 401
    page.goto(page.url.split("#")[0].rsplit("/", 1)[0] + "/")
    expect(page.get_by_role("heading", name="No seat yet")).to_be_visible()
    assert axe_violations(page) == []


def test_a_link_that_does_not_work_says_so(browser: Any, first: Site) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(first.server.base_url + "/join#pi_no-such-invite")
    expect(page.get_by_role("heading", name="This link did not work")).to_be_visible()
    assert "pi_" not in page.url
    expect(connection(page)).to_have_text("Not connected")
    screenshot(page, "error")
    assert axe_violations(page) == []
    context.close()


def test_the_room_policy_is_chosen_when_the_room_is_created(scene: Scene) -> None:
    context = scene.browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(scene.organiser_link)
    form = page.get_by_role("form", name="Create a room")
    form.get_by_label("Scenario").select_option("tutorial")
    form.get_by_label("The facilitator reads back-channels").uncheck()
    form.get_by_label("The facilitator reads caucuses").uncheck()
    form.get_by_role("button", name="Create room").click()
    page.get_by_role("button", name="Enter as facilitator").click()
    expect(page.get_by_label("Your seat")).to_contain_text("facilitator")
    policy = page.get_by_role("region", name="Disclosure and policy")
    expect(policy).to_contain_text("Facilitator reads back-channels: no")
    expect(policy).to_contain_text("Facilitator reads caucuses: no")
    context.close()
