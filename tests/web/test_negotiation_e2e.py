"""A whole four-party withdrawal negotiation, every stage, over real sockets with the client.

Ten seats (a head and an adviser for each of four parties, a facilitator, an observer) each
hold a live session and record every event it receives. The negotiation runs through every
stage of the default list: statements, proposals and counter-proposals on the withdrawal
date and the troop ceiling, a US-DRV back-channel and its deal, concessions, a coalition's
joint proposal, acceptance, the agreement, four signatures, and the disclosure of the
back-channel at the debrief. Then the log is checked event by event, and every seat's stream
against what it may see.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from client import NotFound, Session, StageClosed, connect
from client.models import Event
from server.exercise.scenarios import paris_1973
from tests.support.live import LiveRoom, LiveServer, http

PARTIES = ("us", "drv", "rvn", "prg")
SEATS = ("facilitator", "observer-1", *(f"{p}-{n}" for p in PARTIES for n in (1, 2)))


class Table:
    """Every seat's live session, and what each has received."""

    def __init__(self, server: LiveServer, room: LiveRoom) -> None:
        self.server, self.room = server, room
        self.sessions: dict[str, Session] = {}
        self.seen: dict[str, list[Event]] = {seat: [] for seat in SEATS}
        self._tasks: list[asyncio.Task[None]] = []
        self._arrived = {seat: asyncio.Event() for seat in SEATS}

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[Table]:
        async with contextlib.AsyncExitStack() as stack:
            for seat in SEATS:
                session = await stack.enter_async_context(
                    connect(self.server.base_url, self.room.seat(seat).token)
                )
                self.sessions[seat] = session
                self._tasks.append(asyncio.create_task(self._collect(seat, session)))
            try:
                yield self
            finally:
                for task in self._tasks:
                    task.cancel()

    async def _collect(self, seat: str, session: Session) -> None:
        async for event in session.events():
            self.seen[seat].append(event)
            self._arrived[seat].set()

    def __getitem__(self, seat: str) -> Session:
        return self.sessions[seat]

    async def caught_up(self, seat: str, last: int) -> None:
        async with asyncio.timeout(20):
            while not self.seen[seat] or self.seen[seat][-1].seq < last:
                self._arrived[seat].clear()
                await self._arrived[seat].wait()


def history(server: LiveServer, room: LiveRoom, seat: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    since = 0
    while True:
        status, body = http(
            "GET",
            f"{server.base_url}/api/v1/rooms/{room.id}/events?since={since}&limit=500",
            token=room.seat(seat).token,
        )
        assert status == 200
        events += body["events"]
        if not body["more"]:
            return events
        since = body["next"]


def expected_view(seat: str, thread: str | None, members: dict[str, set[str]]) -> str:
    """What ``seat`` may see of an event in ``thread``, restated from DESIGN §3 (before any
    disclosure; default policy: the facilitator reads private threads)."""
    if thread is None or thread == "plenary":
        return "full"
    parties = members[thread]
    if seat == "facilitator":
        return "full"
    if seat == "observer-1":
        return "sealed"
    return "full" if seat.split("-")[0] in parties else "hidden"


async def test_a_four_party_withdrawal_negotiation_through_every_stage(
    live_server: LiveServer,
) -> None:
    room = await live_server.create_room(paris_1973())
    r = room.id
    async with Table(live_server, room).open() as table:
        for session in table.sessions.values():
            await session.wait_synced()
        us, drv, rvn, prg = (table[f"{p}-1"] for p in PARTIES)
        fac = table["facilitator"]

        # Pre-negotiation: no proposals yet; the facilitator opens the talks.
        with pytest.raises(StageClosed) as early:
            await us.table_proposal(r, "plenary", {"ceasefire": True})
        assert "no-proposals-in-pre-negotiation" in str(early.value)
        await fac.change_stage(r, "opening")
        await us.post_message(r, "plenary", "The United States seeks an honourable settlement.")
        await drv.post_message(r, "plenary", "All foreign troops must leave, unconditionally.")

        p1 = (
            await us.table_proposal(
                r,
                "plenary",
                {"withdrawal_date": "1973-12-31", "troop_ceiling": 40000, "ceasefire": True},
                title="Mutual withdrawal",
            )
        ).created
        p2 = (
            await drv.table_proposal(
                r,
                "plenary",
                {"withdrawal_date": "1972-08-31", "troop_ceiling": 0, "ceasefire": True},
                parent=p1,
                title="Unconditional withdrawal",
            )
        ).created
        assert p1 and p2

        # Detailed discussion: a secret channel between the United States and the DRV.
        await fac.change_stage(r, "detailed-discussion")
        bc = (await us.open_backchannel(r, ["drv"], "Gif-sur-Yvette")).created
        assert bc and bc.startswith("bc-")
        await drv.accept_backchannel(r, bc)
        await table["us-2"].post_message(r, bc, "Could a date in March 1973 work?")
        b1 = (
            await drv.table_proposal(
                r, bc, {"withdrawal_date": "1973-03-29", "troop_ceiling": 27000}
            )
        ).created
        assert b1
        await us.answer_proposal(r, b1, "accept", "subject to the plenary")
        with pytest.raises(NotFound):
            await rvn.answer_proposal(r, b1, "accept")

        # In plenary the United States moves toward the DRV: two concessions are logged.
        p3 = (
            await us.table_proposal(
                r,
                "plenary",
                {"withdrawal_date": "1973-03-29", "troop_ceiling": 27000, "ceasefire": True},
                parent=p2,
            )
        ).created

        # The DRV and the PRG form a coalition; their joint proposal needs both endorsements.
        co = (await drv.declare_coalition(r, ["prg"], "Vietnamese side")).created
        assert co
        await prg.join_coalition(r, co)
        joint_terms = {
            "withdrawal_date": "1973-03-29",
            "troop_ceiling": 27000,
            "ceasefire": True,
            "political_track": "separate track",
        }
        draft = await drv.table_proposal(
            r, "plenary", joint_terms, coalition=co, parent=p3, clauses=["Prisoners released."]
        )
        p4 = draft.created
        assert p4 and draft.thread == co
        await prg.record_concession(
            r,
            "plenary",
            "Drops the demand that the government resign first.",
            issue="political_track",
            toward="rvn",
        )
        await prg.endorse_proposal(r, p4)

        await fac.change_stage(r, "verification")
        await rvn.answer_proposal(r, p4, "reserve", "the commission is not settled")
        await us.answer_proposal(r, p4, "accept")
        agreed = await rvn.answer_proposal(r, p4, "accept")

        await fac.change_stage(r, "formalization")
        with pytest.raises(StageClosed) as late:
            await rvn.table_proposal(r, "plenary", {"commission_size": 1160})
        assert "no-new-proposals-in-formalization" in str(late.value)
        with pytest.raises(StageClosed):
            await table["us-2"].post_message(r, bc, "one more thing")
        for head in (us, drv, rvn, prg):
            await head.sign_agreement(r, p4)
        await fac.change_stage(r, "post-agreement")
        disclosed = await fac.disclose_thread(r, bc, "observers")

        last = disclosed.seq
        assert last is not None and agreed.seq is not None

        # -- the log, event by event ------------------------------------------------------
        log = history(live_server, room, "facilitator")  # the facilitator sees everything
        assert [e["seq"] for e in log] == list(range(1, last + 1))
        made = [(e["kind"], e["record"]["thread"]) for e in log[25:]]  # after the opening
        expected = [
            ("stage_changed", None),
            ("message_posted", "plenary"),
            ("message_posted", "plenary"),
            ("proposal_tabled", "plenary"),
            ("proposal_tabled", "plenary"),
            ("stage_changed", None),
            ("thread_opened", bc),
            ("thread_accepted", bc),
            ("message_posted", bc),
            ("proposal_tabled", bc),
            ("proposal_answered", bc),
            ("proposal_tabled", "plenary"),
            ("concession_recorded", "plenary"),
            ("concession_recorded", "plenary"),
            ("coalition_declared", None),
            ("coalition_joined", None),
            ("proposal_drafted", co),
            ("concession_recorded", "plenary"),
            ("proposal_endorsed", co),
            ("proposal_tabled", "plenary"),
            ("concession_recorded", "plenary"),
            ("concession_recorded", "plenary"),
            ("stage_changed", None),
            ("proposal_answered", "plenary"),
            ("proposal_answered", "plenary"),
            ("proposal_answered", "plenary"),
            ("agreement_reached", "plenary"),
            ("stage_changed", None),
            ("agreement_signed", "plenary"),
            ("agreement_signed", "plenary"),
            ("agreement_signed", "plenary"),
            ("agreement_signed", "plenary"),
            ("agreement_concluded", "plenary"),
            ("stage_changed", None),
            ("thread_disclosed", bc),
        ]
        assert made == expected
        by_seq = {e["seq"]: e for e in log}
        # Every event carries the stage it happened in.
        assert by_seq[agreed.seq]["stage"] == "verification"
        assert by_seq[last]["stage"] == "post-agreement"
        us_moves = [e["record"]["body"] for e in log[25:] if e["kind"] == "concession_recorded"]
        assert [(c["party"], c["issue"], c["toward"], c["size"]) for c in us_moves[:2]] == [
            ("us", "withdrawal_date", "drv", "0.3031"),  # 277 of 914 days
            ("us", "troop_ceiling", "drv", "0.2167"),  # 13,000 of 60,000 troops
        ]
        assert us_moves[2]["explicit"] is True and us_moves[2]["party"] == "prg"
        assert sorted((c["party"], c["issue"], c["toward"]) for c in us_moves[3:]) == [
            ("drv", "troop_ceiling", "us"),
            ("drv", "withdrawal_date", "us"),
        ]
        reached = by_seq[agreed.seq + 1]["record"]["body"]
        assert reached["proposal"] == p4 and reached["terms"] == joint_terms
        concluded = next(e for e in log if e["kind"] == "agreement_concluded")["record"]["body"]
        assert [s["party"] for s in concluded["signatories"]] == list(PARTIES)
        assert concluded["text_sha256"] == reached["text_sha256"]

        # -- what each seat saw -------------------------------------------------------------
        members = {bc: {"us", "drv"}, co: {"drv", "prg"}}
        members |= {f"caucus-{p}": {p} for p in PARTIES}
        for seat in SEATS:
            mine = history(live_server, room, seat)
            await table.caught_up(seat, mine[-1]["seq"])
            # The same events live as in the history; the observer's history is read after
            # the disclosure, so only its live stream has the back-channel sealed.
            assert [e.seq for e in table.seen[seat]] == [e["seq"] for e in mine], seat
            if seat != "observer-1":
                streamed = [(e.seq, e.sealed) for e in table.seen[seat]]
                assert streamed == [(e["seq"], e["sealed"]) for e in mine], seat
            views = {e["seq"]: ("sealed" if e["sealed"] else "full") for e in mine}
            for event in log:
                want = expected_view(seat, event["record"]["thread"], members)
                if seat == "observer-1" and event["record"]["thread"] == bc:
                    want = "full"  # HTTP history is read after the disclosure
                got = views.get(event["seq"], "hidden")
                assert got == want, (seat, event["seq"], event["kind"])
        # The observer's live stream had the back-channel sealed; read again after the
        # disclosure, the same events are full and their records hash to the same leaves.
        in_private = {
            e["seq"]
            for e in log
            if e["record"]["thread"] in (bc, co) and e["kind"] != "thread_disclosed"
        }
        live_bc = [e for e in table.seen["observer-1"] if e.seq in in_private]
        assert len(live_bc) == len(in_private) == 7
        assert all(e.sealed and e.record is None for e in live_bc)
        assert not any(e.seq in in_private for e in table.seen["rvn-1"])

    async with connect(live_server.base_url, room.seat("observer-1").token) as again:
        replay: list[Event] = []
        async with asyncio.timeout(10):
            async for event in again.events():
                replay.append(event)
                if event.seq >= last:
                    break
    in_bc = [e for e in replay if e.record is not None and e.record.get("thread") == bc]
    assert len(in_bc) == 6 and not any(e.sealed for e in in_bc)
    sealed_before = {e.seq: e.leaf_hash for e in table.seen["observer-1"]}
    assert all(sealed_before[e.seq] == e.leaf_hash for e in in_bc)

    # -- the documents ------------------------------------------------------------------------
    base = f"{live_server.base_url}/api/v1/rooms/{r}"
    status, body = http("GET", f"{base}/agreement", token=room.seat("rvn-2").token)
    assert status == 200 and body["signed"] is True and body["terms"] == joint_terms
    assert [s["party"] for s in body["signatures"]] == list(PARTIES)
    assert all(s["signed_at"] for s in body["signatures"])
    documents = (("md", "| Republic of Vietnam |"), ("html", "<td>Republic of Vietnam</td>"))
    for suffix, marker in documents:
        status, text = http(
            "GET",
            f"{live_server.base_url}/api/v1/rooms/{r}/agreement.{suffix}",
            token=room.seat("observer-1").token,
        )
        assert status == 200 and marker in text and "27000 troops" in text
