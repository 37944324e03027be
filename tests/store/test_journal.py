"""The transaction journal against a migrated store (SQLite or a Postgres schema)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.transactions import (
    IllegalTransition,
    StepAction,
    StepStatus,
    TransactionKind,
    TransactionStatus,
)
from sources.systems import System
from store.journal import JournalRepository, TransactionNotFound


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def journal(store_engine: AsyncEngine, clock: Clock) -> JournalRepository:
    return JournalRepository(store_engine, clock=clock)


ACTIVATE = TransactionKind.ACTIVATE_CONTRACT
PLAN = [
    (System.CONTRACTS, StepAction.ACTIVATE_CONTRACT),
    (System.BILLING, StepAction.CREATE_SUBSCRIPTION),
    (System.ERP, StepAction.CREATE_REVENUE_SCHEDULE),
]


async def test_lifecycle_end_to_end(journal: JournalRepository, clock: Clock) -> None:
    tx = await journal.begin("c-1", ACTIVATE, "800A1", idempotency_key="k-1", plan=PLAN)
    assert tx.status == TransactionStatus.PENDING
    assert [(s.step_no, s.system, s.status, s.attempts) for s in tx.steps] == [
        (1, System.CONTRACTS, StepStatus.PENDING, 0),
        (2, System.BILLING, StepStatus.PENDING, 0),
        (3, System.ERP, StepStatus.PENDING, 0),
    ]
    assert tx.current_system is None
    # begin again (a resumed flow) returns the same transaction
    assert await journal.begin("c-1", ACTIVATE, "800A1", plan=PLAN) == tx
    with pytest.raises(ValueError, match="exists as ACTIVATE_CONTRACT"):
        await journal.begin("c-1", TransactionKind.AMEND_CONTRACT, "800A1")

    step = await journal.step_started("c-1", 1, System.CONTRACTS, StepAction.ACTIVATE_CONTRACT)
    assert (step.status, step.attempts, step.started_at) == (StepStatus.RUNNING, 1, clock.now)
    assert (await journal.get("c-1")).status == TransactionStatus.RUNNING  # type: ignore[union-attr]
    clock.tick(milliseconds=40)
    done = await journal.step_finished("c-1", 1, StepStatus.SUCCEEDED, created_id="800A1")
    assert (done.status, done.latency_ms, done.created_id) == (StepStatus.SUCCEEDED, 40, "800A1")

    await journal.step_started(
        "c-1", 2, System.BILLING, StepAction.CREATE_SUBSCRIPTION, vendor_idempotency_key="c-1:2"
    )
    clock.tick(seconds=1)
    failed = await journal.step_finished(
        "c-1", 2, StepStatus.FAILED, error_code="TIMEOUT", error_message="no answer in 10 s"
    )
    assert (failed.error_code, failed.latency_ms) == ("TIMEOUT", 1000)
    retried = await journal.step_started("c-1", 2, System.BILLING, StepAction.CREATE_SUBSCRIPTION)
    assert (retried.attempts, retried.error_code, retried.finished_at) == (2, None, None)
    await journal.step_finished("c-1", 2, StepStatus.SUCCEEDED, created_id="sub_1")
    await journal.step_started("c-1", 3, System.ERP, StepAction.CREATE_REVENUE_SCHEDULE)
    await journal.step_finished("c-1", 3, StepStatus.FAILED, error_code="UNAVAILABLE")
    parked = await journal.finish("c-1", TransactionStatus.NEEDS_ATTENTION)
    assert parked.status == TransactionStatus.NEEDS_ATTENTION
    assert parked.completed_at is None
    assert parked.current_system == System.BILLING  # billing has the change, ERP not yet
    assert [s.status for s in parked.steps] == [
        StepStatus.SUCCEEDED,
        StepStatus.SUCCEEDED,
        StepStatus.FAILED,
    ]

    # retryException: the ERP step runs again and the transaction completes
    clock.tick(minutes=5)
    again = await journal.step_started("c-1", 3, System.ERP, StepAction.CREATE_REVENUE_SCHEDULE)
    assert again.attempts == 2
    assert (await journal.get("c-1")).status == TransactionStatus.RUNNING  # type: ignore[union-attr]
    await journal.step_finished("c-1", 3, StepStatus.SUCCEEDED, created_id="800A1:1")
    final = await journal.finish("c-1", TransactionStatus.COMPLETED)
    assert (final.status, final.completed_at, final.current_system) == (
        TransactionStatus.COMPLETED,
        clock.now,
        System.ERP,
    )
    assert final.idempotency_key == "k-1"
    assert [s.created_id for s in final.steps] == ["800A1", "sub_1", "800A1:1"]
    assert await journal.get("c-404") is None


async def test_illegal_changes_are_refused(journal: JournalRepository) -> None:
    await journal.begin("c-2", ACTIVATE, "800A2")
    await journal.step_started("c-2", 1, System.CONTRACTS, StepAction.ACTIVATE_CONTRACT)
    await journal.step_finished("c-2", 1, StepStatus.SUCCEEDED, created_id="x")
    with pytest.raises(IllegalTransition, match="SUCCEEDED; it cannot become RUNNING"):
        await journal.step_started("c-2", 1, System.CONTRACTS, StepAction.ACTIVATE_CONTRACT)
    with pytest.raises(IllegalTransition, match="SUCCEEDED; it cannot become FAILED"):
        await journal.step_finished("c-2", 1, StepStatus.FAILED, error_code="X")
    with pytest.raises(ValueError, match="error_code"):
        await journal.step_finished("c-2", 1, StepStatus.FAILED)
    with pytest.raises(ValueError, match="SUCCEEDED or FAILED"):
        await journal.step_finished("c-2", 1, StepStatus.RUNNING)
    await journal.finish("c-2", TransactionStatus.COMPLETED)
    for target in (TransactionStatus.FAILED, TransactionStatus.NEEDS_ATTENTION):
        with pytest.raises(IllegalTransition, match="is COMPLETED; it cannot become"):
            await journal.finish("c-2", target)
    with pytest.raises(IllegalTransition, match="transaction c-2 is COMPLETED"):
        await journal.step_started("c-2", 2, System.BILLING, StepAction.CREATE_SUBSCRIPTION)
    with pytest.raises(IllegalTransition):
        await journal.reopen("c-2")
    tx = await journal.get("c-2")
    assert tx is not None and tx.status == TransactionStatus.COMPLETED and len(tx.steps) == 1
    with pytest.raises(ValueError, match="finish takes"):
        await journal.finish("c-2", TransactionStatus.RUNNING)
    with pytest.raises(TransactionNotFound):
        await journal.step_started("c-404", 1, System.CRM, StepAction.CREATE_ACCOUNT)
    with pytest.raises(TransactionNotFound):
        await journal.finish("c-404", TransactionStatus.FAILED)
    await journal.begin("c-3", ACTIVATE, "800A3")
    with pytest.raises(TransactionNotFound):
        await journal.step_finished("c-3", 1, StepStatus.SUCCEEDED)
    await journal.finish("c-3", TransactionStatus.FAILED)
    with pytest.raises(IllegalTransition, match="FAILED; it cannot become RUNNING"):
        await journal.reopen("c-3")


async def test_a_pending_step_cannot_finish(journal: JournalRepository) -> None:
    await journal.begin("c-4", ACTIVATE, "800A4", plan=PLAN)
    with pytest.raises(IllegalTransition, match="c-4#2 is PENDING"):
        await journal.step_finished("c-4", 2, StepStatus.SUCCEEDED)


async def test_a_step_keeps_its_system_and_action(journal: JournalRepository) -> None:
    await journal.begin("c-5", ACTIVATE, "800A5", plan=PLAN)
    with pytest.raises(ValueError, match="CREATE_SUBSCRIPTION on BILLING, not POST_INVOICE on ERP"):
        await journal.step_started("c-5", 2, System.ERP, StepAction.POST_INVOICE)
    tx = await journal.get("c-5")
    assert tx is not None
    assert (tx.status, tx.steps[1].status, tx.steps[1].attempts) == (
        TransactionStatus.PENDING,
        StepStatus.PENDING,
        0,
    )


async def test_list_is_filtered_and_keyset_paged_newest_first(
    journal: JournalRepository, clock: Clock
) -> None:
    start = clock.now
    for n in range(7):
        kind = ACTIVATE if n % 2 == 0 else TransactionKind.POST_INVOICE
        await journal.begin(f"c-{n}", kind, f"s-{n}")
        if n % 2 == 1:
            await journal.step_started(f"c-{n}", 1, System.ERP, StepAction.POST_INVOICE)
        if n < 2:
            clock.tick(seconds=1)  # c-2..c-6 share one started_at: the id breaks ties
    seen: list[str] = []
    after = None
    while True:
        page = await journal.list(first=3, after=after)
        seen += [t.correlation_id for t in page.transactions]
        after = page.next_after
        if after is None:
            break
    assert seen == ["c-6", "c-5", "c-4", "c-3", "c-2", "c-1", "c-0"]
    running = await journal.list(status=TransactionStatus.RUNNING)
    assert [t.correlation_id for t in running.transactions] == ["c-5", "c-3", "c-1"]
    assert running.transactions[0].steps[0].system == System.ERP
    erp = await journal.list(system=System.ERP, first=2)
    assert [t.correlation_id for t in erp.transactions] == ["c-5", "c-3"]
    assert erp.next_after is not None
    rest = await journal.list(system=System.ERP, first=2, after=erp.next_after)
    assert ([t.correlation_id for t in rest.transactions], rest.next_after) == (["c-1"], None)
    activations = await journal.list(kind=ACTIVATE, since=start + timedelta(seconds=1))
    assert [t.correlation_id for t in activations.transactions] == ["c-6", "c-4", "c-2"]
    assert (await journal.list(kind="NOPE")).transactions == ()
    with pytest.raises(ValueError, match="cursor"):
        await journal.list(after="not-a-cursor")


async def test_delayed_steps_by_kind_slo(journal: JournalRepository, clock: Clock) -> None:
    await journal.begin("a", ACTIVATE, "800A1")
    await journal.step_started("a", 1, System.BILLING, StepAction.CREATE_SUBSCRIPTION)
    await journal.begin("p", TransactionKind.POST_INVOICE, "in_1")
    await journal.step_started("p", 1, System.ERP, StepAction.POST_INVOICE)
    await journal.begin("u", TransactionKind.UPDATE_CUSTOMER, "001")
    await journal.step_started("u", 1, System.CRM, StepAction.UPDATE_ACCOUNT)
    await journal.begin("done", ACTIVATE, "800A2")
    await journal.step_started("done", 1, System.BILLING, StepAction.CREATE_SUBSCRIPTION)
    await journal.step_finished("done", 1, StepStatus.SUCCEEDED, created_id="sub")
    slo: dict[str, timedelta] = {
        ACTIVATE: timedelta(seconds=30),
        TransactionKind.POST_INVOICE: timedelta(minutes=5),
    }
    now = clock.now + timedelta(seconds=30)
    assert await journal.delayed(slo, now) == []  # exactly at the SLO is not late
    late = await journal.delayed(slo, now + timedelta(seconds=1))
    assert [(d.transaction.correlation_id, d.step.step_no, d.age) for d in late] == [
        ("a", 1, timedelta(seconds=31))
    ]
    assert late[0].transaction.delayed(slo[ACTIVATE], now + timedelta(seconds=1))
    later = await journal.delayed(slo, clock.now + timedelta(hours=1))
    assert [d.transaction.correlation_id for d in later] == ["a", "p"]  # "u" has no SLO
    assert await journal.delayed({}, clock.now + timedelta(days=1)) == []
    clock.tick(hours=1)
    assert [d.transaction.correlation_id for d in await journal.delayed(slo)] == ["a", "p"]


async def test_concurrent_starts_of_one_step_count_every_attempt(
    journal: JournalRepository,
) -> None:
    await journal.begin("c-9", ACTIVATE, "800A9", plan=PLAN)
    starts = await asyncio.gather(
        *[
            journal.step_started("c-9", 2, System.BILLING, StepAction.CREATE_SUBSCRIPTION)
            for _ in range(20)
        ]
    )
    assert sorted(s.attempts for s in starts) == list(range(1, 21))
    tx = await journal.get("c-9")
    assert tx is not None
    assert (tx.steps[1].attempts, tx.steps[1].status) == (20, StepStatus.RUNNING)
    # the earlier attempts lost the step: only the latest may finish it
    await journal.step_finished("c-9", 2, StepStatus.SUCCEEDED, created_id="sub_9")
    with pytest.raises(IllegalTransition):
        await journal.step_finished("c-9", 2, StepStatus.SUCCEEDED, created_id="sub_9")


async def test_concurrent_starts_of_an_unplanned_step(journal: JournalRepository) -> None:
    await journal.begin("c-10", ACTIVATE, "800A10")
    starts = await asyncio.gather(
        *[journal.step_started("c-10", 1, System.ERP, StepAction.POST_INVOICE) for _ in range(10)]
    )
    assert sorted(s.attempts for s in starts) == list(range(1, 11))


async def test_two_engines_starting_one_step_on_postgres_count_every_attempt(
    store_engine: AsyncEngine, second_engine: AsyncEngine, clock: Clock
) -> None:
    """Two gateway replicas resume one flow at once: two engines, two pools."""
    journals = [
        JournalRepository(store_engine, clock=clock),
        JournalRepository(second_engine, clock=clock),
    ]
    await journals[0].begin("c-11", ACTIVATE, "800A11", plan=PLAN)
    starts = await asyncio.gather(
        *[
            journals[i % 2].step_started("c-11", 3, System.ERP, StepAction.CREATE_REVENUE_SCHEDULE)
            for i in range(30)
        ]
    )
    assert sorted(s.attempts for s in starts) == list(range(1, 31))
    tx = await journals[1].get("c-11")
    assert tx is not None and tx.steps[2].attempts == 30


async def test_contract_authors_are_who_created_and_last_amended_it(
    journal: JournalRepository, clock: Clock
) -> None:
    assert await journal.contract_authors("800C1") == (None, None)  # made outside the gateway
    await journal.begin("cc-1", TransactionKind.CREATE_CONTRACT, "800C1", started_by="ann")
    await journal.finish("cc-1", TransactionStatus.COMPLETED)
    assert await journal.contract_authors("800C1") == ("ann", None)
    for n, who in enumerate(("bob", "cy"), start=1):
        clock.tick(minutes=1)
        await journal.begin(f"am-{n}", TransactionKind.AMEND_CONTRACT, "800C1", started_by=who)
    clock.tick(minutes=1)
    await journal.begin("am-3", TransactionKind.AMEND_CONTRACT, "800C1", started_by="dee")
    await journal.finish("am-3", TransactionStatus.FAILED)  # changed nothing: not an author
    assert await journal.contract_authors("800C1") == ("ann", "cy")
    # A renewal's new contract was created by whoever renewed.
    await journal.begin(
        "rn-1",
        TransactionKind.RENEW_CONTRACT,
        "800C1",
        plan=[(System.CONTRACTS, StepAction.CREATE_CONTRACT)],
        started_by="eve",
    )
    await journal.step_started("rn-1", 1, System.CONTRACTS, StepAction.CREATE_CONTRACT)
    await journal.step_finished("rn-1", 1, StepStatus.SUCCEEDED, created_id="800C2")
    assert await journal.contract_authors("800C2") == ("eve", None)
    assert (await journal.get("rn-1")).started_by == "eve"  # type: ignore[union-attr]
