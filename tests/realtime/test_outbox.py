"""The outbox: frames in order, straight to the socket when nothing waits, a queue and a pump
only while frames wait, slow readers refused, replay waiting for room."""

from __future__ import annotations

import asyncio

import pytest

from server.realtime.outbox import Outbox, one_write_per_socket
from server.realtime.wire import text_frame


class Socket:
    """Stands in for the WebSocket's two ways of writing: at once, or waiting."""

    def __init__(self) -> None:
        self.wire = bytearray()
        self.sent: list[str] = []
        self.open = asyncio.Event()
        self.open.set()
        self.direct = True
        self.broken = False
        self.writes = 0

    def write_now(self, wire: bytes) -> bool:
        if self.broken:
            raise ConnectionResetError("the transport failed")
        if not self.direct:
            return False
        self.wire += wire
        self.writes += 1
        return True

    async def send(self, frame: str) -> None:
        await self.open.wait()
        self.sent.append(frame)
        self.wire += text_frame(frame)


def frames(wire: bytes) -> list[str]:
    out, pos = [], 0
    while pos < len(wire):
        n = wire[pos + 1] & 0x7F
        start = pos + 2
        if n == 126:
            n, start = int.from_bytes(wire[pos + 2 : pos + 4], "big"), pos + 4
        out.append(wire[start : start + n].decode())
        pos = start + n
    return out


async def test_an_idle_outbox_writes_at_once_and_holds_no_queue_or_task() -> None:
    sock = Socket()
    box = Outbox(10, sock.send, write_now=sock.write_now)
    assert box.push("a") and box.push_many(["b", "c"], None)
    assert frames(sock.wire) == ["a", "b", "c"]
    assert box._frames is None and box._pump is None  # nothing lives while nothing waits


async def test_a_commits_frames_reach_each_socket_in_one_write_in_order() -> None:
    a, b, closing, busy, broken = Socket(), Socket(), Socket(), Socket(), Socket()
    box_a, box_b, box_closing, box_broken = (
        Outbox(10, s.send, write_now=s.write_now) for s in (a, b, closing, broken)
    )
    busy.open.clear()
    busy.direct = False
    box_busy = Outbox(10, busy.send, write_now=busy.write_now)
    assert box_busy.push("queued")  # waits in the queue: what follows must not pass it
    busy.direct = True
    with one_write_per_socket():
        assert box_broken.push("lost")  # its write will fail: the others' must not
        assert box_a.push_many(["e1", "e2"], None)
        assert box_b.push("e1")
        with one_write_per_socket():  # nested: the outer one writes
            assert box_a.push("ack1") and box_closing.push("x")
        assert box_busy.push("after")
        assert box_a.push("ack2")
        assert a.writes == b.writes == 0 and not a.wire
        closing.direct = False  # the socket began closing meanwhile
        broken.broken = True
    assert (a.writes, b.writes, closing.writes) == (1, 1, 0)
    assert frames(a.wire) == ["e1", "e2", "ack1", "ack2"] and frames(b.wire) == ["e1"]
    assert not closing.wire and busy.writes == 0
    assert box_broken.closed and not broken.wire
    busy.open.set()
    await box_busy.drain()
    assert busy.sent == ["queued", "after"]
    assert box_a.push("later") and a.writes == 2  # outside, straight to the socket again


async def test_frames_queued_behind_a_waiting_send_keep_their_order() -> None:
    sock = Socket()
    sock.direct = False
    sock.open.clear()
    box = Outbox(100, sock.send, write_now=sock.write_now)
    box.push("1")
    await asyncio.sleep(0)
    sock.direct = True  # the socket could take frames at once again, but "1" waits ahead
    box.push_many(["2", "3"], None)
    assert len(box) == 2 and sock.wire == b""
    sock.open.set()
    await box.drain()
    assert frames(sock.wire) == ["1", "2", "3"]
    assert box._pump is None and box._frames is None
    box.push("4")  # nothing waits any more: straight to the socket
    assert frames(sock.wire)[-1] == "4" and box._pump is None


async def test_a_stalled_reader_is_refused_once_the_limit_waits() -> None:
    sock = Socket()
    sock.open.clear()
    box = Outbox(4, sock.send, stall=0.0)
    for i in range(5):  # one is being sent, four wait
        assert box.push(str(i))
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert not box.push("too many")
    assert "too many" not in sock.sent


async def test_a_full_socket_buffer_refuses_live_frames() -> None:
    sock = Socket()
    box = Outbox(10, sock.send, backlog=lambda: 2000, max_backlog=1000, write_now=sock.write_now)
    assert not box.push("x")
    assert sock.wire == b""


async def test_replay_waits_for_room_instead_of_being_refused() -> None:
    sock = Socket()
    sock.open.clear()
    box = Outbox(4, sock.send, stall=5.0)
    await box.put_many([str(i) for i in range(10)])  # the queue was empty: all of them go in
    waiting = asyncio.create_task(box.put_many(["next"]))
    await asyncio.sleep(0.01)
    assert not waiting.done()  # more than half of the limit waits
    sock.open.set()
    assert await asyncio.wait_for(waiting, 1)
    await box.drain()
    assert sock.sent == [*map(str, range(10)), "next"]


async def test_replay_goes_through_the_queue_while_the_peer_lags() -> None:
    sock = Socket()
    box = Outbox(10, sock.send, backlog=lambda: 900, max_backlog=1000, write_now=sock.write_now)
    await box.put_many(["a", "b"])
    assert sock.wire == b"" and len(box) == 2  # not written past the socket's buffer
    await box.drain()
    assert sock.sent == ["a", "b"]


async def test_closing_drops_new_frames_but_sends_the_queued_ones() -> None:
    sock = Socket()
    sock.open.clear()
    box = Outbox(10, sock.send)
    box.push("queued")
    box.close()
    assert box.push("late")  # dropped, not refused: the connection is going away
    await box.put_many(["late too"])
    sock.open.set()
    await asyncio.wait_for(box.drain(), 1)
    assert sock.sent == ["queued"]


@pytest.mark.parametrize("waiters", [1, 3])
async def test_a_cancelled_drain_leaves_the_others_waiting(waiters: int) -> None:
    sock = Socket()
    sock.open.clear()
    box = Outbox(10, sock.send)
    box.push("x")
    tasks = [asyncio.create_task(box.drain()) for _ in range(waiters)]
    await asyncio.sleep(0)
    tasks[0].cancel()
    sock.open.set()
    for task in tasks[1:]:
        await asyncio.wait_for(task, 1)
    await asyncio.wait_for(box.drain(), 1)
    assert sock.sent == ["x"]
    assert tasks[0].cancelled()


async def test_replay_to_a_reader_that_stopped_reading_is_refused_not_hung() -> None:
    sock = Socket()
    sock.open.clear()  # the peer reads nothing: the first send never returns
    box = Outbox(4, sock.send, stall=0.05)
    assert await box.put_many([str(i) for i in range(10)])
    refused = await asyncio.wait_for(box.put_many(["more"]), 1)
    assert refused is False
    assert "more" not in sock.sent and len(box) == 9  # one is being sent, nine wait
