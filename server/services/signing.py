"""The server's checkpoint signing key: one file, created on first use, never in the database.

The file (``PARLEY_KEY_FILE``, default ``<PARLEY_DATA_DIR>/signing.key``) holds one line, the
signer key in the form Go's ``golang.org/x/mod/sumdb/note`` reads::

    PRIVATE+KEY+<key name>+<8 hex key id>+<base64(0x01 || 32-byte Ed25519 seed)>

It is created with mode 0600 (written to a temporary file in the same folder, then linked into
place, so two processes starting at once end up with the same complete key), and a file that
group or others may read is refused rather than used. Nothing here logs the private key; only
the public verifier key is ever printed.

The **key name** is fixed when the key is created: the host of ``PARLEY_PUBLIC_URL`` in lower
case, with the port when the URL names one (``parley.example.org``, ``127.0.0.1:8080``). It is
stored in the file with the key, so the name, the key id derived from it and every checkpoint's
origin (``<key name>/room/<room id>``) stay the same if the public URL changes later.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.ledger.checkpoint import NoteSigner, VerifierKeyError, parse_signer_key, signer_key

log = logging.getLogger(__name__)


class KeyFileError(Exception):
    """The signing key file cannot be read, created or trusted; the message names it."""


def key_name_for(public_url: str) -> str:
    """The key name a new key gets for ``public_url``: its host, and port if it names one."""
    parts = urlsplit(public_url)
    host = (parts.hostname or "").lower()
    if not host:
        raise KeyFileError(f"cannot name a signing key after {public_url!r}: it has no host")
    if ":" in host:  # IPv6: keep the brackets so that the port stays unambiguous
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port is not None else host


def origin_for(key_name: str, room_id: str) -> str:
    """The checkpoint origin line of a room's log."""
    return f"{key_name}/room/{room_id}"


def load_signer(path: Path, public_url: str) -> NoteSigner:
    """The signer kept in ``path``; a new key is created there if the file does not exist.

    Raises:
        KeyFileError: the file is unreadable, malformed, readable by group or others, or
            cannot be created.
    """
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    _create(path, key_name_for(public_url))
    return _read(path)


def _read(path: Path) -> NoteSigner:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise KeyFileError(f"cannot read signing key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(file.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise KeyFileError(f"signing key file {path} is not a regular file")
        if mode & 0o077:
            raise KeyFileError(
                f"signing key file {path} is accessible to group or others "
                f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}"
            )
        raw = file.read(4096)
    try:
        return parse_signer_key(raw.decode("ascii").strip())
    except (UnicodeDecodeError, VerifierKeyError) as exc:
        reason = exc if isinstance(exc, VerifierKeyError) else "it is not ASCII text"
        raise KeyFileError(f"signing key file {path} holds no valid signer key: {reason}") from None


def _create(path: Path, name: str) -> None:
    folder = path.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror
        raise KeyFileError(f"cannot create the folder of signing key {path}: {reason}") from None
    key = Ed25519PrivateKey.generate()
    try:
        text = signer_key(name, key) + "\n"
    except VerifierKeyError as exc:
        raise KeyFileError(f"cannot name a signing key {name!r}: {exc}") from None
    temporary = folder / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)  # the umask may only have removed bits; make it exact
            os.write(fd, text.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)  # atomic, and refuses to replace a key made meanwhile
        except FileExistsError:
            return
        _fsync_folder(folder)
    except OSError as exc:
        raise KeyFileError(f"cannot create signing key file {path}: {exc.strerror}") from None
    finally:
        temporary.unlink(missing_ok=True)
    log.info("created a new checkpoint signing key in %s (key name %s)", path, name)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
