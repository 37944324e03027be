"""The flow metrics on ``/metrics``: read from the store before a scrape, at most every few s."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine

from api.metrics import Metrics
from domain.exception_items import ExceptionQueue
from domain.transactions import StepAction, StepStatus, TransactionKind, TransactionStatus
from sources.systems import System
from store.database import create_engine
from store.exceptions import ExceptionRepository
from store.journal import JournalRepository

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(metrics: Metrics) -> Samples:
    body, _ = metrics.render(None)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


async def seed(engine: AsyncEngine) -> None:
    journal = JournalRepository(engine)
    for n, outcome in enumerate([TransactionStatus.COMPLETED, TransactionStatus.FAILED]):
        cid = f"post-{n}"
        await journal.begin(cid, TransactionKind.POST_INVOICE, f"in_{n}")
        await journal.step_started(cid, 1, System.ERP, StepAction.POST_INVOICE)
        await journal.step_finished(
            cid,
            1,
            StepStatus.SUCCEEDED if outcome == TransactionStatus.COMPLETED else StepStatus.FAILED,
            error_code=None if outcome == TransactionStatus.COMPLETED else "VALIDATION",
        )
        await journal.finish(cid, outcome)
    await ExceptionRepository(engine).open(
        queue=ExceptionQueue.FINANCE_OPS, reason="refused", subject="in_1", correlation_id="post-1"
    )


async def test_a_refresh_reads_the_store_and_a_scrape_exports_it(
    store_engine: AsyncEngine,
) -> None:
    metrics = Metrics()
    before = samples(metrics)  # nothing read yet: families without samples
    assert not any(name.startswith("revgraph_open_exceptions") for name, _ in before)

    await seed(store_engine)
    await metrics.refresh_flows(store_engine)
    found = samples(metrics)
    assert found[("revgraph_open_exceptions", frozenset({("queue", "FINANCE_OPS")}))] == 1
    assert found[("revgraph_open_exceptions", frozenset({("queue", "PLATFORM")}))] == 0
    assert found[("revgraph_posting_success_ratio", frozenset())] == 0.5
    erp = frozenset({("system", "ERP")})
    assert found[("revgraph_step_latency_samples", erp)] == 1
    assert ("revgraph_step_latency_seconds", erp | {("quantile", "0.5")}) in found
    assert ("revgraph_step_latency_seconds", erp | {("quantile", "0.95")}) in found
    kinds = {"idempotent_replay", "webhook_duplicate"}
    for kind in kinds:
        assert found[("revgraph_duplicates_prevented_total", frozenset({("kind", kind)}))] == 0
    assert found[("revgraph_activations_measured", frozenset())] == 0
    assert ("revgraph_activation_cycle_seconds", frozenset({("quantile", "0.5")})) not in found
    assert found[("revgraph_flow_metrics_refreshed_timestamp_seconds", frozenset())] > 0

    # Within the refresh interval a scrape reuses what was read; `force` reads again.
    await ExceptionRepository(store_engine).open(
        queue=ExceptionQueue.FINANCE_OPS, reason="again", subject="in_0", correlation_id="post-0"
    )
    await metrics.refresh_flows(store_engine)
    finance = ("revgraph_open_exceptions", frozenset({("queue", "FINANCE_OPS")}))
    assert samples(metrics)[finance] == 1
    await metrics.refresh_flows(store_engine, force=True)
    assert samples(metrics)[finance] == 2


async def test_a_store_that_cannot_be_read_keeps_the_scrape_answering(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unmigrated = create_engine(f"sqlite+aiosqlite:///{tmp_path}/empty.sqlite3")
    metrics = Metrics()
    try:
        await metrics.refresh_flows(unmigrated)
    finally:
        await unmigrated.dispose()
    assert "could not read the flow metrics" in caplog.text
    body, _ = metrics.render(None)
    assert b"# TYPE revgraph_open_exceptions gauge" in body
    assert b'revgraph_open_exceptions{queue="' not in body
