"""Small types every domain module uses: Money and SourceRef."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import cache

import strawberry

from domain.money import exponent
from sources.systems import System

strawberry.enum(System, description="A system of record.")


@strawberry.type(description="An amount of money: a decimal string and an ISO 4217 currency.")
class Money:
    amount: Decimal = strawberry.field(
        description="Decimal string with the currency's minor-unit digits, never a float."
    )
    currency: str = strawberry.field(description="ISO 4217 code, upper case.")


# A QuoteToCash page builds ~1,000 Money values: they are made here directly from
# Decimals (the currency's exponent from domain.money) rather than through
# domain.money.Money's validating constructor, which cost ~15 ms per query.
@cache
def _unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-exponent(currency))


def exact(amount: Decimal, currency: str) -> Money:
    """Money from a major-unit amount (rounded half up to the currency's minor unit)."""
    code = currency.upper()
    return Money(amount=amount.quantize(_unit(code), rounding=ROUND_HALF_UP), currency=code)


def minor(amount: int, currency: str) -> Money:
    """Money from integer minor units (Stripe's): 1250 USD cents is 12.50."""
    code = currency.upper()
    return Money(amount=Decimal(amount).scaleb(-exponent(code)), currency=code)


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
