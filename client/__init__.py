"""The Python client of Parley's WebSocket protocol (docs/client.md is its guide).

::

    from client import connect, redeem

    credentials = await redeem("http://127.0.0.1:8080/join#pi_...")
    async with connect(credentials.url, credentials.token) as session:
        await session.post_message(credentials.room, "plenary", "Good morning.")
        async for event in session.events():
            print(event.seq, event.kind, event.body)
"""

from __future__ import annotations

from client.auditor import Auditor
from client.connection import Connecting, connect
from client.errors import (
    AuthenticationFailed,
    CommandError,
    Conflict,
    ConnectionClosed,
    ConnectionFailed,
    Forbidden,
    HelloRefused,
    InternalServerError,
    Invalid,
    InviteRefused,
    NotFound,
    ParleyError,
    ProofError,
    ProtocolError,
    RateLimited,
    SeatRevoked,
    StageClosed,
    TooLong,
    Unavailable,
    VerificationError,
)
from client.invites import Credentials, redeem
from client.ledger import SignedCheckpoint
from client.models import Ack, Event, Seat
from client.retry import backoff_delay, should_retry
from client.session import Session

__all__ = [
    "Ack",
    "Auditor",
    "AuthenticationFailed",
    "CommandError",
    "Conflict",
    "Connecting",
    "ConnectionClosed",
    "ConnectionFailed",
    "Credentials",
    "Event",
    "Forbidden",
    "HelloRefused",
    "InternalServerError",
    "Invalid",
    "InviteRefused",
    "NotFound",
    "ParleyError",
    "ProofError",
    "ProtocolError",
    "RateLimited",
    "Seat",
    "SeatRevoked",
    "Session",
    "SignedCheckpoint",
    "StageClosed",
    "TooLong",
    "Unavailable",
    "VerificationError",
    "backoff_delay",
    "connect",
    "redeem",
    "should_retry",
]
