"""Correct HTTP and headers on every answer (issue 13, points 3 and 4), against a real server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Any

from server.web.security import HEADERS, HSTS
from tests.support.rawhttp import RawAnswer, request, sqlite_server

NUL_HEADER = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n"


def fetch(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Message, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def assert_security_headers(headers: Message | dict[str, str], *, hsts: bool = False) -> None:
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, value in HEADERS.items():
        assert lowered.get(name.lower()) == value, f"{name} missing or wrong: {lowered}"
    assert (lowered.get("strict-transport-security") == HSTS) is hsts


def error_code(raw: bytes) -> Any:
    return json.loads(raw)["error"]["code"]


def test_every_error_aiohttp_produces_carries_the_security_headers(
    sqlite_template: Path, tmp_path: Path
) -> None:
    with sqlite_server(sqlite_template, tmp_path) as server:
        base = server.base_url
        for path in ("/api/v1/nope", "/nope", "/web/nope.js"):
            status, headers, _ = fetch(base + path)
            assert status == 404, path
            assert_security_headers(headers)
        status, headers, raw = fetch(base + "/api/v1/invites/redeem", method="GET")
        assert (status, error_code(raw)) == (405, "method_not_allowed")
        assert headers["Allow"] == "POST"
        assert_security_headers(headers)
        status, headers, _ = fetch(base + "/api/v1/health", method="DELETE")
        assert status == 405
        assert set(headers["Allow"].split(",")) >= {"GET", "HEAD"}
        big = json.dumps({"token": "x" * 300_000}).encode()
        status, headers, _ = fetch(
            base + "/api/v1/invites/redeem",
            method="POST",
            body=big,
            headers={"Content-Type": "application/json"},
        )
        assert status == 413
        assert_security_headers(headers)


def test_a_malformed_request_gets_the_json_error_body_and_one_warning_line(
    sqlite_template: Path, tmp_path: Path
) -> None:
    with sqlite_server(sqlite_template, tmp_path) as server:
        answer: RawAnswer = request(server.port, NUL_HEADER)
        server.stop()
    assert answer.status == 400
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert body["error"]["code"] == "bad_request"
    assert body["error"]["message"].startswith("malformed request")
    assert set(body["error"]) == {"code", "message", "field"}
    assert_security_headers(answer.headers)
    warnings = [line for line in server.process.stderr.splitlines() if "malformed" in line]
    assert len(warnings) == 1, server.process.stderr
    assert warnings[0].startswith("WARNING")
    assert "Traceback" not in server.process.stderr


def test_a_flood_of_malformed_requests_writes_a_bounded_log(
    sqlite_template: Path, tmp_path: Path
) -> None:
    garbage = [NUL_HEADER, b"\x16\x03\x01\x00\xa5garbage\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n"]
    with sqlite_server(sqlite_template, tmp_path) as server:
        for i in range(300):
            assert request(server.port, garbage[i % len(garbage)]).status == 400
        server.stop()
    lines = server.process.stderr.splitlines()
    assert "Traceback" not in server.process.stderr
    assert 1 <= len(lines) <= 25, server.process.stderr


def test_hsts_is_sent_when_the_public_url_is_https(sqlite_template: Path, tmp_path: Path) -> None:
    with sqlite_server(sqlite_template, tmp_path) as plain:
        status, headers, _ = fetch(plain.base_url + "/api/v1/health")
        assert status == 200
        assert_security_headers(headers, hsts=False)
    with sqlite_server(
        sqlite_template, tmp_path / "https", public_url="https://parley.example"
    ) as server:
        # The public URL is behind a proxy terminating TLS; the server itself speaks HTTP.
        for path in ("/api/v1/health", "/api/v1/nope"):
            _, headers, _ = fetch(server.base_url + path)
            assert_security_headers(headers, hsts=True)
        assert_security_headers(request(server.port, NUL_HEADER).headers, hsts=True)


async def test_answers_that_carry_or_depend_on_a_session_are_not_stored(
    sqlite_template: Path, tmp_path: Path
) -> None:
    with sqlite_server(sqlite_template, tmp_path) as server:
        room = await server.create_room()
        invite = room.seat("us-1").invite_url.split("#", 1)[1]
        status, headers, raw = fetch(
            server.base_url + "/api/v1/invites/redeem",
            method="POST",
            body=json.dumps({"token": invite}).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert status == 200
        assert headers["Cache-Control"] == "no-store"
        token = json.loads(raw)["token"]
        for path in ("/api/v1/session", f"/api/v1/rooms/{room.id}", f"/api/v1/rooms/{room.id}/x"):
            _, headers, _ = fetch(
                server.base_url + path, headers={"Authorization": f"Bearer {token}"}
            )
            assert headers["Cache-Control"] == "no-store", path
        _, headers, _ = fetch(
            server.base_url + "/api/v1/session", headers={"Cookie": f"parley_session={token}"}
        )
        assert headers["Cache-Control"] == "no-store"
        _, headers, _ = fetch(server.base_url + "/api/v1/health")
        assert "Cache-Control" not in headers


async def test_a_json_body_in_a_charset_python_cannot_decode_is_a_bad_request(
    sqlite_template: Path, tmp_path: Path
) -> None:
    with sqlite_server(sqlite_template, tmp_path) as server:
        room = await server.create_room()
        token = room.seat("facilitator").token
        command = {"v": 1, "type": "ping", "id": "p"}
        routes = [
            ("/api/v1/invites/redeem", {"token": "pi_x"}, {}),
            ("/api/v1/browser/join", {"token": "pi_x"}, {}),
            (f"/api/v1/rooms/{room.id}/commands", command, {"Authorization": f"Bearer {token}"}),
        ]
        for path, body, headers in routes:
            for charset in ("bogus", "rot13"):
                status, _, raw = fetch(
                    server.base_url + path,
                    method="POST",
                    body=json.dumps(body).encode(),
                    headers={"Content-Type": f"application/json; charset={charset}", **headers},
                )
                error = json.loads(raw)["error"]
                assert (status, error["code"], error["field"]) == (
                    400,
                    "bad_request",
                    "Content-Type",
                ), (path, charset, error)
        server.stop()
    assert "Traceback" not in server.process.stderr, server.process.stderr
