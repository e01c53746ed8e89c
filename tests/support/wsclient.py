"""A bare WebSocket peer for gateway tests: raw frames in and out, nothing clever."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection


class Peer:
    """One connection holding one or more seats."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.synced: dict[str, int] = {}
        self.acks: dict[str, dict[str, Any]] = {}
        self.errors: list[dict[str, Any]] = []
        self.others: list[dict[str, Any]] = []
        self.welcome: dict[str, Any] | None = None
        self._reader: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

    @classmethod
    async def connect(
        cls,
        ws_url: str,
        seats: list[tuple[str, int]],
        *,
        origin: str | None = None,
        cookie: str | None = None,
    ) -> Peer:
        """``seats``: (token, after) pairs; on the browser's socket the token is the room id
        and ``cookie`` holds the real ones."""
        headers = {"Origin": origin} if origin else {}
        if cookie:
            headers["Cookie"] = cookie
        ws = await websockets.connect(ws_url, additional_headers=headers, max_size=2**24)
        peer = cls(ws)
        await peer.send(
            {"v": 1, "type": "hello", "seats": [{"token": t, "after": a} for t, a in seats]}
        )
        peer._reader = asyncio.create_task(peer._read())
        return peer

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                kind = frame["type"]
                if kind == "event":
                    self.events.setdefault(frame["room"], []).append(frame)
                elif kind == "synced":
                    self.synced[frame["room"]] = frame["seq"]
                elif kind == "ack":
                    self.acks[frame["id"]] = frame
                elif kind == "error":
                    self.errors.append(frame)
                elif kind == "welcome":
                    self.welcome = frame
                else:
                    self.others.append(frame)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()

    def seqs(self, room: str) -> list[int]:
        return [e["seq"] for e in self.events.get(room, [])]

    async def wait_for(self, predicate: Any, within: float = 10) -> None:
        """Poll until ``predicate()`` holds (or the time runs out: AssertionError)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.01)

    async def command(self, frame: dict[str, Any], within: float = 10) -> dict[str, Any]:
        """Send a command and wait for its (next) ack or error."""
        cid = frame["id"]
        self.acks.pop(cid, None)
        self.errors = [e for e in self.errors if e.get("id") != cid]
        await self.send(frame)

        def answered() -> bool:
            return cid in self.acks or any(e.get("id") == cid for e in self.errors)

        await self.wait_for(answered, within)
        if cid in self.acks:
            return self.acks[cid]
        return next(e for e in self.errors if e.get("id") == cid)

    async def close(self) -> None:
        await self.ws.close()
        if self._reader is not None:
            await self._reader


class StalledReader:
    """A WebSocket peer on a bare socket that sends ``hello`` and then reads nothing at all,
    until :meth:`read_all` drains what the server sent and returns (frames, close code)."""

    def __init__(self, port: int, hello: dict[str, Any]) -> None:
        import base64
        import os
        import socket

        self.sock = socket.create_connection(("127.0.0.1", port))
        # A small receive buffer, so that the server's side fills soon. Not smaller: with a
        # 4 KiB one the window advertised once reading starts grows so slowly on loopback
        # (64 KiB segments) that draining the server's queue took two minutes.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        self.sock.sendall(_masked_text(json.dumps(hello)))

    def read_all(self, within: float = 30) -> tuple[list[dict[str, Any]], int | None]:
        import socket

        self.sock.settimeout(within)
        # Open the window again: reading megabytes through a 4 KiB one crawls (delayed ACKs).
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 2**20)
        data = b""
        while True:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                break
            data += chunk
            if b"\x88" in chunk[-64:] and _parse(data)[1] is not None:
                break  # the close frame is in: no need to wait for the server to hang up
        self.sock.close()
        return _parse(data)


def _parse(data: bytes) -> tuple[list[dict[str, Any]], int | None]:
    head, _, stream = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head[:80]
    frames, code, i = [], None, 0
    while i + 2 <= len(stream):
        opcode, size = stream[i] & 0x0F, stream[i + 1] & 0x7F
        i += 2
        if size == 126:
            size, i = int.from_bytes(stream[i : i + 2], "big"), i + 2
        elif size == 127:
            size, i = int.from_bytes(stream[i : i + 8], "big"), i + 8
        if i + size > len(stream):
            break  # a frame still on its way
        payload, i = stream[i : i + size], i + size
        if opcode == 1:
            frames.append(json.loads(payload))
        elif opcode == 8:
            code = int.from_bytes(payload[:2], "big")
    return frames, code


def _masked_text(text: str) -> bytes:
    import os

    payload = text.encode()
    mask = os.urandom(4)
    size = len(payload)
    header = (
        bytes([0x81, 0x80 | size]) if size < 126 else bytes([0x81, 0xFE]) + size.to_bytes(2, "big")
    )
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
