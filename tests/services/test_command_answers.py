"""A WebSocket command's answer: the ack from the writer's callback, a refusal, a stale decision
decided again, a repeated id; each answered exactly once."""

from __future__ import annotations

import asyncio

import pytest

from protocol.frames import SERVER_FRAME, Ack, encode
from server.domain import commands as rules
from server.domain.commands import Move
from server.domain.errors import DomainError
from server.domain.grants import Grant
from server.domain.room import RoomState
from server.services.access import AccessService
from server.services.commands import (
    ATTEMPTS,
    Answer,
    CommandLane,
    CommandService,
    Decide,
    ack,
    ack_frame,
)
from server.services.errors import StaleState
from server.services.rooms import RoomService
from server.services.states import RoomStates
from server.storage.database import Database
from server.storage.log_reader import find_command
from server.storage.writer import LogWriter
from tests.support.live import three_party_setup


class Answers:
    def __init__(self, expected: int) -> None:
        self.got: dict[str, list[Ack | BaseException]] = {}
        """Each command's answers, the ack frames decoded as a client decodes them."""
        self.expected = expected
        self.all_in = asyncio.Event()

    def to(self, command_id: str) -> Answer:
        def answer(outcome: str | BaseException) -> None:
            decoded = (
                outcome
                if isinstance(outcome, BaseException)
                else SERVER_FRAME.validate_json(outcome)
            )
            assert isinstance(decoded, Ack | BaseException)
            self.got.setdefault(command_id, []).append(decoded)
            if sum(map(len, self.got.values())) >= self.expected:
                self.all_in.set()

        return answer


async def service_and_room(database: Database, writer: LogWriter) -> tuple[CommandService, str]:
    """The command service over a writer whose commits the state cache follows, and a room."""
    states = RoomStates(database)
    writer.add_listener(states.follow)
    rooms = RoomService(writer, states, AccessService(database, "http://127.0.0.1:8080"))
    room = (await rooms.create(three_party_setup())).room_id
    return CommandService(database, writer, states), room


async def test_every_command_is_answered_once(database: Database, writer: LogWriter) -> None:
    service, room = await service_and_room(database, writer)
    answers = Answers(expected=5)

    def submit(seat: str, decide: Decide, command_id: str) -> None:
        service.submit_for_ack(
            Grant(room, seat, "unused"), decide, command_id, answers.to(command_id)
        )

    # Two back-channels decided against the same state, with no turn of the loop between: the
    # second is stale at commit (the first changed the room's state) and is decided again.
    submit("us-1", lambda s: rules.decide_open_backchannel(s, "us-1", ["drv"], ""), "b1")
    submit("us-1", lambda s: rules.decide_open_backchannel(s, "us-1", ["rvn"], ""), "b2")

    def post(s: RoomState) -> Move:
        return rules.decide_post_message(s, "us-1", "plenary", "hello", max_chars=100)

    submit("us-1", post, "m1")
    submit("us-1", post, "m1-again")
    submit(
        "us-1", lambda s: rules.decide_post_message(s, "us-1", "nowhere", "x", max_chars=9), "bad"
    )
    await asyncio.wait_for(answers.all_in.wait(), 30)
    await asyncio.sleep(0.05)  # an extra answer would arrive now

    assert {k: len(v) for k, v in answers.got.items()} == dict.fromkeys(
        ["b1", "b2", "m1", "m1-again", "bad"], 1
    )
    acks = {k: v[0] for k, v in answers.got.items() if isinstance(v[0], Ack)}
    assert set(acks) == {"b1", "b2", "m1", "m1-again"}
    assert acks["b1"].created and acks["b2"].created and acks["b1"].created != acks["b2"].created
    assert len({a.seq for a in acks.values()}) == 4
    assert all(a.id == k and a.room == room and not a.duplicate for k, a in acks.items())
    assert isinstance(answers.got["bad"][0], DomainError)

    # The same id again: answered with the first event, as a duplicate.
    again = Answers(expected=1)
    service.submit_for_ack(Grant(room, "us-1", "unused"), post, "m1", again.to("m1"))
    await asyncio.wait_for(again.all_in.wait(), 30)
    (repeat,) = again.got["m1"]
    assert isinstance(repeat, Ack) and repeat.duplicate and repeat.seq == acks["m1"].seq


async def test_the_ack_frame_is_the_ack_model_encoded(
    database: Database, writer: LogWriter
) -> None:
    service, room = await service_and_room(database, writer)
    actor = Grant(room, "us-1", "unused")

    def post(s: RoomState) -> Move:
        return rules.decide_post_message(
            s, "us-1", "plenary", "caf\u00e9 \u201cquoted\u201d", max_chars=100
        )

    opened = await service.run(
        actor, lambda s: rules.decide_open_backchannel(s, "us-1", ["drv"], ""), "o:1"
    )
    posted = await service.run(actor, post, "p.1")
    repeated = await service.run(actor, post, "p.1")
    assert repeated.duplicate and ack("o:1", room, opened).created
    for command_id, appended in (("o:1", opened), ("p.1", posted), ("p.1", repeated)):
        assert ack_frame(command_id, room, appended) == encode(ack(command_id, room, appended))


async def test_a_command_stale_at_every_attempt_is_not_appended(
    database: Database, writer: LogWriter
) -> None:
    """Each decision is made stale (another command changes the room's state just before it
    commits) as many times as the service tries: the client is told StaleState, and no later
    decision is left queued to commit after that answer."""
    service, room = await service_and_room(database, writer)
    us = Grant(room, "us-1", "unused")
    bumps = 0

    def bump(s: RoomState) -> Move:
        return rules.decide_open_backchannel(s, "us-1", ["drv"], "")

    for path in ("run", "ack"):
        decided = 0

        def post(s: RoomState) -> Move:
            nonlocal decided, bumps
            decided += 1
            if decided <= ATTEMPTS:  # queued first, so this decision is stale at commit
                bumps += 1
                service.submit_for_ack(us, bump, f"bump-{bumps}", lambda _: None)
            return rules.decide_post_message(s, "us-1", "plenary", "late", max_chars=100)

        if path == "run":
            with pytest.raises(StaleState):
                await service.run(us, post, "run-post")
        else:
            answers = Answers(expected=1)
            service.submit_for_ack(us, post, "ack-post", answers.to("ack-post"))
            await asyncio.wait_for(answers.all_in.wait(), 30)
            assert [type(a) for a in answers.got["ack-post"]] == [StaleState]
        # Whatever was queued has committed once this append is answered.
        await service.run(
            us,
            lambda s: rules.decide_post_message(s, "us-1", "plenary", "x", max_chars=9),
            f"{path}-after",
        )
        async with database.engine.connect() as conn:
            assert await find_command(conn, room, "us-1", f"{path}-post") is None
        assert decided == ATTEMPTS


async def test_a_connections_commands_are_appended_in_the_order_sent(
    database: Database, writer: LogWriter
) -> None:
    """A connection pipelines a state change and a message: the message, decided against the
    state before the change, is stale at commit and decided again. A command the connection
    sends once the first is acknowledged must not overtake it; nor may a run of state changes
    sent back to back run out of attempts on each other."""
    service, room = await service_and_room(database, writer)
    us = Grant(room, "us-1", "unused")
    lane = CommandLane()
    answers = Answers(expected=10)

    def submit(decide: Decide, command_id: str) -> None:
        service.submit_for_ack(us, decide, command_id, answers.to(command_id), lane)

    def post(text: str) -> Decide:
        return lambda s: rules.decide_post_message(s, "us-1", "plenary", text, max_chars=100)

    def open_with(party: str) -> Decide:
        return lambda s: rules.decide_open_backchannel(s, "us-1", [party], "")

    acked = asyncio.Event()

    def answer_b1(outcome: str | BaseException) -> None:
        answers.to("b1")(outcome)
        acked.set()

    service.submit_for_ack(us, open_with("drv"), "b1", answer_b1, lane)
    submit(post("first"), "m1")
    await acked.wait()  # m1, stale at commit, is being decided again meanwhile
    submit(post("after the ack"), "m2")
    for n in range(6):
        submit(open_with("drv" if n % 2 else "rvn"), f"c{n}")
    submit(post("last"), "m3")
    await asyncio.wait_for(answers.all_in.wait(), 30)

    sent = ["b1", "m1", "m2", *(f"c{n}" for n in range(6)), "m3"]
    outcomes = {command_id: answers.got[command_id] for command_id in sent}
    assert all(len(a) == 1 and isinstance(a[0], Ack) for a in outcomes.values()), outcomes
    seqs = {command_id: a[0].seq for command_id, a in outcomes.items()}  # type: ignore[union-attr]
    assert list(seqs.values()) == sorted(seqs.values()), seqs
