"""C2SP signed notes and tlog checkpoints, signed with Ed25519.

A checkpoint body (C2SP ``tlog-checkpoint``) is three lines: the log's origin, the tree size
in decimal without leading zeros, and the standard base64 of the RFC 6962 root. Parley writes
no extension lines and refuses to parse bodies that have them, so a ``Checkpoint`` value and
its signed text correspond one to one.

A signed note (C2SP ``signed-note``) is the text, which ends in a newline, then a blank line,
then one line per signature: ``— <key name> <base64(4-byte key id || signature)>`` with an em
dash (U+2014). For Ed25519 (algorithm byte 0x01) the key id is
``SHA-256(name || 0x0A || 0x01 || public key)[:4]`` and the signature covers the UTF-8 text.
A verifier key is written ``<name>+<8 hex digit key id>+<base64(0x01 || public key)>``, and a
signer key (the private half, as Go's ``note.NewSigner`` reads it)
``PRIVATE+KEY+<name>+<8 hex digit key id>+<base64(0x01 || 32-byte seed)>``.

Opening a note follows the spec and Go's ``golang.org/x/mod/sumdb/note``: split at the last
blank line; signature lines from keys the caller does not know (by name and key id) are
ignored; a known key's bad signature rejects the note, as does a malformed signature line or
the absence of any good signature from a known key. Unlike Go, a repeated signature line from a
known key is verified again rather than skipped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

ALGORITHM_ED25519 = 0x01
KEY_ID_SIZE = 4
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
ROOT_SIZE = 32
MAX_SIGNATURES = 100
MAX_TREE_SIZE = 2**64 - 1
SIGNATURE_PREFIX = "\u2014 "

_SIZE_RE = re.compile(r"0|[1-9][0-9]*")


class NoteError(ValueError):
    """Base class: a signed note, key or checkpoint is malformed or fails verification."""


class VerifierKeyError(NoteError):
    """A key name or verifier key string is malformed or inconsistent."""


class SignatureError(NoteError):
    """A note's signatures do not verify against the trusted keys."""


class CheckpointError(NoteError):
    """A checkpoint body or value is malformed."""


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str, error: type[NoteError]) -> bytes:
    """Decode standard base64 with padding, refusing any non-canonical spelling."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise error(f"{what} is not valid standard base64: {text!r}") from exc
    if _b64encode(data) != text:
        raise error(f"{what} is not canonical standard base64: {text!r}")
    return data


def check_key_name(name: str) -> None:
    """Raise ``VerifierKeyError`` unless ``name`` is a valid signed-note key name.

    A key name is non-empty UTF-8 with no '+' and no whitespace (ASCII or Unicode spaces).
    """
    if not name:
        raise VerifierKeyError("key name is empty")
    if "+" in name:
        raise VerifierKeyError(f"key name {name!r} contains '+'")
    if any(ch.isspace() for ch in name):
        raise VerifierKeyError(f"key name {name!r} contains whitespace")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise VerifierKeyError(f"key name {name!r} contains a control character")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise VerifierKeyError(f"key name {name!r} is not valid UTF-8") from exc


def _check_text(text: str, what: str) -> None:
    """Note text: UTF-8, no ASCII control character except newline."""
    for ch in text:
        if ord(ch) < 0x20 and ch != "\n":
            raise NoteError(f"{what} contains control character U+{ord(ch):04X}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NoteError(f"{what} is not valid UTF-8") from exc


def key_id(name: str, public_key: bytes) -> bytes:
    """Return the 4-byte signed-note key id of an Ed25519 key."""
    check_key_name(name)
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise VerifierKeyError(
            f"Ed25519 public key is {len(public_key)} bytes, expected {PUBLIC_KEY_SIZE}"
        )
    material = name.encode("utf-8") + b"\n" + bytes([ALGORITHM_ED25519]) + public_key
    return hashlib.sha256(material).digest()[:KEY_ID_SIZE]


def verifier_key(name: str, public_key: bytes) -> str:
    """Return the verifier key string ``<name>+<hex key id>+<base64(0x01 || key)>``."""
    kid = key_id(name, public_key)
    return f"{name}+{kid.hex()}+{_b64encode(bytes([ALGORITHM_ED25519]) + public_key)}"


@dataclass(frozen=True)
class Verifier:
    """A trusted Ed25519 note key. Construction checks that ``key_id`` matches the key."""

    name: str
    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        expected = key_id(self.name, self.public_key)
        if self.key_id != expected:
            raise VerifierKeyError(
                f"key id {self.key_id.hex()} does not match key {self.name!r} "
                f"(expected {expected.hex()})"
            )

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> Verifier:
        return cls(name, key_id(name, public_key), public_key)

    def verifies(self, message: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` is this key's Ed25519 signature of ``message``."""
        if len(signature) != SIGNATURE_SIZE:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True

    def __str__(self) -> str:
        return verifier_key(self.name, self.public_key)


def parse_verifier_key(text: str) -> Verifier:
    """Parse ``<name>+<8 hex digit key id>+<base64(0x01 || 32-byte key)>``.

    Raises:
        VerifierKeyError: naming the part that is wrong.
    """
    # Split at the first two '+' only: the base64 key may itself contain '+'.
    name, _, rest = text.partition("+")
    kid_hex, sep, key_b64 = rest.partition("+")
    if not sep:
        raise VerifierKeyError(f"verifier key must be <name>+<key id>+<key>, got {text!r}")
    check_key_name(name)
    if not re.fullmatch(r"[0-9a-fA-F]{8}", kid_hex):
        raise VerifierKeyError(f"verifier key id must be 8 hex digits, got {kid_hex!r}")
    key = _b64decode(key_b64, "verifier key", VerifierKeyError)
    if not key:
        raise VerifierKeyError("verifier key is empty")
    if key[0] != ALGORITHM_ED25519:
        raise VerifierKeyError(
            f"verifier key algorithm is 0x{key[0]:02x}, only Ed25519 (0x01) is supported"
        )
    if len(key) != 1 + PUBLIC_KEY_SIZE:
        raise VerifierKeyError(
            f"Ed25519 verifier key is {len(key) - 1} bytes after the algorithm byte, "
            f"expected {PUBLIC_KEY_SIZE}"
        )
    return Verifier(name, bytes.fromhex(kid_hex), key[1:])


SIGNER_KEY_PREFIX = "PRIVATE+KEY+"


def signer_key(name: str, private_key: Ed25519PrivateKey) -> str:
    """Return the signer key string ``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>``."""
    kid = key_id(name, private_key.public_key().public_bytes_raw())
    seed = private_key.private_bytes_raw()
    return f"{SIGNER_KEY_PREFIX}{name}+{kid.hex()}+{_b64encode(bytes([ALGORITHM_ED25519]) + seed)}"


def parse_signer_key(text: str) -> NoteSigner:
    """Parse a signer key string (see :func:`signer_key`) into a :class:`NoteSigner`.

    Raises:
        VerifierKeyError: naming the part that is wrong (the key material is never quoted).
    """
    if not text.startswith(SIGNER_KEY_PREFIX):
        raise VerifierKeyError(f"a signer key starts with {SIGNER_KEY_PREFIX!r}")
    name, _, rest = text[len(SIGNER_KEY_PREFIX) :].partition("+")
    kid_hex, sep, key_b64 = rest.partition("+")
    if not sep:
        raise VerifierKeyError("a signer key is PRIVATE+KEY+<name>+<key id>+<key>")
    check_key_name(name)
    if not re.fullmatch(r"[0-9a-fA-F]{8}", kid_hex):
        raise VerifierKeyError("signer key id must be 8 hex digits")
    try:
        key = base64.b64decode(key_b64.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise VerifierKeyError("signer key is not valid standard base64") from None
    if len(key) != 1 + PUBLIC_KEY_SIZE or key[0] != ALGORITHM_ED25519:
        raise VerifierKeyError("signer key is not an Ed25519 seed (0x01 and 32 bytes)")
    signer = NoteSigner(name, Ed25519PrivateKey.from_private_bytes(key[1:]))
    if signer.verifier.key_id != bytes.fromhex(kid_hex):
        raise VerifierKeyError(f"signer key id {kid_hex} does not match its key")
    return signer


class NoteSigner:
    """Signs notes with one named Ed25519 key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self._verifier = Verifier.from_public_key(name, private_key.public_key().public_bytes_raw())

    @property
    def name(self) -> str:
        return self._verifier.name

    @property
    def verifier(self) -> Verifier:
        return self._verifier

    @property
    def verifier_key(self) -> str:
        return str(self._verifier)

    def signature_line(self, text: str) -> str:
        """Return this key's ``— name base64`` line (with newline) for ``text``."""
        _check_note_text(text)
        signature = self._key.sign(text.encode("utf-8"))
        return f"{SIGNATURE_PREFIX}{self.name} {_b64encode(self._verifier.key_id + signature)}\n"

    def sign(self, text: str) -> str:
        """Return the signed note: ``text``, a blank line and this key's signature line.

        Raises:
            NoteError: if ``text`` is empty, does not end in a newline, or holds control
                characters other than newline.
        """
        return f"{text}\n{self.signature_line(text)}"


def _check_note_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must be non-empty and end with a newline")
    _check_text(text, "note text")


@dataclass(frozen=True)
class OpenedNote:
    """A note whose signatures checked out: its text and the trusted keys that signed it."""

    text: str
    signers: tuple[Verifier, ...]


def _trusted(verifiers: Sequence[Verifier]) -> dict[tuple[str, bytes], Verifier]:
    known: dict[tuple[str, bytes], Verifier] = {}
    for verifier in verifiers:
        slot = (verifier.name, verifier.key_id)
        other = known.setdefault(slot, verifier)
        if other.public_key != verifier.public_key:
            raise VerifierKeyError(
                f"two trusted keys share name {verifier.name!r} and key id {verifier.key_id.hex()}"
            )
    return known


def open_note(note: str, verifiers: Sequence[Verifier]) -> OpenedNote:
    """Verify a signed note against trusted keys and return its text.

    Raises:
        NoteError: if the note is malformed (no blank line before the signatures, a bad
            signature line, control characters, too many signatures).
        SignatureError: if a trusted key's signature fails or no trusted key signed.
    """
    known = _trusted(verifiers)
    _check_text(note, "signed note")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("signed note has no blank line between text and signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise NoteError("signed note has no signature lines")
    if not block.endswith("\n"):
        raise NoteError("signed note does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"signed note has {len(lines)} signatures, at most {MAX_SIGNATURES}")
    message = text.encode("utf-8")
    signers: list[Verifier] = []
    for number, line in enumerate(lines, start=1):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"signature line {number} does not start with an em dash and space")
        name, space, sig_b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not space or not sig_b64:
            raise NoteError(f"signature line {number} has no signature after the key name")
        try:
            check_key_name(name)
        except VerifierKeyError as exc:
            raise NoteError(f"signature line {number}: {exc}") from None
        blob = _b64decode(sig_b64, f"signature line {number}", NoteError)
        if len(blob) <= KEY_ID_SIZE:
            raise NoteError(f"signature line {number} is too short to hold a key id")
        verifier = known.get((name, blob[:KEY_ID_SIZE]))
        if verifier is None:
            continue
        if not verifier.verifies(message, blob[KEY_ID_SIZE:]):
            raise SignatureError(
                f"signature by trusted key {name!r} ({verifier.key_id.hex()}) is invalid"
            )
        if verifier not in signers:
            signers.append(verifier)
    if not signers:
        raise SignatureError("signed note has no valid signature from a trusted key")
    return OpenedNote(text, tuple(signers))


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP checkpoint: the log identity, its size and its RFC 6962 root."""

    origin: str
    size: int
    root: bytes

    def __post_init__(self) -> None:
        if not self.origin:
            raise CheckpointError("checkpoint origin is empty")
        if "\n" in self.origin:
            raise CheckpointError("checkpoint origin contains a newline")
        try:
            _check_text(self.origin, "checkpoint origin")
        except NoteError as exc:
            raise CheckpointError(str(exc)) from None
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"checkpoint size {self.size} is not in 0..2**64-1")
        if len(self.root) != ROOT_SIZE:
            raise CheckpointError(
                f"checkpoint root is {len(self.root)} bytes, expected {ROOT_SIZE}"
            )

    def body(self) -> str:
        """Return the note text: origin, size and base64 root, each ending in a newline."""
        return f"{self.origin}\n{self.size}\n{_b64encode(self.root)}\n"


def parse_checkpoint_body(text: str) -> Checkpoint:
    """Parse a checkpoint note text of exactly three lines.

    Raises:
        CheckpointError: naming the line that is wrong.
    """
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint body does not end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(f"checkpoint body has {len(lines)} lines, expected 3")
    if len(lines) > 3:
        raise CheckpointError("checkpoint body has extension lines, which are not supported")
    origin, size_text, root_text = lines
    if not origin:
        raise CheckpointError("checkpoint origin line is empty")
    if not _SIZE_RE.fullmatch(size_text):
        raise CheckpointError(
            f"checkpoint size line {size_text!r} is not a decimal without leading zeros"
        )
    size = int(size_text)
    if size > MAX_TREE_SIZE:
        raise CheckpointError(f"checkpoint size {size_text} does not fit in 64 bits")
    root = _b64decode(root_text, "checkpoint root line", CheckpointError)
    if len(root) != ROOT_SIZE:
        raise CheckpointError(f"checkpoint root is {len(root)} bytes, expected {ROOT_SIZE}")
    return Checkpoint(origin, size, root)


def sign_checkpoint(signer: NoteSigner, checkpoint: Checkpoint) -> str:
    """Return the checkpoint as a note signed by ``signer``."""
    return signer.sign(checkpoint.body())


def open_checkpoint(note: str, verifiers: Sequence[Verifier]) -> Checkpoint:
    """Verify a signed checkpoint note against trusted keys and parse its body.

    Raises:
        NoteError: if the note is malformed or not signed by a trusted key (``SignatureError``)
            or its body is not a checkpoint (``CheckpointError``).
    """
    return parse_checkpoint_body(open_note(note, verifiers).text)
