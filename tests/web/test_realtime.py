"""Rooms live over real sockets: every viewer gets exactly what visibility allows, live and on
resume, and nothing acknowledged is lost when the server is killed mid-stream."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from typing import Any

import rfc8785

from tests.support.live import LiveRoom, LiveServer, http
from tests.support.wsclient import Peer

SEATS = ("facilitator", "observer", "us-1", "us-2", "drv-1", "drv-2", "rvn-1", "rvn-2")
_ids = itertools.count(1)


def msg(room: str, thread: str, text: str) -> dict[str, Any]:
    return {
        "v": 1,
        "type": "post_message",
        "id": f"m{next(_ids)}",
        "room": room,
        "thread": thread,
        "text": text,
    }


async def connect_all(server: LiveServer, room: LiveRoom, after: int = 0) -> dict[str, Peer]:
    peers = {}
    for seat in SEATS:
        peers[seat] = await Peer.connect(server.ws_url, [(room.seat(seat).token, after)])
    for peer in peers.values():
        await peer.wait_for(lambda p=peer: room.id in p.synced)
    return peers


async def negotiate(server: LiveServer, room: LiveRoom, peers: dict[str, Peer]) -> dict[str, str]:
    """A short session: plenary, a US-DRV back-channel, every caucus. Returns text -> thread."""
    r = room.id
    said: dict[str, str] = {}

    async def say(seat: str, thread: str, text: str) -> None:
        ack = await peers[seat].command(msg(r, thread, text))
        assert ack["type"] == "ack", ack
        said[text] = thread

    await say("facilitator", "plenary", "The session is open.")
    await say("us-1", "plenary", "We table a phased withdrawal.")
    opened = await peers["us-1"].command(
        {"v": 1, "type": "open_backchannel", "id": "bc", "room": r, "parties": ["drv"]}
    )
    assert opened["type"] == "ack", opened
    await peers["drv-1"].wait_for(
        lambda: any(e["kind"] == "thread_opened" for e in peers["drv-1"].events[r][-3:])
    )
    bc = peers["drv-1"].events[r][-1]["record"]["thread"]
    accepted = await peers["drv-1"].command(
        {"v": 1, "type": "accept_backchannel", "id": "acc", "room": r, "thread": bc}
    )
    assert accepted["type"] == "ack", accepted
    await say("us-2", bc, "Privately: the timeline can move.")
    await say("drv-2", bc, "Privately: prisoners first.")
    await say("us-2", "caucus-us", "Hold the line on verification.")
    await say("drv-1", "caucus-drv", "They will move on the timeline.")
    await say("rvn-2", "caucus-rvn", "We are being left out.")
    await say("rvn-1", "plenary", "No agreement without us.")
    said["__bc__"] = bc
    return said


def texts(events: list[dict[str, Any]]) -> list[str]:
    return [
        e["record"]["body"]["text"]
        for e in events
        if e["kind"] == "message_posted" and not e["sealed"]
    ]


def expected_texts(said: dict[str, str], seat: str) -> set[str]:
    """Written from the rules: whose messages each seat may read (default policy)."""
    bc = said["__bc__"]
    party = seat.split("-")[0] if "-" in seat else None
    out = set()
    for text, thread in said.items():
        if text == "__bc__":
            continue
        if thread == "plenary" or seat == "facilitator":
            out.add(text)
        elif thread == bc and party in ("us", "drv"):
            out.add(text)
        elif thread == f"caucus-{party}":
            out.add(text)
    return out


def check_leaf_hashes(events: list[dict[str, Any]]) -> None:
    for event in events:
        if not event["sealed"]:
            digest = hashlib.sha256(b"\x00" + rfc8785.dumps(event["record"])).hexdigest()
            assert digest == event["leaf_hash"]
            assert event["record"]["seq"] == event["seq"]


async def test_every_viewer_gets_exactly_what_visibility_allows_live_and_on_resume(
    live_server: LiveServer,
) -> None:
    room = await live_server.create_room()
    peers = await connect_all(live_server, room)
    said = await negotiate(live_server, room, peers)
    last = max(a["seq"] for p in peers.values() for a in p.acks.values())
    # Wait until every seat has seen the last plenary message (everyone sees it).
    for peer in peers.values():
        await peer.wait_for(lambda p=peer: bool(p.events[room.id]) and p.seqs(room.id)[-1] == last)

    live = {seat: peer.events[room.id] for seat, peer in peers.items()}
    for seat, events in live.items():
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(set(seqs)), f"{seat}: out of order or doubled"
        assert set(texts(events)) == expected_texts(said, seat), seat
        check_leaf_hashes(events)
    # Other parties never learn the back-channel exists; the observer sees it sealed.
    bc = said["__bc__"]
    bc_seqs = {e["seq"] for e in live["us-1"] if e["record"] and e["record"]["thread"] == bc}
    assert len(bc_seqs) == 4  # opened, accepted, two messages
    for seat in ("rvn-1", "rvn-2"):
        assert not bc_seqs & {e["seq"] for e in live[seat]}
        assert bc not in json.dumps(live[seat])
    observed = {e["seq"]: e for e in live["observer"]}
    assert all(observed[s]["sealed"] and observed[s]["record"] is None for s in bc_seqs)
    assert bc not in json.dumps(live["observer"])

    # Resume from scratch and from the middle: exactly the live stream, frame for frame.
    middle = last // 2
    for seat in SEATS:
        for after in (0, middle):
            peer = await Peer.connect(live_server.ws_url, [(room.seat(seat).token, after)])
            await peer.wait_for(lambda p=peer: room.id in p.synced)
            want = [e for e in live[seat] if e["seq"] > after]
            assert peer.events.get(room.id, []) == want, (seat, after)
            assert peer.synced[room.id] == (want[-1]["seq"] if want else after)
            await peer.close()
        # HTTP history goes through the same visibility function.
        status, page = http(
            "GET",
            f"{live_server.base_url}/api/v1/rooms/{room.id}/events?limit=500",
            token=room.seat(seat).token,
        )
        assert status == 200
        assert page["events"] == [
            {k: v for k, v in e.items() if k not in ("v", "type")} for e in live[seat]
        ]
    for peer in peers.values():
        await peer.close()


async def test_disclosure_makes_a_backchannel_readable_to_observers_past_and_future(
    live_server: LiveServer,
) -> None:
    room = await live_server.create_room()
    peers = await connect_all(live_server, room)
    said = await negotiate(live_server, room, peers)
    bc = said["__bc__"]
    disclose = {"v": 1, "type": "disclose_thread", "id": "d1", "room": room.id, "thread": bc}
    refused = await peers["us-1"].command({**disclose, "to": "observers"})
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    ack = await peers["facilitator"].command({**disclose, "to": "observers"})
    assert ack["type"] == "ack"
    after = await peers["us-2"].command(msg(room.id, bc, "After the disclosure."))
    assert after["type"] == "ack"
    await peers["observer"].wait_for(lambda: peers["observer"].seqs(room.id)[-1] == after["seq"])
    live = peers["observer"].events[room.id]
    assert (
        live[-1]["sealed"] is False
        and live[-1]["record"]["body"]["text"] == "After the disclosure."
    )
    disclosed = next(e for e in live if e["kind"] == "thread_disclosed")
    assert disclosed["record"]["body"] == {"to": "observers"}
    # Past events of the thread are now full on resume; other parties still see none of it.
    peer = await Peer.connect(live_server.ws_url, [(room.seat("observer").token, 0)])
    await peer.wait_for(lambda: room.id in peer.synced)
    bc_events = [e for e in peer.events[room.id] if e["record"] and e["record"]["thread"] == bc]
    assert texts(bc_events) == [
        "Privately: the timeline can move.",
        "Privately: prisoners first.",
        "After the disclosure.",
    ]
    assert all(
        not e["sealed"]
        for e in peer.events[room.id]
        if e["seq"] >= disclosed["seq"] - 20 and e["record"] and e["record"]["thread"] == bc
    )
    await peer.close()
    assert bc not in json.dumps(peers["rvn-1"].events[room.id])
    for p in peers.values():
        await p.close()


async def test_repeating_a_command_id_never_appends_twice_even_after_reconnecting(
    live_server: LiveServer,
) -> None:
    room = await live_server.create_room()
    token = room.seat("us-1").token
    frame = msg(room.id, "plenary", "Once only.")
    peer = await Peer.connect(live_server.ws_url, [(token, 0)])
    first = await peer.command(frame)
    again = await peer.command(frame)
    await peer.close()
    peer = await Peer.connect(live_server.ws_url, [(token, 0)])
    await peer.wait_for(lambda: room.id in peer.synced)
    third = await peer.command(frame)
    assert first["duplicate"] is False
    assert again["seq"] == third["seq"] == first["seq"]
    assert again["duplicate"] is third["duplicate"] is True
    assert texts(peer.events[room.id]).count("Once only.") == 1
    await peer.close()


async def test_the_server_killed_mid_stream_loses_nothing_it_acknowledged(
    live_server: LiveServer,
) -> None:
    room = await live_server.create_room()
    senders = ("us-1", "drv-1", "rvn-1")
    acked: dict[str, int] = {}
    sent: dict[str, dict[str, Any]] = {}
    received: dict[str, list[dict[str, Any]]] = {"observer": [], "us-2": []}

    async def listen(seat: str, stop: asyncio.Event) -> None:
        """Stay connected, resuming from the last seq after every drop."""
        while not stop.is_set():
            last = received[seat][-1]["seq"] if received[seat] else 0
            try:
                peer = await Peer.connect(live_server.ws_url, [(room.seat(seat).token, last)])
            except OSError:
                await asyncio.sleep(0.05)
                continue
            while not peer.closed.is_set() and not stop.is_set():
                await asyncio.sleep(0.01)
                fresh = peer.events.get(room.id, [])
                received[seat] += fresh
                peer.events[room.id] = []
            received[seat] += peer.events.get(room.id, [])
            peer.events[room.id] = []
            await peer.close()

    async def send(seat: str, stop: asyncio.Event) -> None:
        """Post numbered messages; after a drop, repeat every unacknowledged id."""
        n = 0
        pending: list[dict[str, Any]] = []
        while not stop.is_set():
            try:
                peer = await Peer.connect(live_server.ws_url, [(room.seat(seat).token, 0)])
                await peer.wait_for(lambda p=peer: room.id in p.synced or p.closed.is_set())
            except (OSError, AssertionError):
                await asyncio.sleep(0.05)
                continue
            for frame in list(pending):
                await peer.send(frame)
            while not peer.closed.is_set() and not stop.is_set():
                if len(pending) < 5:
                    n += 1
                    frame = msg(room.id, "plenary", f"{seat} #{n}")
                    sent[frame["id"]] = frame
                    pending.append(frame)
                    try:
                        await peer.send(frame)
                    except Exception:
                        break
                for cid, ack in list(peer.acks.items()):
                    acked[cid] = ack["seq"]
                pending = [f for f in pending if f["id"] not in acked]
                await asyncio.sleep(0.005)
            await peer.close()
        # drain: repeat what is still pending until acknowledged
        peer = await Peer.connect(live_server.ws_url, [(room.seat(seat).token, 0)])
        for frame in pending:
            ack = await peer.command(frame)
            acked[frame["id"]] = ack["seq"]
        await peer.close()

    stop = asyncio.Event()
    tasks = [asyncio.create_task(listen(s, stop)) for s in received]
    tasks += [asyncio.create_task(send(s, stop)) for s in senders]
    await asyncio.sleep(1.5)
    live_server.stop(kill=True)
    await asyncio.sleep(0.3)
    live_server.process.start()
    await asyncio.sleep(1.5)
    stop.set()
    await asyncio.gather(*tasks)

    assert len(acked) > 30
    status, page = http(
        "GET",
        f"{live_server.base_url}/api/v1/rooms/{room.id}/events?limit=500",
        token=room.seat("observer").token,
    )
    assert status == 200 and not page["more"]
    history = page["events"]
    by_text = [e["record"]["body"]["text"] for e in history if e["kind"] == "message_posted"]
    assert len(by_text) == len(set(by_text)), "a message was appended twice"
    stored = {
        e["record"]["body"]["text"]: e["seq"] for e in history if e["kind"] == "message_posted"
    }
    for cid, seq in acked.items():
        assert stored[sent[cid]["text"]] == seq, "an acknowledged message is missing or moved"
    for seat, events in received.items():
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(set(seqs)), f"{seat}: gap-free order broken or duplicates"
        # what they hold is exactly their visible history, up to where they stopped
        status, own = http(
            "GET",
            f"{live_server.base_url}/api/v1/rooms/{room.id}/events?limit=500",
            token=room.seat(seat).token,
        )
        assert status == 200
        assert seqs == [e["seq"] for e in own["events"] if e["seq"] <= seqs[-1]], seat
        assert seqs[-1] >= max(acked.values()) - 50, f"{seat} fell far behind"


async def test_the_actor_sees_its_command_id_on_its_own_events_and_nobody_else_does(
    live_server: LiveServer,
) -> None:
    """A client that lost an ack can tell from the stream that its command was applied: its own
    events carry the command's id, live, on resume and in HTTP history; the record (and so the
    leaf hash) is the same for every seat, and no other seat learns the id."""
    room = await live_server.create_room()
    r = room.id
    actor = await Peer.connect(live_server.ws_url, [(room.seat("us-1").token, 0)])
    same_party = await Peer.connect(live_server.ws_url, [(room.seat("us-2").token, 0)])
    other = await Peer.connect(live_server.ws_url, [(room.seat("drv-1").token, 0)])
    for peer in (actor, same_party, other):
        await peer.wait_for(lambda p=peer: r in p.synced)
    frame = msg(r, "plenary", "Our answer, with its id.")
    ack = await actor.command(frame)
    seq = ack["seq"]
    for peer in (actor, same_party, other):
        await peer.wait_for(lambda p=peer: any(e["seq"] == seq for e in p.events[r]))

    def at(peer: Peer) -> dict[str, Any]:
        return next(e for e in peer.events[r] if e["seq"] == seq)

    assert at(actor)["command_id"] == frame["id"]
    assert "command_id" not in at(same_party) and "command_id" not in at(other)
    assert at(actor)["record"] == at(other)["record"]
    assert at(actor)["leaf_hash"] == at(other)["leaf_hash"]
    # Events the seat did not cause carry no id, even where a command id is stored.
    assert all("command_id" not in e for e in actor.events[r] if e["seq"] < seq)

    resumed = await Peer.connect(live_server.ws_url, [(room.seat("us-1").token, seq - 1)])
    await resumed.wait_for(lambda: r in resumed.synced)
    assert at(resumed)["command_id"] == frame["id"]
    status, page = http(
        "GET",
        f"{live_server.base_url}/api/v1/rooms/{r}/events?since={seq - 1}",
        token=room.seat("us-1").token,
    )
    assert status == 200 and page["events"][0]["command_id"] == frame["id"]
    status, page = http(
        "GET",
        f"{live_server.base_url}/api/v1/rooms/{r}/events?since={seq - 1}",
        token=room.seat("drv-1").token,
    )
    assert status == 200 and "command_id" not in page["events"][0]
    for peer in (actor, same_party, other, resumed):
        await peer.close()


async def test_a_declined_backchannel_reaches_only_its_parties_and_stays_closed(
    live_server: LiveServer,
) -> None:
    room = await live_server.create_room()
    r = room.id
    peers = {
        seat: await Peer.connect(live_server.ws_url, [(room.seat(seat).token, 0)])
        for seat in ("us-1", "drv-1", "rvn-1")
    }
    for peer in peers.values():
        await peer.wait_for(lambda p=peer: r in p.synced)
    opened = await peers["us-1"].command(
        {"v": 1, "type": "open_backchannel", "id": "bc", "room": r, "parties": ["drv"]}
    )
    assert opened["type"] == "ack", opened
    bc = opened["thread"]
    decline = {"v": 1, "type": "decline_backchannel", "room": r, "thread": bc}
    refused = await peers["us-1"].command({**decline, "id": "dec-0"})
    assert refused["type"] == "error" and refused["code"] == "conflict", refused
    outsider = await peers["rvn-1"].command({**decline, "id": "dec-1"})
    assert outsider["type"] == "error" and outsider["code"] == "not_found", outsider
    declined = await peers["drv-1"].command({**decline, "id": "dec-1"})
    assert declined["type"] == "ack", declined
    us = peers["us-1"]
    await us.wait_for(lambda: us.seqs(r)[-1] >= declined["seq"])
    seen = next(e for e in us.events[r] if e["seq"] == declined["seq"])
    assert seen["kind"] == "thread_declined" and seen["record"]["thread"] == bc
    assert seen["record"]["actor"]["party"] == "drv"

    posted = await us.command(msg(r, bc, "Are you sure?"))
    assert posted["type"] == "error" and posted["code"] == "conflict", posted
    assert "declined" in posted["message"]
    accept = {"v": 1, "type": "accept_backchannel", "id": "acc", "room": r, "thread": bc}
    late = await peers["drv-1"].command(accept)
    assert late["type"] == "error" and late["code"] == "conflict", late

    # A plenary message after it all: once rvn has it, rvn has had every chance to see the rest.
    last = await peers["rvn-1"].command(msg(r, "plenary", "Anything new?"))
    await peers["rvn-1"].wait_for(lambda: peers["rvn-1"].seqs(r)[-1] == last["seq"])
    assert bc not in json.dumps(peers["rvn-1"].events[r])
    assert all(e["kind"] != "thread_declined" for e in peers["rvn-1"].events[r])
    for p in peers.values():
        await p.close()
