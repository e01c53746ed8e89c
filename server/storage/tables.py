"""SQLAlchemy tables. The schema itself comes from the Alembic migrations, which must match this.

``events`` is the log: append-only at the database level (triggers in the migrations). ``rooms``
holds projections of the log (its size, current stage and Merkle frontier) that the append path
keeps in step inside the same transaction; they can be rebuilt from ``events`` alone.
``merkle_nodes`` holds the hashes of complete subtrees of level >= 1, so that tree heads and
proofs never recompute the tree. ``checkpoints`` holds the signed tree heads, append-only too.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(40)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Room(Base):
    __tablename__ = "rooms"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Projections of the log, updated by the append path in the appending transaction.
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    stage: Mapped[str] = mapped_column(String(64))
    tree_frontier: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    state_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class Event(Base):
    __tablename__ = "events"
    # command_id leads: an index that starts with room_id would compete with the primary key
    # for room_id lookups, and with stale statistics the planner picks it and scans the room.
    # A thread's history is read backwards by its own index; thread_id leads for the same
    # reason, so this index cannot serve (or compete for) a room's reads by seq.
    __table_args__ = (
        UniqueConstraint("command_id", "actor_seat", "room_id"),
        Index(None, "thread_id", "room_id", "seq"),
    )

    room_id: Mapped[str] = mapped_column(ID, ForeignKey("rooms.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(64))
    actor_seat: Mapped[str | None] = mapped_column(ID)
    actor_party: Mapped[str | None] = mapped_column(ID)
    thread_id: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    record: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    command_id: Mapped[str | None] = mapped_column(String(64))


class MerkleNode(Base):
    __tablename__ = "merkle_nodes"

    room_id: Mapped[str] = mapped_column(ID, ForeignKey("rooms.id"), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class Invite(Base):
    """An invite link's token, stored only as its SHA-256; rotating a seat revokes the old one."""

    __tablename__ = "invites"
    __table_args__ = (Index(None, "room_id", "seat_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    room_id: Mapped[str] = mapped_column(ID)
    seat_id: Mapped[str] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Session(Base):
    """A session made by redeeming an invite (cookie or bearer token), stored hashed."""

    __tablename__ = "sessions"
    __table_args__ = (Index(None, "invite_hash"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    room_id: Mapped[str] = mapped_column(ID)
    seat_id: Mapped[str] = mapped_column(ID)
    invite_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SignedCheckpoint(Base):
    """A C2SP checkpoint of a room's log at one size, as signed (one per room and size)."""

    __tablename__ = "checkpoints"

    room_id: Mapped[str] = mapped_column(ID, ForeignKey("rooms.id"), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(20))
    """Why it was signed: ``stage_change``, ``on_demand`` or ``export``."""
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Organiser(Base):
    """Someone allowed to create rooms in the browser; the link's token stored as its SHA-256."""

    __tablename__ = "organisers"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OrganisedRoom(Base):
    """A room an organiser created (what the organiser's list of rooms shows)."""

    __tablename__ = "organised_rooms"
    __table_args__ = (Index(None, "organiser_hash"),)

    room_id: Mapped[str] = mapped_column(ID, ForeignKey("rooms.id"), primary_key=True)
    organiser_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    scenario: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


rooms = cast(Table, Room.__table__)
events = cast(Table, Event.__table__)
merkle_nodes = cast(Table, MerkleNode.__table__)
invites = cast(Table, Invite.__table__)
sessions = cast(Table, Session.__table__)
checkpoints = cast(Table, SignedCheckpoint.__table__)
organisers = cast(Table, Organiser.__table__)
organised_rooms = cast(Table, OrganisedRoom.__table__)
