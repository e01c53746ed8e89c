"""``connect()``: the one way in. Await it, or use it with ``async with``."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from types import TracebackType
from typing import Any

from client.session import Options, Session


class Connecting:
    """What :func:`connect` returns: awaitable (a session you close) or an async context."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def _open(self) -> Session:
        await self.session.open()
        return self.session

    def __await__(self) -> Generator[Any, None, Session]:
        return self._open().__await__()

    async def __aenter__(self) -> Session:
        return await self._open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.session.close()


def connect(
    url: str,
    token: str | Sequence[tuple[str, int]],
    *,
    after: int = 0,
    reconnect: bool = True,
    backoff_initial: float = 0.5,
    backoff_max: float = 30.0,
    backoff_factor: float = 2.0,
    max_attempts: int | None = None,
    open_timeout: float = 10.0,
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
    verify: bool = True,
    checkpoint_key: str | None = None,
) -> Connecting:
    """Open a session to a Parley server for one or more seats::

        async with connect("http://127.0.0.1:8080", token) as session:
            async for event in session.events():
                ...

    Opening makes one attempt: if the server cannot be reached or refuses the token, it raises
    at once. Once open, the session reconnects by itself and resumes each room after the last
    event received, with exponential backoff between attempts.

    Args:
        url: the server's base URL (``http://host:port``, ``https://...``, ``ws://...``); the
            WebSocket endpoint ``/api/v1/ws`` is added unless the URL ends with it.
        token: a session token from :func:`client.redeem`, or ``(token, after)`` pairs for
            several seats (at most 16, one per room).
        after: with a single token, the last seq already held for its room (default 0:
            replay the whole visible log).
        reconnect: reconnect when the connection drops for a reason worth retrying
            (:func:`client.should_retry`). Default True.
        backoff_initial: seconds before the first reconnection attempt, jittered to between
            half and all of it. Default 0.5.
        backoff_max: the longest wait between attempts. Default 30.0.
        backoff_factor: how much the wait grows after each failed attempt. Default 2.0.
        max_attempts: reconnection attempts in a row before the session fails with
            :class:`~client.errors.ConnectionFailed`; None (the default) tries until closed.
        open_timeout: seconds for the WebSocket handshake, and again for ``welcome``.
            Default 10.0.
        ping_interval, ping_timeout: WebSocket keepalive pings (seconds; None turns them
            off): a connection that stops answering is dropped and resumed. Default 20.0 each.
        verify: check each full event's leaf hash against its record (failing the session
            with :class:`~client.errors.VerificationError` on a mismatch), and every room's
            log against the server's signed checkpoints as they appear (failing it with
            :class:`~client.errors.ProofError`); see :meth:`Session.check_log`. Default True.
        checkpoint_key: the note-verifier key checkpoints must be signed by. None (the
            default) trusts the key the server serves the first time it is needed; pin the
            key obtained earlier or out of band to trust the server less.
    """
    if isinstance(token, str):
        seats: list[tuple[str, int]] = [(token, after)]
    else:
        if after:
            raise ValueError(
                "with several seats, give each one's after in the (token, after) pairs"
            )
        seats = [(t, a) for t, a in token]
    for name, value in (("backoff_initial", backoff_initial), ("backoff_max", backoff_max)):
        if value < 0:
            raise ValueError(f"{name} must not be negative")
    if backoff_factor < 1:
        raise ValueError("backoff_factor must be at least 1")
    if max_attempts is not None and max_attempts < 0:
        raise ValueError("max_attempts must not be negative")
    options = Options(
        reconnect=reconnect,
        backoff_initial=backoff_initial,
        backoff_max=backoff_max,
        backoff_factor=backoff_factor,
        max_attempts=max_attempts,
        open_timeout=open_timeout,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        verify=verify,
        checkpoint_key=checkpoint_key,
    )
    return Connecting(Session(url, seats, options))
