"""The ledger as a seat may read it: signed checkpoints, proofs, leaf hashes and its own export.

Proofs and leaf ranges carry seqs and hashes only, never a record: a hidden event stands in them
as it stands in the seat's export, as a bare seq and leaf hash (every checkpoint covers the whole
room). Only the seat's own room answers; another room is :class:`NotFound`.
"""

from __future__ import annotations

from protocol.ledger import (
    CheckpointBody,
    CheckpointList,
    ConsistencyProofBody,
    InclusionProofBody,
    Leaf,
    LeavesBody,
)
from server.domain.commands import allowed
from server.domain.errors import Invalid, NotFound
from server.domain.events import format_timestamp
from server.domain.grants import Grant
from server.domain.permissions import Action
from server.services.audit import AuditService, Export
from server.services.checkpoints import MAX_LEAVES, ON_DEMAND, CheckpointService
from server.services.views.room import RoomViews, viewer_of
from server.storage.checkpoint_store import StoredCheckpoint


def checkpoint_body(checkpoint: StoredCheckpoint, origin: str) -> CheckpointBody:
    return CheckpointBody(
        room=checkpoint.room_id,
        origin=origin,
        size=checkpoint.size,
        root=checkpoint.root.hex(),
        note=checkpoint.note,
        reason=checkpoint.reason,
        signed_at=format_timestamp(checkpoint.signed_at),
    )


class LedgerViews:
    def __init__(
        self, checkpoints: CheckpointService, rooms: RoomViews, audit: AuditService
    ) -> None:
        self._checkpoints = checkpoints
        self._rooms = rooms
        self._audit = audit

    @property
    def verifier_key(self) -> str:
        """The public key that signs every checkpoint, in note-verifier form."""
        return self._checkpoints.verifier_key

    async def checkpoints(self, grant: Grant, room_id: str) -> CheckpointList:
        state, _ = await self._rooms.seat(grant, room_id)
        origin = self._checkpoints.origin(state.room_id)
        found = await self._checkpoints.list_checkpoints(state.room_id)
        return CheckpointList(checkpoints=[checkpoint_body(c, origin) for c in found])

    async def latest(self, grant: Grant, room_id: str) -> CheckpointBody:
        state, _ = await self._rooms.seat(grant, room_id)
        latest = await self._checkpoints.latest(state.room_id)
        if latest is None:
            raise NotFound("no checkpoint of this room has been signed yet", field="checkpoint")
        return checkpoint_body(latest, self._checkpoints.origin(state.room_id))

    async def sign(self, grant: Grant, room_id: str) -> tuple[CheckpointBody, bool]:
        """Sign a checkpoint at the room's current size (a facilitator's right); (body, new)."""
        state, seat = await self._rooms.seat(grant, room_id)
        allowed(state, seat, Action.SIGN_CHECKPOINT, None, what="sign checkpoints")
        checkpoint, created = await self._checkpoints.sign(state.room_id, ON_DEMAND)
        return checkpoint_body(checkpoint, self._checkpoints.origin(state.room_id)), created

    async def inclusion(
        self, grant: Grant, room_id: str, seq: int, size: int
    ) -> InclusionProofBody:
        state, _ = await self._rooms.seat(grant, room_id)
        proof = await self._checkpoints.inclusion(state.room_id, seq, size)
        return InclusionProofBody(
            room=state.room_id,
            seq=proof.seq,
            size=proof.size,
            leaf_hash=proof.leaf_hash.hex(),
            proof=[h.hex() for h in proof.path],
        )

    async def consistency(
        self, grant: Grant, room_id: str, old: int, new: int
    ) -> ConsistencyProofBody:
        state, _ = await self._rooms.seat(grant, room_id)
        proof = await self._checkpoints.consistency(state.room_id, old, new)
        return ConsistencyProofBody(
            room=state.room_id, from_=old, to=new, proof=[h.hex() for h in proof]
        )

    async def leaves(self, grant: Grant, room_id: str, after: int, limit: int) -> LeavesBody:
        state, _ = await self._rooms.seat(grant, room_id)
        if not 1 <= limit <= MAX_LEAVES:
            raise Invalid(f"limit must be within 1..{MAX_LEAVES}", field="limit")
        found = await self._checkpoints.leaves(state.room_id, after, limit)
        return LeavesBody(
            room=state.room_id,
            after=found.after,
            size=found.size,
            frontier=[h.hex() for h in found.frontier],
            leaves=[Leaf(seq=seq, leaf_hash=digest.hex()) for seq, digest in found.leaves],
        )

    async def export(self, grant: Grant, room_id: str) -> Export:
        """The seat's own view of the log as a verifiable export (its lines are read later)."""
        state, seat = await self._rooms.seat(grant, room_id)
        return await self._audit.prepare(
            state.room_id,
            viewer_of(seat),
            viewer_name=f"the view of seat {seat.id} ({seat.role.value})",
        )
