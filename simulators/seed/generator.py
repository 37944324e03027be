"""Deterministic seed data for the four simulators, with planted drift.

``generate(customers, seed)`` is pure: no I/O, no clock (the reference day is
:data:`simulators.seed.calendar.TODAY`, 2026-11-01), randomness only from
``random.Random(seed)``. The same arguments give identical records; the
records follow ``simulators/SHAPES.md`` exactly.

What is generated
-----------------
* CRM: ``customers`` accounts, ~20% subsidiaries (``ParentId``; some of them
  grandchildren) sharing their parent's currency and segment.
* Contracts: 0-3 per account in every status; activated ones partly amended
  (versions 2-3, with ``ContractVersion__c`` history and lines per version)
  and partly renewals of expired ones (``RenewalOf__c``).
* Billing: a Stripe customer per account; a subscription per activated or
  terminated contract at its current version; one invoice per elapsed billing
  period (older ones paid, a few void or uncollectible, the latest open or
  draft).
* ERP: a customer per account (``externalId`` = CRM id, parent = the ERP id of
  the CRM parent); a revenue schedule per activated or terminated contract at
  its current version (``{contractId}:v{version}``, monthly lines summing
  exactly to the total, periods before 2026-11 recognized); an AR ``invoice``
  posting per finalized (open / paid / uncollectible) Stripe invoice.

Everything is consistent across the systems except the planted drift.

The manifest
------------
``SeedData.manifest`` is JSON-serializable; money is a decimal string in major
units::

    {
      "seed": 42, "customers": 200, "reference_date": "2026-11-01",
      "counts": {"CRM": {"Account": 200}, "BILLING": {"customer": 203, ...}, ...},
      "drift": {
        "amendment_not_in_erp": [        # billing has the amendment, the ERP schedule is v-1
          {"contract_id", "contract_number", "crm_account_id", "currency",
           "contract_version", "erp_version", "erp_schedule_external_id",
           "contract_total", "erp_total"}],
        "invoices_not_posted": [         # finalized invoice without an ERP AR posting
          {"invoice_id", "invoice_number", "status", "billing_customer_id",
           "crm_account_id", "currency", "total"}],
        "renamed_in_crm": [              # billing and ERP keep the old name
          {"crm_id", "crm_name", "old_name", "billing_customer_id", "erp_customer_id"}],
        "billing_customer_without_erp": [   # no ERP customer, hence none of its
          {"crm_id", "billing_customer_id",  # schedules and postings either
           "missing_erp_schedules": ["{contractId}:v{n}", ...],
           "missing_erp_postings": ["in_...", ...]}],
        "value_variance": [              # ERP schedule (right version) with another total
          {"contract_id", "contract_number", "crm_account_id", "currency",
           "contract_version", "erp_schedule_external_id", "contract_total", "erp_total"}],
        "duplicate_billing_customer": [  # two billing customers claim one CRM id
          {"crm_id", "billing_customer_ids": ["cus_original", "cus_duplicate"]}]
      }
    }

Every kind has ``max(1, customers // k)`` items (k = 25 for unposted invoices,
100 for missing ERP customers and duplicates, 50 otherwise) whenever the seed
has at least a handful of customers (5 or more always gives every kind).
"""

from __future__ import annotations

import gc
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from simulators.seed.billing import BillingBuilder, InvoiceFact
from simulators.seed.calendar import TODAY, add_months
from simulators.seed.contracts import (
    CATALOG,
    CENT,
    ContractPlan,
    contract_docs,
    ensure_amended,
    ensure_coverage,
    materialize,
    plan_contracts,
)
from simulators.seed.crm import AccountPlan, NameBook, account_doc, plan_accounts
from simulators.seed.drift import (
    AMENDMENT_NOT_IN_ERP,
    BILLING_CUSTOMER_WITHOUT_ERP,
    DUPLICATE_BILLING_CUSTOMER,
    INVOICES_NOT_POSTED,
    RENAMED_IN_CRM,
    VALUE_VARIANCE,
    Victims,
    pick_contracts,
    pick_customers,
    pick_invoices,
    victim_count,
)
from simulators.seed.erp import ErpBuilder, schedule_external_id
from simulators.seed.ids import IdFactory

Document = dict[str, Any]
Records = dict[str, dict[str, list[tuple[str, Document]]]]

__all__ = ["SeedData", "generate"]


@dataclass
class SeedData:
    """``records[system][kind]`` → ``(id, document)`` pairs, and the drift manifest."""

    records: Records
    manifest: dict[str, Any]


def generate(customers: int, seed: int) -> SeedData:
    """Seed records for all four systems and the manifest of the drift planted in them."""
    if customers < 0:
        raise ValueError("customers must be >= 0")
    # Every document stays alive until the result is returned, so the cyclic
    # collector would only rescan a growing heap (half the run time at 10k).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _generate(customers, seed)
    finally:
        if collecting:
            gc.enable()


def _generate(customers: int, seed: int) -> SeedData:
    root = random.Random(seed)
    # One stream per concern, so changing how one is drawn leaves the others alone.
    streams = [random.Random(root.getrandbits(64)) for _ in range(6)]
    rng_crm, rng_contracts, rng_billing, rng_drift, rng_amounts, rng_names = streams
    ids = IdFactory(seed)
    names = NameBook(rng_names)

    accounts = plan_accounts(rng_crm, ids, names, customers)
    plans = plan_contracts(rng_contracts, accounts)
    ensure_coverage(rng_contracts, plans, accounts, min_billed=min(5, 2 * len(accounts)))
    victims = Victims()
    pick_customers(rng_drift, accounts, plans, victims)
    ensure_amended(
        rng_contracts,
        plans,
        victim_count(AMENDMENT_NOT_IN_ERP, customers) + 1,
        excluded=victims.without_erp_ids,
    )
    sf_products = {p.key: ids.salesforce("01t") for p in CATALOG}
    materialize(rng_contracts, ids, plans, sf_products)
    pick_contracts(rng_drift, customers, plans, victims)
    for account in victims.renamed:
        account.renamed_to = names.company()

    records: Records = {
        "CRM": {"Account": []},
        "CONTRACTS": {"Contract": [], "ContractLineItem": [], "ContractVersion__c": []},
        "BILLING": {"customer": [], "subscription": [], "invoice": []},
        "ERP": {
            "customer": [],
            "customrecord_rg_revsched": [],
            "customrecord_rg_revsched_line": [],
            "invoice": [],
        },
    }
    crm, contracts, billing, erp = (records[s] for s in ("CRM", "CONTRACTS", "BILLING", "ERP"))

    for account in accounts:
        modified = add_months(TODAY, -1) if account.renamed_to else account.created
        crm["Account"].append((account.id, account_doc(account, modified)))
    for plan in plans:
        for kind, docs in contract_docs(plan).items():
            contracts[kind].extend(docs)

    # Billing: one customer per account (two for the duplicated ones).
    billing_builder = BillingBuilder(rng_billing, ids, CATALOG)
    billing_ids: dict[str, list[str]] = {}
    for account in accounts:
        cus_id, doc = billing_builder.customer(account, name=account.name, created=account.created)
        billing["customer"].append((cus_id, doc))
        billing_ids[account.id] = [cus_id]
    for account in victims.duplicated:
        # A second signup that never went through the crosswalk: same CRM id, later date.
        cus_id, doc = billing_builder.customer(
            account, name=account.name, created=max(account.created, add_months(TODAY, -3))
        )
        billing["customer"].append((cus_id, doc))
        billing_ids[account.id].append(cus_id)
    facts: list[InvoiceFact] = []
    billed = [p for p in plans if p.billed]
    for plan in billed:
        sub, invoices, sub_facts = billing_builder.subscription(
            plan, billing_ids[plan.account.id][0]
        )
        billing["subscription"].append(sub)
        billing["invoice"].extend(invoices)
        facts.extend(sub_facts)
    pick_invoices(rng_drift, customers, facts, victims)

    # ERP: everything except what the drift leaves out or bends.
    erp_builder = ErpBuilder(ids)
    missing = victims.without_erp_ids
    erp_ids: dict[str, str] = {}
    for account in accounts:
        if account.id in missing:
            continue
        parent_erp = erp_ids[account.parent.id] if account.parent else None
        erp_id, doc = erp_builder.customer(account, name=account.name, parent_id=parent_erp)
        erp["customer"].append((erp_id, doc))
        erp_ids[account.id] = erp_id
    stale = {p.id for p in victims.stale_amendments}
    variance_totals = {p.id: _variance(rng_amounts, p.current.total) for p in victims.variances}
    for plan in billed:
        if plan.account.id in missing:
            continue
        version = plan.history[-2] if plan.id in stale else plan.current
        total = variance_totals.get(plan.id, version.total)
        schedule, lines = erp_builder.schedule(plan, version, total, erp_ids[plan.account.id])
        erp["customrecord_rg_revsched"].append(schedule)
        erp["customrecord_rg_revsched_line"].extend(lines)
    unposted = {f.id for f in victims.unposted}
    for fact in facts:
        if fact.finalized and fact.account.id not in missing and fact.id not in unposted:
            erp["invoice"].append(erp_builder.posting(fact, erp_ids[fact.account.id]))

    manifest = _manifest(
        seed, customers, records, victims, billing_ids, erp_ids, billed, facts, variance_totals
    )
    return SeedData(records=records, manifest=manifest)


def _variance(rng: random.Random, total: Decimal) -> Decimal:
    """A different total: a few percent off, either way (never equal, never <= 0)."""
    percent = Decimal(rng.choice(("0.5", "1", "2.5", "5", "10")))
    sign = 1 if rng.random() < 0.5 else -1
    delta = max((total * percent / 100).quantize(CENT), Decimal("1.00"))
    return total + sign * delta if total > delta else total + delta


def _decimal(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _manifest(
    seed: int,
    customers: int,
    records: Records,
    victims: Victims,
    billing_ids: dict[str, list[str]],
    erp_ids: dict[str, str],
    billed: list[ContractPlan],
    facts: list[InvoiceFact],
    variance_totals: dict[str, Decimal],
) -> dict[str, Any]:
    def contract_item(plan: ContractPlan) -> dict[str, Any]:
        return {
            "contract_id": plan.id,
            "contract_number": plan.number,
            "crm_account_id": plan.account.id,
            "currency": plan.account.currency,
            "contract_version": plan.current.number,
            "contract_total": _decimal(plan.current.total),
        }

    def renamed(account: AccountPlan) -> dict[str, Any]:
        return {
            "crm_id": account.id,
            "crm_name": account.crm_name,
            "old_name": account.name,
            "billing_customer_id": billing_ids[account.id][0],
            "erp_customer_id": erp_ids[account.id],
        }

    missing = victims.without_erp_ids
    schedules: dict[str, list[str]] = {a: [] for a in missing}
    postings: dict[str, list[str]] = {a: [] for a in missing}
    for plan in billed:
        if plan.account.id in missing:
            schedules[plan.account.id].append(schedule_external_id(plan.id, plan.current.number))
    for fact in facts:
        if fact.account.id in missing and fact.finalized:
            postings[fact.account.id].append(fact.id)

    def without_erp(account: AccountPlan) -> dict[str, Any]:
        return {
            "crm_id": account.id,
            "billing_customer_id": billing_ids[account.id][0],
            "missing_erp_schedules": schedules[account.id],
            "missing_erp_postings": postings[account.id],
        }

    drift = {
        AMENDMENT_NOT_IN_ERP: [
            {
                **contract_item(p),
                "erp_version": p.history[-2].number,
                "erp_schedule_external_id": schedule_external_id(p.id, p.history[-2].number),
                "erp_total": _decimal(p.history[-2].total),
            }
            for p in victims.stale_amendments
        ],
        INVOICES_NOT_POSTED: [
            {
                "invoice_id": f.id,
                "invoice_number": f.number,
                "status": f.status,
                "billing_customer_id": f.customer_id,
                "crm_account_id": f.account.id,
                "currency": f.currency,
                "total": _decimal(Decimal(f.total) / 100),
            }
            for f in victims.unposted
        ],
        RENAMED_IN_CRM: [renamed(a) for a in victims.renamed],
        BILLING_CUSTOMER_WITHOUT_ERP: [without_erp(a) for a in victims.without_erp],
        VALUE_VARIANCE: [
            {
                **contract_item(p),
                "erp_schedule_external_id": schedule_external_id(p.id, p.current.number),
                "erp_total": _decimal(variance_totals[p.id]),
            }
            for p in victims.variances
        ],
        DUPLICATE_BILLING_CUSTOMER: [
            {"crm_id": a.id, "billing_customer_ids": list(billing_ids[a.id])}
            for a in victims.duplicated
        ],
    }
    return {
        "seed": seed,
        "customers": customers,
        "reference_date": TODAY.isoformat(),
        "counts": {
            system: {kind: len(docs) for kind, docs in kinds.items()}
            for system, kinds in records.items()
        },
        "drift": drift,
    }
