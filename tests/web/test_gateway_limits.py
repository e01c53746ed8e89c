"""A slow reader is cut off (and may resume) instead of slowing the room; shutdown closes
every socket with 1001."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.live import LiveServer
from tests.support.wsclient import Peer, StalledReader


async def test_a_reader_that_stops_reading_is_closed_with_4008_and_can_resume(
    db_url: str, tmp_path: Path
) -> None:
    server = LiveServer(
        db_url,
        tmp_path,
        PARLEY_QUEUE_FRAMES="50",
        PARLEY_SEND_BUFFER_BYTES="262144",
        PARLEY_COMMANDS_PER_SECOND="100000",
        PARLEY_COMMAND_BURST="100000",
    )
    server.start()
    try:
        room = await server.create_room()
        hello = {"v": 1, "type": "hello", "seats": [{"token": room.seat("observer").token}]}
        stalled = StalledReader(server.port, hello)
        reader = await Peer.connect(server.ws_url, [(room.seat("rvn-2").token, 0)])
        sender = await Peer.connect(server.ws_url, [(room.seat("us-1").token, 0)])
        await sender.wait_for(lambda: room.id in sender.synced)
        text = "x" * 7_000
        last = 0
        for i in range(1, 1_001):
            await sender.send(
                {
                    "v": 1,
                    "type": "post_message",
                    "id": f"m{i}",
                    "room": room.id,
                    "thread": "plenary",
                    "text": f"{i} {text}",
                }
            )
            if i % 25 == 0:
                await sender.wait_for(lambda n=i: f"m{n}" in sender.acks, 30)
                last = sender.acks[f"m{i}"]["seq"]
                await asyncio.sleep(0.05)
        # The room went on: the attentive reader has every message, in order, once.
        await reader.wait_for(lambda: reader.seqs(room.id)[-1:] == [last], 30)
        seqs = reader.seqs(room.id)
        assert seqs == sorted(set(seqs))
        # The stalled reader is told why when it finally reads: 4008, too slow.
        got, code = await asyncio.to_thread(stalled.read_all)
        assert code == 4008
        held = [f["seq"] for f in got if f["type"] == "event"]
        assert held and held[-1] < last
        # ... and resumes from what it holds with no gap and no duplicate.
        again = await Peer.connect(server.ws_url, [(room.seat("observer").token, held[-1])])
        await again.wait_for(lambda: room.id in again.synced, 30)
        assert held + again.seqs(room.id) == list(range(1, last + 1))
        for peer in (reader, sender, again):
            await peer.close()
    finally:
        server.stop()


async def test_a_reader_too_far_behind_for_synced_is_closed_with_4008_and_can_resume(
    db_url: str, tmp_path: Path
) -> None:
    server = LiveServer(
        db_url,
        tmp_path,
        PARLEY_SEND_BUFFER_BYTES="65536",
        PARLEY_MAX_TEXT_CHARS="200000",
        PARLEY_MAX_FRAME_BYTES="262144",
        PARLEY_COMMANDS_PER_SECOND="100000",
        PARLEY_COMMAND_BURST="100000",
    )
    server.start()
    try:
        room = await server.create_room()
        sender = await Peer.connect(server.ws_url, [(room.seat("us-1").token, 0)])
        await sender.wait_for(lambda: room.id in sender.synced)
        text = "x" * 199_000
        for i in range(1, 41):  # 8 MB in one replay page: more than the kernel will buffer
            frame = {"v": 1, "type": "post_message", "id": f"m{i}", "room": room.id}
            await sender.send({**frame, "thread": "plenary", "text": f"{i} {text}"})
            if i % 10 == 0:
                await sender.wait_for(lambda n=i: f"m{n}" in sender.acks, 30)
        last = sender.acks["m40"]["seq"]
        # The page goes to the socket in one write which the peer does not read: far more than
        # the send buffer is unread when `synced` is due. That is too slow, not silence.
        hello = {"v": 1, "type": "hello", "seats": [{"token": room.seat("observer").token}]}
        stalled = StalledReader(server.port, hello)
        await asyncio.sleep(2)  # for the replay to be written before anything is read
        got, code = await asyncio.to_thread(stalled.read_all, 10)
        assert code == 4008
        assert not [f for f in got if f["type"] == "synced"]
        held = [f["seq"] for f in got if f["type"] == "event"]
        again = await Peer.connect(server.ws_url, [(room.seat("observer").token, held[-1])])
        await again.wait_for(lambda: room.id in again.synced, 30)
        assert held + again.seqs(room.id) == list(range(1, last + 1))
        assert again.synced[room.id] == last
        for peer in (sender, again):
            await peer.close()
    finally:
        server.stop()


async def test_shutdown_closes_every_socket_with_going_away(live_server: LiveServer) -> None:
    room = await live_server.create_room()
    peers = [
        await Peer.connect(live_server.ws_url, [(room.seat(s).token, 0)])
        for s in ("us-1", "observer", "facilitator")
    ]
    for peer in peers:
        await peer.wait_for(lambda p=peer: room.id in p.synced)
    assert live_server.stop() == 0
    for peer in peers:
        await asyncio.wait_for(peer.closed.wait(), 10)
        assert peer.ws.close_code == 1001
