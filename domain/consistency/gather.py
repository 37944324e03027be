"""Reading what the consistency rules need: every system's records per customer, live.

:class:`ConsistencyReader` builds :class:`~domain.consistency.types.CustomerBundle`
values from the four adapters, in bulk:

* :meth:`ConsistencyReader.customer` reads one CRM account and everything the
  other systems hold about it (the customer view);
* :meth:`ConsistencyReader.pages` walks the CRM accounts in Id order, a page at a
  time, and reads the other systems for a whole page at once (the sweep); each
  page comes with the last account id, so a sweep can checkpoint and resume.

Both share one assembly step over a list of accounts, three independent chains
that run concurrently, each a handful of batched requests:

=============  ====================================================================
contracts      Contracts: contracts by account (one SOQL ``AccountId IN``), then
               their lines (one ``ContractId IN``) alongside the ERP revenue
               schedules by contract id, then the schedules' lines
billing        Billing: customers by ``metadata.crm_account_id`` (a search per ten
               ids), then each customer's subscriptions and invoices (Stripe has no
               multi-customer list: one list per customer, at most ``fanout`` at
               once), then the ERP AR postings by invoice id
ERP customers  ERP customers by externalId, then the parents they name that are not
               already in hand (by internal id)
=============  ====================================================================

Every read goes through the adapters, so their rate limiters, concurrency slots,
retries and circuit breakers apply; this module adds no pacing of its own beyond
bounding the Stripe fan-out.

**Failures.** A CRM failure raises (without the account there is nothing to
check; the caller reports UNKNOWN). Any other system's failure becomes
:class:`~domain.consistency.types.Unreadable` in the parts that system supplies,
and never hides what the other systems said: an ERP outage leaves the contracts,
subscriptions and invoices in place with their schedules, postings and ERP
customers unreadable. Billing's per-customer lists fail per customer, so one
throttled list makes one account's subscriptions or invoices unreadable, not
the page's. A batched read (a SOQL or SuiteQL chunk) fails for the accounts of
its batch.

**Freshness.** Billing customers are found through Stripe's search, whose index
lags writes (normally under a minute): a billing customer created in the last
minute may be missing from a bundle, which a rule should treat as pending, not
as drift. Everything else is read from the systems' lists and queries as of now.

``bundle.parked`` is left empty: the view fills it from the flow journal.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from domain.clients import Clients
from domain.consistency.types import (
    ContractBundle,
    CustomerBundle,
    InvoiceBundle,
    Observed,
    ScheduleBundle,
    Unreadable,
)
from domain.records import (
    ArPosting,
    BillingCustomer,
    Contract,
    ContractLine,
    Customer,
    ErpCustomer,
    Invoice,
    RevenueSchedule,
    RevenueScheduleLine,
    Subscription,
)
from sources.errors import SourceError, SourceNotFound
from sources.salesforce.soql import is_record_id
from sources.systems import System

__all__ = ["DEFAULT_FANOUT", "DEFAULT_PAGE_SIZE", "ConsistencyReader"]

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 200
"""Accounts per sweep page: one Salesforce ``IN`` chunk and one composite read."""
DEFAULT_FANOUT = 8
"""Per-customer Stripe lists of one read in flight at once. Below the adapter's
own slots (``SourceConfig.concurrency``), so a sweep leaves room for live traffic;
the adapter's rate limiter paces them as it paces everything else."""


def _reason(error: SourceError) -> str:
    """What an :class:`Unreadable` says: the error class and the vendor's message."""
    code = f" {error.vendor_code}" if error.vendor_code else ""
    return f"{type(error).__name__}{code}: {error.message}"


async def _observe(system: System, read: Awaitable[T]) -> Observed[T]:
    """``await read``, or :class:`Unreadable` if the system failed."""
    try:
        return await read
    except SourceError as error:
        return Unreadable(system, _reason(error))


def _unreadable(*values: object) -> Unreadable | None:
    """The first :class:`Unreadable` among ``values``, if any."""
    return next((v for v in values if isinstance(v, Unreadable)), None)


@dataclass(frozen=True)
class _ContractsPart:
    """What the contracts chain read, per account."""

    contracts: Observed[Mapping[str, list[Contract]]]
    lines: Observed[Mapping[str, list[ContractLine]]]
    schedules: Observed[Mapping[str, list[RevenueSchedule]]]
    schedule_lines: Observed[Mapping[str, list[RevenueScheduleLine]]]


@dataclass(frozen=True)
class _BillingPart:
    """What the billing chain read: customers per account, lists per customer."""

    customers: Observed[Mapping[str, list[BillingCustomer]]]
    subscriptions: Mapping[str, Observed[list[Subscription]]]
    invoices: Mapping[str, Observed[list[Invoice]]]
    postings: Observed[Mapping[str, ArPosting]]


@dataclass(frozen=True)
class _ErpPart:
    customers: Observed[Mapping[str, ErpCustomer]]
    """By externalId (the CRM account id; NetSuite keeps externalIds unique)."""
    parents: Observed[Mapping[str, ErpCustomer]]
    """Parent ERP customers by internal id."""


class ConsistencyReader:
    """Reads :class:`CustomerBundle` values live from the four systems, in bulk.

    ``fanout`` bounds the per-customer Stripe lists in flight; ``clock`` stamps
    ``read_at`` when the caller gives no ``now``.
    """

    def __init__(
        self,
        clients: Clients,
        *,
        fanout: int = DEFAULT_FANOUT,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if fanout < 1:
            raise ValueError("fanout must be >= 1")
        self._clients = clients
        self._fanout = fanout
        self._clock = clock

    async def customer(
        self, account_id: str, *, now: datetime | None = None
    ) -> CustomerBundle | None:
        """One customer's bundle; None when the CRM has no such account.

        The CRM read runs alongside the other systems' first reads (they are keyed
        by the account id alone), so a customer costs the longest chain, not the
        CRM's round trip plus it. A CRM failure raises its
        :class:`~sources.errors.SourceError` (the other reads are cancelled).
        """
        if not is_record_id(account_id):
            return None
        read_at = now or self._clock()

        async def account() -> Customer | None:
            try:
                return await self._clients.crm.get_account(account_id)
            except SourceNotFound:
                return None

        crm = asyncio.ensure_future(account())
        rest = asyncio.ensure_future(self._read([account_id]))
        try:
            found = await crm
        except BaseException:
            await _cancel(rest)
            raise
        if found is None:
            await _cancel(rest)
            return None
        return (await rest).bundle(found, read_at)

    async def pages(
        self, *, after: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncGenerator[tuple[list[CustomerBundle], str | None], None]:
        """Every account after ``after`` (exclusive), in Id order, ``page_size`` a page.

        Yields ``(bundles, last_account_id)``; passing that id back as ``after``
        resumes with the next account. A page costs one CRM query plus the bulk
        reads of :meth:`customer` for all its accounts at once. A CRM failure raises;
        the pages already yielded stand. Ends after the first short (or empty) page.
        A sweep that stops early closes the generator (``contextlib.aclosing``).
        """
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        cursor = after
        while True:
            accounts = await self._clients.crm.accounts_after(cursor, limit=page_size)
            if not accounts:
                return
            read_at = self._clock()
            found = await self._read([a.id for a in accounts])
            cursor = accounts[-1].id
            yield [found.bundle(a, read_at) for a in accounts], cursor
            if len(accounts) < page_size:
                return

    # -- the three chains ------------------------------------------------------------

    async def _read(self, account_ids: Sequence[str]) -> _Read:
        """The three chains for ``account_ids``, concurrently. They turn source errors
        into :class:`Unreadable` themselves; anything else cancels the others."""
        contracts = asyncio.ensure_future(self._contracts_part(account_ids))
        billing = asyncio.ensure_future(self._billing_part(account_ids))
        erp = asyncio.ensure_future(self._erp_part(account_ids))
        try:
            return _Read(await contracts, await billing, await erp)
        except BaseException:
            for task in (contracts, billing, erp):
                await _cancel(task)
            raise

    async def _contracts_part(self, account_ids: Sequence[str]) -> _ContractsPart:
        """Contracts by account; then their lines ∥ ERP schedules; then schedule lines."""
        contracts_client, erp = self._clients.contracts, self._clients.erp
        contracts = await _observe(
            System.CONTRACTS, contracts_client.contracts_by_account_ids(account_ids)
        )
        if isinstance(contracts, Unreadable):
            return _ContractsPart(contracts, contracts, {}, {})
        ids = [c.id for found in contracts.values() for c in found]
        if not ids:
            return _ContractsPart(contracts, {}, {}, {})

        async def schedules_and_lines() -> tuple[
            Observed[Mapping[str, list[RevenueSchedule]]],
            Observed[Mapping[str, list[RevenueScheduleLine]]],
        ]:
            schedules = await _observe(System.ERP, erp.schedules_by_contract_ids(ids))
            if isinstance(schedules, Unreadable):
                return schedules, schedules
            schedule_ids = [s.id for found in schedules.values() for s in found]
            if not schedule_ids:
                return schedules, {}
            lines = await _observe(System.ERP, erp.schedule_lines_by_schedule_ids(schedule_ids))
            return schedules, lines

        lines, (schedules, schedule_lines) = await asyncio.gather(
            _observe(System.CONTRACTS, contracts_client.lines_by_contract_ids(ids)),
            schedules_and_lines(),
        )
        return _ContractsPart(contracts, lines, schedules, schedule_lines)

    async def _billing_part(self, account_ids: Sequence[str]) -> _BillingPart:
        """Billing customers; then each one's subscriptions ∥ invoices; then postings."""
        billing = self._clients.billing
        # Each customer's lists from the billing read model when there is one.
        lists = self._clients.billing_reads or billing
        customers = await _observe(System.BILLING, billing.customers_by_crm_ids(account_ids))
        if isinstance(customers, Unreadable):
            return _BillingPart(customers, {}, {}, {})
        customer_ids = list(dict.fromkeys(c.id for found in customers.values() for c in found))
        gate = asyncio.Semaphore(self._fanout)

        async def each(
            read: Callable[[Sequence[str]], Awaitable[dict[str, list[T]]]],
        ) -> dict[str, Observed[list[T]]]:
            async def one(customer_id: str) -> Observed[list[T]]:
                async with gate:
                    found = await _observe(System.BILLING, read([customer_id]))
                return found if isinstance(found, Unreadable) else found.get(customer_id, [])

            results = await asyncio.gather(*(one(i) for i in customer_ids))
            return dict(zip(customer_ids, results, strict=True))

        async def invoices_and_postings() -> tuple[
            dict[str, Observed[list[Invoice]]], Observed[Mapping[str, ArPosting]]
        ]:
            invoices = await each(lists.invoices_for_customers)
            invoice_ids = [
                i.id
                for found in invoices.values()
                if not isinstance(found, Unreadable)
                for i in found
            ]
            if not invoice_ids:
                return invoices, {}
            postings = await _observe(
                System.ERP, self._clients.erp.postings_by_invoice_ids(invoice_ids)
            )
            return invoices, postings

        subscriptions, (invoices, postings) = await asyncio.gather(
            each(lists.subscriptions_for_customers), invoices_and_postings()
        )
        return _BillingPart(customers, subscriptions, invoices, postings)

    async def _erp_part(self, account_ids: Sequence[str]) -> _ErpPart:
        """ERP customers by externalId; then the parents not already in hand."""
        erp = self._clients.erp
        customers = await _observe(System.ERP, erp.customers_by_external_ids(account_ids))
        if isinstance(customers, Unreadable):
            return _ErpPart(customers, customers)
        known = {c.id: c for c in customers.values()}
        missing = [
            c.parent_id for c in customers.values() if c.parent_id and c.parent_id not in known
        ]
        if not missing:
            return _ErpPart(customers, known)
        parents = await _observe(System.ERP, erp.customers_by_ids(missing))
        if isinstance(parents, Unreadable):
            return _ErpPart(customers, parents)
        return _ErpPart(customers, {**known, **parents})


@dataclass(frozen=True)
class _Read:
    """Everything one assembly read, for any number of accounts; cut per account."""

    contracts: _ContractsPart
    billing: _BillingPart
    erp: _ErpPart

    def bundle(self, account: Customer, read_at: datetime) -> CustomerBundle:
        billing_customers = self._billing_customers(account.id)
        erp_customers, parent = self._erp_customers(account.id)
        return CustomerBundle(
            account=account,
            read_at=read_at,
            billing_customers=billing_customers,
            erp_customers=erp_customers,
            erp_parent_account_id=parent,
            contracts=self._contract_bundles(account.id, billing_customers),
            invoices=self._invoice_bundles(billing_customers),
        )

    def _billing_customers(self, account_id: str) -> Observed[Sequence[BillingCustomer]]:
        customers = self.billing.customers
        if isinstance(customers, Unreadable):
            return customers
        return tuple(customers.get(account_id, ()))

    def _erp_customers(
        self, account_id: str
    ) -> tuple[Observed[Sequence[ErpCustomer]], Observed[str | None]]:
        """The account's ERP customers, and the CRM id of the first one's parent."""
        customers, parents = self.erp.customers, self.erp.parents
        if isinstance(customers, Unreadable):
            return customers, customers
        found = customers.get(account_id)
        if found is None:
            return (), None
        if found.parent_id is None:
            return (found,), None
        if isinstance(parents, Unreadable):
            return (found,), parents
        parent = parents.get(found.parent_id)
        return (found,), parent.external_id if parent is not None else None

    def _lists(
        self,
        customers: Observed[Sequence[BillingCustomer]],
        lists: Mapping[str, Observed[list[T]]],
    ) -> Observed[list[T]]:
        """Every billing customer's list, concatenated; Unreadable if any one is."""
        if isinstance(customers, Unreadable):
            return customers
        per_customer = [lists.get(c.id, []) for c in customers]
        failed = _unreadable(*per_customer)
        if failed is not None:
            return failed
        return [item for found in per_customer if isinstance(found, list) for item in found]

    def _contract_bundles(
        self, account_id: str, billing_customers: Observed[Sequence[BillingCustomer]]
    ) -> Observed[Sequence[ContractBundle]]:
        part = self.contracts
        contracts, lines = part.contracts, part.lines
        if isinstance(contracts, Unreadable):
            return contracts
        if isinstance(lines, Unreadable):
            return lines
        subscriptions = self._lists(billing_customers, self.billing.subscriptions)
        return tuple(
            ContractBundle(
                contract=contract,
                lines=tuple(x for x in lines.get(contract.id, ()) if x.version == contract.version),
                subscriptions=_of_contract(subscriptions, contract.id),
                schedules=self._schedule_bundles(contract.id),
            )
            for contract in contracts.get(account_id, ())
        )

    def _schedule_bundles(self, contract_id: str) -> Observed[Sequence[ScheduleBundle]]:
        schedules, lines = self.contracts.schedules, self.contracts.schedule_lines
        if isinstance(schedules, Unreadable):
            return schedules
        return tuple(
            ScheduleBundle(
                schedule=schedule,
                lines=lines if isinstance(lines, Unreadable) else tuple(lines.get(schedule.id, ())),
            )
            for schedule in schedules.get(contract_id, ())
        )

    def _invoice_bundles(
        self, billing_customers: Observed[Sequence[BillingCustomer]]
    ) -> Observed[Sequence[InvoiceBundle]]:
        invoices = self._lists(billing_customers, self.billing.invoices)
        if isinstance(invoices, Unreadable):
            return invoices
        postings = self.billing.postings
        return tuple(
            InvoiceBundle(
                invoice=invoice,
                postings=postings
                if isinstance(postings, Unreadable)
                else tuple(p for p in (postings.get(invoice.id),) if p is not None),
            )
            for invoice in invoices
        )


def _of_contract(
    subscriptions: Observed[list[Subscription]], contract_id: str
) -> Observed[Sequence[Subscription]]:
    """The subscriptions whose ``metadata.contract_id`` is the contract."""
    if isinstance(subscriptions, Unreadable):
        return subscriptions
    return tuple(s for s in subscriptions if s.contract_id == contract_id)


async def _cancel(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and wait for it to finish (its outcome is dropped)."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
