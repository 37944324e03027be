"""The view and the sweep wired to the real reader, rules and policy, over the simulators."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.demo import stack_settings
from domain.clients import build_clients
from domain.consistency.evaluate import evaluate
from domain.consistency.gather import ConsistencyReader
from domain.consistency.policy import load_policy
from domain.consistency.sweep import Sweep
from domain.consistency.types import CheckStatus, SubjectKind
from domain.consistency.view import ConsistencyView
from simulators.seed import generate
from store.consistency import ConsistencyStore, MemoryConsistencyStore, RedisConsistencyStore
from store.reconciliation import ReconciliationRuns, RunStatus
from tests.conftest import StartSimulators

CUSTOMERS = 30
REDIS_URL = os.environ.get("REDIS_URL")


@pytest.fixture
async def store(redis_prefix: str) -> AsyncIterator[ConsistencyStore]:
    if REDIS_URL:
        opened: ConsistencyStore = RedisConsistencyStore(
            REDIS_URL, f"{redis_prefix}{uuid.uuid4().hex[:8]}:"
        )
    else:
        opened = MemoryConsistencyStore()
    yield opened
    await opened.aclose()


async def test_a_sweep_over_the_seed_finds_every_planted_drift(
    start_simulators: StartSimulators,
    store: ConsistencyStore,
    store_engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    data = generate(CUSTOMERS, 5)
    urls = start_simulators(("CRM", "CONTRACTS", "BILLING", "ERP"), data.records)
    drift = data.manifest["drift"]
    async with build_clients(stack_settings(urls, tmp_path, breakers=False)) as clients:
        reader = ConsistencyReader(clients)
        view = ConsistencyView(store, reader, load_policy(None), evaluate)
        result = await Sweep(view, reader, ReconciliationRuns(store_engine), page_size=10).run()
        run = result.run
        assert run.status is RunStatus.COMPLETED and run.processed == CUSTOMERS
        summary = await view.summary()
        assert summary.customers == CUSTOMERS
        assert sum(run.counts.values()) == summary.total
        assert summary.unreconciled == summary.total - summary.by_status[CheckStatus.CONSISTENT]
        assert summary.unreconciled > 0 and summary.oldest_unresolved is not None

        drifted = {
            item.get("crm_account_id") or item["crm_id"]
            for items in drift.values()
            for item in items
        }
        for account_id in drifted:
            found = await view.store.list(first=500)
            mine = [i for i in found.items if i.check.customer_id == account_id]
            assert any(i.check.status is not CheckStatus.CONSISTENT for i in mine), account_id

        variance = drift["value_variance"][0]
        contract = await view.report(SubjectKind.CONTRACT, variance["contract_id"])
        assert contract is not None and contract.from_cache
        assert contract.status is CheckStatus.DRIFT
        assert any(c.check.variance is not None for c in contract.checks)

        unposted = drift["invoices_not_posted"][0]
        invoice = await view.report(SubjectKind.INVOICE, unposted["invoice_id"])
        assert invoice is not None and invoice.status is not CheckStatus.CONSISTENT
        live = await view.report(SubjectKind.INVOICE, unposted["invoice_id"], fresh=True)
        assert live is not None and not live.from_cache and live.status is invoice.status
        assert [c.check for c in live.checks] == [c.check for c in invoice.checks]
        assert live.checks[0].first_seen == invoice.checks[0].first_seen
