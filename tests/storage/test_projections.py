"""Projections rebuilt from the log alone match what the append path and the cache keep."""

from __future__ import annotations

from server.domain import commands as rules
from server.domain.grants import Grant
from server.ledger.merkle import Frontier, append_leaves
from server.services.access import AccessService
from server.services.commands import CommandService
from server.services.rooms import RoomService
from server.services.states import RoomStates
from server.storage.database import Database
from server.storage.log_reader import get_room, read_events
from server.storage.writer import LogWriter
from tests.factories import fold_records
from tests.support.live import three_party_setup


async def test_room_rows_and_cached_states_can_be_rebuilt_from_events(
    database: Database, writer: LogWriter
) -> None:
    states = RoomStates(database)
    writer.add_listener(states.follow)
    rooms = RoomService(writer, states, AccessService(database, "http://127.0.0.1:8080"))
    created = await rooms.create(three_party_setup())
    room = created.room_id
    service = CommandService(database, writer, states)

    def actor(seat: str) -> Grant:
        return Grant(room, seat, "unused")

    opened = await service.run(
        actor("us-1"), lambda s: rules.decide_open_backchannel(s, "us-1", ["drv"], ""), "o1"
    )
    bc = opened.first.thread
    assert bc is not None
    await service.run(
        actor("drv-1"), lambda s: rules.decide_accept_backchannel(s, "drv-1", bc), "a1"
    )
    for i in range(37):
        seat, thread = [("us-2", bc), ("rvn-1", "plenary"), ("drv-2", "caucus-drv")][i % 3]
        await service.run(
            actor(seat),
            lambda s, seat=seat, thread=thread, i=i: rules.decide_post_message(
                s, seat, thread, f"m{i}", max_chars=100
            ),
            f"c{i}",
        )
    await service.run(
        actor("facilitator"),
        lambda s: rules.decide_disclose_thread(s, "facilitator", bc, "observers"),
        "d1",
    )

    async with database.engine.connect() as conn:
        row = await get_room(conn, room)
        log = await read_events(conn, room)
    assert row is not None
    # The room row: size, stage, state_seq and Merkle frontier, from the events alone.
    rebuilt = fold_records(room, log)
    frontier = Frontier(0, ())
    for event in log:
        frontier, _ = append_leaves(frontier, [event.leaf_hash])
    assert (row.size, row.stage, row.state_seq) == (rebuilt.seq, rebuilt.stage, rebuilt.state_seq)
    assert row.frontier == frontier.nodes
    # The state the process followed commit by commit, and one loaded cold from the database.
    followed = states.cached(room)
    cold = await RoomStates(database).get(room)
    assert followed == rebuilt
    assert cold == rebuilt
    assert rebuilt.threads[bc].disclosed_to == "observers" and rebuilt.threads[bc].live
