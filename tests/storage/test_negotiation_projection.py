"""After a long random negotiation, the state rebuilt from the log alone equals the live one.

Random seats send random negotiation commands (most are refused: that is part of the test,
a refusal must leave no trace) through the real command service and writer; the state cache
follows the commits incrementally. At the end a fresh cache, and a plain fold over the events
read back from the database, must both equal it, down to every proposal's derived status.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from server.domain import bargaining as deal
from server.domain import commands as rules
from server.domain import procedure as proc
from server.domain.errors import DomainError
from server.domain.grants import Grant
from server.domain.negotiation import Status
from server.domain.room import RoomState
from server.domain.stages import transitions
from server.exercise.scenarios import paris_1973
from server.services.access import AccessService
from server.services.commands import CommandService
from server.services.rooms import RoomService
from server.services.states import RoomStates
from server.storage.database import Database
from server.storage.log_reader import read_events
from server.storage.writer import LogWriter
from tests.factories import fold_records

PARTIES = ["us", "drv", "rvn", "prg"]
SEATS = ["facilitator", "observer-1"] + [f"{p}-{n}" for p in PARTIES for n in (1, 2)]
STAGES = list(paris_1973().stages)
HEADS = [f"{p}-1" for p in PARTIES]


def _random_terms(rng: random.Random) -> dict[str, Any]:
    terms: dict[str, Any] = {}
    if rng.random() < 0.7:
        terms["troop_ceiling"] = rng.choice([0, 10000, 20000, 27000, 40000, 60000])
    if rng.random() < 0.5:
        terms["withdrawal_date"] = rng.choice(["1972-08-31", "1973-03-29", "1973-12-31"])
    if rng.random() < 0.3:
        terms["ceasefire"] = rng.random() < 0.5
    if rng.random() < 0.2:
        terms["troop_ceiling"] = 99999  # out of range: refused
    return terms


def _command(rng: random.Random, state: RoomState, seat: str) -> Any:
    proposals = list(state.proposals) or ["pr-none"]
    threads = list(state.threads)
    coalitions = list(state.coalitions) or ["co-none"]
    pick = rng.random()
    if pick < 0.35:
        coalition = rng.choice(coalitions) if rng.random() < 0.2 else None
        terms = _random_terms(rng)
        thread = "plenary" if rng.random() < 0.6 else rng.choice(threads)
        same_thread = [p.id for p in state.proposals.values() if p.thread == thread]
        parent = rng.choice(same_thread) if same_thread and rng.random() < 0.4 else None
        return lambda s: deal.decide_table_proposal(
            s, seat, thread, terms=terms, parent=parent, coalition=coalition
        )
    if pick < 0.65:
        open_ = [
            p.id
            for p in state.proposals.values()
            if deal.status(state, p) in (Status.TABLED, Status.ACCEPTED_BY_SOME, Status.REJECTED)
        ]
        proposal = rng.choice(open_ or proposals)
        answer = rng.choice(["accept", "accept", "reject", "reserve"])
        return lambda s: deal.decide_answer_proposal(s, seat, proposal, answer)
    if pick < 0.69:
        proposal = rng.choice(proposals)
        return lambda s: deal.decide_withdraw_proposal(s, seat, proposal)
    if pick < 0.74:
        proposal = rng.choice(proposals)
        return lambda s: deal.decide_endorse_proposal(s, seat, proposal)
    if pick < 0.77:
        reachable = transitions(state.stages, state.stage)
        to = rng.choice(reachable) if reachable and rng.random() < 0.8 else rng.choice(STAGES)
        return lambda s: proc.decide_change_stage(s, seat, to)
    if pick < 0.81:
        others = rng.sample(PARTIES, rng.randint(1, 2))
        return lambda s: proc.decide_declare_coalition(s, seat, others, "bloc")
    if pick < 0.86:
        coalition = rng.choice(coalitions)
        return lambda s: proc.decide_join_coalition(s, seat, coalition)
    if pick < 0.9:
        others = rng.sample(PARTIES, 1)
        return lambda s: rules.decide_open_backchannel(s, seat, others, "side")
    if pick < 0.94:
        thread = rng.choice(threads)
        return lambda s: rules.decide_accept_backchannel(s, seat, thread)
    if pick < 0.97:
        agreement = state.agreement.id if state.agreement else "none"
        return lambda s: proc.decide_sign_agreement(s, seat, agreement)
    thread = rng.choice(threads)
    return lambda s: rules.decide_post_message(s, seat, thread, "note", max_chars=100)


@pytest.mark.parametrize("seed", [7, 1973])
async def test_a_random_negotiation_rebuilds_to_the_live_state(
    database: Database, writer: LogWriter, seed: int
) -> None:
    rng = random.Random(seed)
    states = RoomStates(database)
    writer.add_listener(states.follow)
    rooms = RoomService(writer, states, AccessService(database, "http://127.0.0.1:8080"))
    room = (await rooms.create(paris_1973())).room_id
    service = CommandService(database, writer, states)
    await service.run(
        Grant(room, "facilitator", "unused"),
        lambda s: proc.decide_change_stage(s, "facilitator", "opening"),
        "start",
    )
    appended = refused = 0
    reasons: dict[str, int] = {}
    for step in range(400):
        state = await states.get(room)
        seat = rng.choice(HEADS) if rng.random() < 0.7 else rng.choice(SEATS)
        try:
            await service.run(Grant(room, seat, "unused"), _command(rng, state, seat), f"c{step}")
            appended += 1
        except DomainError as exc:
            refused += 1
            reason = f"{type(exc).__name__}: {exc.message[:40]}"
            reasons[reason] = reasons.get(reason, 0) + 1
    assert appended > 50 and refused > 50, (appended, refused, reasons)

    live = await states.get(room)
    rebuilt = await RoomStates(database).get(room)
    assert rebuilt == live
    async with database.engine.connect() as conn:
        log = await read_events(conn, room)
    folded = fold_records(room, log)
    assert folded == live
    assert [deal.status(folded, p) for p in folded.proposals.values()] == [
        deal.status(live, p) for p in live.proposals.values()
    ]
    assert live.proposals, "the random run tabled nothing: the test would prove little"
