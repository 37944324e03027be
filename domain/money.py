"""Money: a Decimal amount and an ISO 4217 currency, never a float.

Stripe counts in minor units with the currency's exponent (JPY has none, KWD
three, most two); Salesforce and NetSuite send major units. ``Money`` converts
between them exactly and refuses to add different currencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


ZERO_DECIMAL = _codes("BIF CLP DJF GNF ISK JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF")
THREE_DECIMAL = _codes("BHD IQD JOD KWD LYD OMR TND")


class CurrencyMismatch(ValueError):
    """Arithmetic across two currencies (convert first; Money never guesses a rate)."""


def exponent(currency: str) -> int:
    """Digits after the decimal point in ``currency``'s minor unit (default 2)."""
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


@cache
def _unit(currency: str) -> Decimal:
    """The currency's minor unit as a Decimal (``0.01`` for USD); cached per code."""
    return Decimal(1).scaleb(-exponent(currency))


_set = object.__setattr__


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency (upper-case ISO code).

    The one money type of the gateway: adapters return it, domain rules compute
    with it, and the GraphQL ``Money`` type is this class registered with
    strawberry (``resolvers.common``). The constructor validates; adapters, which
    build ~1 000 of these per QuoteToCash page from values they already know are
    sound, use :meth:`exact` and :meth:`from_minor`, which skip the checks.
    """

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, float | bool) or not isinstance(self.amount, Decimal | int):
            raise TypeError(
                f"Money amount must be Decimal or int, got {type(self.amount).__name__}"
            )
        if not (len(self.currency) == 3 and self.currency.isalpha()):
            raise ValueError(f"not an ISO 4217 currency code: {self.currency!r}")
        if not Decimal(self.amount).is_finite():
            raise ValueError("Money amount must be finite")
        object.__setattr__(self, "amount", Decimal(self.amount))
        object.__setattr__(self, "currency", self.currency.upper())

    @classmethod
    def _trusted(cls, amount: Decimal, currency: str) -> Money:
        """No checks: ``amount`` a finite Decimal, ``currency`` an upper-case ISO code."""
        money = object.__new__(cls)
        _set(money, "amount", amount)
        _set(money, "currency", currency)
        return money

    @classmethod
    def exact(cls, amount: Decimal, currency: str) -> Money:
        """From a major-unit Decimal (Salesforce's, NetSuite's), rounded half up to the
        currency's minor unit. The hot-path constructor: no validation beyond that."""
        code = currency if currency.isupper() else currency.upper()
        return cls._trusted(amount.quantize(_unit(code), rounding=ROUND_HALF_UP), code)

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        """From a Decimal, an int or a decimal string (``"12.50"``)."""
        if isinstance(amount, float):
            raise TypeError("Money never comes from a float; pass str(value)")
        return cls(Decimal(amount), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        """From Stripe's integer minor units: ``from_minor(1250, "usd")`` is 12.50 USD."""
        if isinstance(minor, bool) or not isinstance(minor, int):
            raise TypeError("minor units must be an int")
        code = currency if currency.isupper() else currency.upper()
        if not (len(code) == 3 and code.isalpha()):
            raise ValueError(f"not an ISO 4217 currency code: {currency!r}")
        # An int scaled by the exponent is finite and exact: no further checks.
        return cls._trusted(Decimal(minor).scaleb(-exponent(code)), code)

    @property
    def exponent(self) -> int:
        return exponent(self.currency)

    def to_minor(self) -> int:
        """Integer minor units; ValueError if the amount has finer precision than that."""
        scaled = self.amount.scaleb(self.exponent)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{self} has more precision than {self.currency} minor units")
        return int(scaled)

    def quantize(self, rounding: str = ROUND_HALF_UP) -> Money:
        """Rounded to the currency's minor unit (half up by default)."""
        return Money._trusted(
            self.amount.quantize(_unit(self.currency), rounding=rounding), self.currency
        )

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money._trusted(self.amount + other.amount, self.currency)

    def __radd__(self, other: int) -> Money:
        # Lets sum() start from its default 0.
        if other == 0 and not isinstance(other, bool):
            return self
        return NotImplemented

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money._trusted(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money._trusted(-self.amount, self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        if isinstance(factor, float | bool) or not isinstance(factor, int | Decimal):
            return NotImplemented
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __str__(self) -> str:
        """``"1234.50 USD"``: at least the currency's precision, more if the amount has it."""
        places = max(self.exponent, -int(self.amount.as_tuple().exponent))
        return f"{self.amount:.{places}f} {self.currency}"
