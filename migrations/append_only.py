"""DDL that makes a table append-only, for each database (see docs/architecture.md).

SQLite: BEFORE UPDATE and BEFORE DELETE triggers raise; a BEFORE INSERT guard requires the
next ``seq`` of the room, which also stops ``INSERT OR REPLACE`` from overwriting a row (with
``recursive_triggers`` on, the DELETE trigger fires as well).

PostgreSQL: row triggers refuse UPDATE and DELETE, a statement trigger refuses TRUNCATE (which
ignores row triggers), and the same insert guard. All are ``ENABLE ALWAYS`` so that
``session_replication_role = replica`` does not switch them off. Errors are SQLSTATE 23000
(integrity constraint violation), which drivers surface as integrity errors.
"""

from __future__ import annotations

from alembic import op

REFUSE_FUNCTION = "parley_refuse_change"
SEQ_GUARD_FUNCTION = "parley_events_next_seq"


def create_guards(table: str, *, seq_guard: bool) -> None:
    """Install the append-only triggers on ``table`` for the current database."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
            )
        if seq_guard:
            op.execute(
                f"CREATE TRIGGER {table}_next_seq BEFORE INSERT ON {table} "
                f"WHEN NEW.seq IS NULL OR NEW.seq <> COALESCE("
                f"(SELECT MAX(seq) FROM {table} WHERE room_id = NEW.room_id), 0) + 1 "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: "
                f"seq must be the room''s last seq + 1'); END"
            )
        return
    op.execute(
        f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {REFUSE_FUNCTION}()"
    )
    op.execute(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {REFUSE_FUNCTION}()"
    )
    op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_update_delete")
    op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_truncate")
    if seq_guard:
        if table != "events":
            raise ValueError("the PostgreSQL seq guard is written for the events table")
        op.execute(
            f"CREATE TRIGGER {table}_next_seq BEFORE INSERT ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {SEQ_GUARD_FUNCTION}()"
        )
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_next_seq")


def drop_guards(table: str, *, seq_guard: bool) -> None:
    if op.get_bind().dialect.name == "sqlite":
        names = [f"{table}_no_update", f"{table}_no_delete"]
        names += [f"{table}_next_seq"] if seq_guard else []
        for name in names:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        return
    names = [f"{table}_no_update_delete", f"{table}_no_truncate"]
    names += [f"{table}_next_seq"] if seq_guard else []
    for name in names:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")


def create_functions() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION {REFUSE_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'integrity_constraint_violation';
        END $$
        """
    )
    # This runs once per inserted row, so it must stay an exact primary-key probe. Requiring
    # that seq - 1 exists (or seq = 1), together with the primary key that forbids a second
    # row at any seq, keeps every room's log exactly 1..n. (A MAX(seq) lookup, the obvious
    # formulation, measured O(rows) per insert inside long transactions.)
    op.execute(
        f"""
        CREATE FUNCTION {SEQ_GUARD_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.seq IS NULL OR NOT (NEW.seq = 1 OR EXISTS (
                SELECT 1 FROM events WHERE room_id = NEW.room_id AND seq = NEW.seq - 1
            )) THEN
                RAISE EXCEPTION 'events is append-only: seq must be the room''s last seq + 1 '
                    '(got %, expected %)', NEW.seq, (
                    SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE room_id = NEW.room_id)
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$
        """
    )


def drop_functions() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP FUNCTION IF EXISTS {SEQ_GUARD_FUNCTION}()")
    op.execute(f"DROP FUNCTION IF EXISTS {REFUSE_FUNCTION}()")
