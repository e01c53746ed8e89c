"""The log: rooms, the append-only events table and the Merkle nodes.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.append_only import create_functions, create_guards, drop_functions, drop_guards

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rooms",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("tree_frontier", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rooms")),
    )
    op.create_table(
        "events",
        sa.Column("room_id", sa.String(40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("actor_seat", sa.String(40), nullable=True),
        sa.Column("actor_party", sa.String(40), nullable=True),
        sa.Column("thread_id", sa.String(40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("salt", sa.LargeBinary(16), nullable=False),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("command_id", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_events_room_id_rooms")),
        sa.PrimaryKeyConstraint("room_id", "seq", name=op.f("pk_events")),
        sa.UniqueConstraint(
            "command_id",
            "actor_seat",
            "room_id",
            name=op.f("uq_events_command_id_actor_seat_room_id"),
        ),
    )
    op.create_table(
        "merkle_nodes",
        sa.Column("room_id", sa.String(40), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_merkle_nodes_room_id_rooms")
        ),
        sa.PrimaryKeyConstraint("room_id", "level", "idx", name=op.f("pk_merkle_nodes")),
    )
    create_functions()
    create_guards("events", seq_guard=True)
    create_guards("merkle_nodes", seq_guard=False)


def downgrade() -> None:
    drop_guards("merkle_nodes", seq_guard=False)
    drop_guards("events", seq_guard=True)
    drop_functions()
    op.drop_table("merkle_nodes")
    op.drop_table("events")
    op.drop_table("rooms")
