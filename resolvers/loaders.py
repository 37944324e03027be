"""Per-request DataLoaders: every cross-system hop is one batched upstream call.

A :class:`SourceLoader` wraps one adapter batch method (``ids → {id: value}``)
and answers in key order, with a default for keys the system doesn't know.
Loaders are created per request, inside the running loop (aiodataloader binds
to it), so caching never leaks between requests or users. :func:`load` is how
resolvers use them: a source failure becomes ``None`` plus one reported error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader, Loader, dispatch_queue
from strawberry.types import Info

from domain.clients import Clients
from domain.crosswalk_lookup import CrosswalkLookup
from resolvers.errors import SourceFailures
from sources.billing.models import Customer as BillingCustomer
from sources.billing.models import Invoice, Subscription
from sources.contracts.models import Contract, ContractLine, ContractVersion
from sources.crm.models import Account
from sources.erp.models import ArPosting, RevenueSchedule, RevenueScheduleLine
from sources.errors import SourceError
from sources.systems import System
from store.crosswalk import CrosswalkEntry

DISPATCH_TICKS = 8
"""Loop ticks a loader waits after its first load before sending the batch."""

V = TypeVar("V")
V_co = TypeVar("V_co", covariant=True)
Fetch = Callable[[list[str]], Awaitable[dict[str, Any]]]


class SourceLoader(DataLoader, Generic[V_co]):  # type: ignore[type-arg]
    """One hop to one system, batched; ``default()`` for keys the system lacks."""

    def __init__(
        self,
        system: System | None,
        hop: str,
        fetch: Fetch,
        default: Callable[[], V_co | None],
        failures: SourceFailures,
    ) -> None:
        super().__init__()
        self.system = system
        self.hop = hop
        self._fetch = fetch
        self._default = default
        self._failures = failures

    def do_resolve_reject(self, key: Any, future: asyncio.Future[Any]) -> None:
        # aiodataloader dispatches two loop ticks after the first load. Loads that
        # belong to the same hop can arrive a few ticks apart (each awaited task in
        # between adds one), which split one hop into several requests; waiting a
        # few more ticks — microseconds on an idle loop — keeps them in one batch.
        self._queue.append(Loader(key=key, future=future))
        if len(self._queue) == 1:
            self._dispatch_in(DISPATCH_TICKS)

    def _dispatch_in(self, ticks: int) -> None:
        if ticks:
            self.loop.call_soon(self._dispatch_in, ticks - 1)
        else:
            dispatch_queue(self)

    async def batch_load_fn(self, keys: Sequence[str]) -> list[V_co | None]:
        if self.system is not None and (down := self._failures.down(self.system)):
            raise down
        found = await self._fetch(list(keys))
        return [found[k] if k in found else self._default() for k in keys]


async def load(info: Info[Any, Any], loader: SourceLoader[V], key: str) -> V | None:
    """The loader's value for ``key``; None (and a reported error) if its system failed."""
    try:
        value: V | None = await loader.load(key)
    except SourceError as error:
        info.context.failures.record(error, loader.hop, info.path.as_list())
        return None
    return value


def prefetch(loader: SourceLoader[Any], key: str) -> None:
    """Start loading ``key`` now for a field that will read it later.

    A failure is marked as seen here; the field that reads the value reports it.
    """
    loader.load(key).add_done_callback(_observed)


def _observed(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


@dataclass
class Prefetch:
    """What look-ahead found the query needs further down (set by root fields)."""

    schedules: bool = False
    """Revenue schedules: ask the ERP as soon as contracts arrive."""
    postings: bool = False
    """AR postings: ask the ERP as soon as invoices arrive."""


def _none() -> None:
    return None


def _empty() -> list[Any]:
    return []


@dataclass
class Loaders:
    """Every hop the graph can make, for one request."""

    account: SourceLoader[Account]
    children: SourceLoader[list[Account]]
    contracts_by_account: SourceLoader[list[Contract]]
    contract: SourceLoader[Contract]
    contract_lines: SourceLoader[list[ContractLine]]
    contract_versions: SourceLoader[list[ContractVersion]]
    crosswalk: SourceLoader[CrosswalkEntry]
    billing_customer: SourceLoader[BillingCustomer]
    subscriptions: SourceLoader[list[Subscription]]
    invoices: SourceLoader[list[Invoice]]
    schedules: SourceLoader[list[RevenueSchedule]]
    schedule_lines: SourceLoader[list[RevenueScheduleLine]]
    posting: SourceLoader[ArPosting]
    erp_postings_by_customer: SourceLoader[list[ArPosting]]

    @classmethod
    def create(
        cls,
        clients: Clients,
        crosswalk: CrosswalkLookup,
        failures: SourceFailures,
        ahead: Prefetch | None = None,
    ) -> Loaders:
        def loader(system: System | None, hop: str, fetch: Fetch, many: bool) -> SourceLoader[Any]:
            return SourceLoader(system, hop, fetch, _empty if many else _none, failures)

        crm, contracts, billing, erp = clients.crm, clients.contracts, clients.billing, clients.erp
        wanted = ahead or Prefetch()

        # Look-ahead prefetches start in the batch that yields their keys, all in
        # one tick, so each becomes exactly one batch of its own.
        async def contracts_by_account(ids: list[str]) -> dict[str, list[Contract]]:
            found = await contracts.contracts_by_account_ids(ids)
            if wanted.schedules:
                for contract in (c for cs in found.values() for c in cs):
                    prefetch(loaders.schedules, contract.id)
            return found

        async def invoices(ids: list[str]) -> dict[str, list[Invoice]]:
            found = await billing.invoices_for_customers(ids)
            if wanted.postings:
                for invoice in (i for found_ in found.values() for i in found_):
                    prefetch(loaders.posting, invoice.id)
            return found

        loaders = cls(
            account=loader(System.CRM, "accounts", crm.accounts_by_ids, False),
            children=loader(System.CRM, "childAccounts", crm.children_by_parent_ids, True),
            contracts_by_account=loader(
                System.CONTRACTS, "contractsByAccount", contracts_by_account, True
            ),
            contract=loader(System.CONTRACTS, "contracts", contracts.contracts_by_ids, False),
            contract_lines=loader(
                System.CONTRACTS, "contractLines", contracts.lines_by_contract_ids, True
            ),
            contract_versions=loader(
                System.CONTRACTS, "contractVersions", contracts.versions_by_contract_ids, True
            ),
            crosswalk=loader(None, "crosswalk", crosswalk.many, False),
            billing_customer=loader(
                System.BILLING, "billingCustomers", billing.customers_by_ids, False
            ),
            subscriptions=loader(
                System.BILLING, "subscriptions", billing.subscriptions_for_customers, True
            ),
            invoices=loader(System.BILLING, "invoices", invoices, True),
            schedules=loader(System.ERP, "revenueSchedules", erp.schedules_by_contract_ids, True),
            schedule_lines=loader(
                System.ERP, "revenueScheduleLines", erp.schedule_lines_by_schedule_ids, True
            ),
            posting=loader(System.ERP, "arPostings", erp.postings_by_invoice_ids, False),
            erp_postings_by_customer=loader(
                System.ERP, "arPostingsByCustomer", erp.postings_by_customer_ids, True
            ),
        )
        return loaders
