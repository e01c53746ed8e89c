"""Connection and rate limits per client address (issue 13, point 2), against a real server."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.live import http
from tests.support.rawhttp import connect, read_answer, request, sqlite_server

HEALTH = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
JOIN = "/api/v1/browser/join"


def redeem(
    base_url: str, token: str, path: str = "/api/v1/invites/redeem", **headers: str
) -> tuple[int, Any, dict[str, str]]:
    """(status, JSON body, headers) of one redemption at ``path``."""
    req = urllib.request.Request(
        base_url + path,
        data=json.dumps({"token": token}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def test_connections_past_the_limit_per_address_are_answered_429_and_closed(
    sqlite_template: Path, tmp_path: Path
) -> None:
    with sqlite_server(sqlite_template, tmp_path, PARLEY_CONNECTIONS_PER_ADDRESS="3") as server:
        held = [connect(server.port) for _ in range(3)]
        try:
            time.sleep(0.2)
            with connect(server.port) as extra:
                refused = read_answer(extra)
                assert extra.recv(1) == b""
            assert refused.status == 429
            assert refused.json()["error"]["code"] == "rate_limited"
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.headers["x-content-type-options"] == "nosniff"
            for _ in range(5):
                with connect(server.port) as extra:
                    assert read_answer(extra).status == 429
            # Another address is not affected.
            assert request(server.port, HEALTH, source="127.0.0.2").status == 200
            # A held connection still works, and once one closes there is room again.
            held[0].sendall(HEALTH)
            assert read_answer(held[0]).status == 200
            held.pop().close()
            time.sleep(0.2)
            assert request(server.port, HEALTH).status == 200
        finally:
            for sock in held:
                sock.close()
        server.stop()
    # Once per address and minute, never per refused connection.
    assert server.process.stderr.count("refused a connection from 127.0.0.1") == 1, (
        server.process.stderr
    )


def test_redeem_attempts_are_limited_per_address_with_back_off_after_failures(
    sqlite_template: Path, tmp_path: Path
) -> None:
    settings = {"PARLEY_REDEEM_BURST": "100", "PARLEY_REDEEM_BACKOFF_AFTER": "3"}
    with sqlite_server(sqlite_template, tmp_path, **settings) as server:
        statuses = [redeem(server.base_url, f"pi_guess{i}")[0] for i in range(3)]
        assert statuses == [401, 401, 401]
        status, body, headers = redeem(server.base_url, "pi_guess3")
        assert (status, body["error"]["code"], headers["Retry-After"]) == (429, "rate_limited", "1")
        assert headers["X-Frame-Options"] == "DENY"
        time.sleep(1.1)
        assert redeem(server.base_url, "pi_guess4")[0] == 401  # the fourth failure: 2 s
        status, _, headers = redeem(server.base_url, "pi_guess5")
        assert (status, headers["Retry-After"]) == (429, "2")
        for i in range(20):
            assert redeem(server.base_url, f"pi_flood{i}")[0] == 429
        server.stop()
    # Once per address and window, never per attempt.
    assert server.process.stderr.count("rate limit: too many invite redemptions") == 1, (
        server.process.stderr
    )


def test_joining_from_a_browser_is_limited_like_redeeming(
    sqlite_template: Path, tmp_path: Path
) -> None:
    settings = {"PARLEY_REDEEM_BURST": "100", "PARLEY_REDEEM_BACKOFF_AFTER": "3"}
    with sqlite_server(sqlite_template, tmp_path, **settings) as server:
        statuses = [redeem(server.base_url, f"pi_guess{i}", JOIN)[0] for i in range(3)]
        assert statuses == [401, 401, 401]
        status, body, headers = redeem(server.base_url, "pi_guess3", JOIN)
        assert (status, body["error"]["code"], headers["Retry-After"]) == (429, "rate_limited", "1")


def test_every_door_that_takes_a_secret_token_shares_one_back_off(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """Spreading guesses over the routes gains a guesser nothing."""
    settings = {"PARLEY_REDEEM_BURST": "100", "PARLEY_REDEEM_BACKOFF_AFTER": "3"}
    doors = ("/api/v1/invites/redeem", JOIN, "/api/v1/organiser/session")
    with sqlite_server(sqlite_template, tmp_path, **settings) as server:
        assert [redeem(server.base_url, "pi_guess", door)[0] for door in doors] == [401] * 3
        assert [redeem(server.base_url, "po_guess", door)[0] for door in doors] == [429] * 3


def test_the_redeem_bucket_refuses_a_burst_even_of_malformed_attempts(
    sqlite_template: Path, tmp_path: Path
) -> None:
    settings = {"PARLEY_REDEEM_BURST": "5", "PARLEY_REDEEM_PER_MINUTE": "1"}
    with sqlite_server(sqlite_template, tmp_path, **settings) as server:
        statuses = [
            http("POST", f"{server.base_url}/api/v1/invites/redeem", {})[0] for _ in range(7)
        ]
        assert statuses == [400] * 5 + [429] * 2
        status, body = http("POST", f"{server.base_url}/api/v1/invites/redeem", {})
        assert status == 429 and body["error"]["code"] == "rate_limited"


def test_forwarded_for_names_the_client_only_behind_a_trusted_proxy(
    sqlite_template: Path, tmp_path: Path
) -> None:
    settings = {
        "PARLEY_REDEEM_BURST": "2",
        "PARLEY_REDEEM_PER_MINUTE": "1",
        "PARLEY_TRUSTED_PROXIES": "127.0.0.1",
    }
    with sqlite_server(sqlite_template, tmp_path, **settings) as server:
        one = {"X-Forwarded-For": "203.0.113.7"}
        two = {"X-Forwarded-For": "203.0.113.8"}
        assert [redeem(server.base_url, "pi_x", **one)[0] for _ in range(3)] == [401, 401, 429]
        assert redeem(server.base_url, "pi_x", **two)[0] == 401  # another client behind the proxy
        server.stop()
    assert "from 203.0.113.7" in server.process.stderr


def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    sqlite_template: Path, tmp_path: Path
) -> None:
    settings = {"PARLEY_REDEEM_BURST": "2", "PARLEY_REDEEM_PER_MINUTE": "1"}
    with sqlite_server(sqlite_template, tmp_path, **settings) as server:
        statuses = [
            redeem(server.base_url, "pi_x", **{"X-Forwarded-For": f"203.0.113.{i}"})[0]
            for i in range(3)
        ]
        assert statuses == [401, 401, 429]


def upgrade_request(path: str, *headers: str) -> bytes:
    head = [
        f"GET {path} HTTP/1.1",
        "Host: x",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *headers,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode()


def test_new_websockets_are_limited_per_address(sqlite_template: Path, tmp_path: Path) -> None:
    settings = {"PARLEY_UPGRADE_BURST": "2", "PARLEY_UPGRADES_PER_MINUTE": "1"}
    upgrade = upgrade_request("/api/v1/ws")
    with sqlite_server(sqlite_template, tmp_path, **settings) as server:
        opened = [connect(server.port) for _ in range(2)]
        try:
            for sock in opened:
                sock.sendall(upgrade)
                assert sock.recv(12) == b"HTTP/1.1 101"
            refused = request(server.port, upgrade)
            assert refused.status == 429
            assert refused.json()["error"]["code"] == "rate_limited"
            assert int(refused.headers["retry-after"]) >= 1
            with connect(server.port, source="127.0.0.2") as other:
                other.sendall(upgrade)
                assert other.recv(12) == b"HTTP/1.1 101"
        finally:
            for sock in opened:
                sock.close()


def test_the_browsers_websockets_share_the_new_websocket_bucket(
    sqlite_template: Path, tmp_path: Path
) -> None:
    settings = {"PARLEY_UPGRADE_BURST": "2", "PARLEY_UPGRADES_PER_MINUTE": "1"}
    with sqlite_server(sqlite_template, tmp_path, **settings) as server:
        browser = upgrade_request("/api/v1/browser/ws", f"Origin: {server.base_url}")
        opened = [connect(server.port) for _ in range(2)]
        try:
            for sock in opened:
                sock.sendall(browser)
                assert sock.recv(12) == b"HTTP/1.1 101"
            for raw in (browser, upgrade_request("/api/v1/ws")):
                refused = request(server.port, raw)
                assert refused.status == 429
                assert refused.json()["error"]["code"] == "rate_limited"
        finally:
            for sock in opened:
                sock.close()
