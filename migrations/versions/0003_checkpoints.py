"""Signed checkpoints of each room's log, append-only like the log itself.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.append_only import create_guards, drop_guards

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # One signed note per room and tree size: the first signature at a size is kept, a later
    # request for the same size gets it back (Ed25519 is deterministic, so it is the same note
    # unless the key was replaced).
    op.create_table(
        "checkpoints",
        sa.Column("room_id", sa.String(40), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_checkpoints_room_id_rooms")
        ),
        sa.PrimaryKeyConstraint("room_id", "size", name=op.f("pk_checkpoints")),
    )
    # The refusing function of the PostgreSQL guards was created by 0001.
    create_guards("checkpoints", seq_guard=False)


def downgrade() -> None:
    drop_guards("checkpoints", seq_guard=False)
    op.drop_table("checkpoints")
