"""The ledger's HTTP API: the signing key, signed checkpoints, proofs, leaf hashes, exports.

Everything but the key answers only the seat's own room (another room answers 404, like one
that does not exist). Proofs and leaf ranges carry seqs and hashes only, never a record: a
hidden event stands in them as it stands in the seat's export, as a bare seq and leaf hash.
The export is the seat's own view, judged by the one visibility function.
"""

from __future__ import annotations

import asyncio
import time
import zipfile
from collections.abc import Callable, Sequence
from typing import IO, cast

from aiohttp import web

from protocol.ledger import (
    CheckpointBody,
    CheckpointList,
    ConsistencyProofBody,
    InclusionProofBody,
    Leaf,
    LeavesBody,
    Reply,
)
from server.domain.commands import allowed
from server.domain.errors import Invalid, NotFound
from server.domain.events import format_timestamp
from server.domain.permissions import Action
from server.domain.visibility import Viewer
from server.ledger.export import CHECKPOINTS_DIR, EVENTS_FILE, KEY_FILE, README_FILE
from server.ledger.export import checkpoint_file as checkpoint_name
from server.services.audit import Counts
from server.services.checkpoints import MAX_LEAVES, ON_DEMAND
from server.storage.checkpoint_store import StoredCheckpoint
from server.web.api import room_for
from server.web.keys import AUDIT, CHECKPOINTS
from server.web.security import HEADERS as SECURITY_HEADERS

routes = web.RouteTableDef()
MAX_SEQ = 2**62


def reply(body: Reply, status: int = 200) -> web.Response:
    return web.Response(
        text=body.model_dump_json(by_alias=True), status=status, content_type="application/json"
    )


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


def query_int(request: web.Request, name: str, *, default: int | None = None) -> int:
    """A whole-number query parameter within 0..2**62 (its range in the room is checked later)."""
    raw = request.query.get(name)
    if raw is None:
        if default is None:
            raise Invalid(f"{name} is required", field=name)
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"{name} must be a whole number", field=name) from None
    if not 0 <= value <= MAX_SEQ:
        raise Invalid(f"{name} must be within 0..{MAX_SEQ}", field=name)
    return value


@routes.get("/api/v1/ledger/key")
async def get_key(request: web.Request) -> web.Response:
    """The public key that signs every checkpoint, in note-verifier form."""
    key = request.app[CHECKPOINTS].verifier_key
    return web.Response(text=key + "\n", content_type="text/plain", charset="utf-8")


@routes.get("/api/v1/rooms/{room}/checkpoints")
async def list_checkpoints(request: web.Request) -> web.Response:
    _, state, _ = await room_for(request)
    service = request.app[CHECKPOINTS]
    origin = service.origin(state.room_id)
    found = await service.list_checkpoints(state.room_id)
    return reply(CheckpointList(checkpoints=[checkpoint_body(c, origin) for c in found]))


@routes.get("/api/v1/rooms/{room}/checkpoints/latest")
async def latest_checkpoint(request: web.Request) -> web.Response:
    _, state, _ = await room_for(request)
    service = request.app[CHECKPOINTS]
    latest = await service.latest(state.room_id)
    if latest is None:
        raise NotFound("no checkpoint of this room has been signed yet", field="checkpoint")
    return reply(checkpoint_body(latest, service.origin(state.room_id)))


@routes.post("/api/v1/rooms/{room}/checkpoints")
async def sign_checkpoint(request: web.Request) -> web.Response:
    """Sign a checkpoint at the room's current size (facilitator)."""
    _, state, seat = await room_for(request)
    allowed(state, seat, Action.SIGN_CHECKPOINT, None, what="sign checkpoints")
    service = request.app[CHECKPOINTS]
    checkpoint, created = await service.sign(state.room_id, ON_DEMAND)
    body = checkpoint_body(checkpoint, service.origin(state.room_id))
    return reply(body, status=201 if created else 200)


@routes.get("/api/v1/rooms/{room}/proofs/inclusion")
async def inclusion_proof(request: web.Request) -> web.Response:
    _, state, _ = await room_for(request)
    seq, size = query_int(request, "seq"), query_int(request, "size")
    proof = await request.app[CHECKPOINTS].inclusion(state.room_id, seq, size)
    return reply(
        InclusionProofBody(
            room=state.room_id,
            seq=proof.seq,
            size=proof.size,
            leaf_hash=proof.leaf_hash.hex(),
            proof=[h.hex() for h in proof.path],
        )
    )


@routes.get("/api/v1/rooms/{room}/proofs/consistency")
async def consistency_proof(request: web.Request) -> web.Response:
    _, state, _ = await room_for(request)
    old, new = query_int(request, "from"), query_int(request, "to")
    proof = await request.app[CHECKPOINTS].consistency(state.room_id, old, new)
    return reply(
        ConsistencyProofBody(room=state.room_id, from_=old, to=new, proof=[h.hex() for h in proof])
    )


@routes.get("/api/v1/rooms/{room}/leaves")
async def list_leaves(request: web.Request) -> web.Response:
    _, state, _ = await room_for(request)
    after = query_int(request, "after", default=0)
    limit = query_int(request, "limit", default=MAX_LEAVES)
    if not 1 <= limit <= MAX_LEAVES:
        raise Invalid(f"limit must be within 1..{MAX_LEAVES}", field="limit")
    found = await request.app[CHECKPOINTS].leaves(state.room_id, after, limit)
    return reply(
        LeavesBody(
            room=state.room_id,
            after=found.after,
            size=found.size,
            frontier=[h.hex() for h in found.frontier],
            leaves=[Leaf(seq=seq, leaf_hash=digest.hex()) for seq, digest in found.leaves],
        )
    )


class _Sink:
    """A write-only byte buffer a zip file streams into; drained into the response."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self._chunks = b"".join(self._chunks), []
        return data


@routes.get("/api/v1/rooms/{room}/export")
async def export_view(request: web.Request) -> web.StreamResponse:
    """The seat's own view of the log as a verifiable export, zipped."""
    _, state, seat = await room_for(request)
    audit = request.app[AUDIT]
    export = await audit.prepare(
        state.room_id,
        Viewer(seat.role, seat.party),
        viewer_name=f"the view of seat {seat.id} ({seat.role.value})",
    )
    folder = f"parley-{state.room_id}-{export.size}"
    response = web.StreamResponse(
        headers={
            **SECURITY_HEADERS,  # the middleware cannot add them to a response already sent
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{folder}.zip"',
        }
    )
    await response.prepare(request)
    sink = _Sink()
    # The sink cannot seek, so zipfile writes data descriptors after each entry (it streams).
    with zipfile.ZipFile(cast(IO[bytes], sink), "w", zipfile.ZIP_DEFLATED) as archive:
        for checkpoint in export.checkpoints:
            name = f"{folder}/{CHECKPOINTS_DIR}/{checkpoint_name(checkpoint.size)}"
            archive.writestr(name, checkpoint.note)
        archive.writestr(f"{folder}/{KEY_FILE}", export.verifier_key + "\n")
        counts = Counts()
        entry = zipfile.ZipInfo(f"{folder}/{EVENTS_FILE}", time.localtime()[:6])
        entry.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(entry, "w", force_zip64=True) as events:
            async for page in audit.lines(export, counts):
                await _write_page(events.write, page)
                await response.write(sink.take())
        archive.writestr(f"{folder}/{README_FILE}", audit.readme(export, counts))
    await response.write(sink.take())
    await response.write_eof()
    return response


async def _write_page(write: Callable[[bytes], int], page: Sequence[bytes]) -> None:
    """Compress a page off the event loop: a large export must not stall the room."""
    await asyncio.to_thread(write, b"".join(line + b"\n" for line in page))
