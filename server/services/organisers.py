"""Organisers: people allowed to create rooms from bundled scenarios in the browser.

An organiser link (``/organise#po_...``) is printed by ``parley organiser create``; like
invites and sessions its token is stored only as a SHA-256. An organiser sees only the rooms
it created, and gets every seat's invite link once, when the room is made.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from server.domain.errors import NotFound
from server.domain.room import Policy
from server.services.access import new_token, token_hash
from server.services.errors import Unauthenticated
from server.services.rooms import CreatedRoom, RoomService, RoomSetup
from server.storage import organiser_store
from server.storage.database import Database
from server.storage.organiser_store import OrganisedRoomRow

ORGANISER_PREFIX = "po_"


@dataclass(frozen=True, slots=True)
class Organiser:
    name: str
    token_hash: str


class OrganiserService:
    def __init__(
        self,
        db: Database,
        rooms: RoomService,
        public_url: str,
        scenarios: Mapping[str, Callable[[], RoomSetup]],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._rooms = rooms
        self._public_url = public_url.rstrip("/")
        self._scenarios = scenarios
        self._clock = clock

    @property
    def scenarios(self) -> list[str]:
        return sorted(self._scenarios)

    def link(self, token: str) -> str:
        """The organiser's link; the token sits in the fragment, never sent to a server."""
        return f"{self._public_url}/organise#{token}"

    async def create(self, name: str) -> str:
        """A new organiser; returns its token (shown once)."""
        token = new_token(ORGANISER_PREFIX)
        async with self._db.write_engine.begin() as conn:
            await organiser_store.add_organiser(conn, token_hash(token), name, self._clock())
        return token

    async def authenticate(self, token: str) -> Organiser:
        if not token.startswith(ORGANISER_PREFIX):
            raise Unauthenticated("not an organiser token")
        async with self._db.engine.connect() as conn:
            row = await organiser_store.find_organiser(conn, token_hash(token))
        if row is None:
            raise Unauthenticated("this organiser link is unknown or was revoked")
        return Organiser(row.name, row.token_hash)

    async def rooms_of(self, organiser: Organiser) -> list[OrganisedRoomRow]:
        async with self._db.engine.connect() as conn:
            return await organiser_store.rooms_of(conn, organiser.token_hash)

    async def create_room(
        self, organiser: Organiser, scenario: str, policy: Policy | None = None
    ) -> CreatedRoom:
        """A room from a bundled scenario, with ``policy`` instead of the scenario's if given."""
        make = self._scenarios.get(scenario)
        if make is None:
            known = ", ".join(self.scenarios)
            raise NotFound(f"no bundled scenario {scenario!r} (bundled: {known})", field="scenario")
        setup = make()
        if policy is not None:
            setup = replace(setup, policy=policy)
        created = await self._rooms.create(setup)
        row = OrganisedRoomRow(created.room_id, created.title, scenario, self._clock())
        async with self._db.write_engine.begin() as conn:
            await organiser_store.add_room(conn, organiser.token_hash, row)
        return created
