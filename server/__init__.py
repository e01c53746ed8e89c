"""The Parley server: aiohttp application, negotiation rules, the append-only log."""

from __future__ import annotations

# The same as pyproject.toml's `version` (a test holds them equal). Written here rather than read
# from the installed metadata: importing importlib.metadata costs every `parley` verb ~30 ms.
__version__ = "0.1.0"
