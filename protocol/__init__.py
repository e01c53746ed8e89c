"""Parley's wire contract: versions and error codes. No I/O and no imports of the server."""

from __future__ import annotations

PROTOCOL_VERSION = 1
