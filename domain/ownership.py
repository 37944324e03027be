"""Who owns what: the system of record for each kind of data, and where records live.

A mutation goes to the owner and nowhere else directly; the other systems are
brought in line by flows. :data:`OWNERSHIP` is the one declaration of who owns
which field of which entity (DESIGN.md, "Ownership"); :func:`route_write` turns
the fields a mutation wants to change into the system to write to, or into the
fields that belong to another system (refused, naming their owner). The graph
exposes the declaration as ``ownership``. Field names are the graph's.

``record_url`` gives the address of a record in its system's own API, which the
graph exposes in every entity's ``sources``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sources.systems import System


class Record(StrEnum):
    """A kind of record in one system."""

    CRM_ACCOUNT = "crm.account"
    CONTRACT = "contracts.contract"
    BILLING_CUSTOMER = "billing.customer"
    SUBSCRIPTION = "billing.subscription"
    INVOICE = "billing.invoice"
    ERP_CUSTOMER = "erp.customer"
    AR_POSTING = "erp.invoice"
    REVENUE_SCHEDULE = "erp.revenue_schedule"


SYSTEM_OF: dict[Record, System] = {
    Record.CRM_ACCOUNT: System.CRM,
    Record.CONTRACT: System.CONTRACTS,
    Record.BILLING_CUSTOMER: System.BILLING,
    Record.SUBSCRIPTION: System.BILLING,
    Record.INVOICE: System.BILLING,
    Record.ERP_CUSTOMER: System.ERP,
    Record.AR_POSTING: System.ERP,
    Record.REVENUE_SCHEDULE: System.ERP,
}

_PATHS: dict[Record, str] = {
    Record.CRM_ACCOUNT: "/services/data/v60.0/sobjects/Account/{id}",
    Record.CONTRACT: "/services/data/v60.0/sobjects/Contract/{id}",
    Record.BILLING_CUSTOMER: "/v1/customers/{id}",
    Record.SUBSCRIPTION: "/v1/subscriptions/{id}",
    Record.INVOICE: "/v1/invoices/{id}",
    Record.ERP_CUSTOMER: "/services/rest/record/v1/customer/{id}",
    Record.AR_POSTING: "/services/rest/record/v1/invoice/{id}",
    Record.REVENUE_SCHEDULE: "/services/rest/record/v1/customrecord_rg_revsched/{id}",
}


def record_url(base_urls: dict[System, str], record: Record, record_id: str) -> str:
    """The record's address in its own system's API."""
    system = SYSTEM_OF[record]
    return base_urls[system].rstrip("/") + _PATHS[record].format(id=record_id)


class Entity(StrEnum):
    """An entity of the graph that a mutation can change (values are its GraphQL type)."""

    CUSTOMER = "Customer"
    CONTRACT = "Contract"
    SUBSCRIPTION = "BillingSubscription"
    INVOICE = "Invoice"
    REVENUE_SCHEDULE = "RevenueSchedule"
    AR_POSTING = "ArPosting"


RECORD_OF: dict[Entity, Record] = {
    Entity.CUSTOMER: Record.CRM_ACCOUNT,
    Entity.CONTRACT: Record.CONTRACT,
    Entity.SUBSCRIPTION: Record.SUBSCRIPTION,
    Entity.INVOICE: Record.INVOICE,
    Entity.REVENUE_SCHEDULE: Record.REVENUE_SCHEDULE,
    Entity.AR_POSTING: Record.AR_POSTING,
}
"""The record each entity is written as, in its owner (:data:`SYSTEM_OF` names the owner)."""


@dataclass(frozen=True, slots=True)
class OwnershipRule:
    """``system`` is the system of record for ``field`` of ``entity``."""

    entity: Entity
    field: str
    system: System


def _owns(system: System, entity: Entity, *fields: str) -> list[OwnershipRule]:
    return [OwnershipRule(entity, f, system) for f in fields]


OWNERSHIP: tuple[OwnershipRule, ...] = (
    # customer identity, name, hierarchy, segment: the CRM
    *_owns(System.CRM, Entity.CUSTOMER, "name", "parent", "segment", "currency", "billingEmail"),
    # ... except the receivable balance, which is the ERP's
    *_owns(System.ERP, Entity.CUSTOMER, "arBalance"),
    # contract terms, lines, status, versions: the contract system
    *_owns(
        System.CONTRACTS,
        Entity.CONTRACT,
        "customer",
        "status",
        "version",
        "startDate",
        "endDate",
        "termMonths",
        "currency",
        "billingFrequency",
        "lines",
        "totalValue",
        "activatedAt",
        "terminatedOn",
    ),
    # subscriptions, invoices, payments: billing
    *_owns(
        System.BILLING,
        Entity.SUBSCRIPTION,
        "status",
        "items",
        "currentPeriodStart",
        "currentPeriodEnd",
        "canceledAt",
    ),
    *_owns(
        System.BILLING,
        Entity.INVOICE,
        "status",
        "lines",
        "total",
        "dueDate",
        "amountDue",
        "amountPaid",
    ),
    # revenue schedules, AR postings, balances: the ERP
    *_owns(
        System.ERP,
        Entity.REVENUE_SCHEDULE,
        "lines",
        "total",
        "recognized",
        "deferred",
        "startDate",
        "endDate",
    ),
    *_owns(System.ERP, Entity.AR_POSTING, "amount", "amountRemaining", "postedOn", "status"),
)
"""Who owns each writable field, entity by entity (DESIGN.md, "Ownership")."""

FIELD_OWNER: Mapping[tuple[Entity, str], System] = {
    (rule.entity, rule.field): rule.system for rule in OWNERSHIP
}


def owner_of(entity: Entity) -> System:
    """The system an entity is written to (the owner of its record)."""
    return SYSTEM_OF[RECORD_OF[entity]]


@dataclass(frozen=True, slots=True)
class ForeignField:
    """A field a mutation may not change here, and the system that owns it."""

    field: str
    owner: System
    code = "OWNED_BY_OTHER_SYSTEM"

    @property
    def message(self) -> str:
        return f"{self.field} is owned by {self.owner}: change it there"


@dataclass(frozen=True, slots=True)
class WriteRoute:
    """Where a change goes: ``owner``, unless some fields are another system's."""

    entity: Entity
    owner: System
    fields: tuple[str, ...]
    foreign: tuple[ForeignField, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return not self.foreign


class UnknownFieldError(ValueError):
    """A field the ownership declaration does not know: a programming error."""


def route_write(entity: Entity, fields: Iterable[str]) -> WriteRoute:
    """Route a change of ``fields`` of ``entity`` to its owner.

    The change is allowed when the entity's owner owns every field; otherwise
    ``foreign`` lists the fields another system owns (in the order given), and
    the mutation is refused with a userError per field naming that owner.
    Unknown fields raise :class:`UnknownFieldError`.
    """
    owner = owner_of(entity)
    wanted = tuple(dict.fromkeys(fields))
    unknown = [f for f in wanted if (entity, f) not in FIELD_OWNER]
    if unknown:
        raise UnknownFieldError(f"{entity} has no owned field {', '.join(unknown)}")
    foreign = tuple(
        ForeignField(f, FIELD_OWNER[entity, f])
        for f in wanted
        if FIELD_OWNER[entity, f] is not owner
    )
    return WriteRoute(entity, owner, wanted, foreign)
