"""The sweep over fakes: pages, progress, checkpoints, resume, removal, pacing."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.consistency.sweep import Sweep
from domain.consistency.types import CheckStatus, SubjectKind
from domain.consistency.view import ConsistencyView
from store.consistency import ConsistencyStore, MemoryConsistencyStore, RedisConsistencyStore
from store.reconciliation import ReconciliationRuns, RunStatus
from tests.domain.consistency.view_fakes import Account, Clock, World

REDIS_URL = os.environ.get("REDIS_URL")
C, K = SubjectKind.CUSTOMER, SubjectKind.CONTRACT
OK, DRIFT, MISSING = CheckStatus.CONSISTENT, CheckStatus.DRIFT, CheckStatus.MISSING


@pytest.fixture
async def store(redis_prefix: str) -> AsyncIterator[ConsistencyStore]:
    """Redis when REDIS_URL is set (a prefix of the test's own), else in-process."""
    if REDIS_URL:
        opened: ConsistencyStore = RedisConsistencyStore(
            REDIS_URL, f"{redis_prefix}{uuid.uuid4().hex[:8]}:"
        )
    else:
        opened = MemoryConsistencyStore()
    yield opened
    await opened.aclose()


class Setup:
    def __init__(self, store: ConsistencyStore, engine: AsyncEngine, world: World) -> None:
        self.clock = Clock()
        self.world = world
        self.view = ConsistencyView(store, world, "policy", world.evaluate, self.clock)
        self.runs = ReconciliationRuns(engine, self.clock)
        self.progress: list[tuple[int, int | None, dict[str, int]]] = []

    def sweep(self, **kwargs: object) -> Sweep:
        return Sweep(self.view, self.world, self.runs, clock=self.clock, **kwargs)  # type: ignore[arg-type]

    def report(self, processed: int, total: int | None, counts: Mapping[str, int]) -> None:
        self.progress.append((processed, total, dict(counts)))


def five_accounts() -> World:
    return World(
        {
            "001A": Account(DRIFT, {"800A": OK}),
            "001B": Account(OK, {"800B": MISSING}),
            "001C": Account(OK, {}),
            "001D": Account(OK, {"800D": OK}),
            "001E": Account(MISSING, {}),
        }
    )


async def test_a_sweep_recomputes_everyone_page_by_page(
    store: ConsistencyStore, store_engine: AsyncEngine
) -> None:
    setup = Setup(store, store_engine, five_accounts())

    async def five() -> int:
        return 5

    result = await setup.sweep(page_size=2, count_customers=five).run(progress=setup.report)
    run = result.run
    assert run.status is RunStatus.COMPLETED and not result.resumed and result.removed == ()
    assert (run.processed, run.total, run.last_account_id) == (5, 5, "001E")
    assert run.counts == {"CONSISTENT": 5, "DRIFT": 1, "MISSING": 2}
    assert [p[0] for p in setup.progress] == [0, 2, 4, 5]
    assert setup.progress[-1] == (5, 5, run.counts)
    assert setup.world.page_calls == [None]
    summary = await setup.view.summary()
    assert summary.customers == 5 and summary.total == 8
    report = await setup.view.report(K, "800B")
    assert report is not None and report.from_cache and report.status is MISSING
    assert await setup.runs.latest() == run


async def test_customers_gone_since_the_last_sweep_are_removed(
    store: ConsistencyStore, store_engine: AsyncEngine
) -> None:
    setup = Setup(store, store_engine, five_accounts())
    await setup.sweep(page_size=2).run()
    del setup.world.accounts["001B"]
    del setup.world.accounts["001E"]
    result = await setup.sweep(page_size=2).run()
    assert sorted(result.removed) == ["001B", "001E"]
    assert await setup.view.store.subject(K, "800B") is None
    assert await setup.view.store.owner_of(K, "800B") is None
    summary = await setup.view.summary()
    assert summary.customers == 3 and summary.by_status[MISSING] == 0


async def test_a_refresh_during_the_sweep_is_neither_overwritten_nor_removed(
    store: ConsistencyStore, store_engine: AsyncEngine
) -> None:
    setup = Setup(store, store_engine, five_accounts())
    world = setup.world

    async def refresh_during_read() -> None:
        # While the sweep reads the page with 001C and 001D, 001D is fixed and
        # refreshed by a webhook, and 001F is created and refreshed.
        world.accounts["001D"].contracts["800D"] = DRIFT
        world.accounts["001F"] = Account(DRIFT, {})
        gate.set()
        await setup.view.invalidate("001D")
        await setup.view.refresh_customer("001F")

    gate = asyncio.Event()
    original = world.bundle
    calls = 0

    def bundle(account_id: str, read_at: object) -> object:
        nonlocal calls
        found = original(account_id, read_at)  # type: ignore[arg-type]
        if account_id == "001D" and calls == 0:
            calls += 1
            world.gate = gate
            asyncio.get_running_loop().create_task(refresh_during_read())
        return found

    world.bundle = bundle  # type: ignore[assignment,method-assign]
    world.after_page = lambda n: _clear_gate(world)
    result = await setup.sweep(page_size=2).run()
    assert result.removed == ()
    report = await setup.view.report(K, "800D")
    assert report is not None and report.status is DRIFT  # the refresh's, not the sweep's
    assert await setup.view.report(C, "001F") is not None


async def _clear_gate(world: World) -> None:
    world.gate = None


async def test_an_interrupted_sweep_resumes_after_its_checkpoint(
    store: ConsistencyStore, store_engine: AsyncEngine
) -> None:
    setup = Setup(store, store_engine, five_accounts())
    stop = asyncio.Event()
    setup.world.gate = stop  # page 1 passes once released below

    async def released_then_blocked(n: int) -> None:
        setup.world.gate = asyncio.Event()  # page 2 never comes

    setup.world.after_page = released_then_blocked
    first_page = asyncio.Event()

    def report(processed: int, total: int | None, counts: Mapping[str, int]) -> None:
        setup.report(processed, total, counts)
        if processed:
            first_page.set()

    task = asyncio.create_task(setup.sweep(page_size=2).run(progress=report))
    stop.set()
    await asyncio.wait_for(first_page.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    interrupted = await setup.runs.latest()
    assert interrupted is not None and interrupted.status is RunStatus.INTERRUPTED
    assert (interrupted.processed, interrupted.last_account_id) == (2, "001B")

    setup.world.gate = None
    setup.world.after_page = None
    result = await setup.sweep(page_size=2).run(resume=True, progress=setup.report)
    assert result.resumed and result.run.id == interrupted.id
    assert result.run.status is RunStatus.COMPLETED and result.run.processed == 5
    assert result.run.counts == {"CONSISTENT": 5, "DRIFT": 1, "MISSING": 2}
    assert setup.world.page_calls == [None, "001B"]
    assert result.removed == ()  # page 1's customers count as swept
    assert (await setup.view.summary()).customers == 5
    # Nothing left to resume: a new sweep starts from the beginning.
    again = await setup.sweep(page_size=2).run(resume=True)
    assert not again.resumed and again.run.id != interrupted.id


async def test_an_abandoned_run_is_resumed_once_it_is_stale(
    store: ConsistencyStore, store_engine: AsyncEngine
) -> None:
    setup = Setup(store, store_engine, five_accounts())
    abandoned = await setup.runs.start()
    await setup.runs.progress(abandoned.id, checkpoint="001C", processed=3, counts={"OK": 1})
    fresh = await setup.sweep(page_size=2, stale_after=timedelta(minutes=5)).run(resume=True)
    assert not fresh.resumed  # still RUNNING recently: somebody else's
    setup.clock.now += timedelta(minutes=6)
    result = await setup.sweep(page_size=2, stale_after=timedelta(minutes=5)).run(resume=True)
    assert result.resumed and result.run.id == abandoned.id
    assert result.run.processed == 5 and setup.world.page_calls[-1] == "001C"


async def test_a_failing_sweep_is_recorded_as_failed(
    store: ConsistencyStore, store_engine: AsyncEngine
) -> None:
    setup = Setup(store, store_engine, five_accounts())
    await setup.sweep(page_size=2).run()
    setup.world.fail_on_page = 2
    del setup.world.accounts["001E"]
    with pytest.raises(RuntimeError, match="page 2 failed"):
        await setup.sweep(page_size=2).run()
    failed = await setup.runs.latest()
    assert failed is not None and failed.status is RunStatus.FAILED
    assert failed.error == "RuntimeError: page 2 failed" and failed.processed == 2
    # An incomplete sweep removes nothing.
    assert await setup.view.report(C, "001E") is not None


async def test_pages_are_paced(store: ConsistencyStore, store_engine: AsyncEngine) -> None:
    setup = Setup(store, store_engine, five_accounts())
    now = 0.0
    slept: list[float] = []

    def monotonic() -> float:
        return now

    async def sleep(seconds: float) -> None:
        nonlocal now
        slept.append(seconds)
        now += seconds

    result = await setup.sweep(
        page_size=2, max_pages_per_s=4, sleep=sleep, monotonic=monotonic
    ).run()
    assert result.run.processed == 5
    # Three pages and the ask that finds no fourth, 1/4 s apart (the reads took no time).
    assert slept == [0.25, 0.25, 0.25]
    with pytest.raises(ValueError):
        setup.sweep(max_pages_per_s=0)
