"""``parley audit export`` and ``parley audit verify`` (DESIGN §5, §8).

``verify`` needs no database and no server: it imports only the pure ledger modules and the
canonical encoder (everything that reaches a database is imported inside ``export``), and reads
an export folder, or a zip of one, as the HTTP API hands it out.
"""

from __future__ import annotations

import argparse
import os
import shutil
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO

from server.cli import CliError
from server.config import Settings
from server.ledger.audit import AuditError, AuditReport, CheckpointFile, verify_export
from server.ledger.export import (
    CHECKPOINT_NAME,
    CHECKPOINTS_DIR,
    EVENTS_FILE,
    KEY_FILE,
    README_FILE,
    checkpoint_file,
)

# -- export ----------------------------------------------------------------------------------


async def cmd_audit_export(settings: Settings, args: argparse.Namespace) -> int:
    from server.cli import open_current_database
    from server.domain.errors import DomainError
    from server.services.audit import AuditService, Counts
    from server.services.checkpoints import CheckpointService
    from server.services.signing import KeyFileError, load_signer
    from server.services.states import RoomStates
    from server.services.views.log import LogViews
    from server.storage.errors import RoomNotFound

    out = ExportFolder(Path(args.out))
    try:
        signer = load_signer(settings.signing_key_path, settings.public_url)
    except KeyFileError as exc:
        raise CliError(str(exc)) from None
    db = await open_current_database(settings)
    try:
        service = AuditService(CheckpointService(db, signer), LogViews(db, RoomStates(db)))
        try:
            export = await service.prepare(args.room)
        except RoomNotFound:
            raise CliError(f"no room {args.room!r} in {settings.database_kind} database") from None
        except DomainError as exc:  # LogDiverged: the stored log contradicts a signed checkpoint
            raise CliError(str(exc)) from None
        out.start()
        for checkpoint in export.checkpoints:
            out.write(f"{CHECKPOINTS_DIR}/{checkpoint_file(checkpoint.size)}", checkpoint.note)
        out.write(KEY_FILE, export.verifier_key + "\n")
        counts = Counts()
        with out.events() as file:
            async for page in service.lines(export, counts):
                file.write(b"".join(line + b"\n" for line in page))
        out.write(README_FILE, service.readme(export, counts))
        out.commit()
    except OSError as exc:
        raise CliError(f"cannot write the export to {out.path}: {exc.strerror or exc}") from None
    finally:
        out.discard()
        await db.dispose()
    sizes = ", ".join(str(c.size) for c in export.checkpoints)
    print(f"wrote {out.path}: room {export.room_id}, {counts.lines} events, checkpoints {sizes}")
    print(f"key {export.verifier_key}")
    return 0


class ExportFolder:
    """Writes an export into a hidden sibling folder, renamed to ``path`` once complete."""

    def __init__(self, path: Path) -> None:
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise CliError(f"{path} exists and is not an empty folder; choose another --out")
        self.path = path
        self._partial = path.with_name(f".{path.name}.partial-{os.getpid()}")

    def start(self) -> None:
        (self._partial / CHECKPOINTS_DIR).mkdir(parents=True)

    def write(self, name: str, text: str) -> None:
        (self._partial / name).write_text(text, encoding="utf-8")

    def events(self) -> IO[bytes]:
        return (self._partial / EVENTS_FILE).open("wb")

    def commit(self) -> None:
        if self.path.exists():
            self.path.rmdir()
        self._partial.rename(self.path)

    def discard(self) -> None:
        shutil.rmtree(self._partial, ignore_errors=True)


# -- verify ----------------------------------------------------------------------------------


class ExportReader:
    """The files of an export folder, or of a zip holding one (at its top or in one folder)."""

    def __init__(self, path: Path, stack: ExitStack) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        if path.is_dir():
            if not (path / EVENTS_FILE).is_file():
                raise CliError(f"{path} holds no {EVENTS_FILE}: it is not an export")
        elif path.is_file():
            try:
                self._zip = stack.enter_context(zipfile.ZipFile(path))
            except (zipfile.BadZipFile, OSError) as exc:
                raise CliError(
                    f"{path} is neither an export folder nor a zip of one: {exc}"
                ) from None
            found = [n for n in self._zip.namelist() if n.rsplit("/", 1)[-1] == EVENTS_FILE]
            if len(found) != 1:
                raise CliError(f"{path} must hold exactly one {EVENTS_FILE}, it holds {len(found)}")
            self._prefix = found[0][: -len(EVENTS_FILE)]
        else:
            raise CliError(f"{path} does not exist")

    def lines(self, stack: ExitStack) -> Iterator[bytes]:
        file: IO[bytes]
        if self._zip is not None:
            file = stack.enter_context(self._zip.open(self._prefix + EVENTS_FILE))
        else:
            file = stack.enter_context((self.path / EVENTS_FILE).open("rb"))
        return iter(file)

    def text(self, name: str) -> str:
        try:
            if self._zip is not None:
                raw = self._zip.read(self._prefix + name)
            else:
                raw = (self.path / name).read_bytes()
        except (KeyError, FileNotFoundError):
            raise CliError(f"{self.path} holds no {name}") from None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CliError(f"{name} is not UTF-8 text") from None

    def checkpoint_names(self) -> list[str]:
        if self._zip is not None:
            folder = self._prefix + CHECKPOINTS_DIR + "/"
            names = [
                n[len(folder) :]
                for n in self._zip.namelist()
                if n.startswith(folder) and not n.endswith("/")
            ]
        else:
            folder_path = self.path / CHECKPOINTS_DIR
            if not folder_path.is_dir():
                raise CliError(f"{self.path} holds no {CHECKPOINTS_DIR}/ folder")
            names = [p.name for p in folder_path.iterdir()]
        for name in names:
            if not CHECKPOINT_NAME.fullmatch(name):
                raise CliError(f"{CHECKPOINTS_DIR}/{name} is not named <tree size>.txt")
        return sorted(names, key=lambda n: int(n.removesuffix(".txt")))


def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {what} {path}: {exc}") from None


async def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    report = verify_path(args.path, key=args.key, held=args.checkpoint)
    print(summary(args.path, report, args.key is not None))
    return 0


def verify_path(path: str, *, key: str | None, held: list[str]) -> AuditReport:
    """Verify the export at ``path``; CliError names the first fault."""
    trusted = _read_text(key, "key file") if key is not None and Path(key).is_file() else key
    held_files = [CheckpointFile(label=p, text=_read_text(p, "checkpoint")) for p in held]
    with ExitStack() as stack:
        export = ExportReader(Path(path), stack)
        files = [
            CheckpointFile(
                label=f"{CHECKPOINTS_DIR}/{name}",
                text=export.text(f"{CHECKPOINTS_DIR}/{name}"),
                size=int(name.removesuffix(".txt")),
            )
            for name in export.checkpoint_names()
        ]
        key_pub = export.text(KEY_FILE)
        try:
            return verify_export(
                export.lines(stack), files, key_pub, held=held_files, trusted_key=trusted
            )
        except AuditError as exc:
            raise CliError(f"{path}: NOT VERIFIED: {exc}") from None


def summary(path: str, report: AuditReport, pinned: bool) -> str:
    sizes = ", ".join(str(size) for size in report.checkpoints)
    key = "the key you gave" if pinned else f"{KEY_FILE} (compare it with a key you trust)"
    out = [
        f"{path}: verified",
        f"  room         {report.room or '(no readable record)'}, origin {report.origin}",
        f"  events       {report.lines} lines: {report.records} records, {report.sealed} sealed; "
        "every leaf hash recomputed",
        f"  checkpoints  {len(report.checkpoints)} (sizes {sizes}): every signature checked "
        f"with {key}, every root recomputed, each consistent with the one before; the last "
        "covers every line",
        f"  key          {report.key}",
    ]
    if report.stage_changes:
        out.append(f"  stages       {report.stage_changes} stage changes, each with its checkpoint")
    if report.held:
        held = ", ".join(str(size) for size in report.held)
        out.append(f"  held         agrees with the checkpoints you gave (sizes {held})")
    return "\n".join(out)
