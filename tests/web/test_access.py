"""Seats and invites: tokens stored hashed, sessions by cookie or bearer, rotation revokes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import urllib.request
from pathlib import Path

from sqlalchemy import select

from server.storage.database import Database
from server.storage.tables import events, invites, sessions
from tests.support.databases import sqlite_url
from tests.support.live import LiveServer, http, redeem
from tests.support.processes import parley_env, run_parley
from tests.support.wsclient import Peer


async def test_tokens_are_stored_only_as_hashes(live_server: LiveServer) -> None:
    room = await live_server.create_room()
    db = Database(live_server.db_url)
    try:
        async with db.engine.connect() as conn:
            stored = set((await conn.execute(select(invites.c.token_hash))).scalars())
            stored |= set((await conn.execute(select(sessions.c.token_hash))).scalars())
            records = b"".join((await conn.execute(select(events.c.record))).scalars())
    finally:
        await db.dispose()
    for seat in room.seats.values():
        invite = seat.invite_url.split("#", 1)[1]
        for token in (invite, seat.token):
            assert hashlib.sha256(token.encode()).hexdigest() in stored
            assert token not in stored
            assert token.encode() not in records
            assert hashlib.sha256(token.encode()).hexdigest().encode() not in records


def redeem_for_cookie(base_url: str, invite_url: str) -> tuple[str, dict[str, object]]:
    request = urllib.request.Request(
        f"{base_url}/api/v1/invites/redeem",
        data=json.dumps({"token": invite_url.split("#", 1)[1]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        return str(response.headers["Set-Cookie"]), json.load(response)


async def test_redeeming_sets_an_httponly_samesite_cookie_that_authenticates(
    live_server: LiveServer,
) -> None:
    room = await live_server.create_room()
    cookie, body = redeem_for_cookie(live_server.base_url, room.seat("us-1").invite_url)
    assert body["room"] == room.id and body["seat"]["id"] == "us-1"
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/api/" in cookie
    value = cookie.split(";", 1)[0]
    status, me = http("GET", f"{live_server.base_url}/api/v1/session", headers={"Cookie": value})
    assert status == 200 and me["seat"]["id"] == "us-1"
    post = f"{live_server.base_url}/api/v1/rooms/{room.id}/threads/plenary/messages"
    # A change made with the cookie must come from the server's own origin.
    status, err = http("POST", post, {"id": "c1", "text": "hi"}, headers={"Cookie": value})
    assert status == 403 and err["error"]["field"] == "Origin"
    status, err = http(
        "POST",
        post,
        {"id": "c1", "text": "hi"},
        headers={"Cookie": value, "Origin": "http://evil.example"},
    )
    assert status == 403 and err["error"]["code"] == "forbidden"
    status, ok = http(
        "POST",
        post,
        {"id": "c1", "text": "hi"},
        headers={"Cookie": value, "Origin": live_server.base_url},
    )
    assert status == 201 and ok["duplicate"] is False


async def test_unknown_and_malformed_credentials_are_refused(live_server: LiveServer) -> None:
    room = await live_server.create_room()
    base = f"{live_server.base_url}/api/v1"
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer ps_nope"}):
        status, err = http("GET", f"{base}/rooms/{room.id}", headers=headers)
        assert status == 401 and err["error"]["code"] == "unauthenticated", headers
    status, err = http("POST", f"{base}/invites/redeem", {"token": "pi_unknown"})
    assert status == 401
    status, err = http("POST", f"{base}/invites/redeem", {"token": room.seat("us-1").token})
    assert status == 401  # a session token is not an invite
    # Another room's id looks exactly like a room that does not exist.
    other = await live_server.create_room()
    status, err = http("GET", f"{base}/rooms/{other.id}", token=room.seat("us-1").token)
    assert status == 404 and err["error"]["code"] == "not_found"


async def test_rotating_a_seat_link_refuses_the_old_one_and_closes_its_sockets(
    live_server: LiveServer,
) -> None:
    room = await live_server.create_room()
    base = f"{live_server.base_url}/api/v1/rooms/{room.id}"
    old = room.seat("drv-2")
    peer = await Peer.connect(live_server.ws_url, [(old.token, 0)])
    await peer.wait_for(lambda: room.id in peer.synced)

    status, err = http("POST", f"{base}/seats/drv-2/invite", token=room.seat("drv-1").token)
    assert status == 403
    status, err = http("POST", f"{base}/seats/ghost/invite", token=room.seat("facilitator").token)
    assert status == 404 and err["error"]["field"] == "seat"
    status, rotated = http(
        "POST", f"{base}/seats/drv-2/invite", token=room.seat("facilitator").token
    )
    assert status == 201 and rotated["invite_url"] != old.invite_url

    await peer.wait_for(lambda: peer.closed.is_set())
    assert peer.ws.close_code == 4003
    status, _ = http(
        "POST",
        f"{live_server.base_url}/api/v1/invites/redeem",
        {"token": old.invite_url.split("#")[1]},
    )
    assert status == 401
    status, _ = http("GET", base, token=old.token)
    assert status == 401
    await peer.close()
    again = await Peer.connect(live_server.ws_url, [(old.token, 0)])
    await again.wait_for(lambda: again.closed.is_set())
    assert again.ws.close_code == 4001
    assert [e["code"] for e in again.errors] == ["unauthenticated"]
    assert again.errors[0]["field"] == "seats.0.token"
    fresh = redeem(live_server.base_url, rotated["invite_url"])
    assert fresh["seat"]["id"] == "drv-2"
    status, page = http("GET", f"{base}/events?limit=500", token=fresh["token"])
    assert status == 200
    assert [e["record"]["body"] for e in page["events"] if e["kind"] == "seat_invite_rotated"] == [
        {"seat": "drv-2"}
    ]


async def test_no_socket_stays_greeted_with_a_link_rotated_during_its_hello(
    db_url: str, tmp_path: Path
) -> None:
    """Hellos with a seat's session are in flight while the facilitator rotates its link: a
    hello that read the session before the rotation and is greeted after its sockets were
    closed must not keep the seat. Every socket ends refused (4001) or closed (4003)."""
    live_server = LiveServer(
        db_url,
        tmp_path,
        PARLEY_REDEEM_PER_MINUTE="100000",
        PARLEY_REDEEM_BURST="100000",
        PARLEY_UPGRADES_PER_MINUTE="100000",
        PARLEY_UPGRADE_BURST="100000",
    )
    live_server.start()
    try:
        await _hellos_racing_a_rotation(live_server)
    finally:
        live_server.stop()


async def _hellos_racing_a_rotation(live_server: LiveServer) -> None:
    room = await live_server.create_room()
    base = f"{live_server.base_url}/api/v1/rooms/{room.id}"
    token = room.seat("drv-2").token
    # Seats in other rooms after it make each hello read for longer after reading this one.
    others = [((await live_server.create_room()).seat("observer").token, 0) for _ in range(8)]
    for _ in range(3):
        hellos = [
            asyncio.create_task(Peer.connect(live_server.ws_url, [(token, 0), *others]))
            for _ in range(20)
        ]
        await asyncio.sleep(0.02)
        status, rotated = await asyncio.to_thread(
            http, "POST", f"{base}/seats/drv-2/invite", token=room.seat("facilitator").token
        )
        assert status == 201
        peers = await asyncio.gather(*hellos)
        for peer in peers:
            await peer.wait_for(peer.closed.is_set, 10)
        assert {peer.ws.close_code for peer in peers} <= {4001, 4003}
        token = redeem(live_server.base_url, rotated["invite_url"])["token"]


def browser_join(base_url: str, invite_url: str, cookie: str = "") -> dict[str, str]:
    """Join as a browser does, with the cookies it holds; its cookies afterwards, by name."""
    request = urllib.request.Request(
        f"{base_url}/api/v1/browser/join",
        data=json.dumps({"token": invite_url.split("#", 1)[1]}).encode(),
        headers={"Content-Type": "application/json", "Origin": base_url, "Cookie": cookie},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        set_cookies = response.headers.get_all("Set-Cookie")
    jar = dict(c.split("=", 1) for c in cookie.split("; ") if c)
    jar.update(c.split(";", 1)[0].split("=", 1) for c in set_cookies)
    return jar


def cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in jar.items())


async def test_signing_out_closes_the_sockets_of_the_browsers_sessions(
    live_server: LiveServer,
) -> None:
    room = await live_server.create_room()
    base = live_server.base_url
    jar = browser_join(base, room.seat("us-1").invite_url)
    session = jar["parley_session"]
    browser_ws = live_server.ws_url.replace("/api/v1/ws", "/api/v1/browser/ws")
    tab = await Peer.connect(browser_ws, [(room.id, 0)], origin=base, cookie=cookie_header(jar))
    by_token = await Peer.connect(live_server.ws_url, [(session, 0)])
    for peer in (tab, by_token):
        await peer.wait_for(lambda p=peer: room.id in p.synced)

    status, ended = http(
        "POST",
        f"{base}/api/v1/browser/signout",
        headers={"Cookie": cookie_header(jar), "Origin": base},
    )
    assert status == 200 and ended["ended"] == 1
    for peer in (tab, by_token):
        await peer.wait_for(lambda p=peer: p.closed.is_set())
        assert peer.ws.close_code == 4001
    again = await Peer.connect(live_server.ws_url, [(session, 0)])
    await again.wait_for(lambda: again.closed.is_set())
    assert again.ws.close_code == 4001
    assert [e["code"] for e in again.errors] == ["unauthenticated"]


async def test_a_browser_keeps_its_session_for_a_seat_and_ends_the_ones_it_drops(
    live_server: LiveServer,
) -> None:
    """The same invite opened again in a browser keeps the session its tabs already hold; a
    session the browser's cookie drops (another seat's link in the same room) ends, since
    signing out of that browser could no longer reach it."""
    room = await live_server.create_room()
    base = live_server.base_url
    first = browser_join(base, room.seat("us-1").invite_url)
    held = first["parley_session"]
    peer = await Peer.connect(live_server.ws_url, [(held, 0)])
    await peer.wait_for(lambda: room.id in peer.synced)

    again = browser_join(base, room.seat("us-1").invite_url, cookie_header(first))
    assert again["parley_session"] == again["parley_seats"] == held
    assert http("GET", f"{base}/api/v1/rooms/{room.id}", token=held)[0] == 200
    post = {"v": 1, "type": "post_message", "id": "p1", "room": room.id, "thread": "plenary"}
    answer = await peer.command({**post, "text": "the open tab still speaks"})
    assert answer["type"] == "ack" and not peer.closed.is_set()

    other = browser_join(base, room.seat("us-2").invite_url, cookie_header(again))
    assert other["parley_seats"] == other["parley_session"] != held
    await peer.wait_for(lambda: peer.closed.is_set())
    assert peer.ws.close_code == 4001
    assert http("GET", f"{base}/api/v1/rooms/{room.id}", token=held)[0] == 401
    assert http("GET", f"{base}/api/v1/rooms/{room.id}", token=other["parley_session"])[0] == 200


def test_exercise_start_prints_the_room_and_every_seat(tmp_path: object) -> None:
    env = parley_env(PARLEY_DATA_DIR=str(tmp_path), PARLEY_PUBLIC_URL="https://talks.example")
    assert run_parley("db", "upgrade", env=env).returncode == 0
    result = run_parley("exercise", "start", "tutorial", "--json", env=env)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert set(printed) == {"room", "seats"}
    roles = [(s["role"], s["party"]) for s in printed["seats"]]
    assert sorted(roles, key=str) == sorted(
        [("facilitator", None), ("observer", None)]
        + [("delegate", "north")] * 2
        + [("delegate", "south")] * 2,
        key=str,
    )
    for seat in printed["seats"]:
        assert set(seat) == {"role", "party", "name", "invite_url"}
        assert seat["invite_url"].startswith("https://talks.example/join#pi_")
    assert len({s["invite_url"] for s in printed["seats"]}) == 6
    unknown = run_parley("exercise", "start", "atlantis", env=env)
    assert (
        unknown.returncode == 2
        and "tutorial" in unknown.stderr
        and "Traceback" not in unknown.stderr
    )


def test_the_paris_scenario_seats_four_delegations_with_an_agenda(tmp_path: object) -> None:
    env = parley_env(PARLEY_DATA_DIR=str(tmp_path))
    assert run_parley("db", "upgrade", env=env).returncode == 0
    result = run_parley("exercise", "start", "paris-1973", "--json", env=env)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    parties = [s["party"] for s in printed["seats"] if s["role"] == "delegate"]
    assert sorted(parties) == sorted(["us", "drv", "rvn", "prg"] * 2)
    assert [s["role"] for s in printed["seats"]].count("observer") == 1
    token = printed["seats"][0]["invite_url"].split("#", 1)[1]
    server = LiveServer(sqlite_url(Path(str(tmp_path)) / "parley.db"), Path(str(tmp_path)))
    server.start()
    try:
        session = redeem(server.base_url, f"{server.base_url}/join#{token}")
        status, agenda = http(
            "GET",
            f"{server.base_url}/api/v1/rooms/{printed['room']}/agenda",
            token=session["token"],
        )
        assert status == 200
        assert [i["id"] for i in agenda["issues"]] == [
            "withdrawal_date",
            "troop_ceiling",
            "commission_size",
            "ceasefire",
            "political_track",
        ]
        # The facilitator reads every party's brief (room policy: it reads the caucuses).
        status, briefs = http(
            "GET",
            f"{server.base_url}/api/v1/rooms/{printed['room']}/positions",
            token=session["token"],
        )
        assert status == 200 and {p["party"] for p in briefs["positions"]} == set(parties)
    finally:
        server.stop()
