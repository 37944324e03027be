"""The bulk reads the consistency sweep added to the adapters, over real loopback HTTP.

* :meth:`CrmClient.accounts_after` — a keyset page of accounts in Id order;
* :meth:`BillingClient.customers_by_crm_ids` — billing customers for many CRM
  ids, one Stripe search per ten ids.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from simulators.seed import generate
from sources.base import SourceConfig
from sources.billing.client import SEARCH_MAX_CLAUSES, BillingClient
from sources.breaker import NO_BREAKER
from sources.crm.client import CrmClient
from sources.systems import System
from tests.conftest import StartSimulators

CUSTOMERS = 45


@dataclass(frozen=True)
class Seeded:
    urls: dict[str, str]
    account_ids: list[str]
    billing_by_crm: dict[str, list[str]]


@pytest.fixture(scope="module")
def seeded(start_simulators: StartSimulators) -> Seeded:
    data = generate(CUSTOMERS, 17)
    urls = start_simulators(("CRM", "BILLING"), data.records)
    billing: dict[str, list[str]] = {}
    for customer_id, doc in data.records["BILLING"]["customer"]:
        billing.setdefault(doc["metadata"]["crm_account_id"], []).append(customer_id)
    account_ids = [account_id for account_id, _ in data.records["CRM"]["Account"]]
    return Seeded(urls, account_ids, billing)


def _config(system: System, url: str, token: str) -> SourceConfig:
    return SourceConfig(system, url, token, breaker=NO_BREAKER, retry_backoff_s=0.001)


@pytest.fixture
async def crm(seeded: Seeded) -> AsyncIterator[CrmClient]:
    async with CrmClient(_config(System.CRM, seeded.urls["CRM"], "demo-crm-token")) as client:
        yield client


@pytest.fixture
async def billing(seeded: Seeded) -> AsyncIterator[BillingClient]:
    config = _config(System.BILLING, seeded.urls["BILLING"], "sk_test_demo")
    async with BillingClient(config) as client:
        yield client


def _requests(url: str) -> dict[str, Any]:
    routes: dict[str, Any] = httpx.get(f"{url}/_sim/stats").json()["by_route"]
    return routes


def _reset(url: str) -> None:
    httpx.delete(f"{url}/_sim/stats").raise_for_status()


async def test_accounts_after_pages_by_id_from_a_cursor(seeded: Seeded, crm: CrmClient) -> None:
    everything = sorted(seeded.account_ids)
    _reset(seeded.urls["CRM"])

    first = await crm.accounts_after(None, limit=10)
    assert [a.id for a in first] == everything[:10]
    assert _requests(seeded.urls["CRM"]) == {"GET /services/data/v60.0/query": 1}

    after = everything[9]
    following = await crm.accounts_after(after, limit=10)
    assert [a.id for a in following] == everything[10:20]  # strictly after the cursor

    rest = await crm.accounts_after(everything[-3], limit=10)
    assert [a.id for a in rest] == everything[-2:]
    assert await crm.accounts_after(everything[-1], limit=10) == []


async def test_accounts_after_refuses_what_no_query_should_carry(crm: CrmClient) -> None:
    with pytest.raises(ValueError, match="limit"):
        await crm.accounts_after(None, limit=0)
    with pytest.raises(ValueError, match="record id"):
        await crm.accounts_after("' OR Name != '", limit=5)


async def test_customers_by_crm_ids_searches_ten_ids_a_request(
    seeded: Seeded, billing: BillingClient
) -> None:
    ids = seeded.account_ids[:25]
    unknown = "001000000000ZZZZZZ"
    _reset(seeded.urls["BILLING"])

    found = await billing.customers_by_crm_ids([*ids, ids[0], unknown])

    assert set(found) == {*ids, unknown}  # every id a key, once
    assert found[unknown] == []
    for crm_id in ids:
        assert sorted(c.id for c in found[crm_id]) == sorted(seeded.billing_by_crm[crm_id])
        assert all(c.crm_account_id == crm_id for c in found[crm_id])
    searches = -(-26 // SEARCH_MAX_CLAUSES)  # 25 ids and the unknown one
    assert _requests(seeded.urls["BILLING"]) == {"GET /v1/customers/search": searches}


async def test_customers_by_crm_ids_keeps_every_claimant(
    seeded: Seeded, billing: BillingClient
) -> None:
    duplicated = [crm_id for crm_id, ids in seeded.billing_by_crm.items() if len(ids) > 1]
    assert duplicated, "the seed plants a duplicate billing customer"

    found = await billing.customers_by_crm_ids(duplicated)

    for crm_id in duplicated:
        assert sorted(c.id for c in found[crm_id]) == sorted(seeded.billing_by_crm[crm_id])


async def test_customers_by_crm_ids_quotes_each_id(seeded: Seeded, billing: BillingClient) -> None:
    _reset(seeded.urls["BILLING"])
    assert await billing.customers_by_crm_ids([]) == {}
    assert _requests(seeded.urls["BILLING"]) == {}

    # A quote in an id stays inside its literal: it cannot widen the query.
    hostile = "x' OR metadata['crm_account_id']:'" + seeded.account_ids[0]
    assert await billing.customers_by_crm_ids([hostile]) == {hostile: []}


async def test_count_accounts_is_one_request(seeded: Seeded, crm: CrmClient) -> None:
    _reset(seeded.urls["CRM"])
    assert await crm.count_accounts() == CUSTOMERS
    assert _requests(seeded.urls["CRM"]) == {"GET /services/data/v60.0/query": 1}
