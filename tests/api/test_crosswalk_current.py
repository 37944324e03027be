"""The crosswalk keeps itself current: built on first start, new accounts linked on
demand, rebuilds seen by every replica at once (Redis pub/sub, or in-process)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.demo import GATEWAY, migrate, stack_settings, start_gateway
from api.graphiql import example
from api.jobs import rebuild_crosswalk
from api.settings import Settings
from domain.access import Role
from domain.crosswalk_lookup import CrosswalkLookup, announce_rebuild
from domain.crosswalk_types import CrosswalkEntry, LinkStatus
from simulators.seed import generate
from simulators.serving import BackgroundServers
from sources.errors import SourceUnavailable
from sources.systems import System
from store.cache import MemoryCache
from store.crosswalk import CrosswalkRepository
from store.database import create_engine
from store.pubsub import open_pubsub
from tests.conftest import StartSimulators

ALL = ("CRM", "CONTRACTS", "BILLING", "ERP")
CUSTOMERS = 20
SOURCES_QUERY = """{ customers(first: 50) { edges { node {
  sources { system id }
  subscriptions(first: 5) { edges { node { id } } }
} } } }"""


@pytest.fixture
def gateway_settings(tmp_path: Path, postgres_url: str | None, run_id: str) -> Iterator[Any]:
    """``settings(urls)``: this test's own store (and Redis prefix) for simulators at ``urls``."""

    def make(urls: dict[str, str]) -> Settings:
        return stack_settings(
            urls,
            tmp_path,
            database_url=postgres_url,
            redis_url=os.environ.get("REDIS_URL"),
            prefix=f"{run_id}_xw{uuid.uuid4().hex[:8]}",
            anonymous_role=Role.ADMIN,
            caller_limits=False,
        )

    yield make


@pytest.fixture
def gateways() -> Iterator[list[BackgroundServers]]:
    started: list[BackgroundServers] = []
    yield started
    for gateway in started:
        gateway.stop()


def _post(gateway: BackgroundServers, query: str) -> dict[str, Any]:
    response = httpx.post(f"{gateway.urls[GATEWAY]}/graphql", json={"query": query}, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _readyz(gateway: BackgroundServers) -> httpx.Response:
    return httpx.get(f"{gateway.urls[GATEWAY]}/readyz", timeout=30)


def _crosswalk_settled(gateway: BackgroundServers, timeout_s: float = 60) -> httpx.Response:
    """/readyz once the crosswalk is no longer building."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = _readyz(gateway)
        if response.json()["checks"]["crosswalk"]["state"] != "building":
            return response
        assert time.monotonic() < deadline, response.text
        time.sleep(0.1)


def _contracts(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        contract["node"]
        for customer in body["data"]["customers"]["edges"]
        for contract in customer["node"]["contracts"]["edges"]
    ]


def _sources(body: dict[str, Any]) -> dict[str, set[str]]:
    """Systems that hold each customer, by CRM account id."""
    found = {}
    for edge in body["data"]["customers"]["edges"]:
        refs = edge["node"]["sources"]
        crm_id = next(r["id"] for r in refs if r["system"] == "CRM")
        found[crm_id] = {r["system"] for r in refs}
    return found


def test_a_gateway_on_an_empty_store_builds_the_crosswalk_and_answers_in_full(
    start_simulators: StartSimulators,
    gateway_settings: Any,
    gateways: list[BackgroundServers],
) -> None:
    urls = start_simulators(ALL, generate(CUSTOMERS, 5).records)
    settings = gateway_settings(urls)
    asyncio.run(migrate(settings))  # and no rebuild: the store is empty
    gateway = start_gateway(settings)
    gateways.append(gateway)

    # The very first query: billing and ERP data, linked on demand if the
    # background build has not finished yet.
    body = _post(gateway, example("quote_to_cash"))
    assert "errors" not in body, body["errors"]
    contracts = _contracts(body)
    assert contracts
    assert any(c["subscription"] for c in contracts)
    assert any(c["invoices"] for c in contracts)
    assert any(i["erpPosting"] for c in contracts for i in c["invoices"])
    assert any(c["revenueSchedule"] for c in contracts)

    ready = _crosswalk_settled(gateway)
    assert ready.status_code == 200, ready.text
    crosswalk = ready.json()["checks"]["crosswalk"]
    assert crosswalk["ok"] is True and crosswalk["state"] == "ready"
    assert crosswalk["entries"] == CUSTOMERS and crosswalk["lastRun"]
    assert _post(gateway, example("quote_to_cash")) == body


def test_readyz_is_not_ready_while_the_crosswalk_is_empty_or_failed(
    start_simulators: StartSimulators,
    gateway_settings: Any,
    gateways: list[BackgroundServers],
) -> None:
    urls = start_simulators(ALL, {})  # no CRM accounts at all
    settings = gateway_settings(urls)
    asyncio.run(migrate(settings))
    gateway = start_gateway(settings)
    gateways.append(gateway)
    response = _crosswalk_settled(gateway)
    assert response.status_code == 503
    crosswalk = response.json()["checks"]["crosswalk"]
    assert (crosswalk["ok"], crosswalk["state"], crosswalk["entries"]) == (False, "empty", 0)

    # ERP refuses its credential: the build fails, and says which variable to check.
    wrong = settings.model_copy(
        update={"erp": settings.erp.model_copy(update={"token": "wrong", "max_retries": 0})}
    )
    failing = start_gateway(wrong)
    gateways.append(failing)
    deadline = time.monotonic() + 30
    while (crosswalk := _readyz(failing).json()["checks"]["crosswalk"])["state"] != "failed":
        assert time.monotonic() < deadline, crosswalk
        time.sleep(0.1)
    assert crosswalk["ok"] is False
    assert "ERP" in crosswalk["error"] and "REVGRAPH_ERP_TOKEN" in crosswalk["error"]
    erp = _readyz(failing).json()["checks"]["ERP"]
    assert erp["ok"] is False and "REVGRAPH_ERP_TOKEN" in erp["error"]


def test_accounts_the_crosswalk_does_not_know_are_linked_on_demand_and_stored(
    start_simulators: StartSimulators,
    gateway_settings: Any,
    gateways: list[BackgroundServers],
) -> None:
    data = generate(CUSTOMERS, 11)
    urls = start_simulators(ALL, data.records)
    settings = gateway_settings(urls)
    asyncio.run(migrate(settings))
    result = asyncio.run(rebuild_crosswalk(settings))
    incomplete = next(e for e in result.entries if e.status is LinkStatus.INCOMPLETE)
    ambiguous = next(e for e in result.entries if e.status is LinkStatus.AMBIGUOUS)
    linked = [e for e in result.entries if e.status is LinkStatus.LINKED][:3]
    # As if these accounts were created after the rebuild.
    forgotten = {e.canonical_id for e in (*linked, incomplete, ambiguous)}
    asyncio.run(_replace(settings, [e for e in result.entries if e.canonical_id not in forgotten]))

    gateway = start_gateway(settings)
    gateways.append(gateway)
    body = _post(gateway, SOURCES_QUERY)
    assert "errors" not in body, body["errors"]
    systems = _sources(body)
    for entry in linked:
        assert systems[entry.canonical_id] == {"CRM", "BILLING", "ERP"}
    assert systems[incomplete.canonical_id] == {"CRM", "BILLING"}  # no ERP customer
    assert systems[ambiguous.canonical_id] == {"CRM", "ERP"}  # billing is never guessed

    stored = asyncio.run(_stored(settings, sorted(forgotten)))
    by_id = {e.canonical_id: e for e in result.entries}
    for entry in (*linked, ambiguous):
        assert _same(stored[entry.canonical_id], by_id[entry.canonical_id])
    # "No ERP customer yet" is not stored: the next look after a short TTL tries again.
    assert incomplete.canonical_id not in stored


def _same(one: CrosswalkEntry, other: CrosswalkEntry) -> bool:
    return replace(one, updated_at=None) == replace(other, updated_at=None)


def test_a_rebuild_reaches_a_running_gateway_at_once(
    start_simulators: StartSimulators,
    gateway_settings: Any,
    gateways: list[BackgroundServers],
) -> None:
    urls = start_simulators(ALL, generate(CUSTOMERS, 13).records)
    settings = gateway_settings(urls)
    asyncio.run(migrate(settings))
    result = asyncio.run(rebuild_crosswalk(settings))
    victim = next(e for e in result.entries if e.status is LinkStatus.LINKED)
    # A stale crosswalk: the victim's billing customer unknown.
    stale = replace(victim, billing_customer_id=None, status=LinkStatus.INCOMPLETE)
    asyncio.run(_replace(settings, [stale if e is victim else e for e in result.entries]))
    gateway = start_gateway(settings)
    gateways.append(gateway)
    assert _sources(_post(gateway, SOURCES_QUERY))[victim.canonical_id] == {"CRM", "ERP"}

    asyncio.run(rebuild_crosswalk(settings))
    deadline = time.monotonic() + 3  # well under the cache's TTL and the store poll
    while _sources(_post(gateway, SOURCES_QUERY))[victim.canonical_id] != {
        "CRM",
        "BILLING",
        "ERP",
    }:
        assert time.monotonic() < deadline, "the rebuild did not reach the gateway"
        time.sleep(0.05)


async def _replace(settings: Settings, entries: Sequence[CrosswalkEntry]) -> None:
    engine = create_engine(settings.database_url, schema=settings.store_schema)
    try:
        await CrosswalkRepository(engine).replace_all(entries)
    finally:
        await engine.dispose()


async def _stored(settings: Settings, ids: list[str]) -> dict[str, CrosswalkEntry]:
    engine = create_engine(settings.database_url, schema=settings.store_schema)
    try:
        return await CrosswalkRepository(engine).many(ids)
    finally:
        await engine.dispose()


# --- the lookup on its own -------------------------------------------------------


@dataclass(frozen=True)
class _Account:
    id: str
    name: str


@dataclass(frozen=True)
class _BillingCustomer:
    id: str
    crm_account_id: str | None


@dataclass(frozen=True)
class _ErpCustomer:
    id: str
    external_id: str | None


class _Systems:
    """A :class:`domain.crosswalk_lookup.LinkSources` over lists, counting its calls."""

    def __init__(self) -> None:
        self.accounts_: list[_Account] = []
        self.billing: list[_BillingCustomer] = []
        self.erp: list[_ErpCustomer] = []
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.down = False

    async def accounts(self, crm_ids: Sequence[str]) -> Sequence[_Account]:
        self.calls.append(("accounts", tuple(crm_ids)))
        return [a for a in self.accounts_ if a.id in crm_ids]

    async def billing_customers(self, crm_ids: Sequence[str]) -> Sequence[_BillingCustomer]:
        self.calls.append(("billing", tuple(crm_ids)))
        if self.down:
            raise SourceUnavailable(System.BILLING, "connection refused")
        return [c for c in self.billing if c.crm_account_id in crm_ids]

    async def erp_customers(self, crm_ids: Sequence[str]) -> Sequence[_ErpCustomer]:
        self.calls.append(("erp", tuple(crm_ids)))
        return [c for c in self.erp if c.external_id in crm_ids]


async def test_the_lookup_links_unknown_ids_in_one_batch(store_engine: AsyncEngine) -> None:
    repo = CrosswalkRepository(store_engine)
    systems = _Systems()
    systems.accounts_ = [_Account("001A", "Acme"), _Account("001B", "Beta"), _Account("001C", "C")]
    systems.billing = [
        _BillingCustomer("cus_a", "001A"),
        _BillingCustomer("cus_c1", "001C"),
        _BillingCustomer("cus_c2", "001C"),
    ]
    systems.erp = [_ErpCustomer("7", "001A"), _ErpCustomer("9", "001C")]
    lookup = CrosswalkLookup(repo, MemoryCache(), sources=systems, negative_ttl_s=0.2)

    found = await lookup.many(["001A", "001B", "001C", "001nope"])
    assert [kind for kind, _ in systems.calls] == ["accounts", "billing", "erp"]  # one batch
    assert {i: e.status for i, e in found.items()} == {
        "001A": LinkStatus.LINKED,
        "001B": LinkStatus.INCOMPLETE,
        "001C": LinkStatus.AMBIGUOUS,
    }
    assert (found["001A"].billing_customer_id, found["001A"].erp_customer_id) == ("cus_a", "7")
    assert found["001C"].billing_ids == ("cus_c1", "cus_c2")
    # Settled links are stored; "no billing customer yet" is not.
    assert set(await repo.many(["001A", "001B", "001C"])) == {"001A", "001C"}

    systems.calls.clear()
    assert await lookup.many(["001A", "001B", "001C", "001nope"]) == found
    assert systems.calls == []  # all cached, the negatives briefly

    # The billing customer shows up; after the short TTL the account is linked.
    systems.billing.append(_BillingCustomer("cus_b", "001B"))
    systems.erp.append(_ErpCustomer("8", "001B"))
    await asyncio.sleep(0.3)
    again = await lookup.many(["001A", "001B", "001nope"])
    assert again["001B"].status is LinkStatus.LINKED
    assert systems.calls[0] == ("accounts", ("001B", "001nope"))
    assert "001B" in await repo.many(["001B"])


async def test_a_failed_link_fails_only_the_unknown_ids_and_is_not_cached(
    store_engine: AsyncEngine,
) -> None:
    repo = CrosswalkRepository(store_engine)
    known = CrosswalkEntry("001K", "001K", "Known", LinkStatus.LINKED, "cus_k", "1")
    await repo.replace_all([known])
    systems = _Systems()
    systems.accounts_ = [_Account("001N", "New")]
    systems.down = True
    lookup = CrosswalkLookup(repo, MemoryCache(), sources=systems)
    found = await lookup.lookup(["001K", "001N"])
    assert found["001K"] == await repo.get("001K")
    assert isinstance(found["001N"], SourceUnavailable)
    with pytest.raises(SourceUnavailable):
        await lookup.many(["001N"])
    systems.down = False
    systems.billing = [_BillingCustomer("cus_n", "001N")]
    assert (await lookup.many(["001N"]))["001N"].billing_customer_id == "cus_n"


@pytest.fixture
async def two_replicas(
    store_engine: AsyncEngine, redis_prefix: str
) -> AsyncIterator[tuple[CrosswalkLookup, CrosswalkLookup, Any]]:
    """Two lookups with caches of their own, subscribed to one deployment's channel
    (Redis when REDIS_URL is set, else the in-process hub); and a publisher."""
    redis_url = os.environ.get("REDIS_URL")
    prefix = f"{redis_prefix}pubsub-{uuid.uuid4().hex[:8]}:"
    channels = [open_pubsub(redis_url, prefix) for _ in range(3)]
    repo = CrosswalkRepository(store_engine)
    lookups = [CrosswalkLookup(repo, MemoryCache()) for _ in range(2)]
    tasks = [
        await lookup.follow_invalidations(channel)
        for lookup, channel in zip(lookups, channels[:2], strict=True)
    ]
    yield lookups[0], lookups[1], channels[2]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for channel in channels:
        await channel.aclose()


async def test_a_rebuild_announcement_reaches_every_replica(
    two_replicas: tuple[CrosswalkLookup, CrosswalkLookup, Any],
) -> None:
    first, second, publisher = two_replicas
    old = CrosswalkEntry("001A", "001A", "Old name", LinkStatus.LINKED, "cus_1", "1")
    await first.repository.replace_all([old])
    for replica in (first, second):
        assert (await replica.many(["001A"]))["001A"].name == "Old name"
    await first.repository.replace_all([replace(old, name="New name")])
    for replica in (first, second):  # cached for a minute...
        assert (await replica.many(["001A"]))["001A"].name == "Old name"
    assert await announce_rebuild(publisher) >= 2
    deadline = time.monotonic() + 5
    for replica in (first, second):  # ...unless a rebuild is announced
        while (await replica.many(["001A"]))["001A"].name != "New name":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
