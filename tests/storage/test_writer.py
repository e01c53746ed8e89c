"""The append path: numbering, records, group commit, command ids, failures, cancellation."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from protocol.canonical import CanonicalError, canonical_json
from server.domain.events import EventKind, parse_timestamp
from server.ledger.merkle import Frontier, root_from_frontier, root_from_leaf_hashes
from server.storage import log_reader
from server.storage.append_sql import commands_lookup
from server.storage.database import Database
from server.storage.errors import RoomExists, RoomNotFound, WriterClosed
from server.storage.records import Appended
from server.storage.writer import LogWriter
from tests.factories import make_event, make_room_spec, room_created


async def new_room(writer: LogWriter, **overrides: object) -> str:
    spec = make_room_spec(**overrides)
    await writer.create_room(spec, [room_created()])
    return spec.room_id


async def test_room_log_starts_at_seq_1_with_room_created(
    writer: LogWriter, database: Database
) -> None:
    spec = make_room_spec()
    appended = await writer.create_room(spec, [room_created("Paris talks")])
    assert [e.seq for e in appended.events] == [1]
    async with database.engine.connect() as conn:
        stored = await log_reader.read_events(conn, spec.room_id)
    assert [(e.seq, e.kind) for e in stored] == [(1, "room_created")]


async def test_record_is_canonical_and_leaf_hash_covers_it(
    writer: LogWriter, database: Database
) -> None:
    room = await new_room(writer, stage="opening")
    sent = make_event(body={"text": "Nous proposons…", "count": 12})
    appended = await writer.append(room, sent)
    async with database.engine.connect() as conn:
        (stored,) = await log_reader.read_events(conn, room, after=1)
    record = json.loads(stored.record)
    assert canonical_json(record) == stored.record
    assert stored.leaf_hash == hashlib.sha256(b"\x00" + stored.record).digest()
    assert stored == appended.first
    assert record["seq"] == 2
    assert record["room"] == room
    assert record["kind"] == "message_posted"
    assert record["stage"] == "opening"
    assert record["actor"] == {"seat": "seat-us-1", "party": "us"}
    assert record["thread"] == "plenary"
    assert record["body"] == {"text": "Nous proposons…", "count": 12}
    assert len(bytes.fromhex(record["salt"])) == 16
    assert parse_timestamp(record["ts"]) == stored.created_at


async def test_salts_differ_so_equal_messages_hash_differently(writer: LogWriter) -> None:
    room = await new_room(writer)
    first = await writer.append(room, make_event(body={"text": "yes"}))
    second = await writer.append(room, make_event(body={"text": "yes"}))
    assert first.first.leaf_hash != second.first.leaf_hash


async def test_stage_change_is_stamped_with_the_stage_it_leaves(writer: LogWriter) -> None:
    room = await new_room(writer)
    appended = await writer.submit(
        room,
        [
            make_event(),
            make_event(
                kind=EventKind.STAGE_CHANGED.value,
                body={"from": "pre-negotiation", "to": "opening"},
            ),
            make_event(),
        ],
    )
    assert [e.stage for e in appended.events] == ["pre-negotiation", "pre-negotiation", "opening"]
    later = await writer.append(room, make_event())
    assert later.first.stage == "opening"


async def test_concurrent_appends_share_transactions(writer: LogWriter) -> None:
    room = await new_room(writer)
    before = writer.batches
    results = await asyncio.gather(*(writer.append(room, make_event()) for _ in range(200)))
    assert sorted(r.first.seq for r in results) == list(range(2, 202))
    assert writer.batches - before < 200


async def test_acknowledged_event_is_visible_to_a_new_connection(
    writer: LogWriter, db_url: str
) -> None:
    room = await new_room(writer)
    appended = await writer.append(room, make_event())
    other = Database(db_url)
    try:
        async with other.engine.connect() as conn:
            events = await log_reader.read_events(conn, room)
    finally:
        await other.dispose()
    assert events[-1] == appended.first


async def test_repeated_command_id_is_answered_with_the_first_event(
    writer: LogWriter, database: Database
) -> None:
    room = await new_room(writer)
    first = await writer.append(room, make_event(), command_id="c-1")
    again = await writer.append(room, make_event(body={"text": "different"}), command_id="c-1")
    together = await asyncio.gather(
        *(writer.append(room, make_event(), command_id="c-2") for _ in range(5))
    )
    assert not first.duplicate and again.duplicate
    assert again.first == first.first
    assert len({r.first.seq for r in together}) == 1
    assert sum(not r.duplicate for r in together) == 1
    async with database.engine.connect() as conn:
        assert len(await log_reader.read_events(conn, room)) == 3


async def test_same_command_id_from_another_seat_is_a_new_command(writer: LogWriter) -> None:
    room = await new_room(writer)
    a = await writer.append(room, make_event(seat="seat-a"), command_id="c-1")
    b = await writer.append(room, make_event(seat="seat-b"), command_id="c-1")
    assert not b.duplicate and b.first.seq == a.first.seq + 1


async def test_one_bad_request_does_not_sink_its_batch(
    writer: LogWriter, database: Database
) -> None:
    room = await new_room(writer)
    outcomes = await asyncio.gather(
        writer.append(room, make_event()),
        writer.append("no-such-room", make_event()),
        writer.append(room, make_event(body={"ratio": 0.5})),
        writer.create_room(make_room_spec(room_id=room), [room_created()]),
        writer.append(room, make_event()),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], RoomNotFound)
    assert isinstance(outcomes[2], CanonicalError) and "/body/ratio" in str(outcomes[2])
    assert isinstance(outcomes[3], RoomExists)
    async with database.engine.connect() as conn:
        events = await log_reader.read_events(conn, room)
    assert [e.seq for e in events] == [1, 2, 3]


async def test_answered_appends_are_answered_once_after_the_fan_out(
    writer: LogWriter, database: Database
) -> None:
    """``enqueue_then`` answers by a call, once per request, after the commit's listeners ran
    (a command's events reach the sockets before its answer), in a batch with awaited requests
    and with bad ones, which are retried alone and answered with their own refusal."""
    room = await new_room(writer)
    fanned_out: list[int] = []
    writer.add_listener(lambda events: fanned_out.extend(e.seq for e in events))
    answers: dict[str, list[Appended | BaseException]] = {}
    heard_first: dict[str, bool] = {}
    all_in = asyncio.Event()

    def to(name: str) -> Callable[[Appended | BaseException], None]:
        def answer(outcome: Appended | BaseException) -> None:
            answers.setdefault(name, []).append(outcome)
            if isinstance(outcome, Appended):
                heard_first[name] = outcome.first.seq in fanned_out
            if len(answers) == 4:
                all_in.set()

        return answer

    def closed(head: object) -> None:
        raise PermissionError("thread closed")

    writer.enqueue_then(room, [make_event()], to("a"), command_id="c-a")
    awaited = writer.enqueue(room, [make_event()])
    writer.enqueue_then(room, [make_event(body={"ratio": 0.5})], to("bad"))
    writer.enqueue_then(room, [make_event()], to("refused"), check=closed)
    writer.enqueue_then(room, [make_event()], to("a-again"), command_id="c-a")
    await asyncio.wait_for(all_in.wait(), 30)
    await asyncio.sleep(0.05)  # an extra answer would arrive now
    assert {k: len(v) for k, v in answers.items()} == dict.fromkeys(
        ["a", "bad", "refused", "a-again"], 1
    )
    first, again = answers["a"][0], answers["a-again"][0]
    assert isinstance(first, Appended) and isinstance(again, Appended)
    assert again.duplicate and again.first.seq == first.first.seq
    assert isinstance(answers["bad"][0], CanonicalError)
    assert isinstance(answers["refused"][0], PermissionError)
    assert heard_first == {"a": True, "a-again": True}
    assert (await awaited).first.seq == first.first.seq + 1
    await writer.close()
    with pytest.raises(WriterClosed):
        writer.enqueue_then(room, [make_event()], to("late"))


async def test_a_commits_fan_out_and_answers_run_inside_one_delivery(database: Database) -> None:
    inside: list[bool] = []
    seen: list[tuple[str, bool]] = []

    @contextmanager
    def delivery() -> Iterator[None]:
        inside.append(True)
        try:
            yield
        finally:
            inside.pop()

    writer = LogWriter(database, delivery=delivery)
    room = await new_room(writer)
    writer.add_listener(lambda events: seen.append(("fan-out", bool(inside))))
    done = asyncio.Event()

    def answer(outcome: object) -> None:
        seen.append(("answer", bool(inside)))
        done.set()

    awaited = writer.enqueue(room, [make_event()])
    writer.enqueue_then(room, [make_event()], answer)
    await asyncio.wait_for(done.wait(), 30)
    await awaited
    await writer.close()
    assert seen == [("fan-out", True), ("answer", True)] and not inside


async def test_a_failed_transaction_leaves_the_next_one_whole(
    writer: LogWriter, database: Database
) -> None:
    """A batch that fails in the database is rolled back; the writer's next transaction (on
    SQLite, on a fresh connection) appends from where the log really ends."""
    room = await new_room(writer)
    failing = [True]

    def hook(conn: object, events: object) -> None:
        if failing[0]:
            raise RuntimeError("the database went away")

    writer.add_transaction_hook(hook)
    outcomes = await asyncio.gather(
        *(writer.append(room, make_event()) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    failing[0] = False
    assert [(await writer.append(room, make_event())).first.seq for _ in range(2)] == [2, 3]
    async with database.engine.connect() as conn:
        events = await log_reader.read_events(conn, room)
    assert [e.seq for e in events] == [1, 2, 3]


async def test_a_lone_request_is_refused_with_what_failed(writer: LogWriter) -> None:
    """Alone in its transaction (as every command is at low load), a request whose transaction
    fails gets the exception that failed it, as it would in a larger batch: that is what says
    503 for a lost database and 409 for a conflict, where a stand-in would say 500."""
    room = await new_room(writer)

    class Refused(Exception):
        pass

    def hook(conn: object, events: object) -> None:
        raise Refused("the hook refused the commit")

    writer.add_transaction_hook(hook)
    with pytest.raises(Refused, match="the hook refused"):
        await writer.append(room, make_event())


async def test_a_batch_the_database_fails_is_refused_at_once(writer: LogWriter) -> None:
    """A batch that fails because the database is unavailable is refused whole with that error,
    in one transaction: retrying each request alone would make every waiter wait out the
    database once per request ahead of it."""
    room = await new_room(writer)
    attempts = 0

    def hook(conn: object, events: object) -> None:
        nonlocal attempts
        attempts += 1
        raise OperationalError("COMMIT", None, ConnectionError("the server closed the connection"))

    writer.add_transaction_hook(hook)
    batch = [writer.enqueue(room, [make_event()]) for _ in range(5)]
    outcomes = await asyncio.gather(*batch, return_exceptions=True)
    assert all(isinstance(o, OperationalError) for o in outcomes), outcomes
    assert attempts == 1


async def test_a_request_refused_halfway_leaves_the_rooms_state_seq(
    writer: LogWriter, database: Database
) -> None:
    """A request whose first event changes the room's state and whose second cannot be encoded
    is refused whole; the room's ``state_seq`` must not point at the seq its first event would
    have had, which the next request of the same batch takes for an ordinary message."""
    room = await new_room(writer)
    refused = writer.enqueue(
        room,
        [
            make_event(kind=EventKind.AGENDA_ISSUE_ADDED.value, body={"issue": "timeline"}),
            make_event(body={"ratio": 0.5}),
        ],
    )
    kept = writer.enqueue(room, [make_event()])
    outcomes = await asyncio.gather(refused, kept, return_exceptions=True)
    assert isinstance(outcomes[0], CanonicalError)
    assert isinstance(outcomes[1], Appended) and outcomes[1].first.seq == 2
    async with database.engine.connect() as conn:
        head = await log_reader.get_room(conn, room)
    assert head is not None and head.size == 2
    assert head.state_seq == 1  # room_created; seq 2 is a message


async def test_precondition_refuses_only_its_request(writer: LogWriter) -> None:
    room = await new_room(writer)

    def closed(head: object) -> None:
        raise PermissionError("thread closed")

    with pytest.raises(PermissionError):
        await writer.append(room, make_event(), check=closed)
    assert (await writer.append(room, make_event())).first.seq == 2


async def test_cancelled_callers_lose_and_reorder_nothing(
    writer: LogWriter, database: Database
) -> None:
    room = await new_room(writer)
    acknowledged: list[tuple[int, int, int]] = []
    under_way = asyncio.Event()

    async def speaker(who: int) -> None:
        for n in range(40):
            appended = await writer.append(room, make_event(body={"who": who, "n": n}))
            acknowledged.append((who, n, appended.first.seq))
            if len(acknowledged) >= 100:
                under_way.set()

    tasks = [asyncio.create_task(speaker(who)) for who in range(20)]
    # Cancel half of them mid-way: once about five of each one's forty appends are answered
    # (waiting for a time instead would find them all done on a fast enough machine).
    await asyncio.wait_for(under_way.wait(), 30)
    for task in tasks[::2]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await writer.close()
    async with database.engine.connect() as conn:
        events = await log_reader.read_events(conn, room)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    by_seq = {e.seq: json.loads(e.record)["body"] for e in events}
    for who, n, seq in acknowledged:
        assert by_seq[seq] == {"who": who, "n": n}
    for who in range(20):
        counters = [b["n"] for _, b in sorted(by_seq.items()) if b.get("who") == who]
        assert counters == list(range(len(counters))), f"speaker {who} reordered or lost"
    assert sum(t.cancelled() for t in tasks) == 10


async def test_closed_writer_refuses_new_appends(writer: LogWriter) -> None:
    room = await new_room(writer)
    await writer.close()
    with pytest.raises(WriterClosed):
        await writer.append(room, make_event())


async def test_room_head_tracks_size_stage_and_tree(writer: LogWriter, database: Database) -> None:
    room = await new_room(writer)
    for _ in range(3):
        await asyncio.gather(*(writer.append(room, make_event()) for _ in range(7)))
    await writer.append(
        room, make_event(kind=EventKind.STAGE_CHANGED.value, body={"from": "x", "to": "opening"})
    )
    async with database.engine.connect() as conn:
        head = await log_reader.get_room(conn, room)
        leaves = await log_reader.leaf_hashes(conn, room)
    assert head is not None
    assert head.size == len(leaves) == 23
    assert head.stage == "opening"
    assert root_from_frontier(Frontier(head.size, head.frontier)) == root_from_leaf_hashes(leaves)


async def test_writer_survives_a_failing_commit_listener(writer: LogWriter) -> None:
    room = await new_room(writer)
    heard: list[int] = []

    def broken(events: object) -> None:
        raise RuntimeError("listener bug")

    writer.add_listener(broken)
    writer.add_listener(lambda events: heard.extend(e.seq for e in events))
    first = await writer.append(room, make_event())
    second = await writer.append(room, make_event())
    assert (first.first.seq, second.first.seq) == (2, 3)
    assert heard == [2, 3]


def test_command_lookup_is_an_index_search_not_a_table_scan(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """The duplicate check runs on every commit; a scan would make appends O(log size)."""
    path = tmp_path / "lookup.db"
    shutil.copyfile(sqlite_template, path)
    keys = [("room-a", "seat-1", "c-1"), ("room-a", "seat-2", "c-1"), ("room-b", "seat-1", "x")]
    statement, params = commands_lookup(keys, "qmark")
    with closing(sqlite3.connect(path)) as conn:
        plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}", params)]
    searches = [step for step in plan if step.startswith(("SEARCH", "SCAN"))]
    assert len(searches) == len(keys), plan
    for step in searches:
        assert step.startswith("SEARCH events USING INDEX"), plan
        assert "command_id=? AND actor_seat=? AND room_id=?" in step, plan


async def test_sqlite_commits_run_on_the_writers_own_thread_which_close_ends(
    database: Database,
) -> None:
    writer = LogWriter(database)
    threads: set[threading.Thread] = set()
    writer.add_transaction_hook(lambda conn, events: threads.add(threading.current_thread()))
    room = await new_room(writer)
    await asyncio.gather(*(writer.append(room, make_event()) for _ in range(20)))
    await writer.append(room, make_event())
    if database.sync_write_engine is None:  # PostgreSQL: the async driver, on the loop
        assert threads == {threading.current_thread()}
    else:
        (thread,) = threads
        assert thread.name == "parley-log-writer" and thread is not threading.current_thread()
    await writer.close()
    assert not any(t.is_alive() for t in threads if t is not threading.current_thread())
