"""Bad frames over a real WebSocket: each gets its documented error, nothing else breaks.

The corpus (tests/web/bad_frames.py, more than 400 frames) goes over ONE connection after
``hello``: first, one at a time, the frames whose error carries no id (nothing else is in
flight, so the next frame must be their error); then all the others at once, matched to their
errors by id. Afterwards the same connection still gets its commands acknowledged, another
connection (seats that see everything in the same rooms) received those messages live and
nothing at all from the bad frames, the log holds no event from them, and the server logged no
traceback.

Around it: the limits and the handshake (hard frame limit: 1009, hello timeout: 4000, unknown
token: 4001, cross-origin upgrade: HTTP 403, commands before hello: ``hello_required``, invalid
UTF-8: 1007) and the rate limit (``rate_limited``).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from protocol.errors import CloseCode, ErrorCode
from protocol.frames import SERVER_FRAME
from tests.support.live import LiveRoom, LiveServer, http, three_party_setup
from tests.web.bad_frames import (
    HARD_LIMIT_FACTOR,
    MAX_FRAME_BYTES,
    ROOM_IDS,
    SEATS,
    SERVER_SETTINGS,
    BadFrame,
    RoomTarget,
    Targets,
    build,
)

pytestmark = pytest.mark.timeout(240)

Frame = dict[str, Any]
ROLES = ("delegate", "head", "observer", "facilitator")
WITNESS = {
    "delegate": "facilitator",
    "head": "facilitator",
    "observer": "facilitator",
    "facilitator": "observer",
}
"""The seat the witness connection holds in each room: one that sees every event there."""


# -- servers -------------------------------------------------------------------------------


@pytest.fixture
def serve(db_url: str, tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start ``parley serve`` with extra settings; stopped at the end if still running."""
    started: list[LiveServer] = []

    def start(**settings: str) -> LiveServer:
        server = LiveServer(db_url, tmp_path / f"data-{len(started)}", **settings)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.proc is not None and server.process.proc.poll() is None:
            server.stop()


@pytest.fixture
def corpus_server(serve: Callable[..., LiveServer]) -> LiveServer:
    return serve(**SERVER_SETTINGS)


def stop_and_read(server: LiveServer) -> tuple[int, str]:
    """Stop the server with SIGTERM; its exit status and everything it wrote to stderr."""
    proc = server.process.proc
    assert proc is not None
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err


def assert_clean_log(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "ERROR" not in stderr, stderr


async def call(
    method: str, server: LiveServer, path: str, body: Any = None, *, token: str
) -> tuple[int, Any]:
    return await asyncio.to_thread(http, method, server.base_url + path, body, token=token)


# -- a connection --------------------------------------------------------------------------


class Peer:
    """One WebSocket connection and every frame it received (each validated by the schema)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[Frame] = []

    async def send(self, data: str | bytes | Frame) -> None:
        await self.ws.send(data if isinstance(data, str | bytes) else json.dumps(data))

    async def next(self, wait: float = 10.0) -> Frame:
        raw = await asyncio.wait_for(self.ws.recv(), wait)
        assert isinstance(raw, str), f"the server sent a binary frame: {raw!r}"
        SERVER_FRAME.validate_json(raw)
        frame: Frame = json.loads(raw)
        self.received.append(frame)
        return frame

    async def quiet(self, seconds: float) -> list[Frame]:
        """Whatever arrives within ``seconds`` (the caller usually expects nothing)."""
        got = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(await self.next(left))
            except TimeoutError:
                break
        return got

    async def hello(self, seats: list[tuple[str, int]]) -> tuple[Frame, list[Frame]]:
        """Send hello for ``(token, after)`` seats; the welcome and the replayed events, once
        every room is synced."""
        await self.send(
            {"v": 1, "type": "hello", "seats": [{"token": t, "after": a} for t, a in seats]}
        )
        welcome = await self.next()
        assert welcome["type"] == "welcome", welcome
        rooms = {seat["room"] for seat in welcome["seats"]}
        replayed = []
        while rooms:
            frame = await self.next()
            if frame["type"] == "synced":
                rooms.remove(frame["room"])
            else:
                assert frame["type"] == "event", frame
                replayed.append(frame)
        return welcome, replayed

    async def closed(self, wait: float = 10.0) -> tuple[int | None, list[Frame]]:
        """Read until the server closes; its close code and the frames before it."""
        before = []
        try:
            while True:
                before.append(await self.next(wait))
        except ConnectionClosed:
            pass
        return self.ws.close_code, before


Dial = Callable[..., Awaitable[Peer]]


@pytest.fixture
async def dial() -> AsyncIterator[Dial]:
    """Open connections to a server (keyword arguments go to ``websockets.connect``); every
    one still open is closed at the end of the test."""
    opened: list[Peer] = []

    async def open_peer(server: LiveServer, **options: Any) -> Peer:
        ws = await connect(server.ws_url, open_timeout=10, close_timeout=2, **options)
        opened.append(Peer(ws))
        return opened[-1]

    yield open_peer
    for peer in opened:
        await peer.ws.close()


# -- rooms ---------------------------------------------------------------------------------


async def prepare_room(server: LiveServer, room: LiveRoom) -> tuple[str, str]:
    """``drv`` and ``rvn`` share a live back-channel, ``us`` opened one to ``drv`` that is not
    accepted, ``caucus-drv`` is disclosed to observers. Returns (hidden, pending) thread ids."""

    def token(seat: str) -> str:
        return room.seat(seat).token

    base = f"/api/v1/rooms/{room.id}/threads"
    status, body = await call(
        "POST", server, base, {"id": "s1", "parties": ["rvn"]}, token=token("drv-1")
    )
    assert status == 201, body
    hidden = body["thread"]
    status, body = await call(
        "POST", server, f"{base}/{hidden}/accept", {"id": "s2"}, token=token("rvn-1")
    )
    assert status == 201, body
    status, body = await call(
        "POST", server, base, {"id": "s3", "parties": ["drv"]}, token=token("us-1")
    )
    assert status == 201, body
    pending = body["thread"]
    status, body = await call(
        "POST",
        server,
        f"{base}/caucus-drv/disclose",
        {"id": "s4", "to": "observers"},
        token=token("facilitator"),
    )
    assert status == 201, body
    return hidden, pending


async def events_after(server: LiveServer, room: LiveRoom, since: int) -> list[Frame]:
    """The events after ``since``, as the facilitator (who may see all of them) reads them."""
    out: list[Frame] = []
    while True:
        status, body = await call(
            "GET",
            server,
            f"/api/v1/rooms/{room.id}/events?since={since}&limit=500",
            token=room.seat("facilitator").token,
        )
        assert status == 200, body
        out += body["events"]
        since = body["next"]
        if not body["more"]:
            return out


async def last_seq(server: LiveServer, room: LiveRoom) -> int:
    events = await events_after(server, room, 0)
    return int(events[-1]["seq"])


# -- the corpus ----------------------------------------------------------------------------


def mismatch(case: BadFrame, got: Frame) -> str | None:
    expected = {"type": "error", "id": case.id, "code": case.code.value, "field": case.field}
    actual = {key: got.get(key) for key in expected}
    if actual != expected or not got.get("message"):
        return f"{case.name!r}: expected {expected}, got {got}"
    return None


async def test_every_bad_frame_gets_its_error_and_breaks_nothing(
    corpus_server: LiveServer, dial: Dial
) -> None:
    server = corpus_server
    rooms = {
        role: await server.create_room(three_party_setup(room_id=room_id))
        for role, room_id in ROOM_IDS.items()
    }
    threads = {role: await prepare_room(server, rooms[role]) for role in ROLES}
    aimed = {role: RoomTarget(rooms[role].id, SEATS[role], *threads[role]) for role in ROLES}
    targets = Targets(**aimed, stranger=rooms["stranger"].id)
    cases = build(targets)
    assert len(cases) >= 200
    before = {role: await last_seq(server, rooms[role]) for role in ROLES}

    witness = await dial(server)
    await witness.hello([(rooms[role].seat(WITNESS[role]).token, before[role]) for role in ROLES])
    peer = await dial(server)
    welcome, replayed = await peer.hello(
        [(rooms[role].seat(SEATS[role]).token, 0) for role in ROLES]
    )
    assert [(s["room"], s["seat"]) for s in welcome["seats"]] == [
        (rooms[role].id, SEATS[role]) for role in ROLES
    ]
    assert replayed, "the connection replays each room's log before it is synced"

    problems: list[str] = []

    # 1. Frames whose error carries no id: one at a time, nothing else in flight.
    for case in (c for c in cases if c.id is None):
        await peer.send(case.frame)
        got = await peer.next()
        if (problem := mismatch(case, got)) is not None:
            problems.append(problem)

    # 2. Frames with a readable id: all at once, their errors matched by id.
    batch = {case.id: case for case in cases if case.id is not None}
    for case in batch.values():
        await peer.send(case.frame)
    answers: dict[str, Frame] = {}
    deadline = time.monotonic() + 60
    while len(answers) < len(batch) and time.monotonic() < deadline:
        try:
            got = await peer.next(max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            break
        cid = got.get("id")
        if cid not in batch or cid in answers:
            problems.append(f"unexpected frame: {got}")
            continue
        answers[cid] = got
    for cid, case in batch.items():
        if cid not in answers:
            problems.append(f"{case.name!r}: no answer")
        elif (problem := mismatch(case, answers[cid])) is not None:
            problems.append(problem)
    assert not problems, f"{len(problems)} of {len(cases)} cases went wrong:\n" + "\n".join(
        problems
    )

    # The same connection still works: a ping, then a command in three rooms, one repeated.
    await peer.send({"v": 1, "type": "ping", "id": "still-there"})
    assert await peer.next() == {"v": 1, "type": "pong", "id": "still-there"}
    good = {
        "delegate": ("plenary", "good-1", "Still here after all that."),
        "head": ("caucus-us", "good-2", "Our caucus is fine too."),
        "facilitator": ("plenary", "good-3", "The facilitator, too."),
    }
    for role, (thread, cid, text) in good.items():
        await peer.send(
            {
                "v": 1,
                "type": "post_message",
                "id": cid,
                "room": rooms[role].id,
                "thread": thread,
                "text": text,
            }
        )
    acks: dict[str, Frame] = {}
    own_events: dict[str, Frame] = {}
    while len(acks) < len(good) or len(own_events) < len(good):
        got = await peer.next()
        if got["type"] == "ack":
            acks[got["id"]] = got
        else:
            assert got["type"] == "event", got
            own_events[got["room"]] = got
    for role, (thread, cid, text) in good.items():
        room_id, seq = rooms[role].id, before[role] + 1
        assert acks[cid] == {
            "v": 1,
            "type": "ack",
            "id": cid,
            "room": room_id,
            "seq": seq,
            "duplicate": False,
            "thread": thread,
            "created": None,
        }
        assert own_events[room_id]["seq"] == seq
        assert own_events[room_id]["record"]["body"] == {"text": text}
    await peer.send(
        {
            "v": 1,
            "type": "post_message",
            "id": "good-1",
            "room": rooms["delegate"].id,
            "thread": "plenary",
            "text": "Still here after all that.",
        }
    )
    assert await peer.next() == {
        "v": 1,
        "type": "ack",
        "id": "good-1",
        "room": rooms["delegate"].id,
        "seq": before["delegate"] + 1,
        "duplicate": True,
        "thread": "plenary",
        "created": None,
    }

    # Everyone else: the witness received the three messages live, and nothing else.
    live: list[Frame] = []
    while len(live) < len(good):
        live.append(await witness.next())
    live += await witness.quiet(1.0)
    expected = {
        (rooms[role].id, before[role] + 1, "message_posted", False, text)
        for role, (_, _, text) in good.items()
    }
    seen = {
        (
            f.get("room"),
            f.get("seq"),
            f.get("kind"),
            f.get("sealed"),
            (f.get("record") or {}).get("body", {}).get("text"),
        )
        for f in live
    }
    assert len(live) == len(good) and seen == expected, live

    # The log: nothing but the three messages was appended, in any room.
    for role in ROLES:
        appended = await events_after(server, rooms[role], before[role])
        texts = [e["record"]["body"].get("text") for e in appended]
        assert texts == ([good[role][2]] if role in good else []), (role, appended)

    # Shutdown closes both connections with 1001; the server logged no traceback.
    status, stderr = await asyncio.to_thread(stop_and_read, server)
    assert status == 0, stderr
    for connection in (peer, witness):
        code, _ = await connection.closed()
        assert code == CloseCode.GOING_AWAY
    assert_clean_log(stderr)


# -- limits and the handshake --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["text", "binary"])
@pytest.mark.parametrize("compression", ["deflate", None])
async def test_a_frame_above_the_hard_limit_closes_with_1009(
    corpus_server: LiveServer, kind: str, compression: str | None, dial: Dial
) -> None:
    server = corpus_server
    room = await server.create_room()
    other = await dial(server)
    _, events = await other.hello([(room.seat("drv-1").token, 0)])
    peer = await dial(server, compression=compression, max_size=None)
    await peer.hello([(room.seat("us-1").token, events[-1]["seq"])])
    size = MAX_FRAME_BYTES * HARD_LIMIT_FACTOR + 1
    await peer.send("x" * size if kind == "text" else b"x" * size)
    code, before = await peer.closed()
    assert (code, before) == (CloseCode.MESSAGE_TOO_BIG, [])

    # The room keeps working for everyone else.
    await other.send(
        {
            "v": 1,
            "type": "post_message",
            "id": "m1",
            "room": room.id,
            "thread": "plenary",
            "text": "Hm?",
        }
    )
    answers = {(await other.next())["type"] for _ in range(2)}
    assert answers == {"ack", "event"}
    _, stderr = await asyncio.to_thread(stop_and_read, server)
    assert_clean_log(stderr)


async def test_a_frame_above_the_hard_limit_before_hello_closes_with_1009(
    corpus_server: LiveServer,
    dial: Dial,
) -> None:
    peer = await dial(corpus_server)
    await peer.send("{" * (MAX_FRAME_BYTES * HARD_LIMIT_FACTOR + 1))
    assert await peer.closed() == (CloseCode.MESSAGE_TOO_BIG, [])


async def test_no_hello_in_time_closes_with_4000(
    serve: Callable[..., LiveServer], dial: Dial
) -> None:
    server = serve(PARLEY_HELLO_TIMEOUT="1")
    quiet = await dial(server)
    chatty = await dial(server)
    started = time.monotonic()
    # Bad frames do not extend the deadline; each still gets its error.
    for i in range(3):
        await chatty.send(f"not json {i}")
        frame = await chatty.next()
        assert (frame["code"], frame["id"]) == (ErrorCode.BAD_FRAME, None)
        await asyncio.sleep(0.2)
    for peer in (quiet, chatty):
        code, before = await peer.closed(10)
        assert (code, before) == (CloseCode.HELLO_TIMEOUT, [])
        assert peer.ws.close_reason == "no hello in time"
    assert 0.9 <= time.monotonic() - started < 5
    _, stderr = await asyncio.to_thread(stop_and_read, server)
    assert_clean_log(stderr)


async def test_an_unknown_token_closes_with_4001(corpus_server: LiveServer, dial: Dial) -> None:
    peer = await dial(corpus_server)
    await peer.send({"v": 1, "type": "hello", "seats": [{"token": "ps_no-such-session"}]})
    code, before = await peer.closed()
    assert code == CloseCode.UNAUTHENTICATED
    assert peer.ws.close_reason == "unknown, rotated or revoked token"
    assert [(f["type"], f["code"], f["field"]) for f in before] == [
        ("error", "unauthenticated", "seats.0.token")
    ]


async def test_one_unknown_token_refuses_the_whole_hello(
    corpus_server: LiveServer, dial: Dial
) -> None:
    room = await corpus_server.create_room()
    peer = await dial(corpus_server)
    await peer.send(
        {
            "v": 1,
            "type": "hello",
            "seats": [{"token": room.seat("us-1").token}, {"token": "ps_no-such-session"}],
        }
    )
    code, before = await peer.closed()
    assert code == CloseCode.UNAUTHENTICATED
    assert [(f["type"], f["field"]) for f in before] == [("error", "seats.1.token")]
    again = await dial(corpus_server)
    welcome, _ = await again.hello([(room.seat("us-1").token, 0)])
    assert welcome["seats"][0]["seat"] == "us-1"


async def test_a_refused_hello_may_be_followed_by_another(
    corpus_server: LiveServer, dial: Dial
) -> None:
    room = await corpus_server.create_room()
    us1, us2 = room.seat("us-1").token, room.seat("us-2").token
    peer = await dial(corpus_server)
    refused: list[tuple[dict[str, Any], str]] = [
        ({"seats": [{"token": us1, "after": 10_000}]}, "seats.0.after"),
        ({"seats": [{"token": us1}, {"token": us2}]}, "seats.1"),
        ({"seats": [{"token": us1, "after": "0"}]}, "seats.0.after"),
        ({"seats": [{"token": us1}], "id": "h-1"}, "id"),
    ]
    for fields, field in refused:
        await peer.send({"v": 1, "type": "hello", **fields})
        frame = await peer.next()
        assert (frame["type"], frame["code"], frame["field"]) == ("error", "invalid", field)
    welcome, _ = await peer.hello([(us1, 0)])
    assert welcome["seats"][0]["seat"] == "us-1"


async def test_a_cross_origin_websocket_is_refused_before_the_upgrade(
    corpus_server: LiveServer,
    dial: Dial,
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(corpus_server.ws_url, origin=Origin("http://evil.example"), open_timeout=10)
    response = refused.value.response
    assert response.status_code == 403
    assert json.loads(response.body or b"") == {
        "error": {
            "code": "forbidden",
            "message": "requests from origin 'http://evil.example' are not accepted",
            "field": "Origin",
        }
    }
    # The server's own origin (its public URL) is accepted.
    room = await corpus_server.create_room()
    own = await dial(corpus_server, origin=corpus_server.public_url)
    welcome, _ = await own.hello([(room.seat("us-2").token, 0)])
    assert welcome["type"] == "welcome"


async def test_commands_before_hello_get_hello_required(
    corpus_server: LiveServer, dial: Dial
) -> None:
    room = await corpus_server.create_room()
    peer = await dial(corpus_server)
    await peer.send({"v": 1, "type": "ping", "id": "early-1"})
    assert await peer.next() == {
        "v": 1,
        "type": "error",
        "id": "early-1",
        "code": "hello_required",
        "message": "send hello first",
        "field": "type",
    }
    await peer.send(
        {
            "v": 1,
            "type": "post_message",
            "id": "early-2",
            "room": room.id,
            "thread": "plenary",
            "text": "Hi",
        }
    )
    frame = await peer.next()
    assert (frame["code"], frame["id"], frame["field"]) == ("hello_required", "early-2", "type")
    # Bad frames before hello get the same errors as after it, and the connection stays open.
    await peer.send('{"v":2,"type":"hello","id":"early-3"}')
    frame = await peer.next()
    assert (frame["code"], frame["id"], frame["field"]) == ("unsupported_version", "early-3", "v")
    await peer.send(b"\x00")
    assert (await peer.next())["code"] == "bad_frame"
    await peer.send('{"v":' + "[" * 1000 + "]" * 1000 + ',"type":"ping","id":"early-4"}')
    frame = await peer.next()
    assert (frame["code"], frame["id"], frame["field"]) == ("bad_frame", None, None)
    await peer.send({"v": 1, "type": "hello", "seats": []})
    frame = await peer.next()
    assert (frame["code"], frame["field"]) == ("invalid", "seats")
    welcome, _ = await peer.hello([(room.seat("us-2").token, 0)])
    assert welcome["seats"][0]["seat"] == "us-2"
    await peer.send({"v": 1, "type": "ping", "id": "late"})
    assert await peer.next() == {"v": 1, "type": "pong", "id": "late"}
    events = await events_after(corpus_server, room, 0)
    assert all(e["kind"] != "message_posted" for e in events)


async def test_invalid_utf8_in_a_text_frame_closes_with_1007(
    corpus_server: LiveServer, dial: Dial
) -> None:
    room = await corpus_server.create_room()
    peer = await dial(corpus_server)
    await peer.hello([(room.seat("us-2").token, 0)])
    await peer.ws.send(b'{"v":1,"type":"ping","id":"\xff"}', text=True)
    code, _ = await peer.closed()
    assert code == 1007  # RFC 6455: invalid UTF-8 in a text frame fails the connection


async def test_the_rate_limit_answers_rate_limited_and_appends_nothing(
    serve: Callable[..., LiveServer],
    dial: Dial,
) -> None:
    server = serve(PARLEY_COMMANDS_PER_SECOND="1", PARLEY_COMMAND_BURST="5")
    room = await server.create_room()
    start = await last_seq(server, room)
    witness = await dial(server)
    await witness.hello([(room.seat("facilitator").token, start)])
    peer = await dial(server)
    welcome, _ = await peer.hello([(room.seat("us-2").token, start)])
    assert (welcome["limits"]["commands_per_second"], welcome["limits"]["command_burst"]) == (1, 5)

    for i in range(10):
        await peer.send(
            {
                "v": 1,
                "type": "post_message",
                "id": f"rl-{i}",
                "room": room.id,
                "thread": "plenary",
                "text": f"m{i}",
            }
        )
    acks: list[str] = []
    limited: list[Frame] = []
    while len(acks) + len(limited) < 10:
        frame = await peer.next()
        if frame["type"] == "ack":
            acks.append(frame["id"])
        elif frame["type"] == "error":
            limited.append(frame)
        else:
            assert frame["type"] == "event", frame
    assert sorted(acks) == [f"rl-{i}" for i in range(5)]
    assert [(f["code"], f["field"]) for f in limited] == [("rate_limited", None)] * 5
    assert sorted(f["id"] for f in limited) == [f"rl-{i}" for i in range(5, 10)]
    assert all("1 commands per second" in f["message"] for f in limited)

    # The limit is per connection: another one is not slowed down meanwhile.
    await witness.send(
        {
            "v": 1,
            "type": "post_message",
            "id": "w-1",
            "room": room.id,
            "thread": "plenary",
            "text": "w",
        }
    )
    # A facilitator may post to the plenary; collect until its ack.
    while True:
        frame = await witness.next()
        if frame["type"] == "ack":
            assert frame["id"] == "w-1" and frame["duplicate"] is False
            break
        assert frame["type"] == "event"

    # Once the bucket refills, the same connection is served again.
    await peer.quiet(1.2)
    await peer.send({"v": 1, "type": "ping", "id": "after-the-wait"})
    assert await peer.next() == {"v": 1, "type": "pong", "id": "after-the-wait"}

    texts = [e["record"]["body"]["text"] for e in await events_after(server, room, start)]
    assert texts == [f"m{i}" for i in range(5)] + ["w"]
    _, stderr = await asyncio.to_thread(stop_and_read, server)
    assert_clean_log(stderr)


async def test_an_id_holding_a_lone_surrogate_gets_an_error(
    corpus_server: LiveServer, dial: Dial
) -> None:
    room = await corpus_server.create_room()
    peer = await dial(corpus_server)
    await peer.hello([(room.seat("us-2").token, 0)])
    await peer.send('{"v":1,"type":"ping","id":"\\ud800"}')
    frame = await peer.next()
    assert (frame["type"], frame["code"], frame["field"]) == ("error", "invalid", "id")
    await peer.send({"v": 1, "type": "ping", "id": "after"})
    assert await peer.next() == {"v": 1, "type": "pong", "id": "after"}
