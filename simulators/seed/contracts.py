"""Contracts side of the seed: contracts in every status, lines, amendments, renewals.

Planning happens in two passes. :func:`plan_contracts` draws a *skeleton* per
contract (status, term, billing frequency, how far its start lies before the
reference day, how many versions), :func:`ensure_coverage` then guarantees
the shapes small seeds still need (every status, enough activated and amended
contracts for the planted drift), and :func:`materialize` draws dates and
lines. Money is Decimal throughout; documents carry 2-decimal JSON numbers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from simulators.seed.calendar import TODAY, add_months, days, sf_datetime
from simulators.seed.crm import AccountPlan
from simulators.seed.ids import IdFactory

CENT = Decimal("0.01")
STATUSES = ("Draft", "InApproval", "Activated", "Terminated", "Expired")
_STATUS_WEIGHTS = (12, 10, 48, 14, 16)
BILLED_STATUSES = ("Activated", "Terminated")
"""Contracts that have a subscription and a revenue schedule."""
_TERMS = (12, 24, 36)
_TERM_WEIGHTS = (45, 35, 20)
_CONTRACTS_PER_CUSTOMER = (0, 1, 2, 3)
_CONTRACTS_WEIGHTS = (10, 40, 30, 20)
AMENDED_SHARE = 0.22


@dataclass(frozen=True)
class Product:
    """A catalog product: monthly list price per unit and a quantity range."""

    key: str
    name: str
    monthly_price: Decimal
    min_qty: int
    max_qty: int

    def unit_price(self, frequency: str) -> Decimal:
        if frequency == "Monthly":
            return self.monthly_price
        # Annual billing: twelve months at a 10% prepayment discount.
        return (self.monthly_price * 12 * Decimal("0.9")).quantize(CENT, ROUND_HALF_UP)


CATALOG: tuple[Product, ...] = (
    Product("platform", "Platform Subscription", Decimal("1200.00"), 1, 2),
    Product("analytics", "Analytics Add-on", Decimal("350.00"), 1, 3),
    Product("seats", "Seat License", Decimal("49.00"), 5, 200),
    Product("api", "API Calls (10k)", Decimal("12.50"), 1, 50),
    Product("support", "Premium Support", Decimal("499.00"), 1, 1),
    Product("connector", "Data Connector", Decimal("89.99"), 1, 6),
    Product("storage", "Storage (100 GB)", Decimal("19.95"), 1, 20),
    Product("sandbox", "Sandbox Environment", Decimal("250.00"), 1, 2),
)


@dataclass(frozen=True)
class LinePlan:
    id: str
    product: Product
    product_id: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class VersionPlan:
    record_id: str
    number: int
    effective: date
    reason: str
    lines: tuple[LinePlan, ...]
    total: Decimal


@dataclass(eq=False)
class ContractPlan:
    """One contract: drawn as a skeleton, then materialized."""

    account: AccountPlan
    status: str
    term: int
    frequency: str
    offset: int
    """Months from the start to the reference month (negative: starts later)."""
    versions: int = 1
    renewal_of: ContractPlan | None = None
    renewed: bool = False
    id: str = ""
    number: str = ""
    start: date = TODAY
    terminated: date | None = None
    created: date = TODAY
    hour: int = 12
    history: list[VersionPlan] = field(default_factory=list)

    @property
    def end(self) -> date:
        return add_months(self.start, self.term) - days(1)

    @property
    def periods(self) -> int:
        """Billing periods in the term."""
        return self.term if self.frequency == "Monthly" else self.term // 12

    @property
    def current(self) -> VersionPlan:
        return self.history[-1]

    @property
    def billed(self) -> bool:
        return self.status in BILLED_STATUSES

    @property
    def activated(self) -> bool:
        return self.status in ("Activated", "Terminated", "Expired")

    def version_at(self, day: date) -> VersionPlan:
        """The version in force on ``day``."""
        found = self.history[0]
        for version in self.history:
            if version.effective <= day:
                found = version
        return found

    def total_of(self, lines: tuple[LinePlan, ...]) -> Decimal:
        return sum((line.unit_price * line.quantity for line in lines), Decimal(0)) * self.periods


def _skeleton(rng: random.Random, account: AccountPlan, status: str) -> ContractPlan:
    term = rng.choices(_TERMS, _TERM_WEIGHTS)[0]
    if status == "Activated":
        offset = rng.randrange(1, min(term - 1, 30) + 1)
    elif status == "Terminated":
        offset = rng.randrange(2, min(term, 30) + 1)
    elif status == "Expired":
        offset = term + rng.randrange(1, 13)
    else:
        offset = -rng.randrange(1, 4)
    frequency = "Monthly" if rng.random() < 0.65 else "Annual"
    plan = ContractPlan(account, status, term, frequency, offset)
    if status == "Activated" and rng.random() < AMENDED_SHARE:
        amend(rng, plan)
    return plan


def amend(rng: random.Random, plan: ContractPlan) -> None:
    """Give an activated skeleton 2 or 3 versions (and room for them before today)."""
    plan.versions = 2 if rng.random() < 0.7 else 3
    plan.offset = max(plan.offset, plan.versions - 1)


def plan_contracts(rng: random.Random, accounts: list[AccountPlan]) -> list[ContractPlan]:
    """0-3 contract skeletons per account; some activated ones renew an expired one."""
    plans: list[ContractPlan] = []
    for account in accounts:
        count = rng.choices(_CONTRACTS_PER_CUSTOMER, _CONTRACTS_WEIGHTS)[0]
        own: list[ContractPlan] = []
        for _ in range(count):
            status = rng.choices(STATUSES, _STATUS_WEIGHTS)[0]
            expired = [p for p in own if p.status == "Expired" and not p.renewed]
            if status == "Activated" and expired and rng.random() < 0.5:
                plan = renewal(rng, expired[0])
            else:
                plan = _skeleton(rng, account, status)
            own.append(plan)
        plans.extend(own)
    return plans


def renewal(rng: random.Random, expired: ContractPlan) -> ContractPlan:
    """A 12-month activated contract starting the day after ``expired`` ended."""
    gap = rng.randrange(1, 12)
    expired.offset = expired.term + gap
    expired.renewed = True
    return ContractPlan(
        expired.account, "Activated", 12, expired.frequency, gap, renewal_of=expired
    )


def ensure_coverage(
    rng: random.Random,
    plans: list[ContractPlan],
    accounts: list[AccountPlan],
    *,
    min_billed: int,
) -> None:
    """Every status at least once and at least ``min_billed`` activated contracts.

    Small seeds would otherwise miss shapes the drift and the tests rely on;
    added contracts go to the accounts with the fewest contracts.
    """
    if not accounts:
        return
    load = {a.id: 0 for a in accounts}
    for plan in plans:
        load[plan.account.id] += 1

    def add(status: str) -> ContractPlan:
        account = min(accounts, key=lambda a: (load[a.id], a.index))
        load[account.id] += 1
        plan = _skeleton(rng, account, status)
        plans.append(plan)
        return plan

    for status in STATUSES:
        if not any(p.status == status for p in plans):
            add(status)
    while sum(p.status == "Activated" for p in plans) < min_billed:
        add("Activated")


def ensure_amended(
    rng: random.Random, plans: list[ContractPlan], needed: int, *, excluded: set[str]
) -> None:
    """At least ``needed`` amended activated contracts outside ``excluded`` accounts."""
    eligible = [p for p in plans if p.status == "Activated" and p.account.id not in excluded]
    have = sum(p.versions > 1 for p in eligible)
    for plan in eligible:
        if have >= needed:
            return
        if plan.versions == 1:
            amend(rng, plan)
            have += 1


def materialize(
    rng: random.Random, ids: IdFactory, plans: list[ContractPlan], product_ids: dict[str, str]
) -> None:
    """Draw ids, dates, lines and versions for every skeleton, in order."""
    # Renewals need the expired contract's id, so ids go first.
    for n, plan in enumerate(plans):
        plan.id = ids.salesforce("800")
        plan.number = f"C-{1001 + n}"
    for plan in plans:
        plan.start = add_months(TODAY, -plan.offset)
        plan.created = plan.start - days(rng.randrange(10, 41))
        plan.hour = rng.randrange(8, 19)
        if plan.status == "Terminated":
            plan.terminated = add_months(plan.start, rng.randrange(1, plan.offset)) + days(
                rng.randrange(0, 28)
            )
        lines = _initial_lines(rng, ids, plan, product_ids)
        plan.history = [
            VersionPlan(
                ids.salesforce("a0V"), 1, plan.start, "Initial", lines, plan.total_of(lines)
            )
        ]
        if plan.versions > 1:
            offsets = sorted(rng.sample(range(1, plan.offset + 1), plan.versions - 1))
            for number, months in enumerate(offsets, start=2):
                reason, lines = _amended_lines(rng, ids, plan, product_ids)
                plan.history.append(
                    VersionPlan(
                        ids.salesforce("a0V"),
                        number,
                        add_months(plan.start, months),
                        reason,
                        lines,
                        plan.total_of(lines),
                    )
                )


def _line(
    ids: IdFactory, product: Product, product_ids: dict[str, str], qty: int, price: Decimal
) -> LinePlan:
    return LinePlan(ids.salesforce("811"), product, product_ids[product.key], qty, price)


def _initial_lines(
    rng: random.Random, ids: IdFactory, plan: ContractPlan, product_ids: dict[str, str]
) -> tuple[LinePlan, ...]:
    products = rng.sample(CATALOG, rng.randrange(1, 5))
    return tuple(
        _line(
            ids,
            product,
            product_ids,
            rng.randrange(product.min_qty, product.max_qty + 1),
            product.unit_price(plan.frequency),
        )
        for product in products
    )


def _amended_lines(
    rng: random.Random, ids: IdFactory, plan: ContractPlan, product_ids: dict[str, str]
) -> tuple[str, tuple[LinePlan, ...]]:
    """The next version's lines: an upsell, a downsell or a price change.

    Every line is re-issued (each version owns its lines); the total always moves.
    """
    previous = plan.history[-1].lines
    reason = rng.choice(("Upsell", "Upsell", "Downsell", "Price change"))
    qtys = [line.quantity for line in previous]
    prices = [line.unit_price for line in previous]
    products = [line.product for line in previous]
    target = rng.randrange(len(previous))
    if reason == "Downsell" and qtys[target] > 1:
        qtys[target] = max(1, qtys[target] - max(1, qtys[target] // 4))
    elif reason == "Price change":
        factor = Decimal(rng.choice(("0.92", "0.95", "1.05", "1.08", "1.10")))
        prices[target] = (prices[target] * factor).quantize(CENT, ROUND_HALF_UP)
    else:
        reason = "Upsell"
        unused = [p for p in CATALOG if p not in products]
        if unused and rng.random() < 0.4:
            product = rng.choice(unused)
            products.append(product)
            qtys.append(product.min_qty)
            prices.append(product.unit_price(plan.frequency))
        else:
            qtys[target] += max(1, qtys[target] // 3)
    lines = tuple(
        _line(ids, product, product_ids, qty, price)
        for product, qty, price in zip(products, qtys, prices, strict=True)
    )
    return reason, lines


def money(value: Decimal) -> float:
    """A vendor JSON number: 2 decimals, as Salesforce and NetSuite send them.

    The seed's amounts are whole cents already (prices have 2 decimals and
    splits are quantized), so rounding the float only normalises it.
    """
    return round(float(value), 2)


def contract_docs(plan: ContractPlan) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """The ``Contract``, its ``ContractLineItem`` rows (all versions) and its versions."""
    modified = max(
        [plan.created, plan.start if plan.activated else plan.created]
        + [v.effective for v in plan.history]
        + ([plan.terminated] if plan.terminated else [])
    )
    contract = {
        "Id": plan.id,
        "ContractNumber": plan.number,
        "AccountId": plan.account.id,
        "Status": plan.status,
        "StartDate": plan.start.isoformat(),
        "EndDate": plan.end.isoformat(),
        "ContractTerm": plan.term,
        "CurrencyIsoCode": plan.account.currency,
        "Version__c": plan.current.number,
        "BillingFrequency__c": plan.frequency,
        "TotalValue__c": money(plan.current.total),
        "ActivatedDate": sf_datetime(plan.start, plan.hour) if plan.activated else None,
        "TerminatedDate__c": plan.terminated.isoformat() if plan.terminated else None,
        "RenewalOf__c": plan.renewal_of.id if plan.renewal_of else None,
        "CreatedDate": sf_datetime(plan.created, plan.hour),
        "LastModifiedDate": sf_datetime(modified, plan.hour),
    }
    lines = [
        (
            line.id,
            {
                "Id": line.id,
                "ContractId": plan.id,
                "Product2Id": line.product_id,
                "ProductName__c": line.product.name,
                "Quantity": line.quantity,
                "UnitPrice": money(line.unit_price),
                "BillingFrequency__c": plan.frequency,
                "Version__c": version.number,
            },
        )
        for version in plan.history
        for line in version.lines
    ]
    versions = [
        (
            version.record_id,
            {
                "Id": version.record_id,
                "Contract__c": plan.id,
                "Version__c": version.number,
                "EffectiveDate__c": version.effective.isoformat(),
                "Reason__c": version.reason,
                "TotalValue__c": money(version.total),
                "CreatedDate": sf_datetime(
                    plan.created if version.number == 1 else version.effective, plan.hour
                ),
            },
        )
        for version in plan.history
    ]
    return {
        "Contract": [(plan.id, contract)],
        "ContractLineItem": lines,
        "ContractVersion__c": versions,
    }
