"""The consistency view's vocabulary: what the rules read, and what they report.

Rules are pure functions over one customer's :class:`CustomerBundle` — every
system's records about that customer, or an :class:`Unreadable` marker where a
system could not be asked — and report :class:`Check` results per subject
(the customer, each contract, each invoice). A check whose system could not
be read is ``UNKNOWN``, never ``CONSISTENT`` or ``MISSING``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeAlias, TypeVar, Union

from domain.exception_items import ExceptionQueue
from domain.money import Money
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
from sources.systems import System

__all__ = [
    "Check",
    "CheckStatus",
    "ContractBundle",
    "CustomerBundle",
    "InvoiceBundle",
    "Observed",
    "Repair",
    "RuleName",
    "ScheduleBundle",
    "SubjectKind",
    "SystemValue",
    "Unreadable",
    "readable",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A system that could not be asked (down, timed out, throttled, refused)."""

    system: System
    reason: str


Observed: TypeAlias = Union[T, Unreadable]  # noqa: UP007 (a generic alias needs Union)
"""A system's answer, or why there is none."""


def readable(*values: object) -> bool:
    """None of ``values`` is :class:`Unreadable`."""
    return not any(isinstance(v, Unreadable) for v in values)


class CheckStatus(StrEnum):
    CONSISTENT = "CONSISTENT"
    PENDING = "PENDING"
    """Not in line yet, but still inside its window (activation SLO, posting window)."""
    DRIFT = "DRIFT"
    """The systems hold different values (or several records claim one subject)."""
    MISSING = "MISSING"
    """A system that should hold a record holds none (and was read)."""
    UNKNOWN = "UNKNOWN"
    """A system the check needs could not be read."""


class RuleName(StrEnum):
    CUSTOMER_LINKS = "customer.links"
    CUSTOMER_ATTRIBUTES = "customer.attributes"
    CONTRACT_ACTIVATION = "contract.activation"
    CONTRACT_VERSION = "contract.version"
    CONTRACT_VALUE = "contract.value"
    INVOICE_POSTING = "invoice.posting"
    REVENUE_ROLLFORWARD = "revenue.rollforward"


class SubjectKind(StrEnum):
    CUSTOMER = "CUSTOMER"
    CONTRACT = "CONTRACT"
    INVOICE = "INVOICE"


@dataclass(frozen=True, slots=True)
class SystemValue:
    """What one system holds for the compared attribute, side by side with the others.

    ``value`` is a display string (a name, a version, a decimal amount); ``money``
    is set when the value is an amount. ``record_id`` names the record it was
    read from. ``readable`` is False when the system could not be asked.
    ``attribute`` names what is compared (``name``, ``currency``, ``total``...)
    when a check compares more than one thing, so values stay attributable.
    """

    system: System
    value: str | None
    money: Money | None = None
    record_id: str | None = None
    readable: bool = True
    attribute: str | None = None


@dataclass(frozen=True, slots=True)
class Repair:
    """The flow that would bring the systems in line, where one exists."""

    kind: str
    """A :class:`domain.transactions.TransactionKind` (e.g. ``AMEND_CONTRACT``)."""
    description: str
    correlation_id: str | None = None
    """The transaction to retry or replay, when a parked one exists for the subject."""


@dataclass(frozen=True, slots=True)
class Check:
    """One rule's verdict on one subject."""

    rule: RuleName
    subject_kind: SubjectKind
    subject_id: str
    customer_id: str
    """The CRM account the subject belongs to (every check is recomputed per customer)."""
    status: CheckStatus
    message: str
    systems: tuple[System, ...]
    values: tuple[SystemValue, ...] = ()
    variance: Money | None = None
    queue: ExceptionQueue | None = None
    """Who owns fixing it (from the policy); None when consistent."""
    repair: Repair | None = None


@dataclass(frozen=True, slots=True)
class ScheduleBundle:
    schedule: RevenueSchedule
    lines: Observed[Sequence[RevenueScheduleLine]]


@dataclass(frozen=True, slots=True)
class ContractBundle:
    """One contract and what billing and the ERP hold for it."""

    contract: Contract
    lines: Sequence[ContractLine]
    """The current version's lines."""
    subscriptions: Observed[Sequence[Subscription]]
    """Billing subscriptions whose ``metadata.contract_id`` is this contract."""
    schedules: Observed[Sequence[ScheduleBundle]]
    """ERP revenue schedules of this contract (every version)."""


@dataclass(frozen=True, slots=True)
class InvoiceBundle:
    invoice: Invoice
    postings: Observed[Sequence[ArPosting]]
    """ERP AR postings whose externalId is this invoice."""


@dataclass(frozen=True, slots=True)
class CustomerBundle:
    """Everything the systems hold about one CRM account, read at ``read_at``."""

    account: Customer
    read_at: datetime
    billing_customers: Observed[Sequence[BillingCustomer]]
    """Billing customers whose ``metadata.crm_account_id`` is this account."""
    erp_customers: Observed[Sequence[ErpCustomer]]
    """ERP customers whose externalId is this account."""
    erp_parent_account_id: Observed[str | None]
    """The CRM id (externalId) of the ERP parent of this account's ERP customer."""
    contracts: Observed[Sequence[ContractBundle]]
    invoices: Observed[Sequence[InvoiceBundle]]
    """Every invoice of the account's billing customers."""
    parked: dict[str, str] = field(default_factory=dict)
    """Subject id → correlation id of a flow parked on it (for :class:`Repair`)."""
