"""Async engines for the store, on SQLite or on a Postgres schema.

``create_engine(url, schema=...)``:

* ``sqlite+aiosqlite:///path`` (``sqlite:///`` is accepted too): the file's
  directory is created; every connection turns on WAL (readers do not block
  the writer) and foreign keys (off by default in SQLite).
* ``postgresql+asyncpg://...`` (``postgresql://`` is accepted too): with a
  ``schema``, every connection gets ``search_path=<schema>`` and the schema is
  created on the engine's first connection, so tables, the Alembic version
  table and every query stay inside it: one schema per deployment or test run.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///.revgraph/revgraph.sqlite3"
"""The embedded default: a SQLite file under ``.revgraph/`` in the working directory."""

DEFAULT_POSTGRES_SCHEMA = "revgraph"


def normalize_url(url: str) -> str:
    """The async driver's URL for a plain ``sqlite://`` or ``postgresql://`` URL."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def create_engine(url: str = DEFAULT_DATABASE_URL, *, schema: str | None = None) -> AsyncEngine:
    """An :class:`AsyncEngine` for the store (see the module docstring)."""
    url = normalize_url(url)
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = parsed.database
        if path and path != ":memory:" and not path.startswith("file:"):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql" and schema:
        engine = create_async_engine(url, connect_args={"server_settings": {"search_path": schema}})
        # Before the dialect's own first-connect hook, which reads current_schema():
        # the schema must exist by then or SQLAlchemy caches a NULL default schema.
        event.listen(engine.sync_engine, "first_connect", _schema_creator(schema), insert=True)
        return engine
    return create_async_engine(url)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _schema_creator(schema: str) -> Any:
    quoted = schema.replace('"', '""')

    def create_schema(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{quoted}"')
            dbapi_connection.commit()
        except Exception as exc:  # the driver's error class: SQLAlchemy has not wrapped it yet
            # Two processes racing through IF NOT EXISTS: the loser hits the unique index.
            if "already exists" not in str(exc) and "duplicate key" not in str(exc):
                raise
            dbapi_connection.rollback()
        finally:
            cursor.close()

    return create_schema
