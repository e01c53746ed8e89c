"""Fill in ``rooms.state_seq`` for rooms that had events before 0002 added the column.

0002 added the column with a default of 0 and never set it, so a room created at 0001 kept
``state_seq = 0`` while its state, folded from the log, has the seq of its last state-changing
event (at least 1: ``room_created``). The append path compares the two before every command,
so every command in such a room was refused as stale, for good. No room that went through the
append path since 0002 has 0 (its ``room_created`` sets 1), so only those rooms change.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATE_KINDS = (
    "agenda_issue_added",
    "agreement_concluded",
    "agreement_reached",
    "agreement_signed",
    "coalition_declared",
    "coalition_joined",
    "position_set",
    "proposal_answered",
    "proposal_drafted",
    "proposal_endorsed",
    "proposal_tabled",
    "proposal_withdrawn",
    "room_created",
    "seat_joined",
    "stage_changed",
    "stage_consented",
    "thread_accepted",
    "thread_declined",
    "thread_disclosed",
    "thread_opened",
)
"""``server.domain.room.STATE_KINDS`` as it stands at this revision (a test holds them equal
while no later migration needs otherwise): a migration must not change with the code."""


def upgrade() -> None:
    rooms = sa.table("rooms", sa.column("id"), sa.column("state_seq"))
    events = sa.table("events", sa.column("room_id"), sa.column("seq"), sa.column("kind"))
    last_state_change = (
        sa.select(sa.func.max(events.c.seq))
        .where(events.c.room_id == rooms.c.id, events.c.kind.in_(STATE_KINDS))
        .scalar_subquery()
    )
    op.execute(
        rooms.update()
        .where(rooms.c.state_seq == 0)
        .values(state_seq=sa.func.coalesce(last_state_change, 0))
    )


def downgrade() -> None:
    # A filled-in projection is as 0002 should have left it; nothing to undo.
    pass
