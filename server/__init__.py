"""The Parley server: aiohttp application, negotiation rules, the append-only log."""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("parley")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare source tree
    __version__ = "0.0.0"
