"""Which records the seed plants drift on: deterministic, disjoint where it matters.

Each kind gets ``max(1, customers // per)`` victims (fewer only when a tiny
seed has no candidate). Customer-level victims are disjoint: a customer
without an ERP record is never also renamed or duplicated, and nothing else
is planted on it (its missing schedules and postings are listed with it).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from simulators.seed.billing import InvoiceFact
from simulators.seed.contracts import ContractPlan
from simulators.seed.crm import AccountPlan

T = TypeVar("T")

AMENDMENT_NOT_IN_ERP = "amendment_not_in_erp"
INVOICES_NOT_POSTED = "invoices_not_posted"
RENAMED_IN_CRM = "renamed_in_crm"
BILLING_CUSTOMER_WITHOUT_ERP = "billing_customer_without_erp"
VALUE_VARIANCE = "value_variance"
DUPLICATE_BILLING_CUSTOMER = "duplicate_billing_customer"
KINDS = (
    AMENDMENT_NOT_IN_ERP,
    INVOICES_NOT_POSTED,
    RENAMED_IN_CRM,
    BILLING_CUSTOMER_WITHOUT_ERP,
    VALUE_VARIANCE,
    DUPLICATE_BILLING_CUSTOMER,
)
_PER = {
    AMENDMENT_NOT_IN_ERP: 50,
    INVOICES_NOT_POSTED: 25,
    RENAMED_IN_CRM: 50,
    BILLING_CUSTOMER_WITHOUT_ERP: 100,
    VALUE_VARIANCE: 50,
    DUPLICATE_BILLING_CUSTOMER: 100,
}


def victim_count(kind: str, customers: int) -> int:
    return max(1, customers // _PER[kind]) if customers else 0


def pick(rng: random.Random, candidates: Sequence[T], count: int) -> list[T]:
    """``count`` candidates (or all there are), kept in generation order."""
    if count >= len(candidates):
        return list(candidates)
    chosen = set(rng.sample(range(len(candidates)), count))
    return [c for i, c in enumerate(candidates) if i in chosen]


@dataclass
class Victims:
    without_erp: list[AccountPlan] = field(default_factory=list)
    duplicated: list[AccountPlan] = field(default_factory=list)
    renamed: list[AccountPlan] = field(default_factory=list)
    stale_amendments: list[ContractPlan] = field(default_factory=list)
    variances: list[ContractPlan] = field(default_factory=list)
    unposted: list[InvoiceFact] = field(default_factory=list)

    @property
    def without_erp_ids(self) -> set[str]:
        return {a.id for a in self.without_erp}


def pick_customers(
    rng: random.Random, accounts: list[AccountPlan], plans: list[ContractPlan], victims: Victims
) -> None:
    """Customer-level victims. Without-ERP ones are leaves (no ERP child needs them as
    parent), preferably with a subscription so their missing dependents show."""
    n = len(accounts)
    billed = {p.account.id for p in plans if p.billed}
    leaves = [a for a in accounts if not a.children]
    preferred = [a for a in leaves if a.id in billed]
    others = [a for a in leaves if a.id not in billed]
    count = victim_count(BILLING_CUSTOMER_WITHOUT_ERP, n)
    victims.without_erp = pick(rng, preferred, count)
    victims.without_erp += pick(rng, others, count - len(victims.without_erp))
    taken = {a.id for a in victims.without_erp}
    rest = [a for a in accounts if a.id not in taken]
    victims.duplicated = pick(rng, rest, victim_count(DUPLICATE_BILLING_CUSTOMER, n))
    taken |= {a.id for a in victims.duplicated}
    rest = [a for a in accounts if a.id not in taken]
    victims.renamed = pick(rng, rest, victim_count(RENAMED_IN_CRM, n))


def pick_contracts(
    rng: random.Random, customers: int, plans: list[ContractPlan], victims: Victims
) -> None:
    """Amendments that never reached the ERP, and schedules whose total drifted."""
    excluded = victims.without_erp_ids
    amended = [
        p
        for p in plans
        if p.status == "Activated" and p.versions > 1 and p.account.id not in excluded
    ]
    # Keep at least one healthy amendment next to the stale ones.
    count = min(victim_count(AMENDMENT_NOT_IN_ERP, customers), max(0, len(amended) - 1))
    victims.stale_amendments = pick(rng, amended, count)
    stale = {p.id for p in victims.stale_amendments}
    billed = [p for p in plans if p.billed and p.account.id not in excluded and p.id not in stale]
    victims.variances = pick(rng, billed, victim_count(VALUE_VARIANCE, customers))


def pick_invoices(
    rng: random.Random, customers: int, facts: list[InvoiceFact], victims: Victims
) -> None:
    excluded = victims.without_erp_ids
    finalized = [f for f in facts if f.finalized and f.account.id not in excluded]
    victims.unposted = pick(rng, finalized, victim_count(INVOICES_NOT_POSTED, customers))
