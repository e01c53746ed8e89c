"""From the URLs people have (a server's base, an invite link) to the ones the client calls."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

WS_PATH = "/api/v1/ws"
REDEEM_PATH = "/api/v1/invites/redeem"
_WS_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
_HTTP_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


def websocket_url(url: str) -> str:
    """The WebSocket endpoint of a server: ``http://h:8080`` -> ``ws://h:8080/api/v1/ws``.

    Accepts ``http``, ``https``, ``ws`` and ``wss`` URLs of the server's base (with a path
    prefix if it is served under one) or of the endpoint itself.
    """
    parts = urlsplit(url.strip())
    scheme = _WS_SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise ValueError(f"{url!r} is not an http(s) or ws(s) URL of a Parley server")
    path = parts.path.rstrip("/")
    if not path.endswith(WS_PATH):
        path += WS_PATH
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


def split_invite(invite_url: str) -> tuple[str, str]:
    """(the server's HTTP base URL, the invite token) of an invite link ``<base>/join#pi_...``."""
    parts = urlsplit(invite_url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{invite_url!r} is not an http(s) invite link")
    if not parts.fragment:
        raise ValueError(f"{invite_url!r} holds no invite token (the part after '#')")
    path = parts.path.rstrip("/")
    if path.endswith("/join"):
        path = path[: -len("/join")]
    return urlunsplit((parts.scheme.lower(), parts.netloc, path, "", "")), parts.fragment


def http_base(url: str) -> str:
    """The HTTP base of a server from its base or WebSocket URL: ``ws://h/api/v1/ws`` ->
    ``http://h``."""
    parts = urlsplit(url.strip())
    scheme = _HTTP_SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise ValueError(f"{url!r} is not an http(s) or ws(s) URL of a Parley server")
    path = parts.path.rstrip("/").removesuffix(WS_PATH)
    return urlunsplit((scheme, parts.netloc, path, "", ""))
