"""Reconciliation runs: progress, finishing, and taking over a resumable run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from store.reconciliation import ReconciliationRuns, RunNotFound, RunNotRunning, RunStatus


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_a_run_records_progress_and_finishes(store_engine: AsyncEngine) -> None:
    clock = Clock()
    runs = ReconciliationRuns(store_engine, clock)
    assert await runs.latest() is None
    run = await runs.start(total=3)
    assert run.status is RunStatus.RUNNING and run.processed == 0 and run.counts == {}
    assert run.started_at == clock.now and run.total == 3
    clock.now += timedelta(seconds=5)
    run = await runs.progress(
        run.id, checkpoint="001B", processed=2, counts={"CONSISTENT": 5, "DRIFT": 1}
    )
    assert (run.last_account_id, run.processed, run.total) == ("001B", 2, 3)
    assert run.counts == {"CONSISTENT": 5, "DRIFT": 1}
    assert run.updated_at == clock.now
    done = await runs.finish(run.id, RunStatus.COMPLETED)
    assert done.status is RunStatus.COMPLETED and done.finished_at == clock.now
    assert await runs.get(run.id) == done
    assert await runs.latest() == done
    assert await runs.latest(status=RunStatus.FAILED) is None
    with pytest.raises(RunNotRunning):
        await runs.progress(run.id, checkpoint="x", processed=9, counts={})
    with pytest.raises(RunNotRunning):
        await runs.finish(run.id, RunStatus.FAILED, error="late")
    with pytest.raises(RunNotFound):
        await runs.finish(run.id + 100, RunStatus.FAILED)
    with pytest.raises(ValueError):
        await runs.finish(run.id, RunStatus.RUNNING)


async def test_interrupted_and_abandoned_runs_are_resumable_once(
    store_engine: AsyncEngine,
) -> None:
    clock = Clock()
    runs = ReconciliationRuns(store_engine, clock)
    first = await runs.start()
    await runs.progress(first.id, checkpoint="001C", processed=3, counts={"DRIFT": 2})
    failed = await runs.start()
    await runs.finish(failed.id, RunStatus.FAILED, error="ValueError: boom")
    assert (await runs.get(failed.id)).error == "ValueError: boom"  # type: ignore[union-attr]
    # RUNNING and recently updated: somebody is on it.
    assert await runs.resumable(stale_after=timedelta(minutes=10)) is None
    clock.now += timedelta(minutes=11)
    found = await runs.resumable(stale_after=timedelta(minutes=10))
    assert found is not None and found.id == first.id and found.last_account_id == "001C"
    # Two processes race to take it over: one wins.
    claims = await asyncio.gather(
        runs.claim(first.id, stale_after=timedelta(minutes=10)),
        runs.claim(first.id, stale_after=timedelta(minutes=10)),
    )
    won = [c for c in claims if c is not None]
    assert len(won) == 1 and won[0].status is RunStatus.RUNNING
    assert won[0].processed == 3 and won[0].counts == {"DRIFT": 2}
    assert await runs.resumable(stale_after=timedelta(minutes=10)) is None

    interrupted = await runs.finish(first.id, RunStatus.INTERRUPTED)
    assert interrupted.finished_at is None
    assert (await runs.resumable()) == interrupted
    assert await runs.claim(first.id) is not None
    assert await runs.claim(failed.id) is None
