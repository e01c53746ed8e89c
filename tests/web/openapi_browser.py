"""The browser's and organisers' operations, called from the live OpenAPI test.

Kept apart from tests/web/test_openapi.py so that the browser client's routes are checked
against the document by the same :class:`~tests.web.test_openapi.Api` without growing it.
"""

from __future__ import annotations

import asyncio
from functools import partial
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

from server.exercise.scenarios import SCENARIOS
from server.services.access import AccessService
from server.services.organisers import OrganiserService
from server.services.rooms import RoomService
from server.services.states import RoomStates
from server.storage.database import Database
from server.storage.writer import LogWriter
from tests.support.live import LiveRoom, LiveServer

if TYPE_CHECKING:
    from tests.web.test_openapi import Api

BIG = "x" * (260 * 1024)
EVIL = "https://evil.example"


async def create_organiser(db_url: str, public_url: str, name: str = "Organiser") -> str:
    db = Database(db_url)
    try:
        rooms = RoomService(LogWriter(db), RoomStates(db), AccessService(db, public_url))
        return await OrganiserService(db, rooms, public_url, SCENARIOS).create(name)
    finally:
        await db.dispose()


def cookies_set(api: Api) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in api.headers.get_all("Set-Cookie") or []:
        jar.load(header)
        morsel = jar[next(reversed(jar.keys()))]
        assert morsel["httponly"] and morsel["samesite"] == "Strict", header
        assert morsel["path"] == "/api/", header
    return {name: morsel.value for name, morsel in jar.items()}


def exercise_browser(api: Api, server: LiveServer, room: LiveRoom) -> None:
    own = server.public_url
    invite = {sid: seat.invite_url.split("#", 1)[1] for sid, seat in room.seats.items()}
    join = partial(api.call, "joinBrowser")
    seats = partial(api.call, "listBrowserSeats")
    switch = partial(api.call, "switchRoom")
    sign_out = partial(api.call, "signOut")

    answer = join(200, body={"token": invite["us-1"]}, origin=own)
    assert "token" not in answer and answer["seat"]["id"] == "us-1"
    jar = cookies_set(api)
    assert set(jar) == {"parley_session", "parley_seats"}
    assert all("ps_" in value for value in jar.values())
    join(400, body={"token": 3}, origin=own, schema_rejects=True, field="token")
    join(401, body={"token": "pi_nope"}, code="unauthenticated")
    join(403, body={"token": invite["us-1"]}, origin=EVIL, field="Origin")
    join(413, body={"token": BIG})

    held: list[dict[str, Any]] = seats(200, cookies=jar)["seats"]
    assert [(s["room"], s["current"]) for s in held] == [(room.id, True)]
    assert seats(200)["seats"] == []

    switch(200, body={"room": room.id}, cookies=jar, origin=own)
    switch(404, body={"room": "r-0000000000"}, cookies=jar, origin=own, field="room")
    switch(401, body={"room": room.id}, origin=own, code="unauthenticated")
    switch(403, body={"room": room.id}, cookies=jar, field="Origin")
    switch(400, body={"room": 3}, cookies=jar, origin=own, schema_rejects=True)
    switch(413, body={"room": BIG}, cookies=jar, origin=own)

    sign_out(403, cookies=jar, field="Origin")
    assert sign_out(200, cookies=jar, origin=own)["ended"] == 1
    assert seats(200, cookies=jar)["seats"] == []
    api.call("getSession", 401, cookies=jar)

    revoke = partial(api.call, "revokeInvite")
    fac, us1 = room.seats["facilitator"].token, room.seats["us-1"].token
    assert revoke(200, token=fac, room=room.id, seat="rvn-2") == {"seat": "rvn-2", "revoked": 1}
    assert revoke(200, token=fac, room=room.id, seat="rvn-2")["revoked"] == 0
    api.call("joinBrowser", 401, body={"token": invite["rvn-2"]}, code="unauthenticated")
    revoke(401, room=room.id, seat="rvn-2")
    revoke(403, token=us1, room=room.id, seat="rvn-2", code="forbidden")
    revoke(404, token=fac, room=room.id, seat="nobody", field="seat")
    revoke(404, token=fac, room="r-0000000000", seat="rvn-2", field="room")

    token = asyncio.run(create_organiser(server.db_url, own))
    start = partial(api.call, "startOrganiserSession")
    rooms = partial(api.call, "listOrganiserRooms")
    create = partial(api.call, "createRoom")
    assert start(200, body={"token": token}, origin=own) == {"name": "Organiser"}
    org = cookies_set(api)
    assert org == {"parley_organiser": token}
    start(400, body={"token": None}, origin=own, schema_rejects=True)
    start(401, body={"token": "po_nope"}, code="unauthenticated")
    start(401, body={"token": invite["us-1"]}, code="unauthenticated")
    start(403, body={"token": token}, origin=EVIL)
    start(413, body={"token": BIG})

    rooms(401, code="unauthenticated")
    assert rooms(200, cookies=org)["rooms"] == []
    made = create(201, body={"scenario": "tutorial"}, cookies=org, origin=own)
    assert {s["role"] for s in made["seats"]} == {"facilitator", "delegate", "observer"}
    create(404, body={"scenario": "nope"}, cookies=org, origin=own, field="scenario")
    create(401, body={"scenario": "tutorial"}, origin=own)
    create(403, body={"scenario": "tutorial"}, cookies=org, field="Origin")
    create(400, body={"scenario": 5}, cookies=org, origin=own, schema_rejects=True)
    create(413, body={"scenario": BIG}, cookies=org, origin=own)
    # The policy chosen at creation is the room's, written into its first event.
    private = {"facilitator_reads_backchannels": False, "facilitator_reads_caucuses": False}
    closed = create(201, body={"scenario": "tutorial", "policy": private}, cookies=org, origin=own)
    facilitator = next(s for s in closed["seats"] if s["role"] == "facilitator")
    redeemed = api.call(
        "redeemInvite", 200, body={"token": facilitator["invite_url"].split("#", 1)[1]}
    )
    first = api.call(
        "listEvents", 200, token=redeemed["token"], room=closed["room"], query={"limit": "1"}
    )
    assert first["events"][0]["record"]["body"]["policy"] == private
    create(
        400,
        body={"scenario": "tutorial", "policy": {"facilitator_reads_everything": True}},
        cookies=org,
        origin=own,
        schema_rejects=True,
    )
    listed = rooms(200, cookies=org)
    assert [r["id"] for r in listed["rooms"]] == [made["room"], closed["room"]]
    assert "tutorial" in listed["scenarios"]
