"""SQL for organisers (hashed tokens) and the rooms each created.

Functions run inside the caller's transaction and take the connection first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.storage.tables import organised_rooms, organisers


@dataclass(frozen=True, slots=True)
class OrganiserRow:
    token_hash: str
    name: str


@dataclass(frozen=True, slots=True)
class OrganisedRoomRow:
    room_id: str
    title: str
    scenario: str
    created_at: datetime


async def add_organiser(conn: AsyncConnection, token_hash: str, name: str, now: datetime) -> None:
    await conn.execute(insert(organisers).values(token_hash=token_hash, name=name, created_at=now))


async def find_organiser(conn: AsyncConnection, token_hash: str) -> OrganiserRow | None:
    row = (
        await conn.execute(
            select(organisers.c.name).where(
                organisers.c.token_hash == token_hash, organisers.c.revoked_at.is_(None)
            )
        )
    ).first()
    return None if row is None else OrganiserRow(token_hash, row.name)


async def add_room(conn: AsyncConnection, organiser_hash: str, room: OrganisedRoomRow) -> None:
    await conn.execute(
        insert(organised_rooms).values(
            room_id=room.room_id,
            organiser_hash=organiser_hash,
            title=room.title,
            scenario=room.scenario,
            created_at=room.created_at,
        )
    )


async def rooms_of(conn: AsyncConnection, organiser_hash: str) -> list[OrganisedRoomRow]:
    rows = await conn.execute(
        select(
            organised_rooms.c.room_id,
            organised_rooms.c.title,
            organised_rooms.c.scenario,
            organised_rooms.c.created_at,
        )
        .where(organised_rooms.c.organiser_hash == organiser_hash)
        .order_by(organised_rooms.c.created_at, organised_rooms.c.room_id)
    )
    return [OrganisedRoomRow(r.room_id, r.title, r.scenario, r.created_at) for r in rows]
