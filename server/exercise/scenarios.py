"""Bundled scenarios: a name -> the room they set up (full scenario packages come later)."""

from __future__ import annotations

from collections.abc import Callable

from server.domain.room import Party, Role
from server.domain.setup import PositionSpec, RoomSetup, SeatSpec


def tutorial() -> RoomSetup:
    """The smallest useful table: two parties of two delegates, a facilitator, an observer."""
    return RoomSetup(
        title="Tutorial: a withdrawal in two steps",
        parties=[Party("north", "Northern Republic"), Party("south", "Southern Federation")],
        seats=[
            SeatSpec(Role.FACILITATOR, "Facilitator"),
            SeatSpec(Role.DELEGATE, "North, head of delegation", party="north", head=True),
            SeatSpec(Role.DELEGATE, "North, military adviser", party="north"),
            SeatSpec(Role.DELEGATE, "South, head of delegation", party="south", head=True),
            SeatSpec(Role.DELEGATE, "South, legal adviser", party="south"),
            SeatSpec(Role.OBSERVER, "Observer"),
        ],
    )


PARIS_AGENDA: list[dict[str, object]] = [
    {
        "id": "withdrawal_date",
        "title": "All foreign troops withdrawn by",
        "type": "date",
        "min": "1972-06-30",
        "max": "1974-12-31",
    },
    {
        "id": "troop_ceiling",
        "title": "Foreign troop ceiling during the withdrawal",
        "type": "number",
        "unit": "troops",
        "min": 0,
        "max": 60000,
    },
    {
        "id": "commission_size",
        "title": "Supervisory commission personnel",
        "type": "number",
        "unit": "personnel",
        "min": 0,
        "max": 2000,
    },
    {"id": "ceasefire", "title": "Ceasefire in place", "type": "yesno"},
    {
        "id": "political_track",
        "title": "Political settlement",
        "type": "choice",
        "options": ["before ceasefire", "after ceasefire", "separate track"],
    },
]


def paris_1973() -> RoomSetup:
    """Four parties over a troop withdrawal, after the Paris talks (1968-1973).

    Each delegation has a head and an adviser; a facilitator and an observer complete the
    table. The positions are each party's confidential brief, loosely after the record: the
    United States wants a short, supervised withdrawal with a ceasefire first; the DRV a fixed
    early date and a small commission; the RVN a long withdrawal and a large commission; the
    PRG a political settlement before the ceasefire.
    """
    parties = [
        Party("us", "United States"),
        Party("drv", "Democratic Republic of Vietnam"),
        Party("rvn", "Republic of Vietnam"),
        Party("prg", "Provisional Revolutionary Government"),
    ]
    seats = [SeatSpec(Role.FACILITATOR, "Facilitator")]
    for party in parties:
        seats.append(SeatSpec(Role.DELEGATE, f"{party.name}, head of delegation", party.id, True))
        seats.append(SeatSpec(Role.DELEGATE, f"{party.name}, adviser", party.id))
    seats.append(SeatSpec(Role.OBSERVER, "Observer"))
    positions = [
        PositionSpec("us", "withdrawal_date", "down", "1972-12-31", "1973-06-30"),
        PositionSpec("us", "troop_ceiling", "down", 0, 27000),
        PositionSpec("us", "commission_size", "up", 1500, 800),
        PositionSpec("drv", "withdrawal_date", "down", "1972-08-31", "1973-04-30"),
        PositionSpec("drv", "commission_size", "down", 250, 1200),
        PositionSpec("drv", "political_track", None, "before ceasefire", "separate track"),
        PositionSpec("rvn", "withdrawal_date", "up", "1974-06-30", "1973-03-31"),
        PositionSpec("rvn", "commission_size", "up", 2000, 1000),
        PositionSpec("prg", "political_track", None, "before ceasefire", "after ceasefire"),
    ]
    return RoomSetup(
        title="Paris, 1973: a four-party withdrawal",
        parties=parties,
        seats=seats,
        agenda=PARIS_AGENDA,
        positions=positions,
    )


SCENARIOS: dict[str, Callable[[], RoomSetup]] = {"tutorial": tutorial, "paris-1973": paris_1973}
