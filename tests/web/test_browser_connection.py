"""The connection as a person lives it: the server restarts, the network drops an answer; the
page shows its state, resumes with no gap and no duplicate, and sends what was typed offline
with its original id, so nothing is applied twice."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from server.exercise.scenarios import tutorial
from tests.support.browser import Site, chromium, site
from tests.support.live import http

pytestmark = pytest.mark.browser


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site(tmp_path_factory.mktemp("connection"), tutorial()) as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def open_seat(browser: Any, room: Site, seat: str, route: Any = None) -> Any:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    if route is not None:
        page.route_web_socket(re.compile(r".*/api/v1/browser/ws$"), route)
    page.goto(room.invite(seat))
    expect(connection(page)).to_have_text("Live")
    return page


def connection(page: Any) -> Any:
    return page.get_by_role("status", name="Connection")


def post(page: Any, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_role("button", name="Send").click()


def plenary_texts(room: Site) -> list[str]:
    """Every plenary message in the log, as the server holds it."""
    status, body = http(
        "GET",
        f"{room.server.base_url}/api/v1/rooms/{room.room.room_id}/events?limit=500",
        token=room.token("facilitator"),
    )
    assert status == 200, body
    return [
        e["record"]["body"]["text"]
        for e in body["events"]
        if e["kind"] == "message_posted" and e["record"]["thread"] == "plenary"
    ]


def test_a_server_restart_is_survived_without_gap_or_duplicate(browser: Any, room: Site) -> None:
    north = open_seat(browser, room, "north-1")
    log = north.get_by_role("log", name="Messages")
    post(north, "Before the restart.")
    expect(log).to_contain_text("Before the restart.")

    room.server.stop()
    expect(connection(north)).to_have_text(re.compile("Offline|Reconnecting"))
    post(north, "Typed while offline.")
    expect(connection(north)).to_contain_text("1 waiting to send")
    room.server.start()
    room.command("south-1", "post_message", thread="plenary", text="While you were away.")

    expect(connection(north)).to_have_text("Live")
    for text in ("Before the restart.", "Typed while offline.", "While you were away."):
        expect(log.get_by_role("article").filter(has_text=text)).to_have_count(1)
    room.command("facilitator", "post_message", thread="plenary", text="Welcome back.")
    expect(log.get_by_role("article").filter(has_text="Welcome back.")).to_have_count(1)
    assert plenary_texts(room).count("Typed while offline.") == 1
    seqs = north.evaluate(
        "() => [...document.querySelectorAll('[aria-label^=\"Message from\"]')].length"
    )
    assert seqs == 4


def test_a_lost_answer_is_sent_again_with_its_id_and_applied_once(browser: Any, room: Site) -> None:
    state = {"drop": True, "dropped": 0}

    def route(ws: Any) -> None:
        server = ws.connect_to_server()

        def from_server(message: Any) -> None:
            if state["drop"] and '"type":"ack"' in str(message):
                # The command was carried out, but its answer is lost with the connection.
                state["drop"], state["dropped"] = False, state["dropped"] + 1
                ws.close(code=1001, reason="network lost")
                return
            ws.send(message)

        server.on_message(from_server)
        ws.on_message(lambda message: server.send(message))

    south = open_seat(browser, room, "south-1", route)
    post(south, "Sent once, answered twice.")
    log = south.get_by_role("log", name="Messages")
    expect(log.get_by_role("article").filter(has_text="Sent once, answered twice.")).to_have_count(
        1
    )
    expect(connection(south)).to_have_text("Live")
    assert state["dropped"] == 1
    south.wait_for_timeout(500)
    expect(connection(south)).not_to_contain_text("waiting to send")
    assert plenary_texts(room).count("Sent once, answered twice.") == 1


def test_scrolling_back_pages_older_messages_from_the_server(browser: Any, room: Site) -> None:
    for i in range(1, 231):
        room.command("north-2", "post_message", thread="plenary", text=f"History {i:03d}.")
    page = open_seat(browser, room, "south-2")
    log = page.get_by_role("log", name="Messages")
    expect(log).to_contain_text("History 230.")
    expect(log).not_to_contain_text("History 001.")
    with page.expect_request(re.compile(r".*/api/v1/rooms/[^/]+/threads/plenary/events\?before=")):
        page.get_by_role("button", name="Load earlier messages").click()
    expect(log.get_by_role("article").filter(has_text="History 001.")).to_have_count(1)
    expect(log.get_by_role("article").filter(has_text="History 100.")).to_have_count(1)
