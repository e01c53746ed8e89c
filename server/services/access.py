"""Seat access: invite links and the sessions made by redeeming them.

Tokens are 256-bit random strings with a prefix that says what they are (``pi_`` invites,
``ps_`` sessions); only their SHA-256 is stored, so a copy of the database lets nobody in.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from server.domain.grants import Grant
from server.services.coalesce import Batched
from server.services.errors import Unauthenticated
from server.storage import access_store
from server.storage.database import Database

INVITE_PREFIX = "pi_"
SESSION_PREFIX = "ps_"


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class AccessService:
    def __init__(
        self,
        db: Database,
        public_url: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._public_url = public_url.rstrip("/")
        self._clock = clock
        self._sessions = Batched(self._find_sessions)
        """Session lookups of concurrent callers (a reconnect storm), one query per batch."""

    def invite_url(self, token: str) -> str:
        """The link handed to a seat. The token sits in the fragment, which browsers never send
        to a server or put in a Referer."""
        return f"{self._public_url}/join#{token}"

    async def redeem(self, invite_token: str) -> tuple[str, Grant]:
        """A new session token for the seat the invite is for; Unauthenticated otherwise."""
        if not invite_token.startswith(INVITE_PREFIX):
            raise Unauthenticated("not an invite token")
        session = new_token(SESSION_PREFIX)
        async with self._db.write_engine.begin() as conn:
            grant = await access_store.find_invite(conn, token_hash(invite_token))
            if grant is None:
                raise Unauthenticated("this invite link is unknown or has been rotated")
            await access_store.add_session(conn, token_hash(session), grant, self._clock())
        return session, grant

    async def authenticate(self, session_token: str) -> Grant:
        if not session_token.startswith(SESSION_PREFIX):
            raise Unauthenticated("not a session token")
        grant = await self._sessions.get(token_hash(session_token))
        if grant is None:
            raise Unauthenticated("this session is unknown or was revoked")
        return grant

    async def _find_sessions(self, hashes: Sequence[str]) -> dict[str, Grant | None]:
        async with self._db.engine.connect() as conn:
            found = await access_store.find_sessions(conn, hashes)
        return {h: found.get(h) for h in hashes}

    async def issue_invites(self, room_id: str, seat_ids: list[str]) -> dict[str, str]:
        """Fresh invite tokens for seats of a new room; seat id -> token."""
        tokens = {seat: new_token(INVITE_PREFIX) for seat in seat_ids}
        async with self._db.write_engine.begin() as conn:
            await access_store.add_invites(
                conn, room_id, {s: token_hash(t) for s, t in tokens.items()}, self._clock()
            )
        return tokens

    async def rotate(self, room_id: str, seat_id: str) -> str:
        """Revoke the seat's invite and every session made from it; returns the new token."""
        token = new_token(INVITE_PREFIX)
        now = self._clock()
        async with self._db.write_engine.begin() as conn:
            await access_store.revoke_seat(conn, room_id, seat_id, now)
            await access_store.add_invites(conn, room_id, {seat_id: token_hash(token)}, now)
        return token

    async def revoke(self, room_id: str, seat_id: str) -> int:
        """Revoke the seat's invite and every session made from it, issuing no new link;
        returns how many invites were live."""
        async with self._db.write_engine.begin() as conn:
            return await access_store.revoke_seat(conn, room_id, seat_id, self._clock())

    async def end_sessions(self, session_tokens: list[str]) -> int:
        """Sign out: these sessions stop working at once (the caller closes the sockets greeted
        with them). Returns how many were live."""
        hashes = [token_hash(t) for t in session_tokens if t.startswith(SESSION_PREFIX)]
        async with self._db.write_engine.begin() as conn:
            return await access_store.revoke_sessions(conn, hashes, self._clock())

    async def live_sessions(self, session_tokens: list[str]) -> list[tuple[str, Grant]]:
        """The tokens that still work, with what each grants; rotated, revoked or signed-out
        ones are left out (a browser's cookie may hold a few of those)."""
        hashes = [(t, token_hash(t)) for t in session_tokens if t.startswith(SESSION_PREFIX)]
        if not hashes:
            return []
        found = await self._find_sessions(list({h for _, h in hashes}))  # one query for all
        return [(t, grant) for t, h in hashes if (grant := found[h]) is not None]
