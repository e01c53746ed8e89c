"""The client's address: the socket's peer, or ``X-Forwarded-For`` from a trusted proxy.

``X-Forwarded-For`` is read only when the connection comes from one of
``PARLEY_TRUSTED_PROXIES``; the header is then walked from the right (the hop nearest to us),
skipping trusted proxies, and the first other address is the client. Anyone else could write
any address in that header, so from an untrusted peer it is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The networks whose ``X-Forwarded-For`` we believe."""

    def __init__(self, networks: Iterable[str]) -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in networks
        )

    def __contains__(self, address: object) -> bool:
        if not self.networks or not isinstance(address, str):
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def client_of(self, peer: str, forwarded_for: str | None) -> str:
        """The client address of a request from ``peer`` carrying ``forwarded_for``."""
        if forwarded_for is None or peer not in self:
            return peer
        for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
            if not hop:
                continue
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return peer  # garbage in the header: fall back to the proxy itself
            if hop not in self:
                return hop
        return peer


def peer_address(request: web.BaseRequest) -> str:
    return request.remote or "unknown"


def client_address(request: web.BaseRequest, trusted: TrustedProxies) -> str:
    return trusted.client_of(peer_address(request), request.headers.get("X-Forwarded-For"))
