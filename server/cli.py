"""The ``parley`` command (DESIGN §8).

Every verb reads the same settings as the server. Errors are one line on stderr and a non-zero
exit status, never a traceback: :class:`CliError` and the known failure types are caught in
:func:`main`; anything else is reported as an internal error in one line too.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server import __version__
from server.config import Settings, SettingsError, load_settings

if TYPE_CHECKING:  # imported where used: `parley audit verify` must not load a database driver
    from server.storage.database import Database

log = logging.getLogger("parley")


class CliError(Exception):
    """A failure to report as one line, with the exit status to use."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def ensure_data_dir(settings: Settings) -> None:
    """Create the data folder if needed and prove it writable, or raise :class:`CliError`."""
    path = settings.data_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CliError(f"data folder {path} is not usable (PARLEY_DATA_DIR): {reason}") from None


async def _open_database(settings: Settings) -> Database:
    from server.storage.database import Database, DatabaseUnavailable

    if settings.database_kind == "sqlite":
        ensure_data_dir(settings)
    db = Database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        await db.check()
    except DatabaseUnavailable as exc:
        await db.dispose()
        raise CliError(str(exc)) from None
    return db


async def open_current_database(settings: Settings) -> Database:
    """Open the database and check that its schema is the newest, or raise :class:`CliError`."""
    from server.storage.revisions import schema_is_current

    db = await _open_database(settings)
    try:
        current_ok, current, head = await schema_is_current(db.engine)
    except BaseException:
        await db.dispose()
        raise
    if not current_ok:
        await db.dispose()
        raise CliError(
            f"database schema is at {current or 'nothing'}, not {head}: run `parley db upgrade`"
        )
    return db


async def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    if args.revision == "head" and await _already_at_head(settings):
        return 0
    from server.storage.migrate import upgrade
    from server.storage.revisions import schema_is_current

    db = await _open_database(settings)
    try:
        await upgrade(db.write_engine, args.revision)
        _, current, _ = await schema_is_current(db.engine)
    finally:
        await db.dispose()
    print(f"database {settings.database_kind} at revision {current}")
    return 0


async def _already_at_head(settings: Settings) -> bool:
    """Say so and answer True if the database is at the newest revision, read through the bare
    driver: an up-to-date database needs neither SQLAlchemy nor Alembic imported (~0.3 s). Any
    doubt answers False, and the ordinary path runs (and reports whatever is wrong)."""
    from server.storage.revisions import (
        RevisionsUnreadable,
        newest_revision,
        revisions_without_sqlalchemy,
    )

    if settings.database_kind == "sqlite":
        ensure_data_dir(settings)
    try:
        head = newest_revision()
        revisions = await revisions_without_sqlalchemy(settings.database_url)
    except RevisionsUnreadable:
        return False
    if revisions != (head,):
        return False
    print(f"database {settings.database_kind} at revision {head}")
    return True


async def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from server.openfiles import raise_open_file_limit
    from server.services.signing import KeyFileError, load_signer
    from server.web.runner import ListenError, serve
    from server.web.tls import TLSConfigError, server_context

    settings = settings.with_overrides(
        host=args.host, port=args.port, tls_cert=args.certfile, tls_key=args.keyfile
    )
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise CliError("TLS needs both a certificate and a key (--certfile and --keyfile)", 2)
    if settings.tls_cert is not None and settings.tls_key is not None:
        try:
            server_context(settings.tls_cert, settings.tls_key)  # fail here, not at startup
        except TLSConfigError as exc:
            raise CliError(str(exc)) from None
    print(raise_open_file_limit().describe(), flush=True)
    ensure_data_dir(settings)
    try:
        load_signer(settings.signing_key_path, settings.public_url)  # fail here, not at startup
    except KeyFileError as exc:
        raise CliError(str(exc)) from None
    await (await open_current_database(settings)).dispose()

    def ready(url: str) -> None:
        print(f"parley {__version__} serving on {url} ({settings.database_kind})", flush=True)

    try:
        await serve(settings, ready)
    except ListenError as exc:
        raise CliError(str(exc)) from None
    return 0


async def cmd_exercise_start(settings: Settings, args: argparse.Namespace) -> int:
    from server.exercise.scenarios import SCENARIOS
    from server.services.access import AccessService
    from server.services.rooms import RoomService
    from server.services.states import RoomStates
    from server.storage.writer import LogWriter

    make = SCENARIOS.get(args.scenario)
    if make is None:
        known = ", ".join(sorted(SCENARIOS))
        raise CliError(f"no bundled scenario {args.scenario!r} (bundled: {known})", status=2)
    db = await open_current_database(settings)
    writer = LogWriter(db)
    try:
        writer.start()
        rooms = RoomService(writer, RoomStates(db), AccessService(db, settings.public_url))
        created = await rooms.create(make())
    finally:
        await writer.close()
        await db.dispose()
    if args.json:
        print(json.dumps(created.as_json(), indent=2))
    else:
        print(f"room {created.room_id}: {created.title}")
        for seat in created.seats:
            who = f"{seat.role.value}" + (f" ({seat.party})" if seat.party else "")
            print(f"  {seat.name:<32} {who:<20} {seat.invite_url}")
    return 0


async def cmd_organiser_create(settings: Settings, args: argparse.Namespace) -> int:
    from server.exercise.scenarios import SCENARIOS
    from server.services.access import AccessService
    from server.services.organisers import OrganiserService
    from server.services.rooms import RoomService
    from server.services.states import RoomStates
    from server.storage.writer import LogWriter

    db = await open_current_database(settings)
    try:
        rooms = RoomService(LogWriter(db), RoomStates(db), AccessService(db, settings.public_url))
        organisers = OrganiserService(db, rooms, settings.public_url, SCENARIOS)
        token = await organisers.create(args.name)
    finally:
        await db.dispose()
    link = organisers.link(token)
    if args.json:
        print(json.dumps({"name": args.name, "organiser_url": link}, indent=2))
    else:
        print(f"organiser {args.name}: create rooms in the browser at")
        print(f"  {link}")
    return 0


Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]


class _ScenarioHelp(argparse.HelpFormatter):
    """Names every bundled scenario in the help of ``exercise start``. The names are read when
    help is shown, not when the parser is built: importing the scenarios costs every verb ~40 ms."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        if action.dest == "scenario" and text:
            from server.exercise.scenarios import SCENARIOS

            text = f"{text}: {', '.join(SCENARIOS)}"
        return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley",
        description="Parley: multi-party negotiation rooms with a verifiable record.",
    )
    parser.add_argument("--version", action="version", version=f"parley {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND", required=True)

    serve = verbs.add_parser("serve", help="run the server", description="Run the server.")
    serve.add_argument("--host", help="address to listen on (PARLEY_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (PARLEY_PORT, default 8080)")
    serve.add_argument(
        "--certfile", type=Path, help="serve HTTPS with this certificate chain (PARLEY_TLS_CERT)"
    )
    serve.add_argument(
        "--keyfile", type=Path, help="the certificate's private key (PARLEY_TLS_KEY)"
    )
    serve.set_defaults(run=cmd_serve)

    db = verbs.add_parser("db", help="database maintenance", description="Database maintenance.")
    db_verbs = db.add_subparsers(dest="db_verb", metavar="COMMAND", required=True)
    upgrade = db_verbs.add_parser(
        "upgrade", help="apply migrations", description="Apply the migrations (default: to head)."
    )
    upgrade.add_argument("revision", nargs="?", default="head", help="target revision")
    upgrade.set_defaults(run=cmd_db_upgrade)

    exercise = verbs.add_parser("exercise", help="training exercises", description="Exercises.")
    ex_verbs = exercise.add_subparsers(dest="exercise_verb", metavar="COMMAND", required=True)
    start = ex_verbs.add_parser(
        "start",
        help="create a room from a scenario and print every seat's invite link",
        description="Create a room from a bundled scenario; print the room and every seat.",
        formatter_class=_ScenarioHelp,
    )
    start.add_argument("scenario", metavar="SCENARIO", help="a bundled scenario name")
    start.add_argument("--json", action="store_true", help="print one JSON object (DESIGN §8)")
    start.set_defaults(run=cmd_exercise_start)

    organiser = verbs.add_parser(
        "organiser", help="people who create rooms in the browser", description="Organisers."
    )
    org_verbs = organiser.add_subparsers(dest="organiser_verb", metavar="COMMAND", required=True)
    org_create = org_verbs.add_parser(
        "create",
        help="print a new organiser link (creates rooms from bundled scenarios in the browser)",
        description="Create an organiser and print its link; the link is shown only once.",
    )
    org_create.add_argument("--name", default="organiser", help="who the link is for")
    org_create.add_argument("--json", action="store_true", help="print one JSON object")
    org_create.set_defaults(run=cmd_organiser_create)

    _add_audit_verbs(verbs)
    return parser


def _later(module: str, name: str) -> Command:
    """A verb whose code is imported only when it runs (the audit verbs' ledger modules cost
    every other verb ~15 ms)."""

    async def run(settings: Settings, args: argparse.Namespace) -> int:
        command: Command = getattr(importlib.import_module(module), name)
        return await command(settings, args)

    return run


def _add_audit_verbs(verbs: Any) -> None:
    """``audit export`` and ``audit verify``, run by :mod:`server.cli_audit`."""
    audit = verbs.add_parser(
        "audit", help="verifiable exports of a room's log", description="Verifiable exports."
    )
    audit_verbs = audit.add_subparsers(dest="audit_verb", metavar="COMMAND", required=True)
    export = audit_verbs.add_parser(
        "export",
        help="write a verifiable export of a room (the full view) to a folder",
        description=(
            "Sign a fresh checkpoint of ROOM and write its full log, its signed checkpoints, "
            "the public key and a README to the folder PATH (which must not exist, or be empty)."
        ),
    )
    export.add_argument("room", metavar="ROOM", help="the room id")
    export.add_argument("--out", required=True, metavar="PATH", help="the folder to write")
    export.set_defaults(run=_later("server.cli_audit", "cmd_audit_export"))
    verify = audit_verbs.add_parser(
        "verify",
        help="verify an export offline; exit 0 only if it is valid",
        description=(
            "Check an export folder (or its zip) with no server and no database: every leaf, "
            "every checkpoint's root and signature, and consistency between the checkpoints."
        ),
    )
    verify.add_argument("path", metavar="PATH", help="an export folder or a zip of one")
    verify.add_argument(
        "--key",
        metavar="KEY",
        help="the note-verifier key to trust (the key itself, or a file holding it); "
        "key.pub must be the same key. Default: the export's own key.pub",
    )
    verify.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="FILE",
        help="a signed checkpoint saved earlier that the export must agree with (repeatable)",
    )
    verify.set_defaults(run=_later("server.cli_audit", "cmd_audit_verify"))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``parley`` console script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        run: Command = args.run
        return asyncio.run(run(settings, args))
    except (CliError, SettingsError) as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return getattr(exc, "status", 2)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line, never a traceback; the details go to the log
        log.debug("unexpected failure", exc_info=True)
        print(f"parley: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    # Run the imported module's main, not this copy's: modules that import server.cli (the
    # audit verbs) must raise the same CliError class that main catches.
    from server.cli import main as main_of_module

    sys.exit(main_of_module())
