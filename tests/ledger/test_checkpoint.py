"""C2SP checkpoints and signed notes: exact format, an independent verifier, tampering."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from server.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteError,
    NoteSigner,
    SignatureError,
    Verifier,
    VerifierKeyError,
    key_id,
    open_checkpoint,
    open_note,
    parse_checkpoint_body,
    parse_signer_key,
    parse_verifier_key,
    sign_checkpoint,
    signer_key,
    verifier_key,
)

ORIGIN = "parley.example/log/1"
ROOT = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
SIGNER = NoteSigner("parley.example/log", KEY)
CHECKPOINT = Checkpoint(ORIGIN, 8, ROOT)

# golang.org/x/mod/sumdb/note package documentation example (Ed25519 is deterministic).
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SEED = base64.b64decode(GO_SKEY.split("+", 4)[4])[1:]
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes_raw()


def independent_verify(note: str, name: str, public_key: bytes) -> str:
    """Re-implementation of signed-note verification for one key, written from the spec."""
    raw = note.encode("utf-8")
    split = raw.rindex(b"\n\n")
    text, sigs = raw[: split + 1], raw[split + 2 :]
    expected_id = hashlib.sha256(name.encode() + b"\x0a" + b"\x01" + public_key).digest()[:4]
    found = False
    for line in sigs.split(b"\n")[:-1]:
        assert line.startswith("\u2014 ".encode())
        line_name, blob_b64 = line[len("\u2014 ".encode()) :].split(b" ")
        blob = base64.b64decode(blob_b64, validate=True)
        if line_name == name.encode() and blob[:4] == expected_id:
            Ed25519PublicKey.from_public_bytes(public_key).verify(blob[4:], text)
            found = True
    assert found, "no signature line for the key"
    return text.decode()


def test_checkpoint_note_is_byte_exact() -> None:
    note = sign_checkpoint(SIGNER, CHECKPOINT)
    body = f"{ORIGIN}\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
    pub = raw_public(KEY)
    kid = hashlib.sha256(b"parley.example/log\n\x01" + pub).digest()[:4]
    sig = KEY.sign(body.encode())
    expected = body + "\n" + "\u2014 parley.example/log " + base64.b64encode(kid + sig).decode()
    assert note == expected + "\n"
    raw = note.encode("utf-8")
    assert raw.count(b"\n") == 5
    assert b"\n\n\xe2\x80\x94 parley.example/log " in raw  # blank line, em dash U+2014, space
    assert raw.endswith(b"=\n")  # 68-byte blob: standard base64 with padding, final newline
    assert CHECKPOINT.body() == body


def test_independent_verifier_accepts_our_signature() -> None:
    note = sign_checkpoint(SIGNER, CHECKPOINT)
    assert independent_verify(note, "parley.example/log", raw_public(KEY)) == CHECKPOINT.body()
    tampered = note.replace("\n8\n", "\n9\n")
    with pytest.raises(InvalidSignature):
        independent_verify(tampered, "parley.example/log", raw_public(KEY))


def test_go_sumdb_note_example_is_reproduced_and_opened() -> None:
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])[1:]
    signer = NoteSigner("PeterNeumann", Ed25519PrivateKey.from_private_bytes(seed))
    assert signer.verifier_key == GO_VKEY
    assert signer.sign(GO_TEXT) == GO_NOTE
    assert open_note(GO_NOTE, [parse_verifier_key(GO_VKEY)]).text == GO_TEXT
    with pytest.raises(SignatureError):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), [parse_verifier_key(GO_VKEY)])


def test_round_trip_open_checkpoint() -> None:
    note = sign_checkpoint(SIGNER, CHECKPOINT)
    assert open_checkpoint(note, [SIGNER.verifier]) == CHECKPOINT
    assert open_checkpoint(note, [parse_verifier_key(SIGNER.verifier_key)]) == CHECKPOINT


# --- verifier keys --------------------------------------------------------------------------


def test_verifier_key_string_format() -> None:
    pub = raw_public(KEY)
    text = verifier_key("parley.example/log", pub)
    name, kid_hex, key_b64 = text.split("+", 2)
    assert name == "parley.example/log"
    assert kid_hex == hashlib.sha256(b"parley.example/log\n\x01" + pub).digest()[:4].hex()
    assert kid_hex == key_id("parley.example/log", pub).hex()
    assert len(kid_hex) == 8
    assert base64.b64decode(key_b64, validate=True) == b"\x01" + pub
    assert text == SIGNER.verifier_key == str(SIGNER.verifier)
    assert parse_verifier_key(text) == Verifier("parley.example/log", bytes.fromhex(kid_hex), pub)


def test_verifier_key_whose_base64_contains_plus_parses() -> None:
    key = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
    verifier = parse_verifier_key(key)
    assert (verifier.name, verifier.key_id.hex()) == ("TEST", "7997405c")
    assert str(verifier) == key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name is empty"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "whitespace"),
        ("Peter\u00a0N+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "whitespace"),
        ("Peter\u2003N+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "whitespace"),
        ("PeterNeumann+c74f20a3", "must be <name>"),
        ("PeterNeumann+c74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hex digits"),
        ("PeterNeumann+c74f20a3+ApRc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "algorithm is 0x02"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10Q=", "31 bytes"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWAA==", "33 bytes"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("PeterNeumanN+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T", "base64"),
        ("PeterNeumann+c74f20a3+", "verifier key is empty"),
    ],
)
def test_bad_verifier_keys_are_rejected_precisely(text: str, message: str) -> None:
    with pytest.raises(VerifierKeyError, match=message):
        parse_verifier_key(text)


@pytest.mark.parametrize("name", ["", "a+b", "a b", "a\tb", "a\u00a0b", "a\u2028b", "a\nb"])
def test_signer_refuses_invalid_key_names(name: str) -> None:
    with pytest.raises(VerifierKeyError):
        NoteSigner(name, KEY)


# --- tampering ------------------------------------------------------------------------------


def test_changed_size_line_is_rejected() -> None:
    note = sign_checkpoint(SIGNER, CHECKPOINT).replace("\n8\n", "\n80\n", 1)
    with pytest.raises(SignatureError, match="is invalid"):
        open_checkpoint(note, [SIGNER.verifier])


def test_changed_root_is_rejected() -> None:
    other = Checkpoint(ORIGIN, 8, bytes(32))
    good, forged_body = sign_checkpoint(SIGNER, CHECKPOINT), other.body()
    note = forged_body + good[len(CHECKPOINT.body()) :]
    with pytest.raises(SignatureError, match="is invalid"):
        open_checkpoint(note, [SIGNER.verifier])


def test_flipped_signature_byte_is_rejected() -> None:
    note = sign_checkpoint(SIGNER, CHECKPOINT)
    head, _, line = note[:-1].rpartition("\n")
    prefix, _, blob_b64 = line.rpartition(" ")
    blob = bytearray(base64.b64decode(blob_b64))
    blob[40] ^= 0x01
    tampered = f"{head}\n{prefix} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(SignatureError, match="is invalid"):
        open_checkpoint(tampered, [SIGNER.verifier])


def test_note_signed_by_another_key_is_rejected() -> None:
    impostor = NoteSigner("parley.example/log", OTHER_KEY)
    note = sign_checkpoint(impostor, CHECKPOINT)
    with pytest.raises(SignatureError, match="no valid signature from a trusted key"):
        open_checkpoint(note, [SIGNER.verifier])


def test_extra_signature_from_unknown_key_is_ignored() -> None:
    note = sign_checkpoint(SIGNER, CHECKPOINT)
    witness = NoteSigner("witness.example", OTHER_KEY)
    both = note + witness.signature_line(CHECKPOINT.body())
    garbage = note + "\u2014 stranger " + base64.b64encode(b"\x00" * 68).decode() + "\n"
    assert open_checkpoint(both, [SIGNER.verifier]) == CHECKPOINT
    assert open_checkpoint(garbage, [SIGNER.verifier]) == CHECKPOINT
    opened = open_note(both, [SIGNER.verifier, witness.verifier, parse_verifier_key(ENOCH_VKEY)])
    assert opened.signers == (SIGNER.verifier, witness.verifier)


def test_missing_blank_line_is_rejected() -> None:
    note = sign_checkpoint(SIGNER, CHECKPOINT)
    body = CHECKPOINT.body()
    with pytest.raises(NoteError, match="no blank line"):
        open_checkpoint(body + note[len(body) + 1 :], [SIGNER.verifier])


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda n: n[:-1], "does not end with a newline"),
        (lambda n: n + "\n", "no signature lines"),
        (lambda n: n + "junk\n", "line 2 does not start with an em dash"),
        (lambda n: n.replace("\u2014", "-"), "line 1 does not start with an em dash"),
        (lambda n: n.replace("\u2014 parley.example/log ", "\u2014 parley.example/log"), "no sig"),
        (lambda n: n[: n.rindex(" ")] + " AAAA\n", "too short"),
        (lambda n: n[: n.rindex(" ")] + " not*base64\n", "base64"),
        (lambda n: n.replace("\n8\n", "\n8\r\n"), "control character"),
        (lambda n: n + n[n.rindex("\u2014") :] * 100, "at most 100"),
        (lambda n: n.replace("\u2014 parley.example/log", "\u2014 a+b"), r"contains '\+'"),
    ],
)
def test_malformed_notes_are_rejected(mangle: Callable[[str], str], message: str) -> None:
    note = sign_checkpoint(SIGNER, CHECKPOINT)
    with pytest.raises(NoteError, match=message):
        open_checkpoint(mangle(note), [SIGNER.verifier])


def test_sign_refuses_text_without_final_newline_or_with_control_characters() -> None:
    for text in ["", "no newline", "tab\there\n"]:
        with pytest.raises(NoteError):
            SIGNER.sign(text)


# --- checkpoint body ------------------------------------------------------------------------


def test_checkpoint_body_round_trips() -> None:
    for size in (0, 1, 8, 2**64 - 1):
        checkpoint = Checkpoint(ORIGIN, size, ROOT)
        assert parse_checkpoint_body(checkpoint.body()) == checkpoint


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"{ORIGIN}\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=", "newline"),
        (f"{ORIGIN}\n8\n", "2 lines"),
        (f"{ORIGIN}\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\next\n", "extension"),
        ("\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n", "origin line is empty"),
        (f"{ORIGIN}\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n", "leading zeros"),
        (f"{ORIGIN}\n+8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n", "decimal"),
        (f"{ORIGIN}\n 8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n", "decimal"),
        (f"{ORIGIN}\n\u0668\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n", "decimal"),
        (f"{ORIGIN}\n\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n", "decimal"),
        (f"{ORIGIN}\n{2**64}\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n", "64 bits"),
        (f"{ORIGIN}\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg\n", "base64"),
        (f"{ORIGIN}\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz-Nw7_RgQyg=\n", "base64"),
        (f"{ORIGIN}\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyh=\n", "canonical"),
        (f"{ORIGIN}\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQw==\n", "31 bytes"),
        (f"{ORIGIN}\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg= \n", "base64"),
    ],
)
def test_malformed_checkpoint_bodies_are_rejected(body: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        parse_checkpoint_body(body)


def test_checkpoint_values_are_validated() -> None:
    with pytest.raises(CheckpointError, match="origin is empty"):
        Checkpoint("", 1, ROOT)
    with pytest.raises(CheckpointError, match="newline"):
        Checkpoint("a\nb", 1, ROOT)
    with pytest.raises(CheckpointError, match="-1"):
        Checkpoint(ORIGIN, -1, ROOT)
    with pytest.raises(CheckpointError, match="33 bytes"):
        Checkpoint(ORIGIN, 1, ROOT + b"\x00")


# --- signer keys ----------------------------------------------------------------------------


def test_go_signer_key_round_trips() -> None:
    signer = parse_signer_key(GO_SKEY)
    assert signer.verifier_key == GO_VKEY
    assert signer.sign(GO_TEXT) == GO_NOTE
    assert signer_key("PeterNeumann", Ed25519PrivateKey.from_private_bytes(GO_SEED)) == GO_SKEY


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "starts with"),
        ("PRIVATE+KEY+PeterNeumann+c74f20a3", "PRIVATE\\+KEY\\+<name>"),
        ("PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "match"),
        ("PRIVATE+KEY+PeterNeumann+c74f20+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "8 hex"),
        ("PRIVATE+KEY+PeterNeumann+c74f20a3+AoEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "Ed2"),
        ("PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKD", "base64"),
        ("PRIVATE+KEY+Peter Neumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "wh"),
    ],
)
def test_bad_signer_keys_are_rejected_without_quoting_the_key(text: str, message: str) -> None:
    with pytest.raises(VerifierKeyError, match=message) as caught:
        parse_signer_key(text)
    assert "AYEKFALV" not in str(caught.value)
