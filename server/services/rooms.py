"""Rooms: creating one with its parties, seats, threads and invite links; rotating a link.

What a room is made of, and its first events, are the domain's (``server/domain/setup.py``);
this service issues the invites and appends the opening events in one transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from server.domain.commands import acting_seat, allowed
from server.domain.errors import NotFound
from server.domain.events import EventKind
from server.domain.grants import Grant
from server.domain.permissions import Action
from server.domain.room import Role, Seat
from server.domain.setup import (
    PositionSpec,
    RoomSetup,
    SeatSpec,
    opening_events,
    seat_ids,
    validate_setup,
)
from server.services.access import AccessService
from server.services.states import RoomStates
from server.storage.records import NewEvent, RoomSpec
from server.storage.writer import LogWriter

__all__ = ["CreatedRoom", "CreatedSeat", "PositionSpec", "RoomService", "RoomSetup", "SeatSpec"]


@dataclass(frozen=True, slots=True)
class CreatedSeat:
    id: str
    role: Role
    party: str | None
    name: str
    head: bool
    invite_url: str


@dataclass(frozen=True, slots=True)
class CreatedRoom:
    room_id: str
    title: str
    seats: tuple[CreatedSeat, ...]

    def as_json(self) -> dict[str, object]:
        """The shape of ``parley exercise start --json`` (DESIGN §8)."""
        return {
            "room": self.room_id,
            "seats": [
                {
                    "role": s.role.value,
                    "party": s.party,
                    "name": s.name,
                    "invite_url": s.invite_url,
                }
                for s in self.seats
            ],
        }


def new_room_id() -> str:
    return "r-" + secrets.token_hex(5)


class RoomService:
    def __init__(
        self,
        writer: LogWriter,
        states: RoomStates,
        access: AccessService,
        *,
        on_revoked: Callable[[str, str], None] = lambda room, seat: None,
    ) -> None:
        self._writer = writer
        self._states = states
        self._access = access
        self._on_revoked = on_revoked

    async def create(self, setup: RoomSetup) -> CreatedRoom:
        validate_setup(setup)
        room_id = setup.room_id or new_room_id()
        ids = seat_ids(setup)
        # Invites first: if the room is then refused (its id is taken), they lead nowhere.
        tokens = await self._access.issue_invites(room_id, ids)
        opening = [
            NewEvent(o.kind, o.body, party=o.party, thread=o.thread)
            for o in opening_events(setup, ids)
        ]
        await self._writer.create_room(RoomSpec(room_id, setup.title, setup.stages[0]), opening)
        seats = tuple(
            CreatedSeat(
                seat_id, s.role, s.party, s.name, s.head, self._access.invite_url(tokens[seat_id])
            )
            for seat_id, s in zip(ids, setup.seats, strict=True)
        )
        return CreatedRoom(room_id, setup.title, seats)

    async def rotate_invite(self, actor: Grant, seat_id: str) -> str:
        """A new invite link for ``seat_id``; the old one and its sessions stop working."""
        seat = await self._check_invite_change(actor, seat_id)
        token = await self._access.rotate(actor.room_id, seat_id)
        await self._log_invite_change(actor, seat, seat_id)
        return self._access.invite_url(token)

    async def revoke_invite(self, actor: Grant, seat_id: str) -> int:
        """``seat_id``'s link and its sessions stop working, and no new link is issued (rotate
        later to give the seat one). Logged as ``seat_invite_rotated``: the old link is gone."""
        seat = await self._check_invite_change(actor, seat_id)
        revoked = await self._access.revoke(actor.room_id, seat_id)
        await self._log_invite_change(actor, seat, seat_id)
        return revoked

    async def _check_invite_change(self, actor: Grant, seat_id: str) -> Seat:
        state = await self._states.get(actor.room_id)
        seat = acting_seat(state, actor.seat_id)
        allowed(state, seat, Action.ROTATE_INVITE, None, what="rotate invite links")
        if seat_id not in state.seats:
            raise NotFound(f"no seat {seat_id!r} in this room", field="seat")
        return seat

    async def _log_invite_change(self, actor: Grant, seat: Seat, seat_id: str) -> None:
        await self._writer.append(
            actor.room_id,
            NewEvent(
                EventKind.SEAT_INVITE_ROTATED,
                {"seat": seat_id},
                seat=seat.id,
                party=seat.party,
            ),
        )
        self._on_revoked(actor.room_id, seat_id)
