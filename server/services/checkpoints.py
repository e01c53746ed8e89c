"""Signed checkpoints of rooms' logs, and the proofs that tie events to them (DESIGN §5).

A checkpoint is signed at each stage change (inside the transaction that appends the
``stage_changed`` event, through the log writer's transaction hook, at the size that ends with
that event), on demand, and for every export. Before signing, the service checks that the
stored tree extends the room's latest stored checkpoint (an RFC 9162 consistency proof read
from the stored nodes), so it never signs two checkpoints that contradict each other: a log
rewritten behind the application's back makes signing fail with :class:`LogDiverged` instead.

Proofs, tree heads and leaf ranges are read from the stored Merkle nodes, never recomputed:
each needs O(log n) stored hashes. They carry hashes only, so they reveal nothing a seat's own
export does not (a hidden event stands in both as its seq and leaf hash).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from server.domain.errors import Conflict, Invalid, NotFound
from server.domain.events import EventKind
from server.ledger.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from server.ledger.merkle import (
    Frontier,
    MerkleError,
    NodeGetter,
    consistency_proof,
    consistency_proof_plan,
    frontier_nodes,
    inclusion_proof,
    inclusion_proof_plan,
    range_nodes,
    root_at,
    root_from_frontier,
    verify_consistency,
)
from server.services.signing import origin_for
from server.storage import checkpoint_store as store
from server.storage.checkpoint_store import StoredCheckpoint
from server.storage.database import Database
from server.storage.errors import RoomNotFound
from server.storage.records import StoredEvent

if TYPE_CHECKING:  # the statements are storage's; this module only hands the connection on
    from sqlalchemy.engine import Connection

STAGE_CHANGE, ON_DEMAND, EXPORT = "stage_change", "on_demand", "export"
MAX_LEAVES = 1000
"""The most leaf hashes one :meth:`CheckpointService.leaves` call returns."""


class LogDiverged(Conflict):
    """The stored tree no longer extends a checkpoint signed earlier: the log was rewritten
    behind the application's back. Nothing is signed."""


@dataclass(frozen=True, slots=True)
class InclusionProof:
    seq: int
    size: int
    leaf_hash: bytes
    path: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class LeafRange:
    """Leaf hashes after ``after``, with the frontier of the tree of the first ``after`` leaves,
    so a reader can fold the leaves on and compute the root at any size they reach."""

    after: int
    frontier: tuple[bytes, ...]
    leaves: tuple[tuple[int, bytes], ...]
    size: int
    """The room's size when read."""


def _getter(found: dict[tuple[int, int], bytes], room_id: str) -> NodeGetter:
    def get(level: int, index: int) -> bytes:
        try:
            return found[level, index]
        except KeyError:
            raise LogDiverged(
                f"room {room_id}: the stored tree lacks node ({level}, {index})"
            ) from None

    return get


def _nodes(conn: Connection, room_id: str, ranges: Iterable[tuple[int, int]]) -> NodeGetter:
    """Read, in one go, every stored node the given leaf ranges fold from."""
    wanted = {node for start, end in ranges for node in range_nodes(start, end)}
    return _getter(store.node_hashes(conn, room_id, wanted), room_id)


class CheckpointService:
    """Signs, stores and reads checkpoints; serves proofs from the stored tree."""

    def __init__(
        self,
        db: Database,
        signer: NoteSigner,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._signer = signer
        self._clock = clock

    @property
    def verifier_key(self) -> str:
        """The public key in note-verifier form: ``<name>+<key id>+<base64 key>``."""
        return self._signer.verifier_key

    def origin(self, room_id: str) -> str:
        return origin_for(self._signer.name, room_id)

    # -- signing ---------------------------------------------------------------------------

    async def sign(self, room_id: str, reason: str) -> tuple[StoredCheckpoint, bool]:
        """A checkpoint at the room's current size: the one stored for that size if there is
        one (``False``), else a new one (``True``).

        Raises:
            RoomNotFound: no such room.
            LogDiverged: the stored tree does not extend the latest stored checkpoint.
        """
        async with self._db.write_engine.begin() as conn:
            return await conn.run_sync(self._sign_current, room_id, reason)

    async def sign_stage_changes(self, room_id: str, through: int) -> list[StoredCheckpoint]:
        """Sign the checkpoint of every stage change up to ``through`` that has none (one
        appended by a process without the transaction hook); returns those signed."""
        async with self._db.write_engine.begin() as conn:
            return await conn.run_sync(self._sign_missing_stages, room_id, through)

    def stage_hook(self, conn: Connection, committed: Sequence[StoredEvent]) -> None:
        """Log writer transaction hook: a checkpoint ending at each ``stage_changed`` event."""
        for event in committed:
            if event.kind == EventKind.STAGE_CHANGED:
                self._sign_at(conn, event.room_id, event.seq, STAGE_CHANGE)

    def _sign_current(
        self, conn: Connection, room_id: str, reason: str
    ) -> tuple[StoredCheckpoint, bool]:
        # The latest checkpoint is read before the size, so the size is never below it.
        latest = store.latest_checkpoint(conn, room_id)
        head = store.tree_head(conn, room_id)
        if head is None:
            raise RoomNotFound(room_id)
        root = root_from_frontier(Frontier(head.size, head.frontier))
        return self._sign(conn, room_id, head.size, root, reason, latest)

    def _sign_missing_stages(
        self, conn: Connection, room_id: str, through: int
    ) -> list[StoredCheckpoint]:
        have = {c.size for c in store.list_checkpoints(conn, room_id, through=through)}
        signed = []
        for seq in store.stage_change_seqs(conn, room_id, through):
            if seq not in have:
                checkpoint, created = self._sign_at(conn, room_id, seq, STAGE_CHANGE)
                if created:
                    signed.append(checkpoint)
        return signed

    def _sign_at(
        self, conn: Connection, room_id: str, size: int, reason: str
    ) -> tuple[StoredCheckpoint, bool]:
        latest = store.latest_checkpoint(conn, room_id)
        root = root_at(size, _nodes(conn, room_id, [(0, size)]))
        return self._sign(conn, room_id, size, root, reason, latest)

    def _sign(
        self,
        conn: Connection,
        room_id: str,
        size: int,
        root: bytes,
        reason: str,
        latest: StoredCheckpoint | None,
    ) -> tuple[StoredCheckpoint, bool]:
        if size == 0:
            raise Conflict("the room's log is empty; there is nothing to sign")
        if latest is not None:
            self._check_consistent(conn, room_id, size, root, latest)
            if latest.size == size:
                return latest, False
        note = sign_checkpoint(self._signer, Checkpoint(self.origin(room_id), size, root))
        checkpoint = StoredCheckpoint(room_id, size, root, note, reason, self._clock())
        if store.add_checkpoint(conn, checkpoint):
            return checkpoint, True
        stored = store.get_checkpoint(conn, room_id, size)  # signed meanwhile by someone else
        if stored is None or stored.root != root:
            raise LogDiverged(f"room {room_id}: a checkpoint of size {size} disagrees")
        return stored, False

    def _check_consistent(
        self, conn: Connection, room_id: str, size: int, root: bytes, other: StoredCheckpoint
    ) -> None:
        """Raise LogDiverged unless the tree of ``size`` with ``root`` and ``other`` agree."""
        old, new = sorted((size, other.size))
        plan = consistency_proof_plan(old, new)
        get = _nodes(conn, room_id, plan)
        proof = consistency_proof(old, new, get)
        old_root, new_root = (root, other.root) if size <= other.size else (other.root, root)
        try:
            verify_consistency(old, new, old_root, new_root, proof)
        except MerkleError as exc:
            raise LogDiverged(
                f"room {room_id}: the stored log does not match the checkpoint of size "
                f"{other.size} signed at {other.signed_at.isoformat()} ({exc}); "
                "it was changed behind the application's back, so nothing is signed"
            ) from None

    # -- reading ---------------------------------------------------------------------------

    async def latest(self, room_id: str) -> StoredCheckpoint | None:
        async with self._db.engine.connect() as conn:
            return await conn.run_sync(store.latest_checkpoint, room_id)

    async def list_checkpoints(
        self, room_id: str, *, through: int | None = None
    ) -> list[StoredCheckpoint]:
        async with self._db.engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: store.list_checkpoints(sync, room_id, through=through)
            )

    async def tree_head(self, room_id: str, size: int | None = None) -> tuple[int, bytes]:
        """(size, root) of the room's tree now, or at ``size``; read, never recomputed."""
        async with self._db.engine.connect() as conn:
            return await conn.run_sync(self._tree_head, room_id, size)

    def _tree_head(self, conn: Connection, room_id: str, size: int | None) -> tuple[int, bytes]:
        head = self._head(conn, room_id)
        if size is None or size == head.size:
            return head.size, root_from_frontier(Frontier(head.size, head.frontier))
        self._check_size(size, head.size, "size", low=0)
        return size, root_at(size, _nodes(conn, room_id, [(0, size)]))

    async def inclusion(self, room_id: str, seq: int, size: int) -> InclusionProof:
        """The audit path of event ``seq`` in the tree of the room's first ``size`` events.

        Raises:
            Invalid: unless ``1 <= seq <= size <= the room's size`` (``field`` names which).
        """
        async with self._db.engine.connect() as conn:
            return await conn.run_sync(self._inclusion, room_id, seq, size)

    def _inclusion(self, conn: Connection, room_id: str, seq: int, size: int) -> InclusionProof:
        head = self._head(conn, room_id)
        self._check_size(size, head.size, "size", low=1)
        if not 1 <= seq <= size:
            raise Invalid(f"seq must be within 1..{size} (the tree's size)", field="seq")
        plan = inclusion_proof_plan(seq - 1, size)
        get = _nodes(conn, room_id, [*plan, (seq - 1, seq)])
        path = inclusion_proof(seq - 1, size, get)
        return InclusionProof(seq, size, get(0, seq - 1), tuple(path))

    async def consistency(self, room_id: str, old: int, new: int) -> tuple[bytes, ...]:
        """The RFC 9162 consistency proof from the room's first ``old`` events to ``new``.

        Raises:
            Invalid: unless ``0 <= old <= new <= the room's size``.
        """
        async with self._db.engine.connect() as conn:
            return await conn.run_sync(self._consistency, room_id, old, new)

    def _consistency(self, conn: Connection, room_id: str, old: int, new: int) -> tuple[bytes, ...]:
        head = self._head(conn, room_id)
        self._check_size(new, head.size, "to", low=0)
        if not 0 <= old <= new:
            raise Invalid(f"from must be within 0..{new} (to)", field="from")
        get = _nodes(conn, room_id, consistency_proof_plan(old, new))
        return tuple(consistency_proof(old, new, get))

    async def leaves(self, room_id: str, after: int, limit: int = MAX_LEAVES) -> LeafRange:
        """Leaf hashes of the events after ``after`` (at most ``limit``), every event's whatever
        the seat may see of it, with the frontier of the tree of the first ``after`` events."""
        async with self._db.engine.connect() as conn:
            return await conn.run_sync(self._leaves, room_id, after, limit)

    def _leaves(self, conn: Connection, room_id: str, after: int, limit: int) -> LeafRange:
        head = self._head(conn, room_id)
        self._check_size(after, head.size, "after", low=0)
        get = _nodes(conn, room_id, [(0, after)])
        frontier = tuple(get(level, index) for level, index in frontier_nodes(after))
        leaves = store.leaf_range(conn, room_id, after, min(limit, MAX_LEAVES))
        return LeafRange(after, frontier, tuple(leaves), head.size)

    @staticmethod
    def _head(conn: Connection, room_id: str) -> store.TreeHead:
        head = store.tree_head(conn, room_id)
        if head is None:
            raise NotFound(f"no room {room_id!r}", field="room")
        return head

    @staticmethod
    def _check_size(value: int, size: int, field: str, *, low: int) -> None:
        if not low <= value <= size:
            raise Invalid(
                f"{field} must be within {low}..{size} (the room's log has {size} events)",
                field=field,
            )
