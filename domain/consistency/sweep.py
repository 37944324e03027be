"""The sweep: recompute every customer's verdicts in bulk, resumably, at a bounded rate.

A sweep reads every customer through the reader's bulk pages (one batched read per
system and page; the adapters' rate limiters bound each system's request rate,
and ``max_pages_per_s`` bounds the pages on top), judges and stores each customer
(:meth:`ConsistencyView.apply`, a few customers at a time) and records the page in
its :class:`~store.reconciliation.ReconciliationRuns` row: customers processed,
checks by status, and the reader's cursor after the page as the checkpoint. An
interrupted sweep (cancelled, Ctrl-C) is marked INTERRUPTED; a sweep whose process
died stays RUNNING without progress. ``resume=True`` takes over the latest of
either and continues after its checkpoint.

A completed sweep replaces the cache's contents: every customer it read was
written with a computation instant at or after the run's start, so whatever is
older than the start is a customer that no longer exists and is removed. A
single-customer refresh that lands during the sweep carries a newer instant: it
is neither overwritten by the sweep's older read nor removed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.consistency.types import CustomerBundle
from domain.consistency.view import BundleReader, ConsistencyView
from store.consistency import CustomerResult
from store.portable import utcnow
from store.reconciliation import (
    DEFAULT_STALE_AFTER,
    ReconciliationRun,
    ReconciliationRuns,
    RunNotRunning,
    RunStatus,
)

__all__ = ["Progress", "Sweep", "SweepResult", "SweepRunning"]

logger = logging.getLogger("revgraph.consistency")

Progress = Callable[[int, int | None, Mapping[str, int]], None]
"""``progress(processed, total, counts)``: customers done, customers to do (when
known) and checks by status so far; called at the start and after every page."""


class SweepRunning(RuntimeError):
    """A sweep is already running (in this process or, recently, in another)."""

    def __init__(self, run: ReconciliationRun | None) -> None:
        super().__init__("a reconciliation is already running")
        self.run = run


@dataclass(frozen=True, slots=True)
class SweepResult:
    run: ReconciliationRun
    """The finished run (COMPLETED), with its counts."""
    removed: tuple[str, ...]
    """Customers that disappeared since the previous sweep (dropped from the cache)."""
    resumed: bool
    """True when an interrupted or abandoned run was continued."""


class Sweep:
    """Recomputes every customer (see the module docstring).

    ``count_customers`` gives the total for progress when the caller knows it
    (e.g. a CRM count); ``sleep``/``monotonic`` are injectable for tests.
    """

    def __init__(
        self,
        view: ConsistencyView,
        reader: BundleReader,
        runs: ReconciliationRuns,
        *,
        page_size: int = 200,
        max_pages_per_s: float | None = None,
        concurrency: int = 8,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
        count_customers: Callable[[], Awaitable[int | None]] | None = None,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if max_pages_per_s is not None and max_pages_per_s <= 0:
            raise ValueError("max_pages_per_s must be positive")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.view = view
        self.reader = reader
        self.runs = runs
        self.page_size = page_size
        self.max_pages_per_s = max_pages_per_s
        self.concurrency = concurrency
        self.stale_after = stale_after
        self._count = count_customers
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic

    async def run(
        self,
        *,
        resume: bool = False,
        progress: Progress | None = None,
        started: Callable[[ReconciliationRun], None] | None = None,
    ) -> SweepResult:
        """Sweep every customer; with ``resume``, continue the latest interrupted or
        abandoned run if there is one. Returns the completed run; ``started`` is
        told the run as soon as its row exists (what a caller polls).

        Cancelled: the run is INTERRUPTED (resumable) and the cancellation goes on.
        Failed: the run is FAILED with the error, which is raised.
        """
        run: ReconciliationRun | None = None
        if resume:
            candidate = await self.runs.resumable(stale_after=self.stale_after)
            if candidate is not None:
                run = await self.runs.claim(candidate.id, stale_after=self.stale_after)
        resumed = run is not None
        if run is None:
            total = await self._count() if self._count is not None else None
            run = await self.runs.start(total=total)
        if started is not None:
            started(run)
        if resumed:
            logger.info(
                "consistency sweep: resuming run %d after %s (%d done)",
                run.id,
                run.last_account_id,
                run.processed,
            )
        try:
            run = await self._pages(run, progress)
            removed = await self.view.store.remove_stale(before=run.started_at)
            if removed:
                await self.view.announce(removed)
            run = await self.runs.finish(run.id, RunStatus.COMPLETED)
        except asyncio.CancelledError:
            await asyncio.shield(self._end(run.id, RunStatus.INTERRUPTED, None))
            raise
        except Exception as exc:
            await self._end(run.id, RunStatus.FAILED, f"{type(exc).__name__}: {exc}")
            raise
        logger.info(
            "consistency sweep: run %d completed, %d customers, %d removed",
            run.id,
            run.processed,
            len(removed),
        )
        return SweepResult(run=run, removed=tuple(removed), resumed=resumed)

    async def _pages(self, run: ReconciliationRun, progress: Progress | None) -> ReconciliationRun:
        processed = run.processed
        counts: Counter[str] = Counter(run.counts)
        cursor = run.last_account_id
        if progress is not None:
            progress(processed, run.total, dict(counts))
        pages = self.reader.pages(after=cursor, page_size=self.page_size)
        interval = 1.0 / self.max_pages_per_s if self.max_pages_per_s else 0.0
        next_at: float | None = None
        try:
            while True:
                if next_at is not None:
                    wait = next_at - self._monotonic()
                    if wait > 0:
                        await self._sleep(wait)
                next_at = self._monotonic() + interval
                # Every write of this page counts as computed when the page was asked for
                # (no later than the systems were read; never before the run started).
                asked_at = max(self._clock(), run.started_at)
                try:
                    bundles, after = await anext(pages)
                except StopAsyncIteration:
                    return run
                for result in await self._apply(bundles, asked_at):
                    counts.update(c.check.status.value for c in result.checks)
                processed += len(bundles)
                if after is not None:
                    cursor = after
                elif bundles:
                    cursor = bundles[-1].account.id
                run = await self.runs.progress(
                    run.id, checkpoint=cursor, processed=processed, counts=counts
                )
                await self.view.announce([b.account.id for b in bundles])
                if progress is not None:
                    progress(processed, run.total, dict(counts))
                if after is None:
                    return run
        finally:
            aclose = getattr(pages, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def _apply(
        self, bundles: list[CustomerBundle], computed_at: datetime
    ) -> list[CustomerResult]:
        limit = asyncio.Semaphore(self.concurrency)

        async def one(bundle: CustomerBundle) -> CustomerResult:
            async with limit:
                return await self.view.apply(bundle, computed_at=computed_at)

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(b)) for b in bundles]
        return [t.result() for t in tasks]

    async def _end(self, run_id: int, status: RunStatus, error: str | None) -> None:
        try:
            await self.runs.finish(run_id, status, error=error)
        except RunNotRunning:
            # Taken over by another process after it looked abandoned: theirs now.
            logger.warning("consistency sweep: run %d was taken over", run_id)
