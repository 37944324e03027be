"""The exception queue against a migrated store (SQLite or a Postgres schema)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.exception_items import ExceptionItem, ExceptionQueue, ExceptionStatus
from domain.exception_routing import ErrorClass, route
from domain.transactions import IllegalTransition, StepAction, TransactionKind
from sources.systems import System
from store.exceptions import ExceptionNotFound, ExceptionRepository
from store.journal import JournalRepository

FINANCE, SALES, PLATFORM = (
    ExceptionQueue.FINANCE_OPS,
    ExceptionQueue.SALES_OPS,
    ExceptionQueue.PLATFORM,
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def repo(store_engine: AsyncEngine, clock: Clock) -> ExceptionRepository:
    journal = JournalRepository(store_engine, clock=clock)
    for n in range(1, 6):
        await journal.begin(f"c-{n}", TransactionKind.ACTIVATE_CONTRACT, f"800A{n}")
    return ExceptionRepository(store_engine, clock=clock)


async def _erp_down(
    repo: ExceptionRepository, correlation_id: str = "c-1", error: str = "e"
) -> ExceptionItem:
    return await repo.open(
        queue=route(System.ERP, StepAction.CREATE_REVENUE_SCHEDULE, ErrorClass.VALIDATION),
        reason="ERP rejected the revenue schedule",
        subject="800A1",
        correlation_id=correlation_id,
        step_no=3,
        system=System.ERP,
        action=StepAction.CREATE_REVENUE_SCHEDULE,
        error_code=ErrorClass.VALIDATION,
        error=error,
    )


async def test_open_is_idempotent_per_failed_step(repo: ExceptionRepository, clock: Clock) -> None:
    first = await _erp_down(repo, error="period closed")
    assert (first.queue, first.status, first.attempts) == (FINANCE, ExceptionStatus.OPEN, 1)
    assert (first.system, first.step_no, first.created_at) == (System.ERP, 3, clock.now)
    clock.now += timedelta(minutes=1)
    again = await _erp_down(repo, error="period still closed")
    assert again.id == first.id
    assert (again.attempts, again.last_error) == (2, "period still closed")
    assert (again.created_at, again.updated_at) == (first.created_at, clock.now)
    retrying = await repo.mark_retrying(first.id)
    assert retrying.status == ExceptionStatus.RETRYING
    failed_again = await _erp_down(repo)  # the retry failed: same item, open again
    assert (failed_again.id, failed_again.status, failed_again.attempts) == (
        first.id,
        ExceptionStatus.OPEN,
        3,
    )
    page = await repo.list()
    assert [i.id for i in page.items] == [first.id]
    # another step of the same transaction is another item
    other = await repo.open(
        queue=PLATFORM, reason="billing down", subject="800A1", correlation_id="c-1", step_no=2
    )
    assert other.id != first.id
    assert [i.id for i in await repo.open_for("c-1")] == [first.id, other.id]


async def test_a_resolved_item_stays_resolved_and_a_new_failure_opens_a_new_one(
    repo: ExceptionRepository, clock: Clock
) -> None:
    item = await _erp_down(repo)
    clock.now += timedelta(hours=2)
    done = await repo.resolve(item.id, "reposted by hand in NetSuite", "ops@example.com")
    assert (done.status, done.resolved_at, done.resolution_note, done.resolved_by) == (
        ExceptionStatus.RESOLVED,
        clock.now,
        "reposted by hand in NetSuite",
        "ops@example.com",
    )
    with pytest.raises(IllegalTransition, match="is RESOLVED; it cannot become RESOLVED"):
        await repo.resolve(item.id, "again", "ops@example.com")
    with pytest.raises(IllegalTransition, match="is RESOLVED; it cannot become RETRYING"):
        await repo.mark_retrying(item.id)
    fresh = await _erp_down(repo)
    assert fresh.id != item.id and fresh.attempts == 1
    assert await repo.get(item.id) == done
    retrying = await repo.mark_retrying(fresh.id)
    with pytest.raises(IllegalTransition, match="is RETRYING; it cannot become RETRYING"):
        await repo.mark_retrying(fresh.id)
    resolved = await repo.resolve(retrying.id, "retried fine", "worker")
    assert resolved.status == ExceptionStatus.RESOLVED
    assert await repo.open_for("c-1") == []
    with pytest.raises(ExceptionNotFound):
        await repo.resolve(999_999, "x", "y")
    with pytest.raises(ExceptionNotFound):
        await repo.mark_retrying(999_999)
    assert await repo.get(999_999) is None


async def test_list_and_counts_by_queue(repo: ExceptionRepository) -> None:
    assert await repo.counts_by_queue() == {FINANCE: 0, SALES: 0, PLATFORM: 0}
    ids = []
    for n, queue in enumerate([FINANCE, SALES, PLATFORM, SALES, SALES], start=1):
        item = await repo.open(
            queue=queue, reason="r", subject=f"800A{n}", correlation_id=f"c-{n}", step_no=1
        )
        ids.append(item.id)
    await repo.mark_retrying(ids[1])
    await repo.resolve(ids[3], "fixed the account", "ops")
    assert await repo.counts_by_queue() == {FINANCE: 1, SALES: 2, PLATFORM: 1}

    seen: list[int] = []
    after = None
    while True:
        page = await repo.list(first=2, after=after)
        seen += [i.id for i in page.items]
        if (after := page.next_after) is None:
            break
    assert seen == ids[::-1]
    sales = await repo.list(queue=SALES)
    assert [i.id for i in sales.items] == [ids[4], ids[3], ids[1]]
    open_sales = await repo.list(queue=SALES, status=ExceptionStatus.OPEN)
    assert [i.id for i in open_sales.items] == [ids[4]]
    resolved = await repo.list(status=ExceptionStatus.RESOLVED)
    assert [i.id for i in resolved.items] == [ids[3]]
    with pytest.raises(ValueError, match="cursor"):
        await repo.list(after="x")


async def test_concurrent_failures_of_one_step_leave_one_item(repo: ExceptionRepository) -> None:
    items = await asyncio.gather(*[_erp_down(repo, "c-2") for _ in range(20)])
    assert len({i.id for i in items}) == 1
    assert sorted(i.attempts for i in items) == list(range(1, 21))
    assert (await repo.counts_by_queue())[FINANCE] == 1
