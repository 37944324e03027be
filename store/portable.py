"""What differs between the store's two backends, in one place.

* SQLite keeps no offset on timestamps: everything is written in UTC, so a
  naive value read back is UTC (:func:`as_utc`).
* ``INSERT ... ON CONFLICT`` is spelled by each dialect's own ``insert``
  (:func:`insert_for`); both SQLite and Postgres support it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, overload

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """A timestamp read from the store, aware (a naive one is UTC, as written)."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def insert_for(conn: AsyncConnection, table: Table) -> Any:
    """The dialect's ``INSERT`` for ``table``, which offers ``on_conflict_do_*``."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
