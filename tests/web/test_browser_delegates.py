"""Delegates negotiating in real Chromium, through the page only (selected by role and label).

One server, one browser and one page per person for the whole module; the tests run in
order, as one negotiation: join, talk, a back-channel, the server restarted under everyone, a
refusal, proposals, the agreement, and the observer verifying the record of it all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import Site, axe_violations, chromium, screenshot, site

pytestmark = pytest.mark.browser

TIMEOUT = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def paris(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site(tmp_path_factory.mktemp("paris")) as s:
        yield s


class People:
    def __init__(self, browser: Any, room: Site) -> None:
        self.browser, self.room, self.pages = browser, room, {}

    def __getitem__(self, seat: str) -> Any:
        if seat not in self.pages:
            context = self.browser.new_context(viewport={"width": 1400, "height": 900})
            context.set_default_timeout(TIMEOUT)
            page = context.new_page()
            page.goto(self.room.invite(seat))
            expect(page.get_by_role("status", name="Connection")).to_have_text("Live")
            self.pages[seat] = page
        return self.pages[seat]


@pytest.fixture(scope="module")
def people(browser: Any, paris: Site) -> People:
    return People(browser, paris)


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def post(page: Any, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_role("button", name="Send").click()


def messages(page: Any) -> Any:
    return page.get_by_role("log", name="Messages")


def test_invite_link_puts_the_delegate_in_their_seat(people: People) -> None:
    us = people["us-1"]
    facts = us.get_by_label("Your seat")
    expect(facts).to_contain_text("Paris, 1973")
    expect(facts).to_contain_text("delegate (head)")
    expect(facts).to_contain_text("United States")
    expect(facts).to_contain_text("pre-negotiation")
    assert us.url.endswith("/") and "#" not in us.url


def test_page_script_never_sees_a_session_token(people: People) -> None:
    us = people["us-1"]
    seen = us.evaluate(
        """() => JSON.stringify([document.cookie, location.href,
            Object.entries(localStorage), Object.entries(sessionStorage)])"""
    )
    assert "ps_" not in seen and "pi_" not in seen, seen
    assert us.evaluate("document.cookie") == ""


def test_a_plenary_message_reaches_the_other_parties_live(people: People) -> None:
    post(people["us-1"], "Good morning from the United States delegation.")
    for seat in ("drv-1", "rvn-1"):
        expect(messages(people[seat])).to_contain_text("Good morning from the United States")
    drv = people["drv-1"]
    expect(drv.get_by_role("button", name=re.compile("^Plenary"))).to_be_visible()


def test_third_party_never_sees_the_backchannel(people: People) -> None:
    us, drv, rvn = people["us-1"], people["drv-1"], people["rvn-1"]
    form = us.get_by_role("form", name="Open a back-channel")
    form.get_by_label("Democratic Republic of Vietnam").check()
    form.get_by_label("Title").fill("A quiet word")
    form.get_by_role("button", name="Open back-channel").click()
    drv.get_by_role("button", name=re.compile("A quiet word")).click()
    drv.get_by_role("button", name="Accept back-channel").click()
    expect(drv.get_by_role("region", name="Back-channel invitation")).to_have_count(0)
    drv.get_by_role("button", name=re.compile("^Plenary")).click()
    us.get_by_role("button", name=re.compile("A quiet word")).click()
    post(us, "Could you live with a ceiling of 45,000?")
    expect(drv.get_by_role("button", name=re.compile("A quiet word, 1 unread"))).to_be_visible()
    drv.get_by_role("button", name=re.compile("A quiet word")).click()
    expect(messages(drv)).to_contain_text("Could you live with a ceiling of 45,000?")
    expect(drv.get_by_role("button", name=re.compile("A quiet word"))).not_to_contain_text("1")
    rvn.wait_for_timeout(500)
    expect(rvn.get_by_role("navigation", name="Threads")).not_to_contain_text("A quiet word")
    assert "Could you live" not in rvn.content()


def test_a_server_restart_mid_negotiation_is_survived(people: People, paris: Site) -> None:
    us, drv, rvn = people["us-1"], people["drv-1"], people["rvn-1"]
    people["observer-1"]  # joins before the restart, so it too must come back by itself
    paris.server.stop()
    for page in (us, drv, rvn):
        expect(page.get_by_role("status", name="Connection")).not_to_have_text("Live")
    paris.server.start()
    for page in (us, drv, rvn, people["observer-1"]):
        expect(page.get_by_role("status", name="Connection")).to_have_text("Live")
    us.get_by_role("button", name=re.compile("^Plenary")).click()
    post(us, "We are back after the interruption.")
    drv.get_by_role("button", name=re.compile("^Plenary")).click()
    expect(messages(drv)).to_contain_text("We are back after the interruption.")
    # Nothing shown twice after the resume, and the back-channel still private.
    expect(messages(drv).get_by_text("Good morning from the United States")).to_have_count(1)
    expect(rvn.get_by_role("navigation", name="Threads")).not_to_contain_text("A quiet word")


def test_a_refused_command_shows_the_servers_message_next_to_its_control(people: People) -> None:
    us = people["us-1"]
    us.get_by_role("button", name=re.compile("^Plenary")).click()
    form = us.get_by_role("form", name="Table a proposal")
    form.get_by_label("Title").fill("Too early")
    form.get_by_role("button", name="Table proposal").click()
    expect(form.get_by_role("alert")).to_contain_text("proposals come from the opening")


def change_stage(page: Any, stage: str) -> None:
    section = page.get_by_role("region", name="Stage")
    section.get_by_label("Move to").select_option(stage)
    section.get_by_role("button", name="Change stage").click()
    expect(page.get_by_label("Your seat")).to_contain_text(stage)


def table(page: Any, title: str, ceiling: int, parent: str | None = None) -> None:
    form = page.get_by_role("form", name="Table a proposal")
    form.get_by_label("Title").fill(title)
    form.get_by_label("Foreign troop ceiling during the withdrawal (troops)").fill(str(ceiling))
    if parent:
        form.get_by_label("Counter to").select_option(label=parent)
    form.get_by_role("button", name="Table proposal").click()


def card(page: Any, title: str) -> Any:
    return page.get_by_role("article", name=f"Proposal {title}")


def test_proposals_counters_and_concessions_show_term_by_term(people: People) -> None:
    change_stage(people["facilitator"], "opening")
    us, drv = people["us-1"], people["drv-1"]
    expect(us.get_by_label("Your seat")).to_contain_text("opening")
    table(us, "First offer", 50000)
    drv.get_by_role("button", name=re.compile("^Plenary")).click()
    expect(card(drv, "First offer")).to_contain_text("50,000 troops")
    table(drv, "Counter", 20000, parent="First offer")
    counter = card(us, "Counter")
    expect(counter).to_contain_text("changed")
    expect(counter.get_by_role("row", name=re.compile("troop ceiling"))).to_contain_text("50,000")
    expect(card(us, "First offer")).to_contain_text("superseded")
    table(us, "Second offer", 30000, parent="Counter")
    second = card(drv, "Second offer")
    expect(second).to_contain_text("Concession")
    agenda = us.get_by_role("region", name="Agenda")
    expect(agenda.get_by_role("row", name=re.compile("troop ceiling"))).to_contain_text("30,000")
    expect(agenda.get_by_role("row", name=re.compile("troop ceiling"))).to_contain_text("20,000")
    post(drv, "We have tabled our counter: twenty thousand, and not one more.")
    post(us, "We moved to thirty thousand. That is a real concession.")
    expect(messages(us)).to_contain_text("twenty thousand")
    us.get_by_role("complementary", name="Negotiation").evaluate("e => { e.scrollTop = 0; }")
    screenshot(us, "delegate")


def test_moving_away_is_marked_as_a_retraction_and_a_rejection_shows_its_reason(
    people: People,
) -> None:
    us, prg = people["us-1"], people["prg-1"]
    table(us, "Hardening", 40000)
    prg.get_by_role("button", name=re.compile("^Plenary")).click()
    hardening = card(prg, "Hardening")
    expect(hardening.get_by_role("listitem").filter(has_text="Retraction")).to_contain_text(
        "30,000 troops → 40,000 troops"
    )
    hardening.get_by_label("Reason").fill("A step backwards.")
    hardening.get_by_role("button", name="Reject").click()
    expect(card(us, "Hardening")).to_contain_text("rejected")
    expect(card(us, "Hardening").get_by_role("list", name="Answers")).to_contain_text(
        "reject: A step backwards."
    )


def test_a_backchannel_proposal_of_every_issue_type_stays_in_the_backchannel(
    people: People,
) -> None:
    us, drv, rvn = people["us-1"], people["drv-1"], people["rvn-1"]
    drv.get_by_role("button", name=re.compile("A quiet word")).click()
    form = drv.get_by_role("form", name="Table a proposal")
    form.get_by_label("Title").fill("Private package")
    form.get_by_label("All foreign troops withdrawn by").fill("1973-03-31")
    form.get_by_label("Ceasefire in place").select_option(label="yes")
    form.get_by_label("Political settlement").select_option("separate track")
    form.get_by_label("Clauses, one per line").fill(
        "Prisoners are exchanged within 60 days.\nA joint commission meets weekly."
    )
    form.get_by_role("button", name="Table proposal").click()
    us.get_by_role("button", name=re.compile("A quiet word")).click()
    package = card(us, "Private package")
    for text in ("1973-03-31", "yes", "separate track", "Ceasefire in place"):
        expect(package).to_contain_text(text)
    expect(
        package.get_by_role("listitem").filter(has_text="Prisoners are exchanged")
    ).to_have_count(1)
    package.get_by_label("Reason").fill("We must consult the capital.")
    package.get_by_role("button", name="Reserve").click()
    answers = card(drv, "Private package").get_by_role("list", name="Answers")
    expect(answers).to_contain_text("reserve: We must consult the capital.")
    assert "Private package" not in rvn.content()
    card(drv, "Private package").get_by_role("button", name="Withdraw").click()
    expect(card(us, "Private package")).to_contain_text("withdrawn")
    expect(card(us, "Private package").get_by_role("button", name="Reserve")).to_have_count(0)
    us.get_by_role("button", name=re.compile("^Plenary")).click()
    drv.get_by_role("button", name=re.compile("^Plenary")).click()


def test_confidential_positions_are_shown_only_to_their_party(people: People) -> None:
    own = people["us-1"].get_by_role("region", name="Confidential positions")
    expect(own).to_contain_text("27,000 troops")
    expect(own).to_contain_text("1973-06-30")
    drv = people["drv-1"].get_by_role("region", name="Confidential positions")
    expect(drv).to_contain_text("1973-04-30")
    expect(drv).not_to_contain_text("27,000")


def test_a_coalition_is_declared_joined_and_tables_a_joint_proposal(people: People) -> None:
    us, rvn, drv = people["us-1"], people["rvn-1"], people["drv-1"]
    form = us.get_by_role("form", name="Declare a coalition")
    form.get_by_label("Coalition name").fill("Allies")
    form.get_by_label("Republic of Vietnam", exact=True).check()
    form.get_by_role("button", name="Declare coalition").click()
    rvn.get_by_role("region", name="Coalitions").get_by_role("button", name="Join Allies").click()
    expect(rvn.get_by_role("navigation", name="Threads")).to_contain_text("Allies caucus")
    expect(us.get_by_role("navigation", name="Threads")).to_contain_text("Allies caucus")
    expect(drv.get_by_role("navigation", name="Threads")).not_to_contain_text("Allies")
    form = us.get_by_role("form", name="Table a proposal")
    form.get_by_label("Title").fill("Joint text")
    form.get_by_label("Supervisory commission personnel (personnel)").fill("1200")
    form.get_by_label("Joint proposal of").select_option(label="Allies")
    form.get_by_role("button", name="Table proposal").click()
    rvn.get_by_role("button", name=re.compile("^Plenary")).click()
    draft = card(rvn, "Joint text")
    expect(draft).to_contain_text("draft")
    expect(card(drv, "Joint text")).to_have_count(0)
    draft.get_by_role("button", name="Endorse joint proposal").click()
    tabled = card(drv, "Joint text")
    expect(tabled).to_contain_text("tabled")
    expect(tabled).to_contain_text("Republic of Vietnam & United States")


def test_a_message_is_written_and_sent_with_the_keyboard_alone(people: People) -> None:
    page = people["rvn-1"]
    page.get_by_role("button", name=re.compile("^Plenary")).focus()
    page.keyboard.press("Enter")
    page.get_by_label("Message", exact=True).focus()
    page.keyboard.type("Typed without a mouse.")
    page.keyboard.press("Enter")
    expect(messages(page)).to_contain_text("Typed without a mouse.")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Send"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"


def test_the_agreement_is_reached_shown_and_signed(people: People) -> None:
    for seat in ("drv-1", "rvn-1", "prg-1"):
        page = people[seat]
        page.get_by_role("button", name=re.compile("^Plenary")).click()
        offer = card(page, "Second offer")
        offer.get_by_role("button", name="Accept").click()
        expect(offer.get_by_role("list", name="Answers")).to_contain_text("accept")
    us = people["us-1"]
    expect(us.get_by_role("region", name="Agreement")).to_contain_text("not signed")
    fac = people["facilitator"]
    for stage in ("detailed-discussion", "verification", "formalization"):
        change_stage(fac, stage)
    for seat in ("us-1", "drv-1", "rvn-1", "prg-1"):
        page = people[seat]
        expect(page.get_by_label("Your seat")).to_contain_text("formalization")
        page.get_by_role("button", name="Sign the agreement").click()
        expect(page.get_by_role("region", name="Agreement")).to_contain_text("signed by")
    expect(us.get_by_role("region", name="Agreement")).not_to_contain_text("not signed")


def test_the_observer_verifies_the_negotiation_and_names_a_tampered_entry(people: People) -> None:
    observer = people["observer-1"]
    panel = observer.get_by_role("region", name="Verification")
    result = observer.get_by_label("Verification result")

    def verify() -> None:
        shown = re.search(r"Check (\d+),", result.inner_text()) if result.count() else None
        n = (int(shown.group(1)) if shown else 0) + 1
        panel.get_by_role("button", name="Verify").click()
        expect(result).to_contain_text(f"Check {n},")

    verify()
    expect(result).to_contain_text("Verified.")
    expect(result).to_contain_text("signature valid")
    # The back-channel is in the record, sealed: its hash is verified, its words are not shown.
    expect(observer.get_by_text(re.compile("Sealed · leaf [0-9a-f]{64}")).first).to_be_visible()
    assert "Could you live with a ceiling" not in observer.content()

    pattern = re.compile(r".*/proofs/inclusion\?seq=5&.*")

    def tamper(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        first = body["proof"][0]
        body["proof"][0] = ("0" if first[0] != "0" else "1") + first[1:]  # one hex digit
        route.fulfill(response=response, json=body)

    observer.route(pattern, tamper)
    try:
        verify()
        expect(result).to_contain_text("Verification failed.")
        expect(result).to_contain_text(
            "entry 5: its inclusion proof does not lead to the signed root"
        )
    finally:
        observer.unroute(pattern)


def test_the_delegate_view_has_no_serious_accessibility_violation(people: People) -> None:
    assert axe_violations(people["drv-1"]) == []


def test_the_delegate_view_works_on_a_phone(people: People, browser: Any, paris: Site) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(paris.invite("us-2"))
    expect(page.get_by_role("status", name="Connection")).to_have_text("Live")
    post(page, "From the adviser, on a phone.")
    expect(messages(page)).to_contain_text("on a phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways: {width}px"
    assert axe_violations(page) == []
    # Scrolled down to the proposals, the person still sees whose seat and which room and stage.
    page.get_by_role("heading", name="Proposals").scroll_into_view_if_needed()
    assert page.evaluate("window.scrollY") > 400
    seat_box = page.get_by_label("Your seat").bounding_box()
    assert seat_box is not None and 0 <= seat_box["y"] < 60, seat_box
    for fact in page.get_by_label("Your seat").get_by_role("definition").all():
        expect(fact).to_be_in_viewport()
    screenshot(page, "delegate-phone")
    context.close()


def test_the_screenshots_are_written(people: People) -> None:
    assert (Path(__file__).resolve().parents[2] / "docs/screenshots/delegate.png").exists()


FOLD_IN_THE_PAGE = """async () => {
  const { emptyRoom, foldEvent, proposalStatus, visibleThreads } = await import("/web/js/state.js");
  const get = async (path) => (await fetch(path)).json();
  const { seats } = await get("/api/v1/browser/seats");
  const s = seats.find((x) => x.current);
  let room = emptyRoom({ room: s.room, seat: s.seat.id, ...s.seat, stage: s.stage });
  for (let since = 0, more = true; more;) {
    const page = await get(`/api/v1/rooms/${s.room}/events?since=${since}&limit=500`);
    for (const ev of page.events) room = foldEvent(room, ev);
    since = page.next;
    more = page.more;
  }
  const server = {
    room: await get(`/api/v1/rooms/${s.room}`),
    threads: (await get(`/api/v1/rooms/${s.room}/threads`)).threads,
    proposals: (await get(`/api/v1/rooms/${s.room}/proposals`)).proposals,
  };
  return {
    folded: {
      stage: room.stage,
      threads: visibleThreads(room, room.seat).map((t) => t.id).sort(),
      proposals: Object.values(room.proposals)
        .filter((p) => !p.draft || room.threads[p.coalition])
        .map((p) => [p.id, proposalStatus(room, p)]).sort(),
      agreement: room.agreement && room.agreement.id,
    },
    server: {
      stage: server.room.stage,
      threads: server.threads.map((t) => t.id).sort(),
      proposals: server.proposals.map((p) => [p.id, p.status]).sort(),
    },
  };
}"""


def test_the_pages_fold_of_the_log_agrees_with_the_servers_state(people: People) -> None:
    for seat in ("us-1", "drv-1", "facilitator"):
        both = people[seat].evaluate(FOLD_IN_THE_PAGE)
        folded, server = both["folded"], both["server"]
        assert folded["agreement"] is not None
        del folded["agreement"]
        assert folded == server, seat
