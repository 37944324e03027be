"""The crosswalk repository: canonical customer ids and each system's id for them.

An entry per CRM account (canonical id = CRM account id) with the billing and
ERP customer ids found for it, a :class:`LinkStatus` and the problems that kept
it from being LINKED. The entry types are the domain's
(:mod:`domain.crosswalk_types`) and ``domain.crosswalk`` computes entries; this
module only stores and finds them. Writes are portable upserts (``ON CONFLICT``
on both SQLite and Postgres); a rebuild replaces everything in one transaction,
so readers see either the old or the new crosswalk, never a mix.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.crosswalk_types import (
    CrosswalkEntry,
    CrosswalkPage,
    CrosswalkRun,
    LinkProblem,
    LinkStatus,
)
from store.models import CrosswalkEntryRow, CrosswalkRunRow
from store.portable import as_utc, insert_for, utcnow

__all__ = [
    "CrosswalkEntry",
    "CrosswalkPage",
    "CrosswalkRepository",
    "CrosswalkRun",
    "LinkProblem",
    "LinkStatus",
    "dump_entry",
    "load_entry",
]

_ENTRIES = cast(Table, CrosswalkEntryRow.__table__)
_RUNS = cast(Table, CrosswalkRunRow.__table__)
_BATCH = 1000
"""Rows per INSERT: well under SQLite's bound-parameter limit with 8 columns."""


def _row(entry: CrosswalkEntry, now: datetime) -> dict[str, Any]:
    return {
        "canonical_id": entry.canonical_id,
        "crm_id": entry.crm_id,
        "billing_customer_id": entry.billing_customer_id,
        "erp_customer_id": entry.erp_customer_id,
        "name": entry.name,
        "status": entry.status.value,
        "problems": [p.to_json() for p in entry.problems],
        "updated_at": entry.updated_at or now,
    }


def dump_entry(entry: CrosswalkEntry) -> bytes:
    """An entry as compact JSON (for the cache)."""
    row = _row(entry, entry.updated_at or utcnow())
    row["updated_at"] = row["updated_at"].isoformat()
    return json.dumps(row, separators=(",", ":")).encode()


def load_entry(data: bytes) -> CrosswalkEntry:
    """The inverse of :func:`dump_entry`."""
    row = json.loads(data)
    row["updated_at"] = datetime.fromisoformat(row["updated_at"])
    return _entry(SimpleNamespace(**row))


def _entry(row: Any) -> CrosswalkEntry:
    updated = as_utc(row.updated_at)
    return CrosswalkEntry(
        canonical_id=row.canonical_id,
        crm_id=row.crm_id,
        name=row.name,
        status=LinkStatus(row.status),
        billing_customer_id=row.billing_customer_id,
        erp_customer_id=row.erp_customer_id,
        problems=tuple(LinkProblem.from_json(p) for p in row.problems or ()),
        updated_at=updated,
    )


class CrosswalkRepository:
    """Reads and writes crosswalk entries and runs through an :class:`AsyncEngine`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def replace_all(
        self, entries: Iterable[CrosswalkEntry], run: CrosswalkRun | None = None
    ) -> int | None:
        """Swap the whole crosswalk for ``entries`` (and record ``run``) atomically.

        Returns the run's id when a run is recorded.
        """
        now = utcnow()
        rows = [_row(e, now) for e in entries]
        async with self._engine.begin() as conn:
            await conn.execute(delete(_ENTRIES))
            for start in range(0, len(rows), _BATCH):
                await conn.execute(_ENTRIES.insert(), rows[start : start + _BATCH])
            return await self._insert_run(conn, run) if run is not None else None

    async def upsert(self, entries: Iterable[CrosswalkEntry]) -> None:
        """Insert or update entries by canonical id (e.g. after onboarding one customer)."""
        now = utcnow()
        rows = [_row(e, now) for e in entries]
        if not rows:
            return
        async with self._engine.begin() as conn:
            insert = insert_for(conn, _ENTRIES)
            updated = {c: insert.excluded[c] for c in rows[0] if c != "canonical_id"}
            statement = insert.on_conflict_do_update(index_elements=["canonical_id"], set_=updated)
            for start in range(0, len(rows), _BATCH):
                await conn.execute(statement, rows[start : start + _BATCH])

    async def record_run(self, run: CrosswalkRun) -> int:
        async with self._engine.begin() as conn:
            return await self._insert_run(conn, run)

    async def _insert_run(self, conn: AsyncConnection, run: CrosswalkRun) -> int:
        result = await conn.execute(
            _RUNS.insert().returning(_RUNS.c.id),
            {
                "started_at": run.started_at,
                "finished_at": run.finished_at,
                "linked": run.linked,
                "incomplete": run.incomplete,
                "ambiguous": run.ambiguous,
                "orphans": run.orphans,
            },
        )
        return int(result.scalar_one())

    async def last_run(self) -> CrosswalkRun | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(_RUNS).order_by(_RUNS.c.id.desc()).limit(1))).first()
        if row is None:
            return None
        return CrosswalkRun(
            started_at=row.started_at,
            finished_at=row.finished_at,
            linked=row.linked,
            incomplete=row.incomplete,
            ambiguous=row.ambiguous,
            orphans=row.orphans,
            id=row.id,
        )

    async def get(self, canonical_id: str) -> CrosswalkEntry | None:
        return await self._one(_ENTRIES.c.canonical_id == canonical_id)

    async def by_billing_id(self, billing_customer_id: str) -> CrosswalkEntry | None:
        return await self._one(_ENTRIES.c.billing_customer_id == billing_customer_id)

    async def by_erp_id(self, erp_customer_id: str) -> CrosswalkEntry | None:
        return await self._one(_ENTRIES.c.erp_customer_id == erp_customer_id)

    async def _one(self, condition: Any) -> CrosswalkEntry | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(_ENTRIES).where(condition).limit(1))).first()
        return _entry(row) if row is not None else None

    async def many(self, canonical_ids: Sequence[str]) -> dict[str, CrosswalkEntry]:
        """Entries by canonical id (absent ids are left out); one query per 1000 ids."""
        found: dict[str, CrosswalkEntry] = {}
        unique = builtins.list(dict.fromkeys(canonical_ids))
        async with self._engine.connect() as conn:
            for start in range(0, len(unique), _BATCH):
                chunk = unique[start : start + _BATCH]
                rows = await conn.execute(
                    select(_ENTRIES).where(_ENTRIES.c.canonical_id.in_(chunk))
                )
                for row in rows:
                    found[row.canonical_id] = _entry(row)
        return found

    async def counts(self) -> dict[LinkStatus, int]:
        """Entries per status (every status present, zero included)."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_ENTRIES.c.status, func.count()).group_by(_ENTRIES.c.status)
            )
            counted = {LinkStatus(status): int(n) for status, n in rows}
        return {status: counted.get(status, 0) for status in LinkStatus}

    async def list(
        self, status: LinkStatus | None = None, limit: int = 100, after: str | None = None
    ) -> CrosswalkPage:
        """Entries in canonical-id order, optionally of one status; keyset-paged by ``after``."""
        query = select(_ENTRIES).order_by(_ENTRIES.c.canonical_id).limit(limit + 1)
        if status is not None:
            query = query.where(_ENTRIES.c.status == status.value)
        if after is not None:
            query = query.where(_ENTRIES.c.canonical_id > after)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        entries = tuple(_entry(r) for r in rows[:limit])
        more = len(rows) > limit
        return CrosswalkPage(entries, entries[-1].canonical_id if more and entries else None)
