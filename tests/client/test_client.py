"""The client against a real ``parley serve`` (SQLite and PostgreSQL), no mocks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypedDict

import pytest

from client import (
    AuthenticationFailed,
    Conflict,
    Event,
    Forbidden,
    HelloRefused,
    Invalid,
    InviteRefused,
    NotFound,
    SeatRevoked,
    Session,
    connect,
    redeem,
)
from client.pacing import TokenBucket
from client.verify import leaf_hash
from protocol.errors import CloseCode, ErrorCode
from tests.support.live import LiveRoom, LiveServer, http


class Backoff(TypedDict):
    backoff_initial: float
    backoff_max: float


FAST = Backoff(backoff_initial=0.05, backoff_max=0.2)
"""Reconnect quickly: a restarted server is back within a second or two."""
NO_RETRY_IN_TIME = Backoff(backoff_initial=60.0, backoff_max=60.0)
"""A retry would not happen within a test's time limit, so failing at once proves none is made."""


async def collect(
    session: Session, until: Callable[[list[Event]], bool], *, within: float = 10.0
) -> list[Event]:
    """Events from ``session`` until ``until(events so far)`` holds."""
    got: list[Event] = []
    async with asyncio.timeout(within), contextlib.aclosing(session.events()) as events:
        async for event in events:
            got.append(event)
            if until(got):
                return got
    raise AssertionError(f"the session ended after {len(got)} events")


def visible(server: LiveServer, room: LiveRoom, seat: str) -> list[dict[str, Any]]:
    """The events the server's HTTP history gives ``seat``: what it may see."""
    status, body = http(
        "GET",
        f"{server.base_url}/api/v1/rooms/{room.id}/events?limit=500",
        token=room.seat(seat).token,
    )
    assert status == 200, body
    assert body["more"] is False
    return list(body["events"])


def last_seq(server: LiveServer, room: LiveRoom, seat: str) -> int:
    return int(visible(server, room, seat)[-1]["seq"])


def as_wire(event: Event) -> dict[str, Any]:
    return {
        "room": event.room,
        "seq": event.seq,
        "kind": event.kind,
        "stage": event.stage,
        "ts": event.ts,
        "leaf_hash": event.leaf_hash,
        "sealed": event.sealed,
        "record": event.record,
        # Only the seat's own events carry it, on the wire as in the client's Event.
        **({"command_id": event.command_id} if event.command_id is not None else {}),
    }


def post_over_http(server: LiveServer, room: LiveRoom, seat: str, text: str, id: str) -> int:
    status, body = http(
        "POST",
        f"{server.base_url}/api/v1/rooms/{room.id}/threads/plenary/messages",
        {"id": id, "text": text},
        token=room.seat(seat).token,
    )
    assert status == 201, body
    return int(body["seq"])


def texts(events: list[dict[str, Any]] | list[Event]) -> list[str]:
    out = []
    for event in events:
        record = event["record"] if isinstance(event, dict) else event.record
        if record is not None and record["kind"] == "message_posted":
            out.append(record["body"]["text"])
    return out


async def test_connect_replays_the_log_and_a_post_is_acked_then_seen(
    live_server: LiveServer,
) -> None:
    room = await live_server.create_room()
    async with connect(live_server.base_url, room.seat("us-1").token) as session:
        assert [(s.room, s.seat, s.role, s.party, s.head) for s in session.seats] == [
            (room.id, "us-1", "delegate", "us", True)
        ]
        assert session.room == room.id
        end = last_seq(live_server, room, "us-1")
        replayed = await collect(session, lambda got: got[-1].seq == end)
        await session.wait_synced()
        assert [e.seq for e in replayed] == sorted({e.seq for e in replayed})
        assert replayed[0].kind == "room_created"
        assert all(leaf_hash(e.record) == e.leaf_hash for e in replayed if e.record is not None)

        ack = await session.post_message(room.id, "plenary", "Good morning.")

        assert ack.room == room.id and ack.seq is not None and ack.seq > end
        assert ack.duplicate is False
        [event] = await collect(session, lambda got: True)
        assert (event.seq, event.kind, event.thread, event.seat) == (
            ack.seq,
            "message_posted",
            "plenary",
            "us-1",
        )
        assert event.body == {"text": "Good morning."}
        assert session.positions == {room.id: ack.seq}
        assert await session.ping() >= 0


async def test_each_seat_gets_exactly_what_it_may_see(live_server: LiveServer) -> None:
    room = await live_server.create_room()
    async with connect(live_server.base_url, room.seat("us-1").token) as us:
        await us.post_message(room.id, "caucus-us", "our fallback is the 17th parallel")
    async with connect(live_server.base_url, room.seat("drv-1").token) as drv:
        await drv.post_message(room.id, "caucus-drv", "hold firm")
        await drv.post_message(room.id, "plenary", "we are ready")

    for seat in ("us-2", "drv-2", "observer", "facilitator"):
        expected = visible(live_server, room, seat)
        end = expected[-1]["seq"]
        async with connect(live_server.base_url, room.seat(seat).token) as session:
            got = await collect(session, lambda got: got[-1].seq == end)  # noqa: B023
        assert [as_wire(e) for e in got] == expected, seat

    us2 = texts(visible(live_server, room, "us-2"))
    assert us2 == ["our fallback is the 17th parallel", "we are ready"]
    observer = visible(live_server, room, "observer")
    sealed = [e for e in observer if e["sealed"]]
    assert [e["kind"] for e in sealed] == ["thread_opened"] * 3 + ["message_posted"] * 2
    assert all(e["record"] is None for e in sealed)


async def test_resuming_after_a_seq_replays_only_what_follows(live_server: LiveServer) -> None:
    room = await live_server.create_room()
    token = room.seat("rvn-1").token
    async with connect(live_server.base_url, token) as session:
        first = await session.post_message(room.id, "plenary", "one")
        await session.post_message(room.id, "plenary", "two")
    assert first.seq is not None
    async with connect(live_server.base_url, token, after=first.seq) as session:
        got = await collect(session, lambda got: texts(got) == ["two"])
    assert [e.seq for e in got] == [first.seq + 1]


async def test_a_repeated_id_is_acknowledged_with_the_first_seq(live_server: LiveServer) -> None:
    room = await live_server.create_room()
    async with connect(live_server.base_url, room.seat("us-1").token) as session:
        first = await session.post_message(room.id, "plenary", "only once", id="cmd-1")
        again = await session.post_message(room.id, "plenary", "only once", id="cmd-1")
    assert (first.id, first.duplicate) == ("cmd-1", False)
    assert (again.id, again.seq, again.duplicate) == ("cmd-1", first.seq, True)
    assert texts(visible(live_server, room, "us-1")).count("only once") == 1


async def test_refused_commands_raise_typed_errors(live_server: LiveServer) -> None:
    room = await live_server.create_room()
    async with connect(live_server.base_url, room.seat("us-2").token) as session:
        with pytest.raises(NotFound) as missing:
            await session.post_message(room.id, "no-such-thread", "hello?", id="c-404")
        assert missing.value.code == ErrorCode.NOT_FOUND
        assert (missing.value.field, missing.value.command_id) == ("thread", "c-404")

        with pytest.raises(NotFound) as other_caucus:
            await session.post_message(room.id, "caucus-drv", "peek")
        assert other_caucus.value.field == "thread"

        with pytest.raises(Forbidden) as not_head:
            await session.open_backchannel(room.id, ["drv"], "side talks")
        assert not_head.value.code == ErrorCode.FORBIDDEN

        with pytest.raises(NotFound) as no_room:
            await session.post_message("room-elsewhere", "plenary", "hi")
        assert no_room.value.field == "room"

        with pytest.raises(Invalid) as empty:  # refused by the same checks, before sending
            await session.post_message(room.id, "", "hi")
        assert empty.value.field == "thread"

        ack = await session.post_message(room.id, "caucus-us", "still connected")
        assert ack.duplicate is False


async def test_backchannel_commands_round_trip(live_server: LiveServer) -> None:
    room = await live_server.create_room()
    url = live_server.base_url
    async with (
        connect(url, room.seat("us-1").token) as us,
        connect(url, room.seat("drv-1").token) as drv,
        connect(url, room.seat("facilitator").token) as chair,
    ):
        opened = await us.open_backchannel(room.id, ["drv"], "Paris channel")
        got = await collect(us, lambda got: got[-1].seq == opened.seq, within=5)
        assert got[-1].kind == "thread_opened"
        thread = got[-1].body["thread"]["id"]
        accepted = await drv.accept_backchannel(room.id, thread)
        posted = await drv.post_message(room.id, thread, "agreed in principle")
        disclosed = await chair.disclose_thread(room.id, thread, "everyone")
        assert opened.seq is not None
        assert [accepted.seq, posted.seq, disclosed.seq] == [
            opened.seq + 1,
            opened.seq + 2,
            opened.seq + 3,
        ]


async def test_a_declined_backchannel_refuses_a_later_accept(live_server: LiveServer) -> None:
    room = await live_server.create_room()
    url = live_server.base_url
    async with (
        connect(url, room.seat("us-1").token) as us,
        connect(url, room.seat("drv-1").token) as drv,
    ):
        opened = await us.open_backchannel(room.id, ["drv"], "Paris channel")
        assert opened.thread is not None
        declined = await drv.decline_backchannel(room.id, opened.thread)
        assert opened.seq is not None and declined.seq == opened.seq + 1
        with pytest.raises(Conflict) as late:
            await drv.accept_backchannel(room.id, opened.thread)
        assert "declined" in str(late.value)


async def test_reconnects_across_a_killed_server_without_gap_or_duplicate(
    live_server: LiveServer,
) -> None:
    room = await live_server.create_room()
    session = await connect(live_server.base_url, room.seat("us-1").token, **FAST)
    try:
        before = await session.post_message(room.id, "plenary", "before")
        racing = asyncio.create_task(session.post_message(room.id, "plenary", "racing"))
        await asyncio.sleep(0.005)  # its ack may or may not make it out before the kill
        live_server.stop(kill=True)
        during = asyncio.create_task(session.post_message(room.id, "plenary", "during"))
        await asyncio.sleep(0.3)
        assert not session.connected
        assert not during.done()

        # Blocking calls: the client cannot reconnect until these events are in the log.
        live_server.process.start()
        missed = [
            post_over_http(live_server, room, "drv-1", f"missed {i}", f"m{i}") for i in (1, 2)
        ]

        acks = await asyncio.wait_for(asyncio.gather(racing, during), timeout=10)
        expected = visible(live_server, room, "us-1")
        got = await collect(session, lambda got: got[-1].seq == expected[-1]["seq"])
    finally:
        await session.close()

    assert session.reconnects >= 1
    assert [as_wire(e) for e in got] == expected  # every visible seq once, in order
    server_texts = texts(expected)
    for text in ("before", "racing", "during", "missed 1", "missed 2"):
        assert server_texts.count(text) == 1, text
    by_text = {
        e["record"]["body"]["text"]: e["seq"] for e in expected if e["kind"] == "message_posted"
    }
    assert [before.seq, acks[0].seq, acks[1].seq, *missed] == [
        by_text[t] for t in ("before", "racing", "during", "missed 1", "missed 2")
    ]


async def test_reconnects_when_the_server_goes_away_and_comes_back(
    live_server: LiveServer,
) -> None:
    room = await live_server.create_room()
    async with connect(live_server.base_url, room.seat("observer").token, **FAST) as session:
        await session.wait_synced()
        live_server.stop()  # SIGTERM: the server closes every socket with 1001 first
        live_server.process.start()
        seq = post_over_http(live_server, room, "facilitator", "welcome back", "wb")
        got = await collect(session, lambda got: got[-1].seq == seq)
        assert session.reconnects == 1
        assert texts(got)[-1:] == ["welcome back"]


async def test_an_unknown_token_fails_authentication_without_retrying(
    live_server: LiveServer,
) -> None:
    with pytest.raises(AuthenticationFailed) as refused:
        async with asyncio.timeout(5):
            await connect(live_server.base_url, "ps_not-a-real-token", **NO_RETRY_IN_TIME)
    assert refused.value.error_code == ErrorCode.UNAUTHENTICATED
    assert refused.value.field == "seats.0.token"


async def test_a_rotated_invite_ends_the_session_with_seat_revoked(
    live_server: LiveServer,
) -> None:
    room = await live_server.create_room()
    old = room.seat("us-2").token
    session = await connect(live_server.base_url, old, **NO_RETRY_IN_TIME)
    await session.wait_synced()

    status, body = http(
        "POST",
        f"{live_server.base_url}/api/v1/rooms/{room.id}/seats/us-2/invite",
        {},
        token=room.seat("facilitator").token,
    )
    assert status == 201, body

    with pytest.raises(SeatRevoked) as revoked:
        async with asyncio.timeout(5):
            async for _ in session.events():
                pass
    assert revoked.value.code == CloseCode.SEAT_REVOKED
    assert session.closed and session.failure is revoked.value
    with pytest.raises(SeatRevoked):
        await session.post_message(room.id, "plenary", "still here?")

    with pytest.raises(AuthenticationFailed):
        async with asyncio.timeout(5):
            await connect(live_server.base_url, old, **NO_RETRY_IN_TIME)

    fresh = await redeem(body["invite_url"])
    async with connect(fresh.url, fresh.token) as session:
        assert session.seats[0].seat == "us-2"


async def test_resuming_beyond_the_end_of_the_log_is_refused(live_server: LiveServer) -> None:
    room = await live_server.create_room()
    with pytest.raises(HelloRefused) as refused:
        async with asyncio.timeout(5):
            await connect(live_server.base_url, room.seat("us-1").token, after=10_000)
    assert not isinstance(refused.value, AuthenticationFailed)
    assert (refused.value.error_code, refused.value.field) == (ErrorCode.INVALID, "seats.0.after")


async def test_redeem_turns_an_invite_into_credentials(live_server: LiveServer) -> None:
    room = await live_server.create_room()
    seat = room.seat("drv-2")

    credentials = await redeem(seat.invite_url)

    assert credentials.url == live_server.base_url
    assert credentials.token.startswith("ps_")
    assert (credentials.room, credentials.seat, credentials.party) == (room.id, "drv-2", "drv")
    assert (credentials.role, credentials.head) == ("delegate", False)
    async with connect(credentials.url, credentials.token) as session:
        assert session.seats[0].name == credentials.name

    with pytest.raises(InviteRefused) as refused:
        await redeem(f"{live_server.base_url}/join#pi_unknown")
    assert (refused.value.status, refused.value.code) == (401, ErrorCode.UNAUTHENTICATED)


async def test_one_session_holds_seats_in_two_rooms(live_server: LiveServer) -> None:
    first, second = await live_server.create_room(), await live_server.create_room()
    seats = [(first.seat("us-1").token, 0), (second.seat("rvn-1").token, 0)]
    async with connect(live_server.base_url, seats) as session:
        assert [s.room for s in session.seats] == [first.id, second.id]
        await session.post_message(second.id, "plenary", "second room")
        ack = await session.post_message(first.id, "plenary", "first room")
        got = await collect(session, lambda got: {"first room", "second room"} <= set(texts(got)))
        assert {e.room for e in got} == {first.id, second.id}
        assert session.positions[first.id] == ack.seq
        with pytest.raises(ValueError, match="2 rooms"):
            _ = session.room


@pytest.fixture
def slow_server(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(
        db_url, tmp_path / "data", PARLEY_COMMANDS_PER_SECOND="10", PARLEY_COMMAND_BURST="2"
    )
    server.start()
    yield server
    server.stop()


async def test_commands_are_paced_under_the_servers_rate_limit(slow_server: LiveServer) -> None:
    room = await slow_server.create_room()
    async with connect(slow_server.base_url, room.seat("us-1").token) as session:
        acks = await asyncio.gather(
            *(session.post_message(room.id, "plenary", f"m{i}") for i in range(8))
        )
    assert len({a.seq for a in acks}) == 8
    assert texts(visible(slow_server, room, "us-1")) == [f"m{i}" for i in range(8)]


async def test_commands_refused_for_their_rate_are_sent_again(slow_server: LiveServer) -> None:
    room = await slow_server.create_room()
    async with connect(slow_server.base_url, room.seat("us-1").token) as session:
        await session.wait_synced()
        link = session._link
        assert link is not None
        # Defeat the pacer on purpose: six commands leave at once, the server takes two.
        link.bucket = TokenBucket(10, 6)
        acks = await asyncio.wait_for(
            asyncio.gather(*(session.post_message(room.id, "plenary", f"r{i}") for i in range(6))),
            timeout=10,
        )
    assert len({a.seq for a in acks}) == 6 and not any(a.duplicate for a in acks)
    assert sorted(texts(visible(slow_server, room, "us-1"))) == [f"r{i}" for i in range(6)]
