"""SQL for seat access: hashed invite tokens and the sessions made by redeeming them.

These tables are not the log: an invite is revoked by setting ``revoked_at`` (the log records
*that* a seat's link was rotated, never a token or its hash). Functions run inside the caller's
transaction and take the connection first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.grants import Grant
from server.storage.tables import invites, sessions

__all__ = ["Grant"]


async def add_invites(
    conn: AsyncConnection, room_id: str, hashes: dict[str, str], now: datetime
) -> None:
    """Store one invite per seat: ``hashes`` maps seat id -> token hash."""
    if hashes:
        await conn.execute(
            insert(invites),
            [
                {"token_hash": h, "room_id": room_id, "seat_id": seat, "created_at": now}
                for seat, h in hashes.items()
            ],
        )


async def find_invite(conn: AsyncConnection, token_hash: str) -> Grant | None:
    row = (
        await conn.execute(
            select(invites.c.room_id, invites.c.seat_id).where(
                invites.c.token_hash == token_hash, invites.c.revoked_at.is_(None)
            )
        )
    ).first()
    return None if row is None else Grant(row.room_id, row.seat_id, token_hash)


async def add_session(conn: AsyncConnection, token_hash: str, grant: Grant, now: datetime) -> None:
    await conn.execute(
        insert(sessions).values(
            token_hash=token_hash,
            room_id=grant.room_id,
            seat_id=grant.seat_id,
            invite_hash=grant.invite_hash,
            created_at=now,
        )
    )


async def find_sessions(conn: AsyncConnection, token_hashes: Sequence[str]) -> dict[str, Grant]:
    """The live sessions among ``token_hashes``: token hash -> grant (one query)."""
    rows = await conn.execute(
        select(
            sessions.c.token_hash, sessions.c.room_id, sessions.c.seat_id, sessions.c.invite_hash
        ).where(sessions.c.token_hash.in_(token_hashes), sessions.c.revoked_at.is_(None))
    )
    return {row.token_hash: Grant(row.room_id, row.seat_id, row.invite_hash) for row in rows}


async def revoke_seat(conn: AsyncConnection, room_id: str, seat_id: str, now: datetime) -> int:
    """Revoke every live invite of a seat and every session made from one; returns invites."""
    live = select(invites.c.token_hash).where(
        invites.c.room_id == room_id, invites.c.seat_id == seat_id, invites.c.revoked_at.is_(None)
    )
    hashes = list((await conn.execute(live)).scalars())
    if hashes:
        await conn.execute(
            update(sessions)
            .where(sessions.c.invite_hash.in_(hashes), sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        await conn.execute(
            update(invites).where(invites.c.token_hash.in_(hashes)).values(revoked_at=now)
        )
    return len(hashes)


async def revoke_sessions(conn: AsyncConnection, hashes: list[str], now: datetime) -> int:
    """Revoke the sessions with these token hashes (signing out); returns how many were live."""
    if not hashes:
        return 0
    result = await conn.execute(
        update(sessions)
        .where(sessions.c.token_hash.in_(hashes), sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)
