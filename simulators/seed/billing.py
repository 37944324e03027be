"""Billing side of the seed: Stripe customers, subscriptions and invoices.

A subscription mirrors its contract's *current* version (items = current
lines, ``metadata.contract_version``); each invoice bills one elapsed period
with the lines of the version in force when the period started, so invoices
issued before an amendment carry the old amounts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Any

from simulators.seed.calendar import TODAY, add_months, days, unix
from simulators.seed.contracts import ContractPlan, LinePlan, Product
from simulators.seed.crm import AccountPlan
from simulators.seed.ids import IdFactory

Doc = dict[str, Any]
FINALIZED = ("open", "paid", "uncollectible")
"""Invoice statuses that get an AR posting in the ERP."""


@dataclass(frozen=True)
class InvoiceFact:
    """What the ERP side needs to know about one invoice."""

    id: str
    number: str | None
    status: str
    total: int
    remaining: int
    currency: str
    account: AccountPlan
    customer_id: str
    contract: ContractPlan
    issued: date
    due: date

    @property
    def finalized(self) -> bool:
        return self.status in FINALIZED


class BillingBuilder:
    """Builds Stripe documents; prices are shared catalog objects, as in Stripe."""

    def __init__(self, rng: random.Random, ids: IdFactory, products: tuple[Product, ...]) -> None:
        self._rng = rng
        self._ids = ids
        self._product_ids = {p.key: ids.stripe("prod") for p in products}
        self._prices: dict[tuple[str, int, str, str], str] = {}
        self._invoice_number = 0

    def customer(self, account: AccountPlan, *, name: str, created: date) -> tuple[str, Doc]:
        customer_id = self._ids.stripe("cus")
        return customer_id, {
            "id": customer_id,
            "object": "customer",
            "name": name,
            "email": account.email,
            "currency": account.currency.lower(),
            "created": unix(created, account.hour),
            "livemode": False,
            "metadata": {"crm_account_id": account.id},
        }

    def _price(self, line: LinePlan, currency: str, interval: str) -> Doc:
        unit_amount = int(line.unit_price * 100)
        key = (line.product.key, unit_amount, currency, interval)
        price_id = self._prices.get(key)
        if price_id is None:
            price_id = self._prices[key] = self._ids.stripe("price")
        return {
            "id": price_id,
            "object": "price",
            "unit_amount": unit_amount,
            "currency": currency,
            "product": self._product_ids[line.product.key],
            "recurring": {"interval": interval, "interval_count": 1},
        }

    def subscription(
        self, plan: ContractPlan, customer_id: str
    ) -> tuple[tuple[str, Doc], list[tuple[str, Doc]], list[InvoiceFact]]:
        """The subscription of a billed contract, its invoices, and their facts."""
        rng = self._rng
        sub_id = self._ids.stripe("sub")
        currency = plan.account.currency.lower()
        interval = "month" if plan.frequency == "Monthly" else "year"
        step = 1 if plan.frequency == "Monthly" else 12
        last_day = plan.terminated or TODAY
        periods: list[tuple[date, date]] = []
        while True:
            begin = add_months(plan.start, len(periods) * step)
            if begin > last_day or begin > plan.end:
                break
            periods.append((begin, add_months(plan.start, (len(periods) + 1) * step)))
        if plan.status == "Terminated":
            status = "canceled"
        else:
            roll = rng.random()
            status = "past_due" if roll < 0.04 else "paused" if roll < 0.07 else "active"
        draft_latest = status == "active" and rng.random() < 0.05
        items = [
            {
                "id": self._ids.stripe("si"),
                "object": "subscription_item",
                "quantity": line.quantity,
                "price": self._price(line, currency, interval),
            }
            for line in plan.current.lines
        ]
        period_start, period_end = periods[-1]
        ended = unix(plan.terminated, plan.hour) if plan.terminated else None
        subscription = {
            "id": sub_id,
            "object": "subscription",
            "customer": customer_id,
            "status": status,
            "currency": currency,
            "start_date": unix(plan.start, plan.hour),
            "current_period_start": unix(period_start),
            "current_period_end": unix(period_end),
            "cancel_at": ended,
            "canceled_at": ended,
            "created": unix(plan.start, plan.hour),
            "items": {
                "object": "list",
                "data": items,
                "has_more": False,
                "total_count": len(items),
                "url": f"/v1/subscription_items?subscription={sub_id}",
            },
            "metadata": {"contract_id": plan.id, "contract_version": str(plan.current.number)},
        }
        invoices: list[tuple[str, Doc]] = []
        facts: list[InvoiceFact] = []
        for i, (begin, end) in enumerate(periods):
            latest = i == len(periods) - 1
            if latest:
                inv_status = "paid" if status == "canceled" else "draft" if draft_latest else "open"
            elif status == "past_due" and i == len(periods) - 2:
                inv_status = "open"
            else:
                roll = rng.random()
                inv_status = "void" if roll < 0.02 else "uncollectible" if roll < 0.04 else "paid"
            doc, fact = self._invoice(plan, customer_id, sub_id, inv_status, begin, end, interval)
            invoices.append((fact.id, doc))
            facts.append(fact)
        return (sub_id, subscription), invoices, facts

    def _invoice(
        self,
        plan: ContractPlan,
        customer_id: str,
        sub_id: str,
        status: str,
        begin: date,
        end: date,
        interval: str,
    ) -> tuple[Doc, InvoiceFact]:
        invoice_id = self._ids.stripe("in")
        currency = plan.account.currency.lower()
        version = plan.version_at(begin)
        lines = []
        for line in version.lines:
            price = self._price(line, currency, interval)
            lines.append(
                {
                    "id": self._ids.stripe("il"),
                    "object": "line_item",
                    "amount": price["unit_amount"] * line.quantity,
                    "currency": currency,
                    "description": (
                        f"{line.quantity} x {line.product.name} "
                        f"(at {line.unit_price} {currency.upper()} / {interval})"
                    ),
                    "quantity": line.quantity,
                    "period": {"start": unix(begin), "end": unix(end)},
                    "price": price,
                }
            )
        total = sum(line["amount"] for line in lines)
        created = unix(begin, plan.hour)
        number: str | None = None
        if status != "draft":
            self._invoice_number += 1
            number = f"RG-{self._invoice_number:06d}"
        paid_at = None
        if status == "paid":
            paid_at = min(created + self._rng.randrange(1, 21) * 86400, unix(TODAY, 0) - 60)
        remaining = total if status in ("open", "uncollectible", "draft") else 0
        due = begin + days(30)
        doc = {
            "id": invoice_id,
            "object": "invoice",
            "number": number,
            "customer": customer_id,
            "subscription": sub_id,
            "status": status,
            "currency": currency,
            "subtotal": total,
            "total": total,
            "amount_due": total,
            "amount_paid": total if status == "paid" else 0,
            "amount_remaining": remaining,
            "created": created,
            "due_date": unix(due, plan.hour),
            "period_start": unix(begin),
            "period_end": unix(end),
            "status_transitions": {
                "finalized_at": None if status == "draft" else created + 3600,
                "paid_at": paid_at,
                "voided_at": created + 10 * 86400 if status == "void" else None,
            },
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "metadata": {},
        }
        fact = InvoiceFact(
            invoice_id,
            number,
            status,
            total,
            remaining,
            plan.account.currency,
            plan.account,
            customer_id,
            plan,
            begin,
            due,
        )
        return doc, fact
