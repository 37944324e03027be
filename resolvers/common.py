"""Small types every domain module uses: Money and SourceRef."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from domain.money import Money as DomainMoney
from sources.systems import System

strawberry.enum(System, description="A system of record.")


@strawberry.type(description="An amount of money: a decimal string and an ISO 4217 currency.")
class Money:
    amount: Decimal = strawberry.field(
        description="Decimal string with the currency's minor-unit digits, never a float."
    )
    currency: str = strawberry.field(description="ISO 4217 code, upper case.")

    @classmethod
    def of(cls, value: DomainMoney) -> Money:
        exact = value.quantize()
        return cls(amount=exact.amount, currency=exact.currency)


def exact(amount: Decimal, currency: str) -> Money:
    """Money from a major-unit amount (rounded to the currency's minor unit)."""
    return Money.of(DomainMoney(amount, currency))


def money(amount: Decimal | None, currency: str | None) -> Money | None:
    """Like :func:`exact`, or None when either part is missing."""
    if amount is None or not currency:
        return None
    return exact(amount, currency)


@strawberry.type(description="Where an entity lives: the system, its id there, and its URL.")
class SourceRef:
    system: System
    id: str
    url: str
