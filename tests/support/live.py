"""A real ``parley serve`` on a free port, rooms created in its database, seats redeemed.

Rooms are created from the test process through the same services the server uses (its own
log writer on the same database; the log's locking makes that safe), then every seat's invite
is redeemed over HTTP, exactly as a delegate would.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.domain.room import Party, Role
from server.services.access import AccessService
from server.services.rooms import CreatedRoom, RoomService, RoomSetup, SeatSpec
from server.services.states import RoomStates
from server.storage.database import Database
from server.storage.writer import LogWriter
from tests.support.processes import ServerProcess, free_port, parley_env


@dataclass(frozen=True)
class LiveSeat:
    id: str
    role: str
    party: str | None
    name: str
    invite_url: str
    token: str
    """Session token from redeeming the invite."""


@dataclass(frozen=True)
class LiveRoom:
    id: str
    seats: dict[str, LiveSeat]
    """By seat id."""

    def seat(self, seat_id: str) -> LiveSeat:
        return self.seats[seat_id]


class LiveServer:
    """``parley serve`` for one test; :meth:`create_room` makes rooms it serves."""

    def __init__(
        self,
        db_url: str,
        data_dir: Path,
        *,
        public_url: str | None = None,
        tls: ssl.SSLContext | None = None,
        **settings: str,
    ) -> None:
        """``public_url`` defaults to the server's own address; ``tls`` is a client context
        trusting the certificate of a server that serves HTTPS itself."""
        self.db_url = db_url
        self.port = free_port()
        self.tls = tls
        self.public_url = public_url or self.base_url
        env = parley_env(
            PARLEY_DATA_DIR=str(data_dir),
            PARLEY_DATABASE_URL=db_url,
            PARLEY_PUBLIC_URL=self.public_url,
            **settings,
        )
        self.process = ServerProcess(env, port=self.port, tls=tls)

    @property
    def base_url(self) -> str:
        """Where the server listens (the public URL may name a proxy in front of it)."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}/api/v1/ws"

    def start(self) -> None:
        self.process.start()

    def stop(self, *, kill: bool = False) -> int:
        return self.process.stop(kill=kill)

    async def create_room(self, setup: RoomSetup | None = None) -> LiveRoom:
        created = await create_room(self.db_url, self.public_url, setup or three_party_setup())
        seats = {}
        for seat in created.seats:
            token = redeem(self.base_url, seat.invite_url, context=self.tls)["token"]
            seats[seat.id] = LiveSeat(
                seat.id, seat.role.value, seat.party, seat.name, seat.invite_url, token
            )
        return LiveRoom(created.room_id, seats)


async def create_room(db_url: str, public_url: str, setup: RoomSetup) -> CreatedRoom:
    db = Database(db_url)
    writer = LogWriter(db)
    writer.start()
    try:
        rooms = RoomService(writer, RoomStates(db), AccessService(db, public_url))
        return await rooms.create(setup)
    finally:
        await writer.close()
        await db.dispose()


def http(
    method: str,
    url: str,
    body: Any = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> tuple[int, Any]:
    """One HTTP request; returns (status, parsed JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    all_headers.update(headers or {})
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            raw = response.read()
            if raw and response.headers.get_content_type() != "application/json":
                return response.status, raw.decode()  # documents (Markdown, HTML)
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


def redeem(
    base_url: str, invite_url: str, *, context: ssl.SSLContext | None = None
) -> dict[str, Any]:
    token = invite_url.split("#", 1)[1]
    url = f"{base_url}/api/v1/invites/redeem"
    status, body = http("POST", url, {"token": token}, context=context)
    assert status == 200, body
    return dict(body)


def three_party_setup(**overrides: Any) -> RoomSetup:
    """Three parties with two delegates each (the first is head), a facilitator, an observer.

    Seat ids: ``facilitator``, ``observer``, ``us-1`` (head), ``us-2``, ``drv-1`` (head),
    ``drv-2``, ``rvn-1`` (head), ``rvn-2``.
    """
    parties = [Party("us", "United States"), Party("drv", "DRV"), Party("rvn", "RVN")]
    seats = [SeatSpec(Role.FACILITATOR, "Facilitator", id="facilitator")]
    for party in parties:
        seats.append(SeatSpec(Role.DELEGATE, f"{party.name} head", party=party.id, head=True))
        seats.append(SeatSpec(Role.DELEGATE, f"{party.name} adviser", party=party.id))
    seats.append(SeatSpec(Role.OBSERVER, "Observer", id="observer"))
    fields: dict[str, Any] = {"title": "Withdrawal talks", "parties": parties, "seats": seats}
    fields.update(overrides)
    return RoomSetup(**fields)
