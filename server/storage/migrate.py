"""Running the Alembic migrations from code (the ``parley`` command and the test fixtures).

Whether a database is at the newest revision is read without Alembic
(:mod:`server.storage.revisions`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` on ``engine``'s database."""
    await _run(engine, lambda config: command.upgrade(config, revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _run(engine, lambda config: command.downgrade(config, revision))


async def _run(engine: AsyncEngine, action: Any) -> None:
    def _with_connection(sync_conn: Any) -> None:
        config = alembic_config()
        config.attributes["connection"] = sync_conn
        action(config)

    async with engine.begin() as conn:
        await conn.run_sync(_with_connection)


def alembic_head() -> str | None:
    """The newest revision, as Alembic's script directory names it."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
