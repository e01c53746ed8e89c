"""HTTPS two ways (issue 13, point 5): ``parley serve`` with a certificate, and nginx in front.

Both with a self-signed certificate made here, both checked the same way: the session cookie
is ``Secure``, HSTS is sent, a cookie-authenticated write with the https ``Origin`` passes and
one with another origin does not, and a WebSocket says hello and is welcomed.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websockets

from server.web.security import HSTS
from tests.support.live import LiveRoom
from tests.support.processes import ROOT, free_port, run_parley
from tests.support.rawhttp import connect, seconds_until_closed, sqlite_server
from tests.support.services import need, nginx_binary, nginx_problem
from tests.support.tls import client_context, make_certificate

OPERATIONS = ROOT / "docs" / "operations.md"


def fetch(
    url: str,
    context: ssl.SSLContext,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, Any]:
    data = None if body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json"} if data is not None else {}
    all_headers.update(headers or {})
    method = "GET" if data is None else "POST"
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as r:
            return r.status, json.loads(r.read()), r.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers


async def check_https(base: str, public: str, context: ssl.SSLContext, room: LiveRoom) -> None:
    """Cookies, Origin checks and the WebSocket through ``base``, for public URL ``public``."""
    invite = room.seat("us-1").invite_url.split("#", 1)[1]
    status, body, headers = fetch(
        f"{base}/api/v1/invites/redeem", context, body={"token": invite}, headers={"Origin": public}
    )
    assert status == 200, body
    cookie = headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie, cookie
    assert headers["Strict-Transport-Security"] == HSTS
    assert headers["Cache-Control"] == "no-store"
    session = cookie.split(";", 1)[0]
    url = f"{base}/api/v1/rooms/{room.id}/threads/plenary/messages"
    status, body, headers = fetch(
        url,
        context,
        body={"id": "tls-1", "text": "over https"},
        headers={"Cookie": session, "Origin": public},
    )
    assert status == 201, body
    assert headers["Strict-Transport-Security"] == HSTS
    status, body, _ = fetch(
        url,
        context,
        body={"id": "tls-2", "text": "from elsewhere"},
        headers={"Cookie": session, "Origin": "https://evil.example"},
    )
    assert (status, body["error"]["code"]) == (403, "forbidden")
    ws_url = base.replace("https://", "wss://") + "/api/v1/ws"
    async with websockets.connect(ws_url, ssl=context, additional_headers={"Origin": public}) as ws:
        token = session.split("=", 1)[1]
        await ws.send(json.dumps({"v": 1, "type": "hello", "seats": [{"token": token}]}))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            frame = json.loads(await ws.recv(decode=True))
            if frame["type"] == "welcome":
                break
            assert frame["type"] != "error", frame
        else:
            pytest.fail("no welcome over wss")


async def test_parley_serve_speaks_https_with_a_certificate_and_key(
    sqlite_template: Path, tmp_path: Path
) -> None:
    cert, key = make_certificate(tmp_path / "tls")
    context = client_context(cert)
    with sqlite_server(
        sqlite_template,
        tmp_path / "server",
        tls=context,
        PARLEY_TLS_CERT=str(cert),
        PARLEY_TLS_KEY=str(key),
    ) as server:
        assert server.base_url.startswith("https://")
        room = await server.create_room()
        await check_https(server.base_url, server.public_url, context, room)


def test_a_tls_handshake_that_never_comes_is_cut_off_after_the_header_timeout(
    sqlite_template: Path, tmp_path: Path
) -> None:
    cert, key = make_certificate(tmp_path / "tls")
    with (
        sqlite_server(
            sqlite_template,
            tmp_path / "server",
            tls=client_context(cert),
            PARLEY_TLS_CERT=str(cert),
            PARLEY_TLS_KEY=str(key),
            PARLEY_HEADER_TIMEOUT="1",
        ) as server,
        connect(server.port) as silent,
    ):
        assert seconds_until_closed(silent, limit=10) < 4


def test_tls_needs_both_a_certificate_and_a_key(tmp_path: Path) -> None:
    cert, _ = make_certificate(tmp_path)
    result = run_parley("serve", "--certfile", str(cert), env={"PARLEY_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.strip().startswith("parley: TLS needs both")
    assert "Traceback" not in result.stderr


def nginx_config(folder: Path, port: int, upstream: int, cert: Path, key: Path) -> Path:
    """docs/operations.md's nginx block, with this test's ports and certificate."""
    block = re.search(r"```nginx\n(.*?)```", OPERATIONS.read_text(), re.DOTALL)
    assert block is not None, "docs/operations.md has no nginx example"
    text = block.group(1)
    for old, new in (
        ("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
        ("/etc/ssl/parley/fullchain.pem", str(cert)),
        ("/etc/ssl/parley/privkey.pem", str(key)),
        ("http://127.0.0.1:8000", f"http://127.0.0.1:{upstream}"),
    ):
        assert old in text, f"the documented nginx block no longer has {old!r}"
        text = text.replace(old, new)
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    conf = folder / "nginx.conf"
    conf.write_text(
        f"""
master_process off;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
{temp}
    uwsgi_temp_path {folder / "uwsgi"};
    scgi_temp_path {folder / "scgi"};
{text}
}}
"""
    )
    return conf


def start_nginx(nginx: str, folder: Path, conf: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [nginx, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_port(port: int, proc: subprocess.Popen[str], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited: {proc.communicate()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not listen in time")


async def test_nginx_terminating_tls_in_front_of_parley(
    sqlite_template: Path, tmp_path: Path
) -> None:
    need("nginx", nginx_problem())
    nginx = nginx_binary()
    assert nginx is not None
    cert, key = make_certificate(tmp_path / "tls")
    context = client_context(cert)
    port = free_port()
    public = f"https://127.0.0.1:{port}"
    with sqlite_server(
        sqlite_template,
        tmp_path / "server",
        public_url=public,
        PARLEY_TRUSTED_PROXIES="127.0.0.1",
    ) as server:
        folder = tmp_path / "nginx"
        folder.mkdir()
        conf = nginx_config(folder, port, server.port, cert, key)
        proc = start_nginx(nginx, folder, conf)
        try:
            wait_for_port(port, proc)
            room = await server.create_room()
            await check_https(public, public, context, room)
        finally:
            proc.terminate()
            proc.communicate(timeout=10)
