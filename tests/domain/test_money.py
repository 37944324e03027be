"""Money: exact amounts, minor units per currency, no mixing, no floats."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import pytest

from domain.money import CurrencyMismatch, Money, exponent


def test_minor_units_follow_the_currency_exponent() -> None:
    assert Money.from_minor(1250, "usd") == Money(Decimal("12.50"), "USD")
    assert Money.from_minor(1250, "JPY") == Money(Decimal(1250), "JPY")
    assert Money.from_minor(1250, "KWD").amount == Decimal("1.250")
    assert Money.from_minor(-5, "eur").amount == Decimal("-0.05")
    assert (exponent("jpy"), exponent("gbp"), exponent("bhd")) == (0, 2, 3)
    for minor, currency in ((0, "USD"), (123456789, "GBP"), (999, "JPY"), (1001, "KWD")):
        assert Money.from_minor(minor, currency).to_minor() == minor


def test_to_minor_refuses_to_lose_precision() -> None:
    assert Money.of("12.5", "USD").to_minor() == 1250
    with pytest.raises(ValueError, match="precision"):
        Money.of("12.505", "USD").to_minor()
    with pytest.raises(ValueError, match="precision"):
        Money.of("1.5", "JPY").to_minor()


def test_currency_is_upper_case_and_validated() -> None:
    assert Money.of("1", "usd").currency == "USD"
    with pytest.raises(ValueError):
        Money.of("1", "dollars")


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError):
        Money(0.1, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money.of(0.1, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money.from_minor(1.0, "USD")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Money(Decimal("NaN"), "USD")


def test_addition_only_within_one_currency() -> None:
    total = Money.of("0.10", "USD") + Money.of("0.20", "USD")
    assert total == Money.of("0.30", "USD")
    assert sum([Money.of("1.10", "EUR"), Money.of("2.20", "EUR")]) == Money.of("3.30", "EUR")
    assert Money.of("5", "GBP") - Money.of("7.5", "GBP") == Money.of("-2.5", "GBP")
    assert Money.of("2.50", "USD") * 3 == Money.of("7.50", "USD")
    with pytest.raises(CurrencyMismatch):
        _ = Money.of("1", "USD") + Money.of("1", "EUR")
    with pytest.raises(CurrencyMismatch):
        _ = Money.of("1", "USD") - Money.of("1", "EUR")
    with pytest.raises(TypeError):
        _ = Money.of("1", "USD") + 1  # type: ignore[operator]


def test_quantize_and_str() -> None:
    assert Money.of("2.345", "USD").quantize() == Money.of("2.35", "USD")
    assert Money.of("2.345", "USD").quantize(ROUND_DOWN) == Money.of("2.34", "USD")
    assert Money.of("-2.345", "USD").quantize().amount == Decimal("-2.35")
    assert Money.of("1234.5", "USD").quantize(ROUND_DOWN).amount == Decimal("1234.50")
    assert str(Money.of("1234.5", "USD")) == "1234.50 USD"
    assert str(Money.of("7", "JPY")) == "7 JPY"
    assert str(Money.of("0.125", "EUR")) == "0.125 EUR"
    assert str(Money.from_minor(100, "KWD")) == "0.100 KWD"
