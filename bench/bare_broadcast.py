"""The ceiling for ``bench/fanout.py``: a bare aiohttp WebSocket broadcast server.

    python -m bench.bare_broadcast [--host 127.0.0.1] [--port 8090]

Every text frame received on ``/api/v1/ws`` is sent, as it is, to every connected socket (the
sender's too, as Parley sends a seat its own events), and then the sender gets
``{"v":1,"type":"ack"}``. No persistence, no authentication, no visibility, no JSON parsing, no
per-connection queue: the least a Python aiohttp server can do to fan a frame out, driven by the
same load generator as Parley so that the ratio of the two is apples to apples.
"""

from __future__ import annotations

import argparse
import contextlib

from aiohttp import WSMsgType, web

ACK = '{"v":1,"type":"ack"}'
SOCKETS = web.AppKey("sockets", set[web.WebSocketResponse])


async def websocket(request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse(max_msg_size=1 << 20)
    await ws.prepare(request)
    sockets = request.app[SOCKETS]
    sockets.add(ws)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = msg.data
            for peer in tuple(sockets):
                if not peer.closed:
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await peer.send_str(data)
            await ws.send_str(ACK)
    finally:
        sockets.discard(ws)
    return ws


async def health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def make_app() -> web.Application:
    app = web.Application()
    app[SOCKETS] = set()
    app.router.add_get("/api/v1/ws", websocket)
    app.router.add_get("/health", health)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()
    web.run_app(make_app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
