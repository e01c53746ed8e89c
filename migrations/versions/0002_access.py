"""Seat access (hashed invite and session tokens) and the room's state sequence.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The seq of the room's last state-changing event: the append path compares it with the
    # state a command was checked against (optimistic concurrency across processes).
    with op.batch_alter_table("rooms") as batch:
        batch.add_column(
            sa.Column("state_seq", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_table(
        "invites",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("room_id", sa.String(40), nullable=False),
        sa.Column("seat_id", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_invites")),
    )
    op.create_index(op.f("ix_invites_room_id_seat_id"), "invites", ["room_id", "seat_id"])
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("room_id", sa.String(40), nullable=False),
        sa.Column("seat_id", sa.String(40), nullable=False),
        sa.Column("invite_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_invite_hash"), "sessions", ["invite_hash"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sessions_invite_hash"), table_name="sessions")
    op.drop_table("sessions")
    op.drop_index(op.f("ix_invites_room_id_seat_id"), table_name="invites")
    op.drop_table("invites")
    with op.batch_alter_table("rooms") as batch:
        batch.drop_column("state_seq")
