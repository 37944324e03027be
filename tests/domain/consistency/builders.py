"""Domain records for rule tests: one consistent customer, varied with ``dataclasses.replace``.

The baseline world (everything agrees): CRM account ``001A`` (USD, no parent)
with billing customer ``cus_1`` and ERP customer ``501``; contract ``800C``
Activated on 2026-01-01, 12 months monthly, 2 x 100.00 USD = 2400.00 USD, at
version 1; subscription ``sub_1`` (active, version 1, 2 x 100.00 USD / month);
revenue schedule ``101`` (version 1, 2400.00 USD, 12 lines of 200.00, the first
three recognized); invoice ``in_1`` (paid, 200.00 USD, finalized 2026-01-01
13:00) posted as ``9001`` for 200.00 USD.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from domain.consistency.policy import Policy, load_policy, parse_policy
from domain.consistency.types import (
    Check,
    ContractBundle,
    CustomerBundle,
    InvoiceBundle,
    Observed,
    ScheduleBundle,
    Unreadable,
)
from domain.money import Money
from domain.records import (
    ArPosting,
    BillingCustomer,
    Contract,
    ContractStatus,
    Customer,
    ErpCustomer,
    Invoice,
    InvoiceStatus,
    RevenueSchedule,
    RevenueScheduleLine,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
)
from sources.systems import System

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ACCOUNT = "001A"
CONTRACT = "800C"
INVOICE = "in_1"
DEFAULT = load_policy(None)


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def down(system: System) -> Unreadable:
    return Unreadable(system, "timeout")


def account(**changes: Any) -> Customer:
    return replace(Customer(id=ACCOUNT, name="Acme Corp", currency="USD"), **changes)


def billing_customer(**changes: Any) -> BillingCustomer:
    base = BillingCustomer(
        id="cus_1",
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        name="Acme Corp",
        currency="USD",
        crm_account_id=ACCOUNT,
    )
    return replace(base, **changes)


def erp_customer(**changes: Any) -> ErpCustomer:
    base = ErpCustomer(id="501", external_id=ACCOUNT, name="Acme Corp", currency="USD")
    return replace(base, **changes)


def contract(**changes: Any) -> Contract:
    base = Contract(
        id=CONTRACT,
        number="C-1001",
        account_id=ACCOUNT,
        status=ContractStatus.ACTIVATED,
        currency="USD",
        total_value=usd("2400.00"),
        version=1,
        start_date=date(2026, 1, 1),
        end_date=date(2026, 12, 31),
        term_months=12,
        billing_frequency="Monthly",
        activated_at=datetime(2026, 1, 1, 12, tzinfo=UTC),
    )
    return replace(base, **changes)


def item(
    unit: str = "100.00", quantity: int = 2, interval: str = "month", currency: str = "USD"
) -> SubscriptionItem:
    return SubscriptionItem(
        id=f"si_{unit}_{interval}",
        product="prod_1",
        quantity=quantity,
        unit_price=Money.of(unit, currency),
        interval=interval,
        interval_count=1,
    )


def subscription(**changes: Any) -> Subscription:
    items = changes.pop("items", (item(),))
    currency = changes.get("currency", "USD")
    base = Subscription(
        id="sub_1",
        customer_id="cus_1",
        status=SubscriptionStatus.ACTIVE,
        currency=currency,
        created_at=datetime(2026, 1, 1, 12, tzinfo=UTC),
        recurring_amount=sum((i.unit_price * i.quantity for i in items), Money.zero(currency)),
        items=tuple(items),
        contract_id=CONTRACT,
        contract_version=1,
    )
    return replace(base, **changes)


def lines(
    amounts: Sequence[str], recognized: int = 3, schedule_id: str = "101", start: int = 1
) -> tuple[RevenueScheduleLine, ...]:
    """One line per amount, monthly from 2026-``start``, the first ``recognized`` recognized."""
    return tuple(
        RevenueScheduleLine(
            id=f"{schedule_id}-{n}",
            schedule_id=schedule_id,
            period=f"{2026 + (start + n - 1) // 12}-{(start + n - 1) % 12 + 1:02d}",
            amount=Decimal(amount),
            recognized=n < recognized,
        )
        for n, amount in enumerate(amounts)
    )


def schedule(
    total: str = "2400.00",
    recognized: str = "600.00",
    *,
    version: int = 1,
    currency: str | None = "USD",
    schedule_id: str = "101",
    **changes: Any,
) -> RevenueSchedule:
    money = (lambda a: Money.of(a, currency)) if currency else (lambda a: None)
    base = RevenueSchedule(
        id=schedule_id,
        contract_id=CONTRACT,
        contract_version=version,
        currency=currency,
        total=money(total),
        recognized=money(recognized),
        deferred=money(str(Decimal(total) - Decimal(recognized))),
        external_id=f"{CONTRACT}:v{version}",
        customer_id="501",
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
    )
    return replace(base, **changes)


def schedule_bundle(
    sched: RevenueSchedule | None = None,
    schedule_lines: Observed[Sequence[RevenueScheduleLine]] | None = None,
) -> ScheduleBundle:
    sched = sched or schedule()
    if schedule_lines is None:
        schedule_lines = lines(["200.00"] * 12, schedule_id=sched.id)
    return ScheduleBundle(sched, schedule_lines)


def contract_bundle(
    the_contract: Contract | None = None,
    subscriptions: Observed[Sequence[Subscription]] | None = None,
    schedules: Observed[Sequence[ScheduleBundle]] | None = None,
) -> ContractBundle:
    return ContractBundle(
        contract=the_contract or contract(),
        lines=(),
        subscriptions=(subscription(),) if subscriptions is None else subscriptions,
        schedules=(schedule_bundle(),) if schedules is None else schedules,
    )


def invoice(**changes: Any) -> Invoice:
    total = changes.pop("total", usd("200.00"))
    base = Invoice(
        id=INVOICE,
        customer_id="cus_1",
        status=InvoiceStatus.PAID,
        currency=total.currency,
        subtotal=total,
        total=total,
        amount_due=total,
        amount_paid=total,
        amount_remaining=Money.zero(total.currency),
        created_at=datetime(2026, 1, 1, 12, tzinfo=UTC),
        number="RG-000001",
        subscription_id="sub_1",
        finalized_at=datetime(2026, 1, 1, 13, tzinfo=UTC),
    )
    return replace(base, **changes)


def posting(**changes: Any) -> ArPosting:
    total = changes.pop("total", usd("200.00"))
    base = ArPosting(
        id="9001",
        external_id=INVOICE,
        customer_id="501",
        currency=total.currency if total else None,
        total=total,
        posted_on=date(2026, 1, 1),
    )
    return replace(base, **changes)


def invoice_bundle(
    the_invoice: Invoice | None = None, postings: Observed[Sequence[ArPosting]] | None = None
) -> InvoiceBundle:
    return InvoiceBundle(the_invoice or invoice(), (posting(),) if postings is None else postings)


def bundle(**changes: Any) -> CustomerBundle:
    """The consistent baseline customer, with any field replaced."""
    base = CustomerBundle(
        account=account(),
        read_at=NOW,
        billing_customers=(billing_customer(),),
        erp_customers=(erp_customer(),),
        erp_parent_account_id=None,
        contracts=(contract_bundle(),),
        invoices=(invoice_bundle(),),
    )
    return replace(base, **changes)


def policy(text: str) -> Policy:
    """The default policy with ``text`` (TOML rule tables) replacing its tables of those rules."""
    tables = {
        "customer.links": 'queue = "SALES_OPS"',
        "customer.attributes": 'queue = "SALES_OPS"',
        "contract.activation": 'queue = "FINANCE_OPS"\nactivation_slo = "24h"',
        "contract.version": 'queue = "FINANCE_OPS"',
        "contract.value": 'queue = "FINANCE_OPS"',
        "invoice.posting": 'queue = "FINANCE_OPS"\nposting_window = "72h"',
        "revenue.rollforward": 'queue = "FINANCE_OPS"',
    }
    overrides: dict[str, str] = {}
    current: str | None = None
    for line in text.strip().splitlines():
        if line.startswith("[rules."):
            current = line.strip()[len('[rules."') : -len('"]')]
            overrides[current] = ""
        elif current is not None:
            overrides[current] += line + "\n"
    tables.update(overrides)
    return parse_policy(
        "\n".join(f'[rules."{name}"]\n{body}\n' for name, body in tables.items()), "test.toml"
    )


def only(checks: Sequence[Check]) -> Check:
    """The single check of a one-subject rule run."""
    assert len(checks) == 1, checks
    return checks[0]
