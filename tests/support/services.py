"""Finding the real services the suite runs against, and skipping or failing without them.

With ``PARLEY_REQUIRE_SERVICES=1`` (CI sets it) a missing PostgreSQL, Redis, Chromium or nginx fails
the tests that need it instead of skipping them.
"""

from __future__ import annotations

import asyncio
import functools
import os

import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "PARLEY_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_SERVICES = os.environ.get("PARLEY_REQUIRE_SERVICES", "") not in ("", "0", "false")

missing: dict[str, str] = {}


def need(service: str, reason: str | None) -> None:
    """Skip (or fail, when services are required) if ``reason`` says the service is missing."""
    if reason is None:
        return
    missing[service] = reason
    message = f"{service} unavailable: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (PARLEY_REQUIRE_SERVICES forbids skipping)", pytrace=False)
    pytest.skip(message)


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@functools.cache
def postgres_problem() -> str | None:
    """None if PostgreSQL answers at the admin URL, else why not."""
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(asyncpg_dsn(POSTGRES_ADMIN_URL), timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@functools.cache
def nginx_binary() -> str | None:
    """The nginx executable (Debian installs it in /usr/sbin, often off a user's PATH)."""
    import shutil

    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def nginx_problem() -> str | None:
    return None if nginx_binary() else "no nginx executable (apt-get install nginx)"
