"""Verifiable exports (DESIGN §5): a fresh signed checkpoint, then a view's lines of the log.

Every export signs a checkpoint at the room's current size first (and the checkpoint of any
stage change that lacks one), then reads the log up to that size. Each event becomes the line
the viewer may have, judged by the one visibility function against the room's current state:
the record itself (``full``), a sealed line with its kind, stage and time (``sealed``), or a
bare sealed line with only its seq and leaf hash (``hidden``: every checkpoint covers the
whole room, so the export must account for every event). The full view (``viewer=None``,
``parley audit export``) has every record.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from server.domain.events import format_timestamp
from server.domain.room import RoomState
from server.domain.visibility import FULL, SEALED, Viewer, Visibility, visibility
from server.ledger.export import readme, sealed_line
from server.services.checkpoints import EXPORT, CheckpointService
from server.services.states import RoomStates
from server.storage.checkpoint_store import StoredCheckpoint
from server.storage.database import Database
from server.storage.log_reader import read_events
from server.storage.records import StoredEvent

PAGE = 1000


@dataclass(frozen=True, slots=True)
class Export:
    """An export being made: everything but the lines, which :meth:`AuditService.lines` reads."""

    room_id: str
    origin: str
    size: int
    verifier_key: str
    checkpoints: tuple[StoredCheckpoint, ...]
    """Every stored checkpoint up to ``size``, by size; the last is of ``size``."""
    viewer: Viewer | None
    viewer_name: str
    """Whose view it is, for the README (``the full view``, ``the view of seat observer``)."""


@dataclass(slots=True)
class Counts:
    lines: int = 0
    sealed: int = 0


def event_line(event: StoredEvent, vis: Visibility) -> bytes:
    """The export line of ``event`` as ``vis`` allows, without its newline."""
    if vis == FULL:
        return event.record
    if vis == SEALED:
        return sealed_line(
            event.seq,
            event.leaf_hash,
            kind=event.kind,
            stage=event.stage,
            ts=format_timestamp(event.created_at),
        )
    return sealed_line(event.seq, event.leaf_hash)


class AuditService:
    def __init__(self, db: Database, checkpoints: CheckpointService, states: RoomStates) -> None:
        self._db = db
        self._checkpoints = checkpoints
        self._states = states

    async def prepare(
        self, room_id: str, viewer: Viewer | None = None, *, viewer_name: str = "the full view"
    ) -> Export:
        """Sign the export's checkpoint and gather the checkpoints it will hold.

        Raises:
            RoomNotFound: no such room.
            LogDiverged: the stored log no longer extends a checkpoint signed before.
        """
        fresh, _ = await self._checkpoints.sign(room_id, EXPORT)
        await self._checkpoints.sign_stage_changes(room_id, fresh.size)
        held = await self._checkpoints.list_checkpoints(room_id, through=fresh.size)
        return Export(
            room_id=room_id,
            origin=self._checkpoints.origin(room_id),
            size=fresh.size,
            verifier_key=self._checkpoints.verifier_key,
            checkpoints=tuple(held),
            viewer=viewer,
            viewer_name=viewer_name,
        )

    async def lines(self, export: Export, counts: Counts) -> AsyncIterator[list[bytes]]:
        """The export's lines (without newlines) by pages, counted into ``counts``."""
        state: RoomState | None = None
        if export.viewer is not None:
            state = await self._states.at_least(export.room_id, export.size)
        cursor = 0
        async with self._db.engine.connect() as conn:
            while cursor < export.size:
                page = await read_events(
                    conn, export.room_id, after=cursor, limit=PAGE, through=export.size
                )
                if not page:
                    break
                out = []
                for event in page:
                    vis = FULL
                    if export.viewer is not None and state is not None:
                        vis = visibility(event.kind, event.thread, export.viewer, state)
                    if vis != FULL:
                        counts.sealed += 1
                    out.append(event_line(event, vis))
                counts.lines += len(page)
                cursor = page[-1].seq
                yield out

    @staticmethod
    def readme(export: Export, counts: Counts) -> str:
        return readme(
            room=export.room_id,
            origin=export.origin,
            viewer=export.viewer_name,
            lines=counts.lines,
            sealed=counts.sealed,
            checkpoint_sizes=[c.size for c in export.checkpoints],
            verifier_key=export.verifier_key,
        )
