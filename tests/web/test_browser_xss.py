"""Classic XSS payloads posted as messages, clause text, reasons, titles and seat, party and
thread names: none runs in Chromium (no dialog, no script, no injected element), and each is
shown as the literal text it is."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from server.domain.room import Party, Role
from server.services.rooms import RoomSetup, SeatSpec
from tests.support.browser import Site, chromium, site

pytestmark = pytest.mark.browser

PAYLOADS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    "<svg onload=window.__xss=1>",
    '<iframe src="javascript:window.__xss=1"></iframe>',
    '"><script>window.__xss=1</script>',
    "'><img src=x onerror=window.__xss=1>",
    "<body onload=window.__xss=1>",
    '<a href="javascript:window.__xss=1">click</a>',
    '<div style="background:url(javascript:window.__xss=1)">x</div>',
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1>",
    "<details open ontoggle=window.__xss=1>",
    "<input autofocus onfocus=window.__xss=1>",
    "<video><source onerror=window.__xss=1></video>",
    '<object data="javascript:window.__xss=1"></object>',
    '<embed src="javascript:window.__xss=1">',
    "<marquee onstart=window.__xss=1>x</marquee>",
    "<select autofocus onfocus=window.__xss=1>",
    "<textarea autofocus onfocus=window.__xss=1>",
    "<form><button formaction=javascript:window.__xss=1>x</button></form>",
    "<isindex type=image src=1 onerror=window.__xss=1>",
    '<link rel=import href="data:text/html,<script>window.__xss=1</script>">',
    '<meta http-equiv="refresh" content="0;url=javascript:window.__xss=1">',
    "javascript:window.__xss=1",
    "${window.__xss=1}",
    "{{constructor.constructor('window.__xss=1')()}}",
    "<scr<script>ipt>window.__xss=1</scr</script>ipt>",
    "%3Cscript%3Ewindow.__xss=1%3C/script%3E",
    "&lt;script&gt;window.__xss=1&lt;/script&gt;",
    "<svg><script>window.__xss=1</script></svg>",
    "<img src=x:x onerror=alert(1)>",
    "<template><img src=x onerror=window.__xss=1></template>",
    '<noscript><p title="</noscript><img src=x onerror=window.__xss=1>">',
    "<style>@import 'javascript:window.__xss=1';</style>",
    "\u0000<script>window.__xss=1</script>".replace("\u0000", "x"),
]
NORTH_NAME = "<script>window.__xss=1</script> North head"
SOUTH_NAME = "<img src=x onerror=alert(1)> South head"
PARTY_NAME = "North <img src=x onerror=window.__xss=1>"


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    setup = RoomSetup(
        title="Talks <b onmouseover=window.__xss=1>bold</b>",
        parties=[Party("north", PARTY_NAME), Party("south", "South")],
        seats=[
            SeatSpec(Role.FACILITATOR, "Facilitator"),
            SeatSpec(Role.DELEGATE, NORTH_NAME, party="north", head=True),
            SeatSpec(Role.DELEGATE, SOUTH_NAME, party="south", head=True),
            SeatSpec(Role.OBSERVER, "Observer"),
        ],
    )
    with site(tmp_path_factory.mktemp("xss"), setup) as s:
        s.command("facilitator", "change_stage", to="opening")
        for text in PAYLOADS:
            s.command("north-1", "post_message", thread="plenary", text=text)
        bc = s.command("north-1", "open_backchannel", parties=["south"], title=PAYLOADS[1])
        s.command("south-1", "accept_backchannel", thread=bc["created"])
        proposal = s.command(
            "north-1",
            "table_proposal",
            thread="plenary",
            title=PAYLOADS[0],
            clauses=PAYLOADS[2:8],
        )["created"]
        s.command(
            "south-1", "answer_proposal", proposal=proposal, answer="reserve", reason=PAYLOADS[9]
        )
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def open_page(browser: Any, room: Site, seat: str) -> tuple[Any, list[str]]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(room.invite(seat))
    expect(page.get_by_role("status", name="Connection")).to_have_text("Live")
    return page, dialogs


def assert_nothing_ran(page: Any, dialogs: list[str]) -> None:
    page.wait_for_timeout(300)
    assert dialogs == []
    assert page.evaluate("window.__xss") is None
    injected = page.evaluate(
        """() => document.body.querySelectorAll(
            'script, img, iframe, object, embed, video, marquee, math, meta, link, details, '
            + 'isindex, template, noscript, style, [onload], [onerror], [onfocus], [ontoggle], '
            + '[onmouseover], [style]'
        ).length"""
    )
    assert injected == 0
    assert page.evaluate("document.scripts.length") == 1


def test_no_payload_runs_for_a_delegate_and_each_shows_as_text(browser: Any, room: Site) -> None:
    page, dialogs = open_page(browser, room, "south-1")
    log = page.get_by_role("log", name="Messages")
    expect(log.get_by_role("article")).to_have_count(len(PAYLOADS))
    for payload in PAYLOADS:
        expect(log.get_by_text(payload, exact=True)).to_have_count(1)
    offer = page.get_by_role("article", name=f"Proposal {PAYLOADS[0]}")
    for clause in PAYLOADS[2:8]:
        expect(offer.get_by_role("listitem").filter(has_text=clause).first).to_be_visible()
    expect(offer.get_by_role("list", name="Answers")).to_contain_text(PAYLOADS[9])
    threads = page.get_by_role("navigation", name="Threads")
    expect(threads.get_by_role("button", name=PAYLOADS[1])).to_be_visible()
    expect(page.get_by_label("Your seat")).to_contain_text("Talks <b onmouseover")
    expect(log.get_by_text(NORTH_NAME, exact=True).first).to_be_visible()
    expect(log.get_by_text(PARTY_NAME, exact=True).first).to_be_visible()
    page.get_by_role("button", name=PAYLOADS[1]).click()
    page.get_by_label("Message", exact=True).fill(PAYLOADS[0])
    page.get_by_role("button", name="Send").click()
    expect(
        page.get_by_role("log", name="Messages").get_by_text(PAYLOADS[0], exact=True)
    ).to_be_visible()
    assert_nothing_ran(page, dialogs)


def test_no_payload_runs_in_the_observers_timeline(browser: Any, room: Site) -> None:
    page, dialogs = open_page(browser, room, "observer-1")
    log = page.get_by_role("log", name="Log entries")
    for payload in PAYLOADS:
        expect(log.get_by_text(payload, exact=True)).to_have_count(1)
    expect(log).to_contain_text(SOUTH_NAME)
    assert_nothing_ran(page, dialogs)


def test_no_payload_runs_in_the_facilitators_console(browser: Any, room: Site) -> None:
    page, dialogs = open_page(browser, room, "facilitator")
    seats = page.get_by_role("region", name="Seats")
    expect(seats).to_contain_text(NORTH_NAME)
    expect(seats).to_contain_text(SOUTH_NAME)
    expect(page.get_by_role("region", name="Disclosure and policy")).to_contain_text(PAYLOADS[1])
    assert_nothing_ran(page, dialogs)
