"""Flow metrics computed from journal, idempotency, inbox and exception rows (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.exception_items import ExceptionQueue
from domain.flow_metrics import percentile
from domain.transactions import StepAction, StepStatus, TransactionKind, TransactionStatus
from sources.systems import System
from store.exceptions import ExceptionRepository
from store.flow_metrics import FlowMetricsRepository
from store.journal import JournalRepository
from store.models import IdempotencyKeyRow, WebhookEventRow

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

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


@pytest.fixture
def flow_metrics(store_engine: AsyncEngine, clock: Clock) -> FlowMetricsRepository:
    return FlowMetricsRepository(store_engine, clock=clock)


async def step(
    journal: JournalRepository,
    clock: Clock,
    correlation_id: str,
    step_no: int,
    system: System,
    action: StepAction,
    ms: int,
    status: StepStatus = StepStatus.SUCCEEDED,
) -> None:
    """One journaled call of ``ms`` milliseconds."""
    await journal.step_started(correlation_id, step_no, system, action)
    clock.tick(milliseconds=ms)
    await journal.step_finished(
        correlation_id,
        step_no,
        status,
        created_id=f"{correlation_id}-{step_no}" if status == StepStatus.SUCCEEDED else None,
        error_code="SOURCE_ERROR" if status == StepStatus.FAILED else None,
    )


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([400, 100, 300, 200], 0.5) == 200
    assert percentile([400, 100, 300, 200], 0.95) == 400
    assert percentile([7], 0.95) == 7
    with pytest.raises(ValueError):
        percentile([1], 0)


async def test_an_empty_store_has_zeros_and_no_rates(
    flow_metrics: FlowMetricsRepository,
) -> None:
    found = await flow_metrics.compute()
    assert found.since is None and found.computed_at == T0
    assert [(s.system, s.steps, s.p50_ms) for s in found.step_latency] == [
        (system, 0, None) for system in System
    ]
    assert found.duplicates_prevented == 0
    assert found.activation_cycle.count == 0 and found.activation_cycle.p50_s is None
    assert found.postings.finished == 0 and found.postings.success_rate is None
    assert dict(found.open_exceptions) == dict.fromkeys(ExceptionQueue, 0)


async def test_step_latency_per_system_from_succeeded_steps_only(
    journal: JournalRepository, clock: Clock, flow_metrics: FlowMetricsRepository
) -> None:
    update = TransactionKind.UPDATE_CUSTOMER
    for n, ms in enumerate([100, 200, 300, 400], start=1):
        await journal.begin(f"u-{n}", update, f"001{n}")
        await step(journal, clock, f"u-{n}", 1, System.CRM, StepAction.UPDATE_ACCOUNT, ms)
        if n == 2:
            middle = clock.now
        clock.tick(seconds=1)
    await step(journal, clock, "u-1", 2, System.BILLING, StepAction.UPDATE_BILLING_CUSTOMER, 1000)
    # Neither a failed call nor one still running has a latency that counts.
    await step(
        journal,
        clock,
        "u-2",
        2,
        System.BILLING,
        StepAction.UPDATE_BILLING_CUSTOMER,
        9000,
        status=StepStatus.FAILED,
    )
    await journal.step_started("u-3", 2, System.ERP, StepAction.UPDATE_ERP_CUSTOMER)

    found = {s.system: s for s in (await flow_metrics.compute()).step_latency}
    crm = found[System.CRM]
    assert (crm.steps, crm.avg_ms, crm.max_ms, crm.p50_ms, crm.p95_ms) == (4, 250.0, 400, 200, 400)
    billing = found[System.BILLING]
    assert (billing.steps, billing.p50_ms, billing.p95_ms, billing.max_ms) == (1, 1000, 1000, 1000)
    assert found[System.ERP].steps == 0 and found[System.ERP].p50_ms is None
    assert found[System.CONTRACTS].steps == 0

    # `since`: steps that finished after the second one.
    later = {
        s.system: s for s in (await flow_metrics.compute(middle + timedelta(0, 0, 1))).step_latency
    }
    assert (later[System.CRM].steps, later[System.CRM].p50_ms) == (2, 300)
    assert later[System.BILLING].steps == 1


async def test_duplicates_prevented_sums_replays_and_webhook_duplicates(
    store_engine: AsyncEngine, flow_metrics: FlowMetricsRepository
) -> None:
    old, new = T0 - timedelta(hours=2), T0 - timedelta(minutes=5)
    async with store_engine.begin() as conn:
        await conn.execute(
            insert(IdempotencyKeyRow),
            [
                {
                    "key": f"k-{n}",
                    "operation": "activateContract",
                    "input_hash": "h",
                    "status": "COMPLETED",
                    "result": None,
                    "created_at": at,
                    "completed_at": at,
                    "expires_at": at + timedelta(hours=24),
                    "replays": replays,
                }
                for n, (at, replays) in enumerate([(old, 2), (new, 3), (new, 0)])
            ],
        )
        await conn.execute(
            insert(WebhookEventRow),
            [
                {
                    "source": "BILLING",
                    "event_id": f"evt_{n}",
                    "type": "invoice.finalized",
                    "subject": "in_1",
                    "occurred_at": at,
                    "received_at": at,
                    "status": "APPLIED",
                    "payload": {},
                    "duplicates": duplicates,
                }
                for n, (at, duplicates) in enumerate([(old, 4), (new, 1)])
            ],
        )
    everything = await flow_metrics.compute()
    assert (everything.idempotent_replays, everything.webhook_duplicates) == (5, 5)
    assert everything.duplicates_prevented == 10
    recent = await flow_metrics.compute(T0 - timedelta(hours=1))
    assert (recent.idempotent_replays, recent.webhook_duplicates) == (3, 1)
    assert await flow_metrics.duplicates_prevented(T0 - timedelta(hours=1)) == (3, 1)


async def activate(
    journal: JournalRepository, clock: Clock, correlation_id: str, contract: str, erp: StepStatus
) -> None:
    """An activation flow: contract system 1 s, billing 2 s, ERP schedule 3 s."""
    await journal.begin(correlation_id, TransactionKind.ACTIVATE_CONTRACT, contract)
    await step(
        journal, clock, correlation_id, 1, System.CONTRACTS, StepAction.ACTIVATE_CONTRACT, 1000
    )
    await step(
        journal, clock, correlation_id, 2, System.BILLING, StepAction.CREATE_SUBSCRIPTION, 2000
    )
    await step(
        journal,
        clock,
        correlation_id,
        3,
        System.ERP,
        StepAction.CREATE_REVENUE_SCHEDULE,
        3000,
        status=erp,
    )


async def approve(
    journal: JournalRepository, clock: Clock, correlation_id: str, contract: str
) -> None:
    await journal.begin(correlation_id, TransactionKind.APPROVE_CONTRACT, contract)
    await step(
        journal, clock, correlation_id, 1, System.CONTRACTS, StepAction.APPROVE_CONTRACT, 500
    )
    await journal.finish(correlation_id, TransactionStatus.COMPLETED)


async def test_activation_cycle_runs_from_approval_to_the_erp_schedule(
    journal: JournalRepository, clock: Clock, flow_metrics: FlowMetricsRepository
) -> None:
    # 800A: approved, then (after an older approval) activated 60 s later: 60 + 6 s.
    await approve(journal, clock, "ap-0", "800A")
    clock.tick(hours=1)
    await approve(journal, clock, "ap-1", "800A")
    clock.tick(seconds=60)
    await activate(journal, clock, "ac-1", "800A", StepStatus.SUCCEEDED)
    # 800B: never approved through the gateway: from the activation's start, 6 s.
    clock.tick(seconds=10)
    await activate(journal, clock, "ac-2", "800B", StepStatus.SUCCEEDED)
    # 800C: the schedule failed, so the activation is not finished in the ERP.
    await activate(journal, clock, "ac-3", "800C", StepStatus.FAILED)
    # A later approval (an amendment of 800A) does not move the finished cycle.
    clock.tick(seconds=30)
    await approve(journal, clock, "ap-2", "800A")

    cycle = (await flow_metrics.compute()).activation_cycle
    assert cycle.count == 2
    assert cycle.p50_s == pytest.approx(6.0)
    assert cycle.avg_s == pytest.approx(36.0)
    assert cycle.max_s == pytest.approx(66.0)
    # Only activations whose schedule was created since count.
    assert (await flow_metrics.compute(clock.now)).activation_cycle.count == 0


async def test_posting_success_rate_over_finished_postings(
    journal: JournalRepository, clock: Clock, flow_metrics: FlowMetricsRepository
) -> None:
    outcomes = [
        TransactionStatus.COMPLETED,
        TransactionStatus.FAILED,
        TransactionStatus.COMPLETED,
        TransactionStatus.NEEDS_ATTENTION,  # parked, not finished
    ]
    for n, outcome in enumerate(outcomes):
        await journal.begin(f"p-{n}", TransactionKind.POST_INVOICE, f"in_{n}")
        clock.tick(minutes=1)
        await journal.finish(f"p-{n}", outcome)
    await journal.begin("p-run", TransactionKind.POST_INVOICE, "in_run")
    # Other kinds do not count.
    await journal.begin("other", TransactionKind.RECOGNIZE_REVENUE, "800A")
    await journal.finish("other", TransactionStatus.FAILED)

    postings = (await flow_metrics.compute()).postings
    assert (postings.completed, postings.failed, postings.finished) == (2, 1, 3)
    assert postings.success_rate == pytest.approx(2 / 3)
    # Finished since the second one finished: the third (completed) only.
    recent = (await flow_metrics.compute(T0 + timedelta(minutes=2, seconds=30))).postings
    assert (recent.completed, recent.failed, recent.success_rate) == (1, 0, 1.0)


async def test_open_exceptions_per_queue(
    store_engine: AsyncEngine,
    journal: JournalRepository,
    clock: Clock,
    flow_metrics: FlowMetricsRepository,
) -> None:
    exceptions = ExceptionRepository(store_engine, clock=clock)
    for n in range(3):
        await journal.begin(f"x-{n}", TransactionKind.POST_INVOICE, "800A")
    items = [
        await exceptions.open(
            queue=queue, reason="failed", subject="800A", correlation_id=f"x-{n}", step_no=1
        )
        for n, queue in enumerate(
            [ExceptionQueue.FINANCE_OPS, ExceptionQueue.FINANCE_OPS, ExceptionQueue.PLATFORM]
        )
    ]
    await exceptions.mark_retrying(items[2].id)  # still unresolved
    await exceptions.resolve(items[0].id, "posted by hand", "ops@example.com")
    found = await flow_metrics.compute(clock.now + timedelta(days=1))  # whatever `since`
    assert dict(found.open_exceptions) == {
        ExceptionQueue.FINANCE_OPS: 1,
        ExceptionQueue.SALES_OPS: 0,
        ExceptionQueue.PLATFORM: 1,
    }


async def test_since_must_be_timezone_aware(flow_metrics: FlowMetricsRepository) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await flow_metrics.compute(datetime(2026, 12, 1))
