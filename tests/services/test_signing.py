"""The signing key file: created on first use with mode 0600, reused, refused when unsafe."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from server.ledger.checkpoint import parse_signer_key, parse_verifier_key
from server.services.signing import KeyFileError, key_name_for, load_signer, origin_for

URL = "https://parley.example.org"


def test_key_is_created_on_first_use_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "var" / "signing.key"
    signer = load_signer(path, URL)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.startswith("PRIVATE+KEY+parley.example.org+") and text.endswith("\n")
    assert parse_signer_key(text.strip()).verifier_key == signer.verifier_key
    assert [p.name for p in path.parent.iterdir()] == ["signing.key"]  # no temporary left


def test_key_is_reused_and_keeps_its_name_when_the_url_changes(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    first = load_signer(path, URL)
    again = load_signer(path, "http://10.0.0.5:9000")
    assert again.verifier_key == first.verifier_key
    assert again.name == "parley.example.org"
    assert parse_verifier_key(first.verifier_key).name == "parley.example.org"


def test_key_file_never_holds_less_than_a_whole_key_when_processes_race(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    keys: list[str] = []
    threads = [
        threading.Thread(target=lambda: keys.append(load_signer(path, URL).verifier_key))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signing.key"]


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://parley.example.org", "parley.example.org"),
        ("https://Parley.Example.ORG/base/", "parley.example.org"),
        ("http://127.0.0.1:8080", "127.0.0.1:8080"),
        ("https://user:pw@host.example:8443/x", "host.example:8443"),
        ("http://[::1]:8080", "[::1]:8080"),
    ],
)
def test_key_name_is_the_public_host_and_port(url: str, name: str) -> None:
    assert key_name_for(url) == name
    assert origin_for(name, "r-0123456789") == f"{name}/room/r-0123456789"


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    load_signer(path, URL)
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match=r"accessible to group or others \(mode 0644\)"):
        load_signer(path, URL)


def test_a_malformed_key_file_is_refused_without_quoting_it(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    secret = "PRIVATE+KEY+x+00000000+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    path.write_text(secret + "\n")
    os.chmod(path, 0o600)
    with pytest.raises(KeyFileError, match="holds no valid signer key") as caught:
        load_signer(path, URL)
    assert "AYEKFALV" not in str(caught.value)


def test_an_uncreatable_key_file_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(KeyFileError, match="signing key"):
        load_signer(blocker / "signing.key", URL)
