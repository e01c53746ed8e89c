"""Verifiable exports (DESIGN §5): a fresh signed checkpoint, then a view's lines of the log.

Every export signs a checkpoint at the room's current size first (and the checkpoint of any
stage change that lacks one), then reads the log up to that size through the read service
(``server/services/views/log.py``). Each event becomes the line the viewer may have, judged by
the one visibility function against the room's current state:
the record itself (``full``), a sealed line with its kind, stage and time (``sealed``), or a
bare sealed line with only its seq and leaf hash (``hidden``: every checkpoint covers the
whole room, so the export must account for every event). The full view (``viewer=None``,
``parley audit export``) has every record.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from server.domain.visibility import Viewer
from server.ledger.export import readme
from server.services.checkpoints import EXPORT, CheckpointService
from server.services.views.log import Counts, LogViews
from server.storage.checkpoint_store import StoredCheckpoint

__all__ = ["AuditService", "Counts", "Export"]


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


class AuditService:
    def __init__(self, checkpoints: CheckpointService, log: LogViews) -> None:
        self._checkpoints = checkpoints
        self._log = log

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
        async for page in self._log.export_lines(
            export.room_id, export.viewer, export.size, counts
        ):
            yield page

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
