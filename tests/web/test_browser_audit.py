"""An observer audits a room in Chromium: the timeline, sealed entries, WebCrypto verification
(and its failure when a proof is altered in transit), the export and the gap chart."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import Site, axe_violations, chromium, screenshot, site

pytestmark = pytest.mark.browser
BACKCHANNEL: list[str] = []


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@pytest.fixture(scope="module")
def paris(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site(tmp_path_factory.mktemp("audit")) as s:
        s.command("facilitator", "change_stage", to="opening")
        s.command("us-1", "post_message", thread="plenary", text="Opening statement.")
        bc = s.command("us-1", "open_backchannel", parties=["drv"], title="Quiet")["created"]
        BACKCHANNEL.append(bc)
        s.command("drv-1", "accept_backchannel", thread=bc)
        s.command("us-1", "post_message", thread=bc, text="Between us: 40,000.")
        first = s.command(
            "us-1", "table_proposal", thread="plenary", title="A", terms={"troop_ceiling": 50000}
        )["created"]
        counter = s.command(
            "drv-1",
            "table_proposal",
            thread="plenary",
            title="B",
            parent=first,
            terms={"troop_ceiling": 10000},
        )["created"]
        s.command(
            "us-1",
            "table_proposal",
            thread="plenary",
            title="C",
            parent=counter,
            terms={"troop_ceiling": 35000},
        )
        s.command("facilitator", "change_stage", to="detailed-discussion")
        yield s


@pytest.fixture(scope="module")
def observer(paris: Site) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(
            viewport={"width": 1400, "height": 900}, accept_downloads=True
        )
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.goto(paris.invite("observer-1"))
        expect(page.get_by_role("status", name="Connection")).to_have_text("Live")
        yield page


def entries(page: Any) -> Any:
    return page.get_by_role("log", name="Log entries").get_by_role("article")


def test_the_observer_sees_backchannel_entries_sealed_with_their_hash(observer: Any) -> None:
    sealed = entries(observer).filter(has_text="Sealed")
    expect(sealed.first).to_contain_text(re.compile(r"Sealed · leaf [0-9a-f]{64}"))
    assert "Between us" not in observer.content()
    expect(entries(observer).filter(has_text="Opening statement.")).to_have_count(1)


def test_the_timeline_filters_by_kind_party_and_stage(observer: Any) -> None:
    filters = observer.get_by_role("form", name="Filter the log")
    filters.get_by_label("Kind").select_option(label="proposal tabled")
    expect(entries(observer)).to_have_count(3)
    filters.get_by_label("Party").select_option(label="United States")
    expect(entries(observer)).to_have_count(2)
    filters.get_by_label("Stage").select_option("pre-negotiation")
    expect(entries(observer)).to_have_count(0)
    for name in ("Kind", "Party", "Stage"):
        filters.get_by_label(name).select_option("")
    filters.get_by_label("Thread").select_option(label="Plenary")
    expect(entries(observer).filter(has_text="Sealed")).to_have_count(0)
    filters.get_by_label("Thread").select_option("")


RUNS = [0]


def verify(page: Any) -> Any:
    """Click Verify and wait for this run's result (each result names its run: the number
    shown before the click, plus one)."""
    result = page.get_by_label("Verification result")
    button = page.get_by_role("button", name="Verify")
    expect(button).to_be_enabled(timeout=20_000)  # no run still going
    shown = re.search(r"Check (\d+),", result.inner_text()) if result.count() else None
    RUNS[0] = (int(shown.group(1)) if shown else 0) + 1
    button.click()
    expect(result).to_contain_text(f"Check {RUNS[0]},", timeout=20_000)
    return result


def test_verify_checks_the_signed_checkpoint_and_every_entry_shown(observer: Any) -> None:
    result = verify(observer)
    expect(result).to_contain_text("Verified.")
    expect(result).to_contain_text("signature valid")
    expect(result).to_contain_text(re.compile(r"\d+ entries shown are in the signed log"))
    expect(result).to_contain_text("first checkpoint verified in this browser")
    screenshot(observer, "observer")


def test_verify_proves_the_next_checkpoint_consistent_with_the_last(
    observer: Any, paris: Site
) -> None:
    paris.command("us-1", "post_message", thread="plenary", text="After the checkpoint.")
    paris.command("facilitator", "change_stage", to="verification")
    expect(entries(observer).filter(has_text="Stage: verification")).to_have_count(1)
    result = verify(observer)
    expect(result).to_contain_text("Verified.")
    expect(result).to_contain_text(re.compile(r"consistent with the checkpoint of \d+ entries"))


def test_verify_fails_and_names_the_entry_when_a_proof_is_altered(observer: Any) -> None:
    def tamper(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        first = body["proof"][0]
        body["proof"][0] = ("0" if first[0] != "0" else "1") + first[1:]
        route.fulfill(response=response, json=body)

    observer.route(re.compile(r".*/proofs/inclusion\?seq=3&.*"), tamper)
    try:
        result = verify(observer)
        expect(result).to_contain_text("Verification failed.")
        expect(result).to_contain_text(
            "entry 3: its inclusion proof does not lead to the signed root"
        )
        flagged = observer.get_by_role("article", name="Entry 3", exact=True)
        expect(flagged).to_contain_text("This entry failed verification.")
    finally:
        observer.unroute(re.compile(r".*/proofs/inclusion\?seq=3&.*"))
    expect(verify(observer)).to_contain_text("Verified.")
    expect(observer.get_by_text("This entry failed verification.")).to_have_count(0)


def test_verify_fails_when_a_leaf_hash_is_altered(observer: Any) -> None:
    def tamper(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        body["leaf_hash"] = "f" + body["leaf_hash"][1:]
        route.fulfill(response=response, json=body)

    pattern = re.compile(r".*/proofs/inclusion\?seq=4&.*")
    observer.route(pattern, tamper)
    try:
        expect(verify(observer)).to_contain_text("entry 4: the log holds another leaf hash")
    finally:
        observer.unroute(pattern)


def test_the_export_downloads_as_a_zip(observer: Any) -> None:
    with observer.expect_download() as info:
        observer.get_by_role("link", name="Download export").click()
    assert re.fullmatch(r"parley-r-[0-9a-f]+-\d+\.zip", info.value.suggested_filename)


def test_the_chart_shows_the_gap_between_positions(observer: Any) -> None:
    chart = observer.get_by_role("region", name="Gap between positions")
    image = chart.get_by_role("img", name=re.compile("Foreign troop ceiling"))
    expect(image).to_have_attribute("aria-label", re.compile("gap from 40000 to 25000 troops"))


def test_a_disclosed_backchannel_opens_in_the_timeline_without_a_reload(
    observer: Any, paris: Site
) -> None:
    sealed = entries(observer).filter(has_text="Sealed").count()
    paris.command("facilitator", "disclose_thread", thread=BACKCHANNEL[0], to="observers")
    expect(entries(observer).filter(has_text="Between us: 40,000.")).to_have_count(1)
    assert entries(observer).filter(has_text="Sealed").count() < sealed
    expect(verify(observer)).to_contain_text("Verified.")


def test_the_observer_view_has_no_serious_accessibility_violation(observer: Any) -> None:
    assert axe_violations(observer) == []
