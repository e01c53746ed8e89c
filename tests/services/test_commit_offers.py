"""Live fan-out: what each seat is offered from a commit, judged once per commit where seats
stand alike, must be exactly what judging it for that seat alone gives."""

from __future__ import annotations

from dataclasses import fields

from server.domain.room import Role
from server.domain.visibility import Viewer
from server.services.views.log import Commit, Offer
from server.storage.records import NewEvent, StoredEvent
from server.storage.writer import LogWriter
from tests.domain.builders import opening
from tests.factories import fold_records, make_room_spec

US, DRV = Viewer(Role.DELEGATE, "us"), Viewer(Role.DELEGATE, "drv")
OBSERVER, FACILITATOR = Viewer(Role.OBSERVER), Viewer(Role.FACILITATOR)


async def _commit(writer: LogWriter) -> tuple[Commit, list[StoredEvent]]:
    """A room (three parties and their caucuses) and one commit of messages: two from us
    delegates with command ids (one in their caucus), one from drv without."""
    spec = make_room_spec()
    room = spec.room_id
    first = [
        NewEvent(e.kind, e.body, seat=e.seat, party=e.party, thread=e.thread) for e in opening()
    ]
    log = list((await writer.create_room(spec, first)).events)

    def message(seat: str, party: str, thread: str) -> NewEvent:
        return NewEvent("message_posted", {"text": f"{seat} in {thread}"}, seat, party, thread)

    commit: list[StoredEvent] = []
    for event, command_id in (
        (message("us-1", "us", "plenary"), "c-1"),
        (message("us-2", "us", "caucus-us"), "c-2"),
        (message("drv-1", "drv", "plenary"), None),
        (message("us-1", "us", "caucus-us"), "c-3"),
    ):
        commit += (await writer.append(room, event, command_id=command_id)).events
    state = fold_records(room, log + commit)
    return Commit(room, commit, state), commit


SEATS = [
    (US, "us-1"),  # caused two of the events
    (US, "us-2"),  # caused one; the same viewer as us-1
    (US, "us-3"),  # caused none; the same viewer as both
    (DRV, "drv-1"),  # caused one, without a command id
    (DRV, "drv-2"),
    (OBSERVER, "observer"),
    (OBSERVER, "observer-2"),
    (FACILITATOR, "facilitator"),
]


async def test_every_seat_is_offered_what_it_would_be_offered_alone(writer: LogWriter) -> None:
    shared, events = await _commit(writer)
    first = events[0].seq
    offered: dict[tuple[str, int], Offer] = {}
    # Each seat at several points of the commit (seq judged, seq sent), in an order that mixes
    # seats and points; the last two differ only in what was sent.
    points = [(first - 1, first - 2), (first + 1, first - 2), (first - 1, first - 5)]
    points += [(first + 3, first + 1), (first + 3, first + 2)]
    for last, last_sent in points:
        for viewer, seat_id in SEATS:
            got = shared.offer(viewer, seat_id, last, last_sent)
            alone = Commit(shared.room_id, events, shared.state)
            assert got == alone.offer(viewer, seat_id, last, last_sent), (seat_id, last)
            offered[(seat_id, last)] = got
    at_start = first - 1
    us_1, us_2, us_3 = (offered[(s, at_start)] for s in ("us-1", "us-2", "us-3"))
    # The actors' frames carry their own command ids and no one else's.
    assert sum('"command_id":"c-1"' in f for f in us_1.frames) == 1
    assert not any('"command_id":"c-2"' in f for f in us_1.frames)
    assert sum('"command_id":"c-2"' in f for f in us_2.frames) == 1
    assert not any('"command_id"' in f for f in us_3.frames)
    assert len(us_3.frames) == 4 and offered[("drv-2", at_start)].frames != us_3.frames
    # Seats that stand alike and caused nothing share one judged offer.
    assert offered[("observer", at_start)] is offered[("observer-2", at_start)]
    assert offered[("drv-2", at_start)] is not us_3
    assert offered[("observer", first + 1)] is not offered[("observer", at_start)]
    assert offered[("observer", first + 1)].frames == offered[("observer", at_start)].frames[2:]


def test_offers_are_keyed_by_every_field_of_the_viewer() -> None:
    """``Commit.offer`` shares an offer between seats by the viewer's role and party (hashing
    the Viewer itself costs a Python call per seat per commit): a field added to Viewer must be
    added to that key too, or seats that differ in it would share offers."""
    assert [f.name for f in fields(Viewer)] == ["role", "party"]
