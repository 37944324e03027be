"""Stripe wire models: customers, prices, subscriptions, invoices and their lines.

Field names are Stripe's. A few nested shapes are flattened on the way in,
so callers read plain attributes: a price's ``recurring.interval`` becomes
``Price.interval``, a subscription's ``items.data`` becomes ``items``, an
invoice's ``status_transitions.finalized_at`` becomes ``finalized_at`` and its
``lines.data``/``lines.has_more`` become ``lines``/``lines_has_more``, a line's
``period.start`` becomes ``period_start``. References that were expanded
(``customer`` as an object) are read as their id. Amounts stay integers in
minor units, as Stripe sends them, until ``to_domain`` turns each model into its
:mod:`domain.records` record (:class:`~domain.money.Money`, aware datetimes,
status enums, cross-references out of ``metadata``). Private to
:mod:`sources.billing`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from domain.money import Money
from domain.records import BillingCustomer, InvoiceStatus, SubscriptionStatus
from domain.records import Invoice as InvoiceRecord
from domain.records import InvoiceLine as InvoiceLineRecord
from domain.records import Subscription as SubscriptionRecord
from domain.records import SubscriptionItem as SubscriptionItemRecord
from sources.encoding import from_epoch


def _ref(value: Any) -> Any:
    """An id, also when Stripe sent the expanded object."""
    return value.get("id") if isinstance(value, dict) else value


def _metadata(value: Any) -> Any:
    return {} if value is None else value


Ref = Annotated[str, BeforeValidator(_ref)]
OptionalRef = Annotated[str | None, BeforeValidator(_ref)]
Metadata = Annotated[dict[str, str], BeforeValidator(_metadata)]


class StripeModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


def _list_data(value: Any) -> list[Any]:
    """The ``data`` of a Stripe list object (or a bare list)."""
    if isinstance(value, dict):
        return list(value.get("data") or [])
    return list(value or [])


class Customer(StripeModel):
    id: str
    name: str | None = None
    email: str | None = None
    currency: str | None = None  # lower case, as Stripe sends it
    created: int
    metadata: Metadata = Field(default_factory=dict)

    @property
    def crm_account_id(self) -> str | None:
        """The CRM Account Id this customer is stamped with (``metadata.crm_account_id``)."""
        return self.metadata.get("crm_account_id") or None

    def to_domain(self) -> BillingCustomer:
        return BillingCustomer(
            id=self.id,
            created_at=_instant(self.created),
            name=self.name,
            email=self.email,
            currency=self.currency.upper() if self.currency else None,
            crm_account_id=self.crm_account_id,
        )


class Price(StripeModel):
    id: str
    unit_amount: int
    currency: str
    product: OptionalRef = None
    interval: str | None = None
    interval_count: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten_recurring(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("recurring"), dict):
            recurring = data["recurring"]
            data = {
                **data,
                "interval": recurring.get("interval"),
                "interval_count": recurring.get("interval_count"),
            }
        return data


class SubscriptionItem(StripeModel):
    id: str
    quantity: int = 1
    price: Price

    def to_domain(self, currency: str) -> SubscriptionItemRecord:
        return SubscriptionItemRecord(
            id=self.id,
            product=self.price.product,
            quantity=self.quantity,
            unit_price=Money.from_minor(self.price.unit_amount, currency),
            interval=self.price.interval,
            interval_count=self.price.interval_count,
        )


class Subscription(StripeModel):
    id: str
    customer: Ref
    status: str
    currency: str
    start_date: int | None = None
    current_period_start: int | None = None
    current_period_end: int | None = None
    cancel_at: int | None = None
    canceled_at: int | None = None
    created: int
    items: list[SubscriptionItem] = Field(default_factory=list)
    metadata: Metadata = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _unwrap_items(cls, data: Any) -> Any:
        if isinstance(data, dict) and "items" in data:
            data = {**data, "items": _list_data(data["items"])}
        return data

    @property
    def contract_id(self) -> str | None:
        """The Contract Id the subscription bills (``metadata.contract_id``)."""
        return self.metadata.get("contract_id") or None

    @property
    def contract_version(self) -> int | None:
        """The contract version it bills (``metadata.contract_version``, a string in Stripe)."""
        raw = self.metadata.get("contract_version", "").strip()
        return int(raw) if raw.isdigit() else None

    @property
    def recurring_amount(self) -> int:
        """Sum of unit_amount * quantity over the items, in minor units per billing period."""
        return sum(item.price.unit_amount * item.quantity for item in self.items)

    def to_domain(self) -> SubscriptionRecord:
        currency = self.currency.upper()
        return SubscriptionRecord(
            id=self.id,
            customer_id=self.customer,
            status=SubscriptionStatus(self.status),
            currency=currency,
            created_at=_instant(self.created),
            recurring_amount=Money.from_minor(self.recurring_amount, currency),
            items=tuple(item.to_domain(currency) for item in self.items),
            started_at=from_epoch(self.start_date),
            current_period_start=from_epoch(self.current_period_start),
            current_period_end=from_epoch(self.current_period_end),
            cancel_at=from_epoch(self.cancel_at),
            canceled_at=from_epoch(self.canceled_at),
            contract_id=self.contract_id,
            contract_version=self.contract_version,
        )


class InvoiceLine(StripeModel):
    id: str
    amount: int
    currency: str
    description: str | None = None
    quantity: int | None = None
    period_start: int | None = None
    period_end: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten_period(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("period"), dict):
            period = data["period"]
            data = {**data, "period_start": period.get("start"), "period_end": period.get("end")}
        return data

    def to_domain(self, currency: str | None = None) -> InvoiceLineRecord:
        """The line, its amount in ``currency`` (the invoice's) or else its own."""
        return InvoiceLineRecord(
            id=self.id,
            amount=Money.from_minor(self.amount, currency or self.currency),
            description=self.description,
            quantity=self.quantity,
            period_start=from_epoch(self.period_start),
            period_end=from_epoch(self.period_end),
        )


class Invoice(StripeModel):
    id: str
    number: str | None = None
    customer: Ref
    subscription: OptionalRef = None
    status: str
    currency: str
    subtotal: int
    total: int
    amount_due: int
    amount_paid: int
    amount_remaining: int
    created: int
    due_date: int | None = None
    period_start: int | None = None
    period_end: int | None = None
    finalized_at: int | None = None
    paid_at: int | None = None
    lines: list[InvoiceLine] = Field(default_factory=list)
    lines_has_more: bool = False
    metadata: Metadata = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        transitions = data.get("status_transitions")
        if isinstance(transitions, dict):
            data["finalized_at"] = transitions.get("finalized_at")
            data["paid_at"] = transitions.get("paid_at")
        lines = data.get("lines")
        if isinstance(lines, dict):
            data["lines_has_more"] = bool(lines.get("has_more"))
        if lines is not None:
            data["lines"] = _list_data(lines)
        return data

    def to_domain(self) -> InvoiceRecord:
        currency = self.currency.upper()
        due = from_epoch(self.due_date)
        return InvoiceRecord(
            id=self.id,
            customer_id=self.customer,
            status=InvoiceStatus(self.status),
            currency=currency,
            subtotal=Money.from_minor(self.subtotal, currency),
            total=Money.from_minor(self.total, currency),
            amount_due=Money.from_minor(self.amount_due, currency),
            amount_paid=Money.from_minor(self.amount_paid, currency),
            amount_remaining=Money.from_minor(self.amount_remaining, currency),
            created_at=_instant(self.created),
            number=self.number,
            subscription_id=self.subscription,
            due_date=due.date() if due else None,
            period_start=from_epoch(self.period_start),
            period_end=from_epoch(self.period_end),
            finalized_at=from_epoch(self.finalized_at),
            paid_at=from_epoch(self.paid_at),
            lines=tuple(line.to_domain(currency) for line in self.lines),
            lines_has_more=self.lines_has_more,
        )


def _instant(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
