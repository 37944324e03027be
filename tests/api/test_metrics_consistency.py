"""The consistency metrics on ``/metrics``: the consistency cache's numbers, read at
scrape time at most every few seconds, from the store of the app's resources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from api.consistency_report import read_report
from api.metrics import Metrics, MetricsMiddleware
from domain.consistency.types import Check, CheckStatus, RuleName, SubjectKind
from domain.exception_items import ExceptionQueue
from domain.money import Money
from sources.systems import System
from store.consistency import (
    MAX_PAGE,
    ConsistencyStore,
    ConsistencySummary,
    MemoryConsistencyStore,
)

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(metrics: Metrics) -> Samples:
    body, _ = metrics.render(None)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def check(
    customer: str,
    kind: SubjectKind,
    subject: str,
    rule: RuleName,
    status: CheckStatus = CheckStatus.CONSISTENT,
    variance: str | None = None,
) -> Check:
    consistent = status is CheckStatus.CONSISTENT
    return Check(
        rule=rule,
        subject_kind=kind,
        subject_id=subject,
        customer_id=customer,
        status=status,
        message=f"{rule} on {subject}: {status}",
        systems=(System.CRM, System.BILLING),
        variance=Money(Decimal(variance), "USD") if variance else None,
        queue=None if consistent else ExceptionQueue.FINANCE_OPS,
    )


async def fill(store: ConsistencyStore) -> None:
    C, K, INV = SubjectKind.CUSTOMER, SubjectKind.CONTRACT, SubjectKind.INVOICE
    await store.replace_customer(
        "001A",
        [
            check("001A", C, "001A", RuleName.CUSTOMER_LINKS, CheckStatus.DRIFT),
            check("001A", K, "800A", RuleName.CONTRACT_VALUE, CheckStatus.DRIFT, "10.10"),
            check("001A", K, "800B", RuleName.CONTRACT_VALUE),
            check("001A", INV, "in_1", RuleName.INVOICE_POSTING, CheckStatus.MISSING),
        ],
        computed_at=T0,
    )
    await store.replace_customer(
        "001B",
        [
            check("001B", C, "001B", RuleName.CUSTOMER_LINKS),
            check("001B", INV, "in_2", RuleName.INVOICE_POSTING, CheckStatus.UNKNOWN),
            check("001B", INV, "in_3", RuleName.INVOICE_POSTING),
        ],
        computed_at=T0 + timedelta(minutes=5),
    )


def status(name: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return ("revgraph_consistency_checks", frozenset({("status", name)}))


def rule(name: RuleName) -> tuple[str, frozenset[tuple[str, str]]]:
    return ("revgraph_consistency_unreconciled", frozenset({("rule", name.value)}))


async def test_a_refresh_reads_the_cache_and_a_scrape_exports_it() -> None:
    store = MemoryConsistencyStore()
    metrics = Metrics()
    before = samples(metrics)  # nothing read yet: families without samples
    assert not any(name.startswith("revgraph_consistency") for name, _ in before)

    await metrics.refresh_consistency(store)  # an empty cache: zeros, no computation yet
    empty = samples(metrics)
    assert all(empty[status(s.value)] == 0 for s in CheckStatus)
    assert all(empty[rule(r)] == 0 for r in RuleName)
    assert ("revgraph_consistency_computed_timestamp_seconds", frozenset()) not in empty

    await fill(store)
    await metrics.refresh_consistency(store, force=True)
    found = samples(metrics)
    assert {s.value: found[status(s.value)] for s in CheckStatus} == {
        "CONSISTENT": 3,
        "PENDING": 0,
        "DRIFT": 2,
        "MISSING": 1,
        "UNKNOWN": 1,
    }
    assert {r: found[rule(r)] for r in RuleName} == {
        r: {
            RuleName.CUSTOMER_LINKS: 1,
            RuleName.CONTRACT_VALUE: 1,
            RuleName.INVOICE_POSTING: 2,
        }.get(r, 0)
        for r in RuleName
    }
    # The oldest computation the numbers rest on, and when they were read.
    computed = found[("revgraph_consistency_computed_timestamp_seconds", frozenset())]
    assert computed == T0.timestamp()
    assert found[("revgraph_consistency_refreshed_timestamp_seconds", frozenset())] > 0

    # Within the refresh interval a scrape reuses what was read; `force` reads again.
    await store.replace_customer(
        "001B",
        [check("001B", SubjectKind.CUSTOMER, "001B", RuleName.CUSTOMER_LINKS)],
        computed_at=T0 + timedelta(minutes=10),
    )
    await metrics.refresh_consistency(store)
    assert samples(metrics)[rule(RuleName.INVOICE_POSTING)] == 2
    await metrics.refresh_consistency(store, force=True)
    assert samples(metrics)[rule(RuleName.INVOICE_POSTING)] == 1
    assert samples(metrics)[status("UNKNOWN")] == 0


async def test_the_cli_report_counts_rule_and_status_past_one_page() -> None:
    store = MemoryConsistencyStore()
    many = MAX_PAGE + 7
    for n in range(many):
        customer = f"001{n:05d}"
        await store.replace_customer(
            customer,
            [
                check(customer, SubjectKind.CUSTOMER, customer, RuleName.CUSTOMER_LINKS),
                check(
                    customer,
                    SubjectKind.INVOICE,
                    f"in_{n}",
                    RuleName.INVOICE_POSTING,
                    CheckStatus.MISSING,
                ),
            ],
            computed_at=T0,
        )
    report = await read_report(store)
    assert report.summary.unreconciled == many
    assert report.summary.unreconciled_by_rule[RuleName.INVOICE_POSTING] == many
    assert report.unreconciled[RuleName.INVOICE_POSTING][CheckStatus.MISSING] == many
    assert sum(report.unreconciled[RuleName.CUSTOMER_LINKS].values()) == 0


class FailingStore(MemoryConsistencyStore):
    def __init__(self) -> None:
        super().__init__()
        self.failing = False

    async def summary(self) -> ConsistencySummary:
        if self.failing:
            raise ConnectionError("the cache is down")
        return await super().summary()


async def test_a_cache_that_cannot_be_read_keeps_the_last_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FailingStore()
    await fill(store)
    metrics = Metrics()
    await metrics.refresh_consistency(store)
    read_at = samples(metrics)[("revgraph_consistency_refreshed_timestamp_seconds", frozenset())]
    store.failing = True
    await metrics.refresh_consistency(store, force=True)
    assert "could not read the consistency cache" in caplog.text
    kept = samples(metrics)
    assert kept[status("DRIFT")] == 2
    assert kept[("revgraph_consistency_refreshed_timestamp_seconds", frozenset())] == read_at


class WithResources:
    """Puts ``resources`` in the request state, as the gateway's lifespan does."""

    def __init__(self, app: ASGIApp, resources: object) -> None:
        self.app = app
        self.resources = resources

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})["resources"] = self.resources
        await self.app(scope, receive, send)


async def test_a_scrape_of_metrics_reads_the_resources_consistency_store(
    store_engine: AsyncEngine,
) -> None:
    store = MemoryConsistencyStore()
    await fill(store)
    metrics = Metrics()

    async def endpoint(request: Request) -> Response:
        body, content_type = metrics.render(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    inner = MetricsMiddleware(Starlette(routes=[Route("/metrics", endpoint)]), metrics)
    resources = SimpleNamespace(engine=store_engine, consistency_store=store)
    app = WithResources(inner, resources)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert 'revgraph_consistency_unreconciled{rule="invoice.posting"} 2.0' in response.text
    assert 'revgraph_consistency_checks{status="DRIFT"} 2.0' in response.text

    # Resources without a consistency store (an older gateway): the scrape still answers.
    bare = WithResources(inner, SimpleNamespace(engine=store_engine))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=bare), base_url="http://gateway"
    ) as client:
        assert (await client.get("/metrics")).status_code == 200
