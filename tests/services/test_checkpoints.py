"""Signed checkpoints and proofs read from the stored tree, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Awaitable, Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.domain.errors import Conflict, Invalid
from server.domain.events import EventKind
from server.ledger.checkpoint import NoteSigner, open_checkpoint, parse_verifier_key
from server.ledger.merkle import (
    Frontier,
    append_leaves,
    root_from_frontier,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from server.services.checkpoints import (
    EXPORT,
    ON_DEMAND,
    STAGE_CHANGE,
    CheckpointService,
    LogDiverged,
)
from server.storage import log_reader
from server.storage.database import Database
from server.storage.records import NewEvent
from server.storage.writer import LogWriter
from tests.factories import make_event, make_room_spec, room_created
from tests.support.raw import RawDatabase

SIGNER = NoteSigner("parley.test", Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
VERIFIER = parse_verifier_key(SIGNER.verifier_key)


def stage_change(old: str, new: str) -> NewEvent:
    return make_event(kind=EventKind.STAGE_CHANGED.value, body={"from": old, "to": new})


@pytest.fixture
def service(database: Database) -> CheckpointService:
    return CheckpointService(database, SIGNER)


async def new_room(writer: LogWriter, events: int = 0) -> str:
    spec = make_room_spec()
    await writer.create_room(spec, [room_created()])
    if events:
        await writer.submit(spec.room_id, [make_event() for _ in range(events)])
    return spec.room_id


async def leaves(database: Database, room: str) -> list[bytes]:
    async with database.engine.connect() as conn:
        return list(await log_reader.leaf_hashes(conn, room))


async def test_on_demand_checkpoint_is_signed_once_per_size(
    writer: LogWriter, database: Database, service: CheckpointService
) -> None:
    room = await new_room(writer, events=6)
    first, created = await service.sign(room, ON_DEMAND)
    assert created and first.size == 7 and first.reason == ON_DEMAND
    opened = open_checkpoint(first.note, [VERIFIER])
    assert opened.origin == f"parley.test/room/{room}"
    assert (opened.size, opened.root) == (7, first.root)
    assert first.root == root_from_leaf_hashes(await leaves(database, room))
    again, created = await service.sign(room, EXPORT)
    assert not created and again == first
    await writer.append(room, make_event())
    later, created = await service.sign(room, EXPORT)
    assert created and later.size == 8 and later.reason == EXPORT
    assert [c.size for c in await service.list_checkpoints(room)] == [7, 8]
    assert await service.latest(room) == later


async def test_each_stage_change_is_checkpointed_in_its_own_transaction(
    writer: LogWriter, database: Database, service: CheckpointService
) -> None:
    writer.add_transaction_hook(service.stage_hook)
    room = await new_room(writer, events=2)
    await writer.submit(
        room,
        [
            stage_change("pre-negotiation", "opening"),
            make_event(),
            stage_change("opening", "detailed-discussion"),
        ],
    )
    await writer.append(room, make_event())
    signed = await service.list_checkpoints(room)
    assert [(c.size, c.reason) for c in signed] == [(4, STAGE_CHANGE), (6, STAGE_CHANGE)]
    hashes = await leaves(database, room)
    for checkpoint in signed:
        assert open_checkpoint(checkpoint.note, [VERIFIER]).root == checkpoint.root
        assert checkpoint.root == root_from_leaf_hashes(hashes[: checkpoint.size])


async def test_stage_changes_appended_without_the_hook_are_signed_later(
    writer: LogWriter, service: CheckpointService
) -> None:
    room = await new_room(writer, events=3)
    await writer.append(room, stage_change("pre-negotiation", "opening"))
    await writer.append(room, make_event())
    await service.sign(room, ON_DEMAND)  # size 6: a later checkpoint exists already
    assert [c.size for c in await service.sign_stage_changes(room, 6)] == [5]
    assert await service.sign_stage_changes(room, 6) == []
    assert [c.size for c in await service.list_checkpoints(room)] == [5, 6]


async def test_proofs_from_stored_nodes_verify_against_signed_checkpoints(
    writer: LogWriter, database: Database, service: CheckpointService
) -> None:
    room = await new_room(writer)
    sizes = []
    for batch in (2, 1, 5, 8, 13, 4):
        await writer.submit(room, [make_event() for _ in range(batch)])
        checkpoint, _ = await service.sign(room, ON_DEMAND)
        sizes.append(checkpoint.size)
    roots = {c.size: c.root for c in await service.list_checkpoints(room)}
    hashes = await leaves(database, room)
    for size in sizes:
        for seq in range(1, size + 1):
            proof = await service.inclusion(room, seq, size)
            assert proof.leaf_hash == hashes[seq - 1]
            verify_inclusion(seq - 1, size, proof.leaf_hash, proof.path, roots[size])
    for old, new in itertools.combinations(sizes, 2):
        proof = await service.consistency(room, old, new)
        verify_consistency(old, new, roots[old], roots[new], proof)
    assert await service.tree_head(room) == (sizes[-1], roots[sizes[-1]])
    assert await service.tree_head(room, 11) == (11, root_from_leaf_hashes(hashes[:11]))


async def test_leaf_ranges_fold_onto_their_frontier_to_every_root(
    writer: LogWriter, database: Database, service: CheckpointService
) -> None:
    room = await new_room(writer, events=40)
    checkpoint, _ = await service.sign(room, ON_DEMAND)
    hashes = await leaves(database, room)
    for after in (0, 1, 7, 8, 23, 40):
        found = await service.leaves(room, after, limit=5)
        assert found.size == 41 and found.after == after
        assert [seq for seq, _ in found.leaves] == list(range(after + 1, min(after + 5, 41) + 1))
        frontier, _ = append_leaves(
            Frontier(after, found.frontier), [digest for _, digest in found.leaves]
        )
        assert root_from_frontier(frontier) == root_from_leaf_hashes(
            hashes[: after + len(found.leaves)]
        )
    everything = await service.leaves(room, 0)
    folded, _ = append_leaves(Frontier(0), [d for _, d in everything.leaves])
    assert root_from_frontier(folded) == checkpoint.root


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s, r: s.inclusion(r, 0, 3), "seq"),
        (lambda s, r: s.inclusion(r, 4, 3), "seq"),
        (lambda s, r: s.inclusion(r, 1, 0), "size"),
        (lambda s, r: s.inclusion(r, 1, 6), "size"),
        (lambda s, r: s.consistency(r, 3, 2), "from"),
        (lambda s, r: s.consistency(r, 1, 6), "to"),
        (lambda s, r: s.leaves(r, 6), "after"),
        (lambda s, r: s.tree_head(r, 6), "size"),
    ],
)
async def test_ranges_beyond_the_log_are_invalid_naming_the_field(
    writer: LogWriter,
    service: CheckpointService,
    call: Callable[[CheckpointService, str], Awaitable[object]],
    field: str,
) -> None:
    room = await new_room(writer, events=4)
    with pytest.raises(Invalid) as caught:
        await call(service, room)
    assert caught.value.field == field


async def test_signing_refuses_a_tree_rewritten_behind_the_applications_back(
    writer: LogWriter, db_url: str, service: CheckpointService
) -> None:
    room = await new_room(writer, events=9)
    await service.sign(room, ON_DEMAND)
    await writer.submit(room, [make_event() for _ in range(3)])
    async with RawDatabase(db_url) as raw:
        await raw.drop_guards()
        # The subtree of events 1..8, as if one of them had been rewritten and its hashes
        # recomputed: the consistency proof from size 10 to 13 reads exactly that node.
        forged = hashlib.sha256(b"forged").digest()
        await raw.execute(
            "UPDATE merkle_nodes SET hash = ? WHERE room_id = ? AND level = 3 AND idx = 0",
            forged,
            room,
        )
    with pytest.raises(LogDiverged, match="does not match the checkpoint of size 10"):
        await service.sign(room, ON_DEMAND)
    assert [c.size for c in await service.list_checkpoints(room)] == [10]
    assert isinstance(LogDiverged("x"), Conflict)  # answered as 409 conflict over HTTP


async def test_checkpoints_are_append_only_in_the_database(
    writer: LogWriter, db_url: str, service: CheckpointService
) -> None:
    room = await new_room(writer, events=2)
    await service.sign(room, ON_DEMAND)
    async with RawDatabase(db_url) as raw:
        for sql in ("UPDATE checkpoints SET size = 99", "DELETE FROM checkpoints"):
            with pytest.raises(Exception, match="append-only"):
                await raw.execute(sql)
        assert await raw.rows("SELECT size FROM checkpoints") == [(3,)]
