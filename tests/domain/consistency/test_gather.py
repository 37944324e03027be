"""ConsistencyReader against the four simulators over real loopback HTTP.

A seed of :data:`CUSTOMERS` accounts (so a page of 200 is full and one more is
short); the planted drift comes from the seed's manifest. Every test builds its
own adapters (no breakers: the outage tests must not leave one open).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from api.demo import stack_settings
from domain.clients import Clients, build_clients
from domain.consistency.gather import ConsistencyReader
from domain.consistency.types import (
    ContractBundle,
    CustomerBundle,
    InvoiceBundle,
    Observed,
    ScheduleBundle,
    Unreadable,
)
from simulators.seed import generate
from sources.billing.client import SEARCH_MAX_CLAUSES
from sources.errors import SourceError
from sources.systems import System
from tests.conftest import StartSimulators

CUSTOMERS = 230
NAMES = ("CRM", "CONTRACTS", "BILLING", "ERP")
Doc = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class Seeded:
    urls: dict[str, str]
    records: dict[str, dict[str, list[tuple[str, Doc]]]]
    drift: dict[str, list[Doc]]

    def docs(self, system: str, kind: str) -> list[tuple[str, Doc]]:
        return self.records[system][kind]

    def drifted(self) -> set[str]:
        """Every CRM id some planted drift touches."""
        return {
            item.get("crm_account_id") or item["crm_id"]
            for items in self.drift.values()
            for item in items
        }


@pytest.fixture(scope="module")
def seeded(start_simulators: StartSimulators) -> Seeded:
    data = generate(CUSTOMERS, 23)
    urls = start_simulators(NAMES, data.records)
    return Seeded(urls, data.records, data.manifest["drift"])


@pytest.fixture
async def clients(seeded: Seeded, tmp_path: Path) -> AsyncIterator[Clients]:
    async with build_clients(stack_settings(seeded.urls, tmp_path, breakers=False)) as built:
        yield built


@pytest.fixture
def reader(clients: Clients) -> ConsistencyReader:
    return ConsistencyReader(clients)


@contextlib.contextmanager
def down(url: str) -> Iterator[None]:
    httpx.post(f"{url}/_sim/faults", json={"down": True}).raise_for_status()
    try:
        yield
    finally:
        httpx.delete(f"{url}/_sim/faults").raise_for_status()


def reset_stats(seeded: Seeded) -> None:
    for url in seeded.urls.values():
        httpx.delete(f"{url}/_sim/stats").raise_for_status()


def requests_by_system(seeded: Seeded) -> dict[str, dict[str, int]]:
    return {
        name: httpx.get(f"{url}/_sim/stats").json()["by_route"] for name, url in seeded.urls.items()
    }


def read(value: Observed[T]) -> T:
    """The value, asserting it was readable."""
    assert not isinstance(value, Unreadable), value
    return value


def found(bundle: CustomerBundle | None) -> CustomerBundle:
    assert bundle is not None
    return bundle


def contract_of(bundle: CustomerBundle, contract_id: str) -> ContractBundle:
    return next(c for c in read(bundle.contracts) if c.contract.id == contract_id)


def invoice_of(bundle: CustomerBundle, invoice_id: str) -> InvoiceBundle:
    return next(i for i in read(bundle.invoices) if i.invoice.id == invoice_id)


def schedules(contract: ContractBundle) -> Sequence[ScheduleBundle]:
    return read(contract.schedules)


# -- one customer ------------------------------------------------------------------------


def _consistent_subsidiary(seeded: Seeded) -> str:
    """A subsidiary untouched by drift, with a billed contract and finalized invoices."""
    drifted = seeded.drifted()
    billed = {d["metadata"]["contract_id"] for _, d in seeded.docs("BILLING", "subscription")}
    accounts_with_billed = {
        d["AccountId"] for cid, d in seeded.docs("CONTRACTS", "Contract") if cid in billed
    }
    for account_id, doc in seeded.docs("CRM", "Account"):
        if doc["ParentId"] and account_id not in drifted and account_id in accounts_with_billed:
            return account_id
    raise AssertionError("the seed has no consistent subsidiary with a billed contract")


async def test_customer_bundle_matches_the_seed(seeded: Seeded, reader: ConsistencyReader) -> None:
    account_id = _consistent_subsidiary(seeded)
    now = datetime(2026, 11, 1, 12, tzinfo=UTC)

    bundle = await reader.customer(account_id, now=now)

    assert bundle is not None
    crm = dict(seeded.docs("CRM", "Account"))[account_id]
    assert bundle.account.id == account_id and bundle.account.name == crm["Name"]
    assert bundle.read_at == now
    assert bundle.parked == {}

    billing_ids = {
        i
        for i, d in seeded.docs("BILLING", "customer")
        if d["metadata"]["crm_account_id"] == account_id
    }
    assert {c.id for c in read(bundle.billing_customers)} == billing_ids
    erp = [(i, d) for i, d in seeded.docs("ERP", "customer") if d["externalId"] == account_id]
    assert [c.id for c in read(bundle.erp_customers)] == [i for i, _ in erp]
    assert read(bundle.erp_parent_account_id) == crm["ParentId"]

    contracts = {
        i: d for i, d in seeded.docs("CONTRACTS", "Contract") if d["AccountId"] == account_id
    }
    assert {c.contract.id for c in read(bundle.contracts)} == set(contracts)
    schedule_docs = seeded.docs("ERP", "customrecord_rg_revsched")
    line_docs = seeded.docs("ERP", "customrecord_rg_revsched_line")
    for contract in read(bundle.contracts):
        doc = contracts[contract.contract.id]
        assert contract.contract.version == doc["Version__c"]
        assert {x.id for x in contract.lines} == {
            i
            for i, d in seeded.docs("CONTRACTS", "ContractLineItem")
            if d["ContractId"] == contract.contract.id and d["Version__c"] == doc["Version__c"]
        }
        assert {s.id for s in read(contract.subscriptions)} == {
            i
            for i, d in seeded.docs("BILLING", "subscription")
            if d["metadata"]["contract_id"] == contract.contract.id
        }
        expected = {
            i for i, d in schedule_docs if d["custrecord_rg_contract"] == contract.contract.id
        }
        assert {s.schedule.id for s in schedules(contract)} == expected
        for schedule in schedules(contract):
            assert schedule.schedule.contract_version == doc["Version__c"]
            assert {x.id for x in read(schedule.lines)} == {
                i for i, d in line_docs if d["custrecord_rg_schedule"]["id"] == schedule.schedule.id
            }
    assert any(read(c.subscriptions) for c in read(bundle.contracts))

    invoices = {i: d for i, d in seeded.docs("BILLING", "invoice") if d["customer"] in billing_ids}
    assert {i.invoice.id for i in read(bundle.invoices)} == set(invoices)
    posted = {d["externalId"]: i for i, d in seeded.docs("ERP", "invoice")}
    for invoice in read(bundle.invoices):
        expected_postings = [posted[invoice.invoice.id]] if invoice.invoice.id in posted else []
        assert [p.id for p in read(invoice.postings)] == expected_postings
    assert any(read(i.postings) for i in read(bundle.invoices))


async def test_customer_the_crm_does_not_know_is_none(reader: ConsistencyReader) -> None:
    assert await reader.customer("001000000000ZZZZZZ") is None
    assert await reader.customer("not an id") is None


async def test_customer_shows_the_planted_drift(seeded: Seeded, reader: ConsistencyReader) -> None:
    drift = seeded.drift

    stale = drift["amendment_not_in_erp"][0]
    bundle = found(await reader.customer(stale["crm_account_id"]))
    contract = contract_of(bundle, stale["contract_id"])
    assert contract.contract.version == stale["contract_version"]
    assert [s.schedule.contract_version for s in schedules(contract)] == [stale["erp_version"]]
    assert all(
        s.contract_version == stale["contract_version"] for s in read(contract.subscriptions)
    )

    variance = drift["value_variance"][0]
    bundle = found(await reader.customer(variance["crm_account_id"]))
    (schedule,) = schedules(contract_of(bundle, variance["contract_id"]))
    assert schedule.schedule.total is not None
    assert schedule.schedule.total.amount == Decimal(variance["erp_total"])

    unposted = drift["invoices_not_posted"][0]
    bundle = found(await reader.customer(unposted["crm_account_id"]))
    assert read(invoice_of(bundle, unposted["invoice_id"]).postings) == ()

    renamed = drift["renamed_in_crm"][0]
    bundle = found(await reader.customer(renamed["crm_id"]))
    assert bundle.account.name == renamed["crm_name"]
    assert [c.name for c in read(bundle.billing_customers)] == [renamed["old_name"]]
    assert [c.name for c in read(bundle.erp_customers)] == [renamed["old_name"]]

    without_erp = drift["billing_customer_without_erp"][0]
    bundle = found(await reader.customer(without_erp["crm_id"]))
    assert read(bundle.erp_customers) == ()
    assert read(bundle.erp_parent_account_id) is None
    assert all(schedules(c) == () for c in read(bundle.contracts))
    assert all(read(i.postings) == () for i in read(bundle.invoices))
    assert [c.id for c in read(bundle.billing_customers)] == [without_erp["billing_customer_id"]]

    duplicate = drift["duplicate_billing_customer"][0]
    bundle = found(await reader.customer(duplicate["crm_id"]))
    ids = sorted(c.id for c in read(bundle.billing_customers))
    assert ids == sorted(duplicate["billing_customer_ids"])
    claimed = {i.invoice.customer_id for i in read(bundle.invoices)}
    assert claimed <= set(ids)


async def test_erp_down_leaves_the_other_systems_parts(
    seeded: Seeded, reader: ConsistencyReader
) -> None:
    account_id = _consistent_subsidiary(seeded)
    with down(seeded.urls["ERP"]):
        bundle = found(await reader.customer(account_id))

    for part in (bundle.erp_customers, bundle.erp_parent_account_id):
        assert isinstance(part, Unreadable) and part.system is System.ERP
    assert read(bundle.billing_customers)
    contracts = read(bundle.contracts)
    assert contracts and any(read(c.subscriptions) for c in contracts)
    for contract in contracts:
        assert contract.lines
        assert isinstance(contract.schedules, Unreadable)
        assert contract.schedules.system is System.ERP
    invoices = read(bundle.invoices)
    assert invoices
    for invoice in invoices:
        assert isinstance(invoice.postings, Unreadable)
        assert invoice.postings.system is System.ERP


async def test_billing_down_leaves_the_other_systems_parts(
    seeded: Seeded, reader: ConsistencyReader
) -> None:
    account_id = _consistent_subsidiary(seeded)
    with down(seeded.urls["BILLING"]):
        bundle = found(await reader.customer(account_id))

    for part in (bundle.billing_customers, bundle.invoices):
        assert isinstance(part, Unreadable) and part.system is System.BILLING
    assert read(bundle.erp_customers)
    assert read(bundle.erp_parent_account_id)
    contracts = read(bundle.contracts)
    assert contracts
    for contract in contracts:
        assert isinstance(contract.subscriptions, Unreadable)
        assert contract.subscriptions.system is System.BILLING
    assert any(schedules(c) for c in contracts)


async def test_contracts_down_leaves_billing_and_erp(
    seeded: Seeded, reader: ConsistencyReader
) -> None:
    account_id = _consistent_subsidiary(seeded)
    with down(seeded.urls["CONTRACTS"]):
        bundle = found(await reader.customer(account_id))

    assert isinstance(bundle.contracts, Unreadable)
    assert bundle.contracts.system is System.CONTRACTS
    assert read(bundle.billing_customers)
    assert read(bundle.erp_customers)
    assert any(read(i.postings) for i in read(bundle.invoices))


async def test_crm_down_raises(seeded: Seeded, reader: ConsistencyReader) -> None:
    account_id = _consistent_subsidiary(seeded)
    with down(seeded.urls["CRM"]):
        with pytest.raises(SourceError) as raised:
            await reader.customer(account_id)
        assert raised.value.system is System.CRM
        with pytest.raises(SourceError):
            async with contextlib.aclosing(reader.pages()) as pages:
                async for _ in pages:
                    pass


# -- the sweep -----------------------------------------------------------------------------


async def test_pages_cover_every_account_once_and_resume(
    seeded: Seeded, reader: ConsistencyReader
) -> None:
    every = sorted(i for i, _ in seeded.docs("CRM", "Account"))
    seen: list[str] = []
    cursors: list[str | None] = []
    async for bundles, last in reader.pages(page_size=60):
        assert bundles and last == bundles[-1].account.id
        seen.extend(b.account.id for b in bundles)
        cursors.append(last)
    assert seen == every  # Id order, each once
    assert [len(p) for p in _split(seen, cursors)] == [60, 60, 60, 50]

    resumed: list[str] = []
    async for bundles, _ in reader.pages(after=cursors[1], page_size=60):
        resumed.extend(b.account.id for b in bundles)
    assert resumed == every[120:]

    async for _bundles, last in reader.pages(after=every[-1]):
        raise AssertionError(f"nothing follows the last account, got {last}")


def _split(ids: list[str], cursors: list[str | None]) -> list[list[str]]:
    pages: list[list[str]] = [[]]
    for account_id in ids:
        pages[-1].append(account_id)
        if account_id in cursors:
            pages.append([])
    return [p for p in pages if p]


async def test_a_page_bundle_equals_the_customer_bundle(
    seeded: Seeded, reader: ConsistencyReader
) -> None:
    wanted = {
        _consistent_subsidiary(seeded),
        seeded.drift["amendment_not_in_erp"][0]["crm_account_id"],
        seeded.drift["duplicate_billing_customer"][0]["crm_id"],
        seeded.drift["billing_customer_without_erp"][0]["crm_id"],
    }
    from_pages: dict[str, CustomerBundle] = {}
    async for bundles, _ in reader.pages(page_size=100):
        from_pages.update((b.account.id, b) for b in bundles if b.account.id in wanted)
    assert set(from_pages) == wanted
    for account_id, bundle in from_pages.items():
        single = await reader.customer(account_id, now=bundle.read_at)
        assert single == bundle


async def test_requests_per_subject_for_a_page_of_200(
    seeded: Seeded, reader: ConsistencyReader, record_property: Any
) -> None:
    reset_stats(seeded)
    async with contextlib.aclosing(reader.pages(page_size=200)) as pages:
        bundles, _ = await anext(pages)
    counts = requests_by_system(seeded)
    totals = {name: sum(routes.values()) for name, routes in counts.items()}
    record_property("requests", counts)
    print(f"\nrequests for a page of {len(bundles)}: {totals} ({counts})")

    assert len(bundles) == 200
    billing_customers = sum(len(read(b.billing_customers)) for b in bundles)
    assert counts["CRM"] == {"GET /services/data/v60.0/query": 1}
    # Contracts by account (one SOQL) and their lines (one SOQL, a few result batches).
    assert totals["CONTRACTS"] <= 4
    # Stripe: a search per ten accounts, then one list per customer for each kind.
    assert counts["BILLING"] == {
        "GET /v1/customers/search": -(-200 // SEARCH_MAX_CLAUSES),
        "GET /v1/subscriptions": billing_customers,
        "GET /v1/invoices": billing_customers,
    }
    # Customers, parents, schedules, schedule lines and postings: SuiteQL pages of 1000.
    assert totals["ERP"] <= 12
    per_subject = sum(totals.values()) / len(bundles)
    assert per_subject < 2.5


async def test_pages_fill_in_with_a_system_down(seeded: Seeded, reader: ConsistencyReader) -> None:
    with down(seeded.urls["ERP"]):
        async with contextlib.aclosing(reader.pages(page_size=50)) as pages:
            bundles, _ = await anext(pages)
    assert len(bundles) == 50
    for bundle in bundles:
        assert isinstance(bundle.erp_customers, Unreadable)
        assert not isinstance(bundle.billing_customers, Unreadable)
        assert not isinstance(bundle.contracts, Unreadable)
