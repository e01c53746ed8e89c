"""Organisers (who may create rooms in the browser, tokens stored hashed) and their rooms.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organisers",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_organisers")),
    )
    op.create_table(
        "organised_rooms",
        sa.Column("room_id", sa.String(40), nullable=False),
        sa.Column("organiser_hash", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_organised_rooms_room_id_rooms")
        ),
        sa.PrimaryKeyConstraint("room_id", name=op.f("pk_organised_rooms")),
    )
    op.create_index(
        op.f("ix_organised_rooms_organiser_hash"), "organised_rooms", ["organiser_hash"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_organised_rooms_organiser_hash"), table_name="organised_rooms")
    op.drop_table("organised_rooms")
    op.drop_table("organisers")
