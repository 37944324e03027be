"""Small types every domain module uses: Money, SourceRef, System and ExceptionQueue."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from domain.billing_read_model import Via
from domain.exception_items import ExceptionQueue
from domain.money import Money
from resolvers.permissions import SeesInternals
from sources.systems import System

__all__ = ["ExceptionQueue", "Money", "SourceRef", "money_or_none"]

strawberry.enum(System, description="A system of record.")
strawberry.enum(ExceptionQueue, description="Who works an exception item.")
strawberry.enum(Via, name="ReadVia", description="How an entity was obtained.")

# The GraphQL ``Money`` is the domain's own class, registered with strawberry
# (one class, no conversion per value): adapters already return ``Money`` and
# leaves read its two slots as plain attributes. The registration adds only
# strawberry's metadata; the domain class keeps its constructor and checks.
strawberry.type(
    Money,
    name="Money",
    description="An amount of money: a decimal string and an ISO 4217 currency.",
)
_MONEY_FIELDS = {
    "amount": "Decimal string with the currency's minor-unit digits, never a float.",
    "currency": "ISO 4217 code, upper case.",
}
for _field in Money.__strawberry_definition__.fields:  # type: ignore[attr-defined]
    _field.description = _MONEY_FIELDS[_field.python_name]


def money_or_none(amount: Decimal | None, currency: str | None) -> Money | None:
    """Money in the currency's minor unit, or None when either part is missing
    (an amount whose currency lives on its parent record, e.g. a schedule line)."""
    if amount is None or not currency:
        return None
    return Money.exact(amount, currency)


@strawberry.type(description="Where an entity lives: the system, its id there, and its URL.")
class SourceRef:
    system: System
    id: str
    url: str | None = strawberry.field(
        description="The record in its system's API (admins only: it names internal hosts).",
        permission_classes=[SeesInternals],
    )
    via: Via = strawberry.field(
        description="LIVE: read from the system for this request; READ_MODEL: from the "
        "gateway's read model of it (Billing), kept current by its events."
    )
    as_of: datetime = strawberry.field(
        description="When this answer was known to be the system's current state (for "
        "READ_MODEL: how stale it may be)."
    )
