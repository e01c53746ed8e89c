"""An index to read one thread's history backwards (browser scroll-back by thread).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # thread_id leads, so the index cannot compete with the primary key for a room's reads.
    op.create_index(
        op.f("ix_events_thread_id_room_id_seq"), "events", ["thread_id", "room_id", "seq"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_events_thread_id_room_id_seq"), table_name="events")
