"""Turning an invite link into a session token, over the HTTP API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from client.errors import InviteRefused, wire_code
from client.urls import REDEEM_PATH, split_invite

REDEEM_TIMEOUT = 30.0
"""Seconds :func:`redeem` waits for the server."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What redeeming an invite gives: a session token for one seat of one room.

    Attributes:
        url: the server's base URL (pass it to :func:`client.connect`).
        token: the session token (``ps_...``); keep it secret, like a password.
        room: the room's id.
        seat: the seat's id.
        role, party, name, head: the seat as the server describes it.
    """

    url: str
    token: str
    room: str
    seat: str
    role: str
    party: str | None
    name: str
    head: bool


async def redeem(invite_url: str) -> Credentials:
    """Redeem an invite link (``http://host:port/join#pi_...``) for a session token.

    The request gives up after :data:`REDEEM_TIMEOUT` seconds; wrap the call in
    ``asyncio.timeout()`` to wait less.

    An invite may be redeemed any number of times until it is rotated; each redemption makes a
    new session, and rotating the invite revokes them all.

    Raises:
        ValueError: ``invite_url`` is not an invite link.
        InviteRefused: the server refused it (``unauthenticated``: unknown or rotated invite).
        aiohttp.ClientError, TimeoutError: the server could not be reached.
    """
    base, token = split_invite(invite_url)
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REDEEM_TIMEOUT)) as http,
        http.post(base + REDEEM_PATH, json={"token": token}) as response,
    ):
        try:
            body: Any = await response.json(content_type=None)
        except ValueError:
            body = None
    if response.status != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        raise InviteRefused(
            wire_code(str(error.get("code", "bad_request"))),
            str(error.get("message", response.reason or "unexpected answer")),
            status=response.status,
            field=error.get("field"),
        )
    seat = body["seat"]
    return Credentials(
        url=base,
        token=body["token"],
        room=body["room"],
        seat=seat["id"],
        role=seat["role"],
        party=seat["party"],
        name=seat["name"],
        head=seat["head"],
    )
