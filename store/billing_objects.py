"""The billing read model's storage: Billing's objects as it last showed them.

Three tables (migration ``0008_billing_read_model``), shared by every replica:

* ``billing_objects``: one row per customer, subscription or invoice (``kind``,
  ``id``): the vendor's JSON ``body``, the billing customer it belongs to,
  ``changed_at`` (when Billing changed it: an event's ``created``, or the
  moment of a live read) and ``as_of`` (when the gateway last knew it current);
* ``billing_lists``: a customer's list of one kind is *complete* as of
  ``as_of`` — every object of that kind and customer is in ``billing_objects``.
  Only a complete list may answer "the customer's subscriptions" without
  asking Billing; events then keep it complete (a new subscription's event
  adds its row);
* ``read_model_cursors``: how far the read model has followed the source's
  event log (the catch-up's place).

Writes never go back in time: an object is replaced only by a state whose
``changed_at`` is at least its own, so a late, out-of-order event cannot undo
a newer one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, Text, delete, func, select, true, union
from sqlalchemy import cast as cast_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store.models import BillingListRow, BillingObjectRow, ReadModelCursorRow
from store.portable import as_utc, insert_for

__all__ = ["BillingObjects", "Changes", "Cursor", "StoredList", "StoredObject"]

_OBJECTS = cast(Table, BillingObjectRow.__table__)
_LISTS = cast(Table, BillingListRow.__table__)
_CURSORS = cast(Table, ReadModelCursorRow.__table__)


@dataclass(frozen=True)
class StoredObject:
    """One object; ``raw`` is its JSON text (decoded on demand: readers that keep
    parsed objects compare the text and skip decoding what they have)."""

    kind: str
    id: str
    customer_id: str | None
    raw: str
    changed_at: datetime
    as_of: datetime

    @property
    def body(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.raw)
        return decoded


@dataclass(frozen=True)
class StoredList:
    """A customer's complete list of one kind: its objects (not deleted), and since when."""

    as_of: datetime
    objects: tuple[StoredObject, ...]


@dataclass(frozen=True)
class Changes:
    """What :meth:`BillingObjects.changes` found."""

    lists: frozenset[tuple[str, str]]
    """Lists (kind, customer id) written since: an object of theirs was written, or the
    list was read live again (which is also how an object that left it shows)."""
    complete: int
    """How many complete lists there are now. Only :meth:`BillingObjects.clear` removes
    one, so fewer than before means the read model was emptied."""


@dataclass(frozen=True)
class Cursor:
    last_event_at: datetime
    last_event_id: str | None
    checked_at: datetime


_RAW = cast_(_OBJECTS.c.body, Text).label("raw")
"""The body as stored text: not decoded by the driver (see :class:`StoredObject`)."""
_COLUMNS = (
    _OBJECTS.c.kind,
    _OBJECTS.c.id,
    _OBJECTS.c.customer_id,
    _RAW,
    _OBJECTS.c.changed_at,
    _OBJECTS.c.as_of,
)


def _stored(row: Any) -> StoredObject:
    return StoredObject(
        kind=row.kind,
        id=row.id,
        customer_id=row.customer_id,
        raw=row.raw,
        changed_at=as_utc(row.changed_at),
        as_of=as_utc(row.as_of),
    )


class BillingObjects:
    """Read and write the billing read model's tables (see the module docstring)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def lists(self, kind: str, customer_ids: Sequence[str]) -> dict[str, StoredList]:
        """The complete lists among ``customer_ids`` (one query, whatever their number)."""
        wanted = list(dict.fromkeys(customer_ids))
        if not wanted:
            return {}
        joined = _LISTS.outerjoin(
            _OBJECTS,
            (_OBJECTS.c.kind == _LISTS.c.kind)
            & (_OBJECTS.c.customer_id == _LISTS.c.customer_id)
            & _OBJECTS.c.deleted.is_(False),
        )
        query = (
            select(_LISTS.c.customer_id.label("list_of"), _LISTS.c.as_of.label("list_as_of"))
            .add_columns(*_COLUMNS)
            .select_from(joined)
            .where(_LISTS.c.kind == kind, _LISTS.c.customer_id.in_(wanted))
        )
        marks: dict[str, datetime] = {}
        found: dict[str, list[StoredObject]] = {}
        async with self._engine.connect() as conn:
            for row in await conn.execute(query):
                marks[row.list_of] = as_utc(row.list_as_of)
                objects = found.setdefault(row.list_of, [])
                if row.id is not None:
                    objects.append(_stored(row))
        return {c: StoredList(marks[c], tuple(found[c])) for c in marks}

    async def objects(self, kind: str, ids: Sequence[str]) -> dict[str, StoredObject]:
        """The objects among ``ids`` the read model holds (not deleted)."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(*_COLUMNS).where(
                    _OBJECTS.c.kind == kind,
                    _OBJECTS.c.id.in_(wanted),
                    _OBJECTS.c.deleted.is_(False),
                )
            )
            return {row.id: _stored(row) for row in rows}

    async def changes(self, since: datetime) -> Changes:
        """What was written since ``since`` (one connection, over the ``as_of`` indexes)."""
        written = union(
            select(_OBJECTS.c.kind, _OBJECTS.c.customer_id).where(
                _OBJECTS.c.as_of > since, _OBJECTS.c.customer_id.is_not(None)
            ),
            select(_LISTS.c.kind, _LISTS.c.customer_id).where(_LISTS.c.as_of > since),
        )
        async with self._engine.connect() as conn:
            lists = {(row.kind, row.customer_id) for row in await conn.execute(written)}
            complete = (await conn.execute(select(func.count()).select_from(_LISTS))).scalar_one()
        return Changes(frozenset(lists), int(complete))

    async def replace_lists(
        self,
        kind: str,
        lists: Mapping[str, Iterable[Mapping[str, Any]]],
        at: datetime,
        changed_at: datetime | None = None,
    ) -> None:
        """Live reads of customers' whole lists (``lists``: customer id → every object
        of ``kind``), in one transaction: these objects and nothing else, complete as of
        ``at``; ordered among events as ``changed_at`` (default ``at``)."""
        async with self._engine.begin() as conn:
            for customer_id, bodies in lists.items():
                await self._replace(conn, kind, customer_id, list(bodies), at, changed_at or at)

    async def _replace(
        self,
        conn: AsyncConnection,
        kind: str,
        customer_id: str,
        bodies: list[Mapping[str, Any]],
        at: datetime,
        changed: datetime,
    ) -> None:
        """One customer's list, inside the caller's transaction."""
        for body in bodies:
            await self._upsert(conn, kind, body, customer_id, changed, at)
        keep = [str(b["id"]) for b in bodies]
        # Objects Billing no longer lists for the customer are gone (unless a newer
        # event has just written them: then they stay for the next read to judge).
        await conn.execute(
            delete(_OBJECTS).where(
                _OBJECTS.c.kind == kind,
                _OBJECTS.c.customer_id == customer_id,
                _OBJECTS.c.id.not_in(keep) if keep else true(),
                _OBJECTS.c.changed_at <= changed,
            )
        )
        statement = insert_for(conn, _LISTS).values(kind=kind, customer_id=customer_id, as_of=at)
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=["kind", "customer_id"], set_={"as_of": at}
            )
        )

    async def put(
        self,
        kind: str,
        body: Mapping[str, Any],
        customer_id: str | None,
        changed_at: datetime,
        as_of: datetime,
        *,
        deleted: bool = False,
    ) -> bool:
        """Write one object's state unless a newer one is stored; True if written."""
        async with self._engine.begin() as conn:
            return await self._upsert(conn, kind, body, customer_id, changed_at, as_of, deleted)

    async def _upsert(
        self,
        conn: AsyncConnection,
        kind: str,
        body: Mapping[str, Any],
        customer_id: str | None,
        changed_at: datetime,
        as_of: datetime,
        deleted: bool = False,
    ) -> bool:
        values = {
            "kind": kind,
            "id": str(body["id"]),
            "customer_id": customer_id,
            "body": dict(body),
            "changed_at": changed_at,
            "as_of": as_of,
            "deleted": deleted,
        }
        statement = insert_for(conn, _OBJECTS).values(**values)
        result = await conn.execute(
            statement.on_conflict_do_update(
                index_elements=["kind", "id"],
                set_={k: v for k, v in values.items() if k not in ("kind", "id")},
                where=_OBJECTS.c.changed_at <= changed_at,
            )
        )
        return bool(result.rowcount)

    async def clear(self) -> None:
        """Empty the read model (objects, lists, cursor): it fills again from live reads."""
        async with self._engine.begin() as conn:
            for table in (_OBJECTS, _LISTS, _CURSORS):
                await conn.execute(delete(table))

    async def cursor(self, source: str) -> Cursor | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(_CURSORS).where(_CURSORS.c.source == source))).first()
        if row is None:
            return None
        return Cursor(as_utc(row.last_event_at), row.last_event_id, as_utc(row.checked_at))

    async def advance(
        self, source: str, last_event_at: datetime, last_event_id: str | None, checked_at: datetime
    ) -> None:
        """Move the cursor forward (never back) and note when the log was last read."""
        async with self._engine.begin() as conn:
            values = {
                "source": source,
                "last_event_at": last_event_at,
                "last_event_id": last_event_id,
                "checked_at": checked_at,
            }
            statement = insert_for(conn, _CURSORS).values(**values)
            await conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["source"],
                    set_={
                        "last_event_at": last_event_at,
                        "last_event_id": last_event_id,
                        "checked_at": checked_at,
                    },
                    where=_CURSORS.c.last_event_at <= last_event_at,
                )
            )
