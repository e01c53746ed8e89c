"""The ledger's HTTP API: the signing key, signed checkpoints, proofs, leaf hashes, exports.

Everything but the key answers only the seat's own room (another room answers 404, like one
that does not exist). The answers come from the read service (``server/services/views/
ledger.py``): proofs and leaf ranges carry seqs and hashes only, and the export is the seat's own
view, judged by the one visibility function.
"""

from __future__ import annotations

import asyncio
import time
import zipfile
from collections.abc import Callable, Sequence
from typing import IO, cast

from aiohttp import web

from server.domain.errors import Invalid
from server.ledger.export import CHECKPOINTS_DIR, EVENTS_FILE, KEY_FILE, README_FILE
from server.ledger.export import checkpoint_file as checkpoint_name
from server.services.audit import Counts
from server.services.checkpoints import MAX_LEAVES
from server.web.auth import authenticate
from server.web.keys import SERVICES
from server.web.replies import reply
from server.web.security import HEADERS as SECURITY_HEADERS

routes = web.RouteTableDef()
MAX_SEQ = 2**62


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
    key = request.app[SERVICES].ledger.verifier_key
    return web.Response(text=key + "\n", content_type="text/plain", charset="utf-8")


@routes.get("/api/v1/rooms/{room}/checkpoints")
async def list_checkpoints(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    room_id = request.match_info["room"]
    return reply(await request.app[SERVICES].ledger.checkpoints(grant, room_id))


@routes.get("/api/v1/rooms/{room}/checkpoints/latest")
async def latest_checkpoint(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    return reply(await request.app[SERVICES].ledger.latest(grant, request.match_info["room"]))


@routes.post("/api/v1/rooms/{room}/checkpoints")
async def sign_checkpoint(request: web.Request) -> web.Response:
    """Sign a checkpoint at the room's current size (facilitator)."""
    grant = await authenticate(request)
    body, created = await request.app[SERVICES].ledger.sign(grant, request.match_info["room"])
    return reply(body, status=201 if created else 200)


@routes.get("/api/v1/rooms/{room}/proofs/inclusion")
async def inclusion_proof(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    room_id = request.match_info["room"]
    ledger = request.app[SERVICES].ledger
    await request.app[SERVICES].views.seat(grant, room_id)
    seq, size = query_int(request, "seq"), query_int(request, "size")
    return reply(await ledger.inclusion(grant, room_id, seq, size))


@routes.get("/api/v1/rooms/{room}/proofs/consistency")
async def consistency_proof(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    room_id = request.match_info["room"]
    await request.app[SERVICES].views.seat(grant, room_id)
    old, new = query_int(request, "from"), query_int(request, "to")
    return reply(await request.app[SERVICES].ledger.consistency(grant, room_id, old, new))


@routes.get("/api/v1/rooms/{room}/leaves")
async def list_leaves(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    room_id = request.match_info["room"]
    await request.app[SERVICES].views.seat(grant, room_id)
    after = query_int(request, "after", default=0)
    limit = query_int(request, "limit", default=MAX_LEAVES)
    return reply(await request.app[SERVICES].ledger.leaves(grant, room_id, after, limit))


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
    grant = await authenticate(request)
    services = request.app[SERVICES]
    export = await services.ledger.export(grant, request.match_info["room"])
    audit = services.audit
    folder = f"parley-{export.room_id}-{export.size}"
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
