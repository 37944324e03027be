"""The gateway's own vocabulary: what each system of record holds, in one shape.

Adapters (:mod:`sources`) translate their vendor's wire format into these
records on the way out, so nothing above them sees Stripe's minor units and
epoch seconds, SOQL field names or NetSuite's ``'T'``/``'F'``:

* money is :class:`~domain.money.Money` (Decimal + upper-case ISO code);
* instants are timezone-aware UTC :class:`~datetime.datetime`; calendar days
  (contract terms, posting dates) are :class:`~datetime.date`;
* statuses the gateway reasons about are the enums below; currencies upper case;
* cross-references are plain ids (a billing subscription's ``contract_id``, a
  billing customer's ``crm_account_id``, an ERP customer's ``external_id``).

Records are frozen, slotted dataclasses: built once per record by the adapter,
read as plain attributes by the graph, rules and flows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from domain.money import Money

__all__ = [
    "ArPosting",
    "BillingCustomer",
    "Contract",
    "ContractLine",
    "ContractStatus",
    "ContractVersion",
    "Customer",
    "ErpCustomer",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "JournalEntry",
    "JournalLine",
    "RevenueSchedule",
    "RevenueScheduleLine",
    "Subscription",
    "SubscriptionItem",
    "SubscriptionStatus",
]


class ContractStatus(StrEnum):
    """A contract's status in the contract system (values as Salesforce spells them)."""

    DRAFT = "Draft"
    IN_APPROVAL = "InApproval"
    ACTIVATED = "Activated"
    TERMINATED = "Terminated"
    EXPIRED = "Expired"


class SubscriptionStatus(StrEnum):
    """A billing subscription's status (Stripe's values)."""

    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    UNPAID = "unpaid"
    PAUSED = "paused"


class InvoiceStatus(StrEnum):
    """A billing invoice's status (Stripe's values)."""

    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    UNCOLLECTIBLE = "uncollectible"
    VOID = "void"


# --- CRM -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Customer:
    """A CRM account: the canonical customer (its id is the canonical id)."""

    id: str
    name: str
    currency: str
    parent_id: str | None = None
    segment: str | None = None
    billing_email: str | None = None
    type: str | None = None
    industry: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


# --- Contracts ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contract:
    """A contract's current terms; ``version`` counts amendments (1 = never amended)."""

    id: str
    number: str
    account_id: str
    status: ContractStatus
    currency: str
    total_value: Money
    version: int = 1
    start_date: date | None = None
    end_date: date | None = None
    term_months: int | None = None
    billing_frequency: str | None = None
    activated_at: datetime | None = None
    terminated_on: date | None = None
    renewal_of: str | None = None
    """The contract this one renews."""
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ContractLine:
    """One product line of one contract version.

    ``unit_price`` is per billing period, in the contract's currency: the contract
    system does not repeat the currency on its lines, so the amount is a Decimal
    and its :class:`Contract` says the currency (``Money.exact(line.unit_price,
    contract.currency)``).
    """

    id: str
    contract_id: str
    version: int
    product_id: str | None
    product_name: str | None
    quantity: int
    unit_price: Decimal
    billing_frequency: str | None = None


@dataclass(frozen=True, slots=True)
class ContractVersion:
    """One entry of a contract's amendment history (version 1 is the initial terms).

    ``total_value`` is in the contract's currency (not repeated on versions).
    """

    id: str
    contract_id: str
    version: int
    effective_date: date
    total_value: Decimal
    reason: str | None = None
    created_at: datetime | None = None


# --- Billing -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BillingCustomer:
    """A customer in billing; ``crm_account_id`` is the CRM account it belongs to."""

    id: str
    created_at: datetime
    name: str | None = None
    email: str | None = None
    currency: str | None = None
    crm_account_id: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionItem:
    """One price on a subscription: ``quantity`` * ``unit_price`` per ``interval``."""

    id: str
    product: str | None
    quantity: int
    unit_price: Money
    interval: str | None = None
    interval_count: int | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """A billing subscription; it bills one contract version (``contract_id``/``contract_version``).

    ``customer_id`` is the billing customer's id.
    """

    id: str
    customer_id: str
    status: SubscriptionStatus
    currency: str
    created_at: datetime
    recurring_amount: Money
    """Sum of quantity * unit price over the items, per billing interval."""
    items: tuple[SubscriptionItem, ...] = ()
    started_at: datetime | None = None
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    cancel_at: datetime | None = None
    canceled_at: datetime | None = None
    contract_id: str | None = None
    contract_version: int | None = None


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    id: str
    amount: Money
    description: str | None = None
    quantity: int | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None


@dataclass(frozen=True, slots=True)
class Invoice:
    """A billing invoice; ``customer_id`` is the billing customer's id.

    ``lines`` are those the invoice embeds (Stripe: the first ten); ``lines_has_more``
    says whether there are others.
    """

    id: str
    customer_id: str
    status: InvoiceStatus
    currency: str
    subtotal: Money
    total: Money
    amount_due: Money
    amount_paid: Money
    amount_remaining: Money
    created_at: datetime
    number: str | None = None
    subscription_id: str | None = None
    due_date: date | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    finalized_at: datetime | None = None
    paid_at: datetime | None = None
    lines: tuple[InvoiceLine, ...] = ()
    lines_has_more: bool = False


# --- ERP ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErpCustomer:
    """A customer in the ERP; ``external_id`` is the CRM account id."""

    id: str
    external_id: str | None = None
    entity_id: str | None = None
    name: str | None = None
    email: str | None = None
    currency: str | None = None
    parent_id: str | None = None
    inactive: bool = False


@dataclass(frozen=True, slots=True)
class RevenueSchedule:
    """The revenue schedule of one contract version (``external_id`` ``{contract}:v{n}``).

    Amounts are None when the ERP did not say the schedule's currency.
    """

    id: str
    contract_id: str
    contract_version: int
    currency: str | None = None
    total: Money | None = None
    recognized: Money | None = None
    deferred: Money | None = None
    """What is still to be recognized: ``total - recognized``."""
    external_id: str | None = None
    customer_id: str | None = None
    """The ERP customer's id."""
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True, slots=True)
class RevenueScheduleLine:
    """One period (``YYYY-MM``) of a revenue schedule; ``amount`` in the schedule's currency."""

    id: str
    schedule_id: str
    period: str
    amount: Decimal
    recognized: bool = False


@dataclass(frozen=True, slots=True)
class ArPosting:
    """A billing invoice posted to accounts receivable (a NetSuite invoice).

    ``external_id`` is the billing invoice's id; ``customer_id`` the ERP customer's.
    Amounts are None when the ERP did not say the currency (``amount_remaining``
    also when it did not say the amount).
    """

    id: str
    external_id: str | None = None
    number: str | None = None
    customer_id: str | None = None
    currency: str | None = None
    total: Money | None = None
    amount_remaining: Money | None = None
    posted_on: date | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class JournalLine:
    """One line of a journal entry: an account debited or credited."""

    account_id: str | None
    debit: Money | None = None
    credit: Money | None = None
    memo: str | None = None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A journal entry in the ERP (e.g. a revenue recognition posting).

    Line amounts are None when the ERP did not say the entry's currency.
    """

    id: str
    external_id: str | None = None
    posted_on: date | None = None
    memo: str | None = None
    currency: str | None = None
    lines: tuple[JournalLine, ...] = ()
