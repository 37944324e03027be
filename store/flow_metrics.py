"""Flow metrics computed from the store: the journal, idempotency keys, inbox, exceptions.

:meth:`FlowMetricsRepository.compute` answers ``flowMetrics(since)`` and feeds
``/metrics``. Everything is plain SQL both backends run the same way
(``COUNT``/``SUM``/``AVG``/``MAX`` and bounded ``SELECT``\\ s); percentiles are
computed in Python (:func:`domain.flow_metrics.percentile`) over the most
recent :data:`SAMPLE` values, so the cost of a call is bounded however large
the journal grows.

What ``since`` bounds, per metric:

* step latency: steps that *finished* since (``SUCCEEDED`` steps with a latency);
* duplicates prevented: idempotency keys *claimed* since (their replays, even
  later ones) plus webhook events *received* since (their duplicate deliveries);
  keys purged after their retention no longer count;
* activation cycle: ``ACTIVATE_CONTRACT`` transactions whose ERP
  ``CREATE_REVENUE_SCHEDULE`` step finished since; the cycle starts when the
  contract's latest completed ``APPROVE_CONTRACT`` transaction (completed
  before that step) completed, or when the activation started if there is none;
* posting success: ``POST_INVOICE`` transactions *finished* (COMPLETED or
  FAILED) since; parked ones (NEEDS_ATTENTION) are not finished;
* open exceptions: the current count, whatever ``since``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, func, select, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.flow_metrics import (
    CycleTime,
    FlowMetrics,
    PostingOutcomes,
    StepLatency,
    percentile,
)
from domain.transactions import StepAction, StepStatus, TransactionKind, TransactionStatus
from sources.systems import System
from store.exceptions import ExceptionRepository
from store.models import IdempotencyKeyRow, TransactionRow, TransactionStepRow, WebhookEventRow
from store.portable import as_utc, utcnow

__all__ = ["SAMPLE", "FlowMetricsRepository"]

SAMPLE = 5000
"""The most recent values per system (or activations) that percentiles are taken over."""

_IN_CHUNK = 500
"""Subjects per ``IN (...)`` list when looking up approvals."""

_TX = cast(Table, TransactionRow.__table__)
_STEPS = cast(Table, TransactionStepRow.__table__)
_KEYS = cast(Table, IdempotencyKeyRow.__table__)
_EVENTS = cast(Table, WebhookEventRow.__table__)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    return value.astimezone(UTC)


def _since(column: Any, since: datetime | None) -> ColumnElement[bool]:
    return column >= since if since is not None else true()


class FlowMetricsRepository:
    """Reads the flow metrics through an :class:`AsyncEngine` (see the module docstring)."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = utcnow) -> None:
        self._engine = engine
        self._clock = clock

    async def compute(self, since: datetime | None = None) -> FlowMetrics:
        """Every flow metric since ``since`` (None: all the store holds)."""
        at = _utc(since)
        async with self._engine.connect() as conn:
            latency = await self._step_latency(conn, at)
            replays, webhook_duplicates = await self._duplicates(conn, at)
            cycle = await self._activation_cycle(conn, at)
            postings = await self._postings(conn, at)
        open_counts = await ExceptionRepository(self._engine).counts_by_queue()
        return FlowMetrics(
            since=at,
            computed_at=self._clock().astimezone(UTC),
            step_latency=latency,
            idempotent_replays=replays,
            webhook_duplicates=webhook_duplicates,
            activation_cycle=cycle,
            postings=postings,
            open_exceptions=tuple(open_counts.items()),
        )

    async def duplicates_prevented(self, since: datetime | None = None) -> tuple[int, int]:
        """``(idempotent replays, deduplicated webhook deliveries)`` since ``since``."""
        async with self._engine.connect() as conn:
            return await self._duplicates(conn, _utc(since))

    async def _step_latency(
        self, conn: AsyncConnection, since: datetime | None
    ) -> tuple[StepLatency, ...]:
        succeeded = (
            _STEPS.c.status == StepStatus.SUCCEEDED.value,
            _STEPS.c.latency_ms.is_not(None),
            _since(_STEPS.c.finished_at, since),
        )
        totals = {
            row.system: row
            for row in await conn.execute(
                select(
                    _STEPS.c.system,
                    func.count(_STEPS.c.latency_ms).label("steps"),
                    func.avg(_STEPS.c.latency_ms).label("avg_ms"),
                    func.max(_STEPS.c.latency_ms).label("max_ms"),
                )
                .where(*succeeded)
                .group_by(_STEPS.c.system)
            )
        }
        found: list[StepLatency] = []
        for system in System:
            total = totals.get(system.value)
            if total is None or not total.steps:
                found.append(StepLatency(system=system, steps=0))
                continue
            sample = (
                await conn.execute(
                    select(_STEPS.c.latency_ms)
                    .where(*succeeded, _STEPS.c.system == system.value)
                    .order_by(_STEPS.c.finished_at.desc())
                    .limit(SAMPLE)
                )
            ).scalars()
            values = [int(v) for v in sample]
            p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
            found.append(
                StepLatency(
                    system=system,
                    steps=int(total.steps),
                    avg_ms=float(total.avg_ms),
                    max_ms=int(total.max_ms),
                    p50_ms=int(p50) if p50 is not None else None,
                    p95_ms=int(p95) if p95 is not None else None,
                )
            )
        return tuple(found)

    async def _duplicates(self, conn: AsyncConnection, since: datetime | None) -> tuple[int, int]:
        replays = (
            await conn.execute(
                select(func.coalesce(func.sum(_KEYS.c.replays), 0)).where(
                    _since(_KEYS.c.created_at, since)
                )
            )
        ).scalar_one()
        webhooks = (
            await conn.execute(
                select(func.coalesce(func.sum(_EVENTS.c.duplicates), 0)).where(
                    _since(_EVENTS.c.received_at, since)
                )
            )
        ).scalar_one()
        return int(replays), int(webhooks)

    async def _activation_cycle(self, conn: AsyncConnection, since: datetime | None) -> CycleTime:
        rows = (
            await conn.execute(
                select(_TX.c.correlation_id, _TX.c.subject, _TX.c.started_at, _STEPS.c.finished_at)
                .join(_STEPS, _STEPS.c.correlation_id == _TX.c.correlation_id)
                .where(
                    _TX.c.kind == TransactionKind.ACTIVATE_CONTRACT.value,
                    _STEPS.c.system == System.ERP.value,
                    _STEPS.c.action == StepAction.CREATE_REVENUE_SCHEDULE.value,
                    _STEPS.c.status == StepStatus.SUCCEEDED.value,
                    _STEPS.c.finished_at.is_not(None),
                    _since(_STEPS.c.finished_at, since),
                )
                .order_by(_STEPS.c.finished_at.desc())
                .limit(SAMPLE)
            )
        ).all()
        # One schedule step per activation; should a flow hold two, the last one counts.
        scheduled: dict[str, tuple[str, datetime, datetime]] = {}
        for row in rows:
            started, finished = as_utc(row.started_at), as_utc(row.finished_at)
            assert started is not None and finished is not None
            previous = scheduled.get(row.correlation_id)
            if previous is None or finished > previous[2]:
                scheduled[row.correlation_id] = (row.subject, started, finished)
        approvals = await self._approvals(conn, sorted({s for s, _, _ in scheduled.values()}))
        cycles: list[float] = []
        for subject, started, finished in scheduled.values():
            approved = [at for at in approvals.get(subject, ()) if at <= finished]
            begin = max(approved) if approved else started
            cycles.append((finished - begin).total_seconds())
        if not cycles:
            return CycleTime(count=0)
        return CycleTime(
            count=len(cycles),
            p50_s=percentile(cycles, 0.5),
            avg_s=sum(cycles) / len(cycles),
            max_s=max(cycles),
        )

    async def _approvals(
        self, conn: AsyncConnection, subjects: Sequence[str]
    ) -> dict[str, list[datetime]]:
        """When each subject's completed APPROVE_CONTRACT transactions completed."""
        found: dict[str, list[datetime]] = {}
        for start in range(0, len(subjects), _IN_CHUNK):
            rows = await conn.execute(
                select(_TX.c.subject, _TX.c.completed_at).where(
                    _TX.c.kind == TransactionKind.APPROVE_CONTRACT.value,
                    _TX.c.status == TransactionStatus.COMPLETED.value,
                    _TX.c.completed_at.is_not(None),
                    _TX.c.subject.in_(subjects[start : start + _IN_CHUNK]),
                )
            )
            for subject, completed in rows:
                at = as_utc(completed)
                assert at is not None
                found.setdefault(subject, []).append(at)
        return found

    async def _postings(self, conn: AsyncConnection, since: datetime | None) -> PostingOutcomes:
        counts = dict.fromkeys((TransactionStatus.COMPLETED, TransactionStatus.FAILED), 0)
        rows = await conn.execute(
            select(_TX.c.status, func.count())
            .where(
                _TX.c.kind == TransactionKind.POST_INVOICE.value,
                _TX.c.status.in_([s.value for s in counts]),
                _since(_TX.c.completed_at, since),
            )
            .group_by(_TX.c.status)
        )
        for status, n in rows:
            counts[TransactionStatus(status)] = int(n)
        return PostingOutcomes(
            completed=counts[TransactionStatus.COMPLETED],
            failed=counts[TransactionStatus.FAILED],
        )
