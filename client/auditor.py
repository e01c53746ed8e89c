"""The ledger's HTTP API for one seat, and the session's background checks built on it.

:class:`Auditor` fetches checkpoints, proofs and leaf hashes and checks each answer with
:mod:`client.ledger` before returning it; it can also sign a checkpoint (facilitators) and
download the seat's verifiable export. :class:`LogChecks` is what a session with
``verify=True`` runs: every room's received events are checked against the room's signed
checkpoints as they appear, and a failure ends the session with
:class:`~client.errors.ProofError`.

The trusted key is the one given (``checkpoint_key``), or else the one the server serves at
``GET /api/v1/ledger/key`` the first time it is needed, then kept: trust on first use. Pin it
to remove the server from what you trust.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel, ValidationError

from client.errors import CommandError, ProofError, ProtocolError, command_error
from client.ledger import (
    LogVerifier,
    SignedCheckpoint,
    TrustedKey,
    open_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from client.models import Event
from client.urls import http_base
from protocol.ledger import (
    CheckpointBody,
    CheckpointList,
    ConsistencyProofBody,
    InclusionProofBody,
    LeavesBody,
)

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
PAGE = 1000
STAGE_CHANGED = "stage_changed"


class Auditor:
    """The ledger API of a Parley server, as one seat (its session token) sees it.

    Args:
        url: the server's base URL (or its WebSocket URL).
        token: the seat's session token.
        key: the note-verifier key to trust; None fetches the server's once (see the module).
        timeout: seconds per request.
    """

    def __init__(self, url: str, token: str, *, key: str | None = None, timeout: float = 30.0):
        self.base = http_base(url)
        self._token = token
        self._key = TrustedKey.parse(key) if key is not None else None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._http: aiohttp.ClientSession | None = None
        self._closed = False

    async def __aenter__(self) -> Auditor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        self._closed = True
        if self._http is not None:
            await self._http.close()
            self._http = None

    # -- requests --------------------------------------------------------------------------

    def _session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this auditor is closed")
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=self._timeout, headers={"Authorization": f"Bearer {self._token}"}
            )
        return self._http

    async def _get(
        self, path: str, model: type[M], *, method: str = "GET", **query: int
    ) -> tuple[int, M]:
        url = f"{self.base}/api/v1/{path}"
        params = {name.rstrip("_"): str(value) for name, value in query.items()}
        async with self._session().request(method, url, params=params) as response:
            body: Any = await response.json(content_type=None)
            status = response.status
        if status >= 400:
            raise _refusal(body, status)
        try:
            return status, model.model_validate(body)
        except ValidationError as exc:
            raise ProtocolError(f"unreadable answer from {url}: {exc.errors()[0]['msg']}") from None

    async def trusted_key(self) -> TrustedKey:
        """The key checkpoints must be signed by (fetched once if none was given)."""
        if self._key is None:
            async with self._session().get(f"{self.base}/api/v1/ledger/key") as response:
                text = await response.text()
                if response.status != 200:
                    raise ProtocolError(f"the server's key: HTTP {response.status}")
            self._key = TrustedKey.parse(text)
        return self._key

    async def _opened(self, room: str, body: CheckpointBody) -> SignedCheckpoint:
        checkpoint = open_checkpoint(body.note, await self.trusted_key(), room=room)
        if (checkpoint.size, checkpoint.root.hex(), checkpoint.origin) != (
            body.size,
            body.root,
            body.origin,
        ):
            raise ProofError(room, "the checkpoint's fields disagree with its signed note")
        return checkpoint

    # -- checkpoints -----------------------------------------------------------------------

    async def latest_checkpoint(self, room: str) -> SignedCheckpoint | None:
        """The room's largest signed checkpoint, signature checked; None if none is signed."""
        try:
            _, body = await self._get(f"rooms/{room}/checkpoints/latest", CheckpointBody)
        except CommandError as exc:
            if exc.field == "checkpoint":
                return None
            raise
        return await self._opened(room, body)

    async def checkpoints(self, room: str) -> list[SignedCheckpoint]:
        """Every checkpoint of the room, by size, each signature checked."""
        _, found = await self._get(f"rooms/{room}/checkpoints", CheckpointList)
        return [await self._opened(room, body) for body in found.checkpoints]

    async def sign_checkpoint(self, room: str) -> SignedCheckpoint:
        """Have the server sign a checkpoint at the room's current size (facilitators)."""
        _, body = await self._get(f"rooms/{room}/checkpoints", CheckpointBody, method="POST")
        return await self._opened(room, body)

    # -- proofs ----------------------------------------------------------------------------

    async def check_inclusion(
        self, room: str, seq: int, leaf_hash: bytes, checkpoint: SignedCheckpoint
    ) -> None:
        """Check that event ``seq`` with ``leaf_hash`` is in the log ``checkpoint`` signs."""
        _, proof = await self._get(
            f"rooms/{room}/proofs/inclusion", InclusionProofBody, seq=seq, size=checkpoint.size
        )
        if proof.leaf_hash != leaf_hash.hex():
            raise ProofError(room, f"the server's leaf hash of event {seq} is not the one given")
        path = [bytes.fromhex(h) for h in proof.proof]
        try:
            verify_inclusion(seq - 1, checkpoint.size, leaf_hash, path, checkpoint.root)
        except ProofError as exc:
            raise ProofError(room, exc.reason) from None

    async def check_consistency(
        self, room: str, old: SignedCheckpoint, new: SignedCheckpoint
    ) -> None:
        """Check that ``new`` extends ``old`` (in either order of size)."""
        first, second = sorted((old, new), key=lambda c: c.size)
        _, proof = await self._get(
            f"rooms/{room}/proofs/consistency",
            ConsistencyProofBody,
            from_=first.size,
            to=second.size,
        )
        path = [bytes.fromhex(h) for h in proof.proof]
        try:
            verify_consistency(first.size, second.size, first.root, second.root, path)
        except ProofError as exc:
            raise ProofError(room, exc.reason) from None

    async def leaves(
        self, room: str, after: int, through: int
    ) -> tuple[list[bytes], list[tuple[int, bytes]]]:
        """The frontier at ``after`` and the leaf hashes of events ``after + 1 .. through``."""
        frontier: list[bytes] | None = None
        found: list[tuple[int, bytes]] = []
        cursor = after
        while cursor < through:
            _, page = await self._get(
                f"rooms/{room}/leaves", LeavesBody, after=cursor, limit=min(PAGE, through - cursor)
            )
            if frontier is None:
                frontier = [bytes.fromhex(h) for h in page.frontier]
            if not page.leaves:
                break
            found += [(leaf.seq, bytes.fromhex(leaf.leaf_hash)) for leaf in page.leaves]
            cursor = page.leaves[-1].seq
        return frontier or [], found[: through - after]

    async def verify(self, log: LogVerifier) -> SignedCheckpoint | None:
        """Check ``log`` against the room's latest checkpoint; return that checkpoint (None if
        none is signed yet).

        Raises:
            ProofError: a signature, a proof or the log's root does not verify.
        """
        room = log.room
        latest = await self.latest_checkpoint(room)
        if latest is None:
            return None
        verified = log.checkpoint
        if latest.size <= log.size:
            if verified is not None:  # an older one: it must agree with what was verified
                await self.check_consistency(room, latest, verified)
            return latest
        frontier, found = await self.leaves(room, log.size, latest.size)
        log.extend(latest, found, frontier if log.needs_frontier else None)
        if verified is not None:
            await self.check_consistency(room, verified, latest)
        return latest

    # -- exports ---------------------------------------------------------------------------

    async def download_export(self, room: str, path: str | Path) -> Path:
        """Save the seat's verifiable export of ``room`` (a zip) to ``path``."""
        target = Path(path)
        url = f"{self.base}/api/v1/rooms/{room}/export"
        async with self._session().get(url) as response:
            if response.status != 200:
                raise _refusal(await response.json(content_type=None), response.status)
            file = await asyncio.to_thread(target.open, "wb")
            try:
                async for chunk in response.content.iter_chunked(1 << 16):
                    file.write(chunk)
            finally:
                file.close()
        return target


def _refusal(body: Any, status: int) -> CommandError:
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    return command_error(
        str(error.get("code", "bad_request")),
        str(error.get("message", f"HTTP {status}")),
        field=error.get("field"),
    )


class LogChecks:
    """A session's checks of every room's log against its signed checkpoints.

    A room is checked when its replay is complete, when a stage change arrives (the server
    signs a checkpoint at each) and on request. Checks run one at a time in a background task;
    a network failure only postpones a check, a :class:`~client.errors.ProofError` ends the
    session. Events still on their way when their checkpoint is checked are compared, as they
    arrive, with the leaf hashes it covered.
    """

    def __init__(self, url: str, key: str | None, on_failure: Callable[[ProofError], None]) -> None:
        self._url = url
        self._key = key
        self._on_failure = on_failure
        self._auditors: dict[str, Auditor] = {}
        self._logs: dict[str, LogVerifier] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self, rooms: dict[str, tuple[str, int]]) -> None:
        """Follow ``rooms``: room -> (session token, seq the stream starts after)."""
        for room, (token, after) in rooms.items():
            if room not in self._logs:
                self._auditors[room] = Auditor(self._url, token, key=self._key)
                self._logs[room] = LogVerifier(room, after)
                self._locks[room] = asyncio.Lock()
        if self._task is None:
            self._task = asyncio.create_task(self._work(), name="parley-log-checks")

    @property
    def verified(self) -> dict[str, int]:
        return {room: log.size for room, log in self._logs.items() if log.checkpoint}

    def received(self, event: Event) -> None:
        """Note an event's leaf hash; a stage change schedules a check (its checkpoint exists).

        Raises:
            ProofError: the event contradicts a checkpoint checked already.
        """
        log = self._logs.get(event.room)
        if log is None:
            return
        log.received(event.seq, bytes.fromhex(event.leaf_hash))
        if event.kind == STAGE_CHANGED:
            self._queue.put_nowait(event.room)

    def synced(self, room: str) -> None:
        self._queue.put_nowait(room)

    async def check(self, room: str) -> SignedCheckpoint | None:
        """Check ``room`` now; the latest checkpoint, or None if none is signed yet."""
        if room not in self._logs:
            raise ValueError(f"this session holds no seat in room {room!r}")
        async with self._locks[room]:
            return await self._auditors[room].verify(self._logs[room])

    async def _work(self) -> None:
        while True:
            room = await self._queue.get()
            try:
                await self.check(room)
            except ProofError as exc:
                self._on_failure(exc)
                return
            except (aiohttp.ClientError, TimeoutError, CommandError, ProtocolError) as exc:
                log.info("checking room %s against its checkpoints postponed: %r", room, exc)
            except Exception:  # a bug: keep checking the other rooms, and say so
                log.exception("checking room %s against its checkpoints failed", room)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for auditor in self._auditors.values():
            await auditor.close()
