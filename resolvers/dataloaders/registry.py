"""Every hop the graph can make, as one loader each, created per request.

Loaders are created inside the running loop (aiodataloader binds to it), per
request, so caching never leaks between requests or users. Node fetchers
(``node``/``nodes``) go through the same loaders as the fields, so they share
the request's cache, trace and fail-fast.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import partial
from typing import Any, TypeVar

from domain.billing_read_model import Served
from domain.clients import Clients
from domain.crosswalk_lookup import CrosswalkLookup
from domain.crosswalk_types import CrosswalkEntry
from domain.records import (
    ArPosting,
    BillingCustomer,
    Contract,
    ContractLine,
    ContractVersion,
    Invoice,
    RevenueSchedule,
    RevenueScheduleLine,
    Subscription,
)
from domain.records import Customer as Account
from resolvers.dataloaders.loader import Fetch, SourceLoader, per_key
from resolvers.dataloaders.trace import Trace
from resolvers.errors import SourceFailures
from sources.errors import SourceError
from sources.systems import System

T = TypeVar("T")


def _none() -> None:
    return None


def _empty() -> list[Any]:
    return []


def _each_customer(
    read: Callable[[Sequence[str]], Awaitable[dict[str, list[T]]]],
) -> Fetch:
    """A Billing list per customer, read separately so one failure fails one customer."""

    async def fetch(ids: list[str]) -> dict[str, list[T] | SourceError]:
        async def one(customer_id: str) -> list[T]:
            return (await read([customer_id]))[customer_id]

        return await per_key(ids, one)

    return fetch


Provenance = dict[tuple[System, str], Served[Any]]
"""How each record of a request was obtained, by (system, id): :class:`Served` (its value
is the list the record came in)."""


def _noted(
    system: System,
    read: Callable[[list[str]], Awaitable[Mapping[str, Served[Any] | SourceError]]],
    provenance: Provenance,
) -> Fetch:
    """Answers from a read model, noting how each record was obtained (a None value:
    the system said nothing exists, left to the loader's default)."""

    async def fetch(ids: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, answer in (await read(ids)).items():
            if isinstance(answer, SourceError):
                found[key] = answer
                continue
            value = answer.value
            if value is None:
                continue
            for record in value if isinstance(value, list) else (value,):
                provenance[(system, str(getattr(record, "id", key)))] = answer
            found[key] = value
        return found

    return fetch


def _by_account(crosswalk: SourceLoader[CrosswalkEntry], billing: SourceLoader[list[T]]) -> Fetch:
    """A CRM account's records in Billing: those of every billing customer linked to it.

    Normally one; when the crosswalk found several claiming the account
    (ambiguous), all of them, so nothing billed is hidden. A failed read of any
    of them fails the account (its list would be incomplete).
    """

    async def fetch(account_ids: list[str]) -> dict[str, list[T] | SourceError]:
        entries = await crosswalk.load_many(account_ids)
        wanted = {a: e.billing_ids if e else () for a, e in zip(account_ids, entries, strict=True)}

        async def merged(account_id: str) -> list[T]:
            lists = await billing.load_many(list(wanted[account_id]))
            return [record for records in lists for record in records]

        return await per_key(account_ids, merged)

    return fetch


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
    """By billing customer id."""
    invoices: SourceLoader[list[Invoice]]
    """By billing customer id."""
    account_subscriptions: SourceLoader[list[Subscription]]
    """By CRM account id, through the crosswalk."""
    account_invoices: SourceLoader[list[Invoice]]
    """By CRM account id, through the crosswalk."""
    live_account_subscriptions: SourceLoader[list[Subscription]]
    """``account_subscriptions`` read live (``freshness: LIVE``), bypassing the read model."""
    live_account_invoices: SourceLoader[list[Invoice]]
    """``account_invoices`` read live (``freshness: LIVE``), bypassing the read model."""
    subscription: SourceLoader[Subscription]
    invoice: SourceLoader[Invoice]
    live_subscription: SourceLoader[Subscription]
    """``subscription`` read live (``freshness: LIVE``), bypassing the read model."""
    live_invoice: SourceLoader[Invoice]
    """``invoice`` read live (``freshness: LIVE``), bypassing the read model."""
    schedules: SourceLoader[list[RevenueSchedule]]
    """By contract id."""
    schedule: SourceLoader[RevenueSchedule]
    schedule_lines: SourceLoader[list[RevenueScheduleLine]]
    posting: SourceLoader[ArPosting]
    """By billing invoice id (the posting's external id)."""
    posting_by_id: SourceLoader[ArPosting]
    erp_postings_by_customer: SourceLoader[list[ArPosting]]

    def release(self) -> None:
        """Drop every loader's cached values and hooks (:meth:`Context.release`)."""
        for each in fields(self):
            loader = getattr(self, each.name)
            loader.clear_all()
            loader.after_batch = None

    @classmethod
    def create(
        cls,
        clients: Clients,
        crosswalk: CrosswalkLookup,
        failures: SourceFailures,
        trace: Trace,
        provenance: Provenance | None = None,
    ) -> Loaders:
        """Every loader of one request; ``provenance`` collects how billing records were
        obtained when ``clients.billing_reads`` serves them."""

        answers = clients.answers
        noted: Provenance = provenance if provenance is not None else {}

        def policy(system: System | None, hop: str, fetch: Fetch, value_type: Any) -> Fetch:
            """``fetch``, or its answers from the read model an operator put it behind."""
            if system is None or answers is None or not answers.serves(system):
                return fetch
            return _noted(system, answers.wrap(system, hop, fetch, value_type), noted)

        def one(
            system: System | None, hop: str, fetch: Fetch, record: Any = object
        ) -> SourceLoader[Any]:
            return SourceLoader(
                system, hop, policy(system, hop, fetch, record), _none, failures, trace
            )

        def many(
            system: System | None, hop: str, fetch: Fetch, record: Any = object
        ) -> SourceLoader[Any]:
            return SourceLoader(
                system, hop, policy(system, hop, fetch, list[record]), _empty, failures, trace
            )

        crm, contracts, billing, erp = clients.crm, clients.contracts, clients.billing, clients.erp
        xwalk = one(None, "crosswalk", crosswalk.lookup)
        reads = clients.billing_reads
        if reads is None:
            fetch_subscriptions = _each_customer(billing.subscriptions_for_customers)
            fetch_invoices = _each_customer(billing.invoices_for_customers)
            live_subscriptions, live_invoices = fetch_subscriptions, fetch_invoices
            customer_by_id: Fetch = billing.customers_by_ids
            subscription_by_id: Fetch = billing.subscriptions_by_ids
            invoice_by_id: Fetch = billing.invoices_by_ids
            live_subscription_by_id, live_invoice_by_id = subscription_by_id, invoice_by_id
        else:

            def served(read: Callable[[list[str]], Awaitable[Any]]) -> Fetch:
                return _noted(System.BILLING, read, noted)

            fetch_subscriptions = served(reads.subscriptions)
            fetch_invoices = served(reads.invoices)
            live_subscriptions = served(partial(reads.subscriptions, live=True))
            live_invoices = served(partial(reads.invoices, live=True))
            customer_by_id = served(partial(reads.objects, "customer"))
            subscription_by_id = served(partial(reads.objects, "subscription"))
            invoice_by_id = served(partial(reads.objects, "invoice"))
            live_subscription_by_id = served(partial(reads.objects, "subscription", live=True))
            live_invoice_by_id = served(partial(reads.objects, "invoice", live=True))
        subscriptions = many(System.BILLING, "subscriptions", fetch_subscriptions)
        invoices = many(System.BILLING, "invoices", fetch_invoices)
        live_subs = many(System.BILLING, "liveSubscriptions", live_subscriptions)
        live_invs = many(System.BILLING, "liveInvoices", live_invoices)
        return cls(
            account=one(System.CRM, "accounts", crm.accounts_by_ids, Account),
            children=many(System.CRM, "childAccounts", crm.children_by_parent_ids, Account),
            contracts_by_account=many(
                System.CONTRACTS,
                "contractsByAccount",
                contracts.contracts_by_account_ids,
                Contract,
            ),
            contract=one(System.CONTRACTS, "contracts", contracts.contracts_by_ids, Contract),
            contract_lines=many(
                System.CONTRACTS, "contractLines", contracts.lines_by_contract_ids, ContractLine
            ),
            contract_versions=many(
                System.CONTRACTS,
                "contractVersions",
                contracts.versions_by_contract_ids,
                ContractVersion,
            ),
            crosswalk=xwalk,
            billing_customer=one(System.BILLING, "billingCustomers", customer_by_id),
            subscriptions=subscriptions,
            invoices=invoices,
            account_subscriptions=many(
                None, "accountSubscriptions", _by_account(xwalk, subscriptions)
            ),
            account_invoices=many(None, "accountInvoices", _by_account(xwalk, invoices)),
            live_account_subscriptions=many(
                None, "liveAccountSubscriptions", _by_account(xwalk, live_subs)
            ),
            live_account_invoices=many(None, "liveAccountInvoices", _by_account(xwalk, live_invs)),
            subscription=one(System.BILLING, "subscriptionsById", subscription_by_id),
            invoice=one(System.BILLING, "invoicesById", invoice_by_id),
            live_subscription=one(System.BILLING, "liveSubscriptionsById", live_subscription_by_id),
            live_invoice=one(System.BILLING, "liveInvoicesById", live_invoice_by_id),
            schedules=many(
                System.ERP, "revenueSchedules", erp.schedules_by_contract_ids, RevenueSchedule
            ),
            schedule=one(System.ERP, "revenueSchedulesById", erp.schedules_by_ids, RevenueSchedule),
            schedule_lines=many(
                System.ERP,
                "revenueScheduleLines",
                erp.schedule_lines_by_schedule_ids,
                RevenueScheduleLine,
            ),
            posting=one(System.ERP, "arPostings", erp.postings_by_invoice_ids, ArPosting),
            posting_by_id=one(System.ERP, "arPostingsById", erp.postings_by_ids, ArPosting),
            erp_postings_by_customer=many(
                System.ERP, "arPostingsByCustomer", erp.postings_by_customer_ids, ArPosting
            ),
        )
