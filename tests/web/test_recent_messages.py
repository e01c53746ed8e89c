"""A room read with ``recent_messages``: every event but the messages older than the last N of
their thread, one cut for every page however many events are appended between pages, and
nothing of a thread the seat may not know of."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.live import LiveRoom, LiveServer, http
from tests.support.wsclient import Peer

_ids = itertools.count(1)


@pytest.fixture
def live_server(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A server that takes commands as fast as the test sends them."""
    server = LiveServer(
        db_url,
        tmp_path / "data",
        PARLEY_COMMANDS_PER_SECOND="100000",
        PARLEY_COMMAND_BURST="100000",
    )
    server.start()
    yield server
    server.stop()


async def post_all(peer: Peer, room: str, thread: str, texts: list[str]) -> None:
    """Send every message at once, then wait for every answer (their order is the log's)."""
    frames = [
        {"v": 1, "type": "post_message", "id": f"m{next(_ids)}", "room": room, "thread": thread}
        | {"text": text}
        for text in texts
    ]
    for frame in frames:
        await peer.send(frame)
    ids = {f["id"] for f in frames}

    def answered() -> bool:
        return ids <= set(peer.acks) | {e.get("id") for e in peer.errors}

    await peer.wait_for(answered, within=60)
    assert not [e for e in peer.errors if e.get("id") in ids], peer.errors[:3]


def read(server: LiveServer, room: LiveRoom, seat: str, query: str) -> dict[str, Any]:
    url = f"{server.base_url}/api/v1/rooms/{room.id}/events?{query}"
    status, page = http("GET", url, token=room.seat(seat).token)
    assert status == 200, page
    return dict(page)


def whole_log(server: LiveServer, room: LiveRoom, seat: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    since, more = 0, True
    while more:
        page = read(server, room, seat, f"since={since}&limit=500")
        out += page["events"]
        since, more = page["next"], page["more"]
    return out


def read_recent(
    server: LiveServer, room: LiveRoom, seat: str
) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    """(cut, left_out, events) of the room read by pages with ``recent_messages=200``."""
    first = read(server, room, seat, "since=0&limit=500&recent_messages=200")
    out, since, more = first["events"], first["next"], first["more"]
    while more:
        page = read(
            server, room, seat, f"since={since}&limit=500&recent_messages=200&cut={first['cut']}"
        )
        out += page["events"]
        since, more = page["next"], page["more"]
    return first["cut"], first["left_out"], out


def thread_of(event: dict[str, Any]) -> str | None:
    return None if event["record"] is None else event["record"]["thread"]


def kept(log: list[dict[str, Any]], cut: int, recent: int) -> list[dict[str, Any]]:
    """``log`` without the messages older than the last ``recent`` of their thread as of
    ``cut``, as the server should leave them out."""
    messages: dict[str | None, list[int]] = {}
    for e in log:
        if e["kind"] == "message_posted" and not e["sealed"] and e["seq"] <= cut:
            messages.setdefault(thread_of(e), []).append(e["seq"])
    floor = {t: seqs[-recent] for t, seqs in messages.items() if len(seqs) > recent}
    return [
        e
        for e in log
        if not (
            e["kind"] == "message_posted"
            and thread_of(e) in floor
            and e["seq"] < floor[thread_of(e)]
        )
    ]


async def test_only_the_last_messages_of_each_thread_are_read_in_one_cut_across_pages(
    live_server: LiveServer,
) -> None:
    room = await live_server.create_room()
    r = room.id
    us1 = await Peer.connect(live_server.ws_url, [(room.seat("us-1").token, 0)])
    drv2 = await Peer.connect(live_server.ws_url, [(room.seat("drv-2").token, 0)])
    await post_all(us1, r, "plenary", [f"Early {i:03d}." for i in range(30)])
    opened = await us1.command(
        {"v": 1, "type": "open_backchannel", "id": "bc", "room": r, "parties": ["drv"]}
    )
    backchannel = opened["thread"]
    drv1 = await Peer.connect(live_server.ws_url, [(room.seat("drv-1").token, 0)])
    accepted = await drv1.command(
        {"v": 1, "type": "accept_backchannel", "id": "ok", "room": r, "thread": backchannel}
    )
    assert accepted["type"] == "ack", accepted
    await post_all(drv2, r, backchannel, [f"Aside {i:03d}." for i in range(250)])
    await post_all(drv2, r, "plenary", [f"Late {i:03d}." for i in range(300)])

    # Pages of 100, with messages appended to both threads after every page.
    pages, since, more, appended = [], 0, True, 0
    while more:
        query = f"since={since}&limit=100&recent_messages=200"
        if pages:
            query += f"&cut={pages[0]['cut']}"
        page = read(live_server, room, "us-1", query)
        pages.append(page)
        since, more = page["next"], page["more"]
        if len(pages) <= 3:
            await post_all(drv2, r, "plenary", [f"Meanwhile {appended}."])
            await post_all(drv2, r, backchannel, [f"Aside meanwhile {appended}."])
            appended += 1
            more = True
    cut = pages[0]["cut"]
    assert all(p["cut"] == cut and p["left_out"] == pages[0]["left_out"] for p in pages)
    got = [e for p in pages for e in p["events"]]
    seqs = [e["seq"] for e in got]
    assert seqs == sorted(set(seqs)), "an event came twice or out of order"

    log = whole_log(live_server, room, "us-1")
    assert got == kept(log, cut, 200)
    assert [e for e in log if e["kind"] != "message_posted"] == [
        e for e in got if e["kind"] != "message_posted"
    ]
    assert sum(e["kind"] == "message_posted" for e in got) == 400 + 2 * appended
    texts = [e["record"]["body"]["text"] for e in got if e["kind"] == "message_posted"]
    assert not any(t.startswith("Early") for t in texts)
    assert sum(t.startswith("Late") for t in texts) == 200
    assert sum(t.startswith("Aside") and "meanwhile" not in t for t in texts) == 200
    assert all(f"Meanwhile {i}." in texts for i in range(appended))
    # Where the kept messages begin, and how many left out were others': the Early ones are us-1's.
    first_kept = {
        t: next(e["seq"] for e in got if e["kind"] == "message_posted" and thread_of(e) == t)
        for t in ("plenary", backchannel)
    }
    assert pages[0]["left_out"] == {
        "plenary": {"before": first_kept["plenary"], "messages": 130, "from_others": 100},
        backchannel: {"before": first_kept[backchannel], "messages": 50, "from_others": 50},
    }
    # The socket resumes after the last seq read: exactly the rest of the log follows.
    await post_all(drv2, r, "plenary", ["After the pages."])
    resumed = await Peer.connect(live_server.ws_url, [(room.seat("us-1").token, since)])
    await resumed.wait_for(lambda: r in resumed.synced)
    after = [e["seq"] for e in whole_log(live_server, room, "us-1") if e["seq"] > since]
    assert resumed.seqs(r) == after and after

    # A party outside the back-channel gets nothing of it; the observer gets it sealed, whole.
    cut, left_out, rvn = read_recent(live_server, room, "rvn-1")
    assert set(left_out) == {"plenary"}
    assert all(thread_of(e) != backchannel for e in rvn)
    assert rvn == kept(whole_log(live_server, room, "rvn-1"), cut, 200)
    _, left_out, observer = read_recent(live_server, room, "observer")
    assert set(left_out) == {"plenary"}
    sealed = [e for e in whole_log(live_server, room, "observer") if e["sealed"]]
    assert [e for e in observer if e["sealed"]] == sealed and len(sealed) > 250
    for peer in (us1, drv1, drv2, resumed):
        await peer.close()
