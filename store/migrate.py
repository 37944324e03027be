"""Running the Alembic migrations programmatically (no ``alembic.ini``).

``await upgrade(url, schema)`` brings a database (SQLite file or Postgres
schema) to the newest revision; the API, the CLI (``revgraph db upgrade``)
and the tests call it. The scripts live in ``store/migrations``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from store.database import DEFAULT_DATABASE_URL, create_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at ``store/migrations``; ``env.py`` uses ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(
    url: str = DEFAULT_DATABASE_URL, schema: str | None = None, revision: str = "head"
) -> None:
    """Migrate the store at ``url`` (in ``schema`` on Postgres) to ``revision``."""
    engine = create_engine(url, schema=schema)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade, revision)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


async def current(url: str = DEFAULT_DATABASE_URL, schema: str | None = None) -> str | None:
    """The revision the store is at (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(url, schema=schema)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()
