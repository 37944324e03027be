"""Alembic environment: migrations run on a connection handed in by store.migrate.

``store.migrate.upgrade`` opens an async engine (SQLite or the Postgres schema
on ``search_path``) and calls Alembic inside ``run_sync``, passing the sync
connection as ``config.attributes["connection"]``. Batch mode keeps future
ALTERs working on SQLite.
"""

from __future__ import annotations

from alembic import context

from store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through store.migrate (it supplies the connection)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
