"""HTTP over raw sockets, for the clients a library would not be: slow, silent or malformed."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import databases
from tests.support.live import LiveServer


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def connect(port: int, source: str = "127.0.0.1", timeout: float = 10) -> socket.socket:
    return socket.create_connection(
        ("127.0.0.1", port), timeout=timeout, source_address=(source, 0)
    )


def read_answer(sock: socket.socket) -> RawAnswer:
    """Read one HTTP/1.1 answer with a Content-Length (or to the end of the stream)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before the headers ended: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "-1"))
    while length < 0 or len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return RawAnswer(status, headers, body if length < 0 else body[:length])


def request(port: int, raw: bytes, source: str = "127.0.0.1") -> RawAnswer:
    with connect(port, source) as sock:
        sock.sendall(raw)
        return read_answer(sock)


def seconds_until_closed(sock: socket.socket, limit: float) -> float:
    """Seconds until the server closes ``sock`` (reading and discarding); fails past ``limit``."""
    start = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - start


@contextmanager
def sqlite_server(
    sqlite_template: Path,
    tmp_path: Path,
    *,
    public_url: str | None = None,
    tls: ssl.SSLContext | None = None,
    **settings: str,
) -> Iterator[LiveServer]:
    """A live server over a fresh SQLite database with ``settings``; its output kept on stop."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    url = databases.copy_sqlite(sqlite_template, tmp_path)
    server = LiveServer(url, tmp_path / "data", public_url=public_url, tls=tls, **settings)
    server.start()
    try:
        yield server
    finally:
        if server.process.proc is not None and server.process.proc.poll() is None:
            server.stop()
