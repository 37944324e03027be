"""Reconciliation runs: one row per consistency sweep, with a checkpoint to resume from.

A sweep calls :meth:`ReconciliationRuns.start`, then after every page
:meth:`~ReconciliationRuns.progress` (customers processed, checks by status, and
the reader's cursor after the page as ``last_account_id``), and finally
:meth:`~ReconciliationRuns.finish`. A run that was interrupted (cancelled) or
whose process died (``RUNNING`` but not updated for a while) is found by
:meth:`~ReconciliationRuns.resumable` and taken over by
:meth:`~ReconciliationRuns.claim`, one conditional ``UPDATE``, so of two
processes resuming one run exactly one wins. Every change is conditional on the
run's status: a finished run is never reopened or advanced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from store.models import ReconciliationRunRow
from store.portable import as_utc, utcnow

__all__ = [
    "ReconciliationRun",
    "ReconciliationRuns",
    "RunNotFound",
    "RunNotRunning",
    "RunStatus",
]

_RUNS = cast(Table, ReconciliationRunRow.__table__)
DEFAULT_STALE_AFTER = timedelta(minutes=10)


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"
    """Stopped on purpose (cancelled, Ctrl-C) before the end: resumable."""


class RunNotFound(LookupError):
    """No reconciliation run with this id."""


class RunNotRunning(RuntimeError):
    """The run is no longer RUNNING (finished, or taken over after it looked abandoned)."""


@dataclass(frozen=True, slots=True)
class ReconciliationRun:
    id: int
    status: RunStatus
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    processed: int
    total: int | None
    counts: dict[str, int] = field(default_factory=dict)
    last_account_id: str | None = None
    error: str | None = None


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("run times must be timezone-aware")
    return value.astimezone(UTC)


def _run(row: Any) -> ReconciliationRun:
    started, updated = as_utc(row.started_at), as_utc(row.updated_at)
    return ReconciliationRun(
        id=row.id,
        status=RunStatus(row.status),
        started_at=started,
        updated_at=updated,
        finished_at=as_utc(row.finished_at),
        processed=row.processed,
        total=row.total,
        counts={str(k): int(v) for k, v in (row.counts or {}).items()},
        last_account_id=row.last_account_id,
        error=row.error,
    )


class ReconciliationRuns:
    """Writes and reads reconciliation runs through an :class:`AsyncEngine`."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = utcnow) -> None:
        self._engine = engine
        self._clock = clock

    def _now(self) -> datetime:
        return _utc(self._clock())

    async def start(self, *, total: int | None = None) -> ReconciliationRun:
        """A new RUNNING run with nothing processed."""
        now = self._now()
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    _RUNS.insert()
                    .values(
                        status=RunStatus.RUNNING.value,
                        started_at=now,
                        updated_at=now,
                        processed=0,
                        total=total,
                        counts={},
                    )
                    .returning(*_RUNS.c)
                )
            ).one()
        return _run(row)

    async def progress(
        self,
        run_id: int,
        *,
        checkpoint: str | None,
        processed: int,
        counts: Mapping[str, int],
        total: int | None = None,
    ) -> ReconciliationRun:
        """Record a completed page: the cursor to resume after, customers processed and
        checks by status so far (totals, not increments). ``total`` is kept when None.
        Raises :class:`RunNotRunning` when the run is no longer RUNNING."""
        values: dict[str, Any] = {
            "updated_at": self._now(),
            "last_account_id": checkpoint,
            "processed": processed,
            "counts": dict(counts),
        }
        if total is not None:
            values["total"] = total
        return await self._update(run_id, [RunStatus.RUNNING], values)

    async def finish(
        self, run_id: int, status: RunStatus, *, error: str | None = None
    ) -> ReconciliationRun:
        """End a RUNNING run as COMPLETED, FAILED (with ``error``) or INTERRUPTED."""
        if status is RunStatus.RUNNING:
            raise ValueError("finish takes COMPLETED, FAILED or INTERRUPTED")
        now = self._now()
        values: dict[str, Any] = {"status": status.value, "updated_at": now, "error": error}
        if status is not RunStatus.INTERRUPTED:
            values["finished_at"] = now
        return await self._update(run_id, [RunStatus.RUNNING], values)

    async def claim(
        self, run_id: int, *, stale_after: timedelta = DEFAULT_STALE_AFTER
    ) -> ReconciliationRun | None:
        """Take over a resumable run (INTERRUPTED, or RUNNING without progress for
        ``stale_after``): it is RUNNING again, ours. None when it is not resumable
        (anymore): another process claimed it first, or it finished."""
        now = self._now()
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    update(_RUNS)
                    .where(_RUNS.c.id == run_id, self._resumable(now, stale_after))
                    .values(status=RunStatus.RUNNING.value, updated_at=now, error=None)
                    .returning(*_RUNS.c)
                )
            ).first()
        return _run(row) if row is not None else None

    async def get(self, run_id: int) -> ReconciliationRun | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(_RUNS).where(_RUNS.c.id == run_id))).first()
        return _run(row) if row is not None else None

    async def latest(self, *, status: RunStatus | None = None) -> ReconciliationRun | None:
        """The most recently started run (of ``status``, when given)."""
        query = select(_RUNS).order_by(_RUNS.c.started_at.desc(), _RUNS.c.id.desc()).limit(1)
        if status is not None:
            query = query.where(_RUNS.c.status == status.value)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _run(row) if row is not None else None

    async def resumable(
        self, *, stale_after: timedelta = DEFAULT_STALE_AFTER
    ) -> ReconciliationRun | None:
        """The latest run that can be resumed: INTERRUPTED, or RUNNING without progress
        for ``stale_after`` (its process died). Take it with :meth:`claim`."""
        query = (
            select(_RUNS)
            .where(self._resumable(self._now(), stale_after))
            .order_by(_RUNS.c.started_at.desc(), _RUNS.c.id.desc())
            .limit(1)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _run(row) if row is not None else None

    @staticmethod
    def _resumable(now: datetime, stale_after: timedelta) -> Any:
        return or_(
            _RUNS.c.status == RunStatus.INTERRUPTED.value,
            and_(
                _RUNS.c.status == RunStatus.RUNNING.value,
                _RUNS.c.updated_at < now - stale_after,
            ),
        )

    async def _update(
        self, run_id: int, sources: list[RunStatus], values: dict[str, Any]
    ) -> ReconciliationRun:
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    update(_RUNS)
                    .where(_RUNS.c.id == run_id, _RUNS.c.status.in_([s.value for s in sources]))
                    .values(**values)
                    .returning(*_RUNS.c)
                )
            ).first()
            if row is None:
                found = (
                    await conn.execute(select(_RUNS.c.status).where(_RUNS.c.id == run_id))
                ).scalar()
                if found is None:
                    raise RunNotFound(run_id)
                raise RunNotRunning(f"run {run_id} is {found}")
        return _run(row)
