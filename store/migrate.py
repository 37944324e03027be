"""Running the Alembic migrations programmatically (no ``alembic.ini``).

``await upgrade(url, schema)`` brings a database (SQLite file or Postgres
schema) to the newest revision; ``revgraph db upgrade`` (and the demo, and the
tests) call it explicitly. A gateway never migrates on its own: at start-up it
checks :func:`is_current` and refuses to serve a store that is behind
:func:`head` (several replicas starting at once must not race to migrate).
The scripts live in ``store/migrations``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
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


def head() -> str:
    """The newest revision the code knows (what :func:`upgrade` migrates to)."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:  # pragma: no cover - the project always has migrations
        raise RuntimeError(f"no migrations in {MIGRATIONS}")
    return revision


def known(revision: str) -> bool:
    """Whether ``revision`` is one of the code's migrations (else the store is newer)."""
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except Exception:  # alembic raises its own errors for unknown or malformed ids
        return False


async def is_current(url: str = DEFAULT_DATABASE_URL, schema: str | None = None) -> bool:
    """Whether the store at ``url`` (``schema``) is at :func:`head`."""
    return await current(url, schema) == head()
