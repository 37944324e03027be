"""The policy file: loading, validation errors (exact messages), thresholds, effective view."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from domain.consistency.policy import (
    Combine,
    PolicyError,
    Threshold,
    duration_text,
    load_policy,
    parse_policy,
)
from domain.consistency.types import RuleName
from domain.exception_items import ExceptionQueue
from domain.money import CurrencyMismatch, Money

from .builders import policy

RULES = (
    "customer.links, customer.attributes, contract.activation, contract.version, "
    "contract.value, invoice.posting, revenue.rollforward"
)


def test_the_default_policy_ships_with_the_package_and_covers_every_rule() -> None:
    default = load_policy(None)
    assert set(default.rules) == set(RuleName)
    assert default.posting_window == timedelta(hours=72)
    assert default.activation_slo == timedelta(hours=24)
    assert default.queue(RuleName.CUSTOMER_LINKS) is ExceptionQueue.SALES_OPS
    assert default.queue(RuleName.CONTRACT_VALUE) is ExceptionQueue.FINANCE_OPS
    value = default.threshold(RuleName.CONTRACT_VALUE)
    assert value.absolute == {
        "USD": Decimal("0.50"),
        "EUR": Decimal("0.50"),
        "GBP": Decimal("0.50"),
        "JPY": Decimal("50"),
    }
    assert value.percent == Decimal("0.01")
    assert value.combine is Combine.OR
    # Rules without threshold keys compare exactly.
    assert default.threshold(RuleName.INVOICE_POSTING) == Threshold()
    assert default.threshold(RuleName.CUSTOMER_LINKS) == Threshold()


def test_effective_lists_every_rule_in_order_with_strings_and_seconds() -> None:
    effective = load_policy(None).effective()
    assert effective["source"] == "<built-in default_policy.toml>"
    assert [r["rule"] for r in effective["rules"]] == [r.value for r in RuleName]
    by_rule = {r["rule"]: r for r in effective["rules"]}
    assert by_rule["contract.value"] == {
        "rule": "contract.value",
        "queue": "FINANCE_OPS",
        "absolute": {"EUR": "0.50", "GBP": "0.50", "JPY": "50", "USD": "0.50"},
        "percent": "0.01",
        "combine": "OR",
        "posting_window_seconds": None,
        "activation_slo_seconds": None,
    }
    assert by_rule["invoice.posting"]["posting_window_seconds"] == 72 * 3600
    assert by_rule["contract.activation"]["activation_slo_seconds"] == 24 * 3600
    assert by_rule["customer.links"] == {
        "rule": "customer.links",
        "queue": "SALES_OPS",
        "absolute": {},
        "percent": None,
        "combine": None,
        "posting_window_seconds": None,
        "activation_slo_seconds": None,
    }


def test_a_policy_file_is_read_from_its_path(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    text = (Path(__file__).parents[3] / "domain/consistency/default_policy.toml").read_text()
    path.write_text(text.replace('posting_window = "72h"', 'posting_window = "1d12h"'))
    loaded = load_policy(path)
    assert loaded.source == str(path)
    assert loaded.posting_window == timedelta(hours=36)


def test_a_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value) == f"{path}: cannot read the policy file: No such file or directory"
    assert (caught.value.file, caught.value.key) == (str(path), None)


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        (
            '[rules."customer.links"]\nqueue = "OPS"',
            "test.toml: rules.\"customer.links\".queue: unknown queue 'OPS' "
            "(expected one of: FINANCE_OPS, SALES_OPS, PLATFORM)",
        ),
        (
            '[rules."customer.links"]\nqueue = "SALES_OPS"\npercent = "1"',
            'test.toml: rules."customer.links".percent: unknown key (allowed: queue)',
        ),
        (
            '[rules."contract.value"]\nqueue = "FINANCE_OPS"\nwindow = "1h"',
            'test.toml: rules."contract.value".window: unknown key '
            "(allowed: queue, absolute, percent, combine)",
        ),
        (
            '[rules."contract.value"]\nqueue = "FINANCE_OPS"\npercent = "abc"',
            "test.toml: rules.\"contract.value\".percent: not a decimal: 'abc'",
        ),
        (
            '[rules."contract.value"]\nqueue = "FINANCE_OPS"\npercent = "-1"',
            "test.toml: rules.\"contract.value\".percent: must not be negative: '-1'",
        ),
        (
            '[rules."contract.value"]\nqueue = "FINANCE_OPS"\npercent = "NaN"',
            "test.toml: rules.\"contract.value\".percent: not a finite decimal: 'NaN'",
        ),
        (
            '[rules."contract.value"]\nqueue = "FINANCE_OPS"\npercent = 0.5',
            'test.toml: rules."contract.value".percent: write decimals as strings ("0.5"): '
            "a TOML float is inexact",
        ),
        (
            '[rules."contract.value"]\nqueue = "FINANCE_OPS"\nabsolute = { usd = "1" }',
            'test.toml: rules."contract.value".absolute.usd: not an ISO 4217 currency code '
            "(three upper-case letters)",
        ),
        (
            '[rules."contract.value"]\nqueue = "FINANCE_OPS"\nabsolute = { USD = "-0.01" }',
            "test.toml: rules.\"contract.value\".absolute.USD: must not be negative: '-0.01'",
        ),
        (
            '[rules."contract.value"]\nqueue = "FINANCE_OPS"\nabsolute = { JPY = "0.5" }',
            'test.toml: rules."contract.value".absolute.JPY: JPY has 0 decimal places; '
            "'0.5' has more",
        ),
        (
            '[rules."contract.value"]\nqueue = "FINANCE_OPS"\nabsolute = { USD = "0.001" }',
            'test.toml: rules."contract.value".absolute.USD: USD has 2 decimal places; '
            "'0.001' has more",
        ),
        (
            '[rules."contract.value"]\nqueue = "FINANCE_OPS"\nabsolute = "1.00"',
            'test.toml: rules."contract.value".absolute: must be a table of currency = amount, '
            'e.g. { USD = "1.00" }',
        ),
        (
            '[rules."contract.value"]\nqueue = "FINANCE_OPS"\ncombine = "XOR"',
            "test.toml: rules.\"contract.value\".combine: must be AND or OR, not 'XOR'",
        ),
        (
            '[rules."invoice.posting"]\nqueue = "FINANCE_OPS"\nposting_window = "3 days"',
            "test.toml: rules.\"invoice.posting\".posting_window: not a duration: '3 days' "
            '(use e.g. "72h", "30m", "1d12h")',
        ),
        (
            '[rules."invoice.posting"]\nqueue = "FINANCE_OPS"\nposting_window = "-1h"',
            "test.toml: rules.\"invoice.posting\".posting_window: must not be negative: '-1h'",
        ),
        (
            '[rules."invoice.posting"]\nqueue = "FINANCE_OPS"\nposting_window = 72',
            'test.toml: rules."invoice.posting".posting_window: must be a duration string '
            'such as "72h", not 72',
        ),
        (
            '[rules."invoice.posting"]\nqueue = "FINANCE_OPS"',
            'test.toml: rules."invoice.posting".posting_window: missing: this rule requires it',
        ),
        (
            '[rules."contract.activation"]\nactivation_slo = "24h"',
            'test.toml: rules."contract.activation".queue: missing: this rule requires it',
        ),
    ],
)
def test_a_bad_rule_table_is_refused_naming_file_key_and_problem(tables: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        policy(tables)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'version = 1\n[rules."customer.links"]\nqueue = "SALES_OPS"',
            "test.toml: version: unknown key (expected: rules)",
        ),
        (
            'rules = "all"',
            'test.toml: rules: missing: a table per rule, e.g. [rules."contract.value"]',
        ),
        ("", 'test.toml: rules: missing: a table per rule, e.g. [rules."contract.value"]'),
        (
            '[rules."contract.values"]\nqueue = "FINANCE_OPS"',
            f'test.toml: rules."contract.values": unknown rule (known: {RULES})',
        ),
        (
            '[rules."customer.links"]\nqueue = "SALES_OPS"',
            'test.toml: rules."customer.attributes": missing: every rule needs a table',
        ),
        (
            'rules = { "customer.links" = 1 }',
            'test.toml: rules."customer.links": must be a table',
        ),
    ],
)
def test_a_bad_file_is_refused(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "test.toml")
    assert str(caught.value) == message


def test_invalid_toml_names_the_file() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy("[rules", "test.toml")
    assert str(caught.value).startswith("test.toml: not valid TOML: ")
    assert caught.value.key is None


def test_decimals_may_be_integers_and_durations_combine_units() -> None:
    loaded = policy(
        '[rules."contract.value"]\nqueue = "PLATFORM"\nabsolute = { JPY = 100, USD = "1" }\n'
        'percent = 2\ncombine = "AND"\n'
        '[rules."invoice.posting"]\nqueue = "FINANCE_OPS"\nposting_window = "1d2h3m4s"'
    )
    value = loaded.threshold(RuleName.CONTRACT_VALUE)
    assert value == Threshold({"JPY": Decimal(100), "USD": Decimal(1)}, Decimal(2), Combine.AND)
    assert loaded.queue(RuleName.CONTRACT_VALUE) is ExceptionQueue.PLATFORM
    assert loaded.posting_window == timedelta(days=1, hours=2, minutes=3, seconds=4)


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(hours=72), "72h"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(seconds=5), "5s"),
        (timedelta(0), "0s"),
    ],
)
def test_durations_are_shown_as_written(duration: timedelta, text: str) -> None:
    assert duration_text(duration) == text


USD_JPY_ABS = {"USD": Decimal("1.00"), "JPY": Decimal("100")}


def m(amount: str, currency: str) -> Money:
    return Money.of(amount, currency)


@pytest.mark.parametrize(
    ("threshold", "variance", "reference", "within"),
    [
        # Exact (no test applies): only zero.
        (Threshold(), m("0.00", "USD"), m("100.00", "USD"), True),
        (Threshold(), m("0.01", "USD"), m("100.00", "USD"), False),
        (Threshold(), m("-1", "JPY"), m("1000", "JPY"), False),
        # Absolute only, per currency; the sign of the variance does not matter.
        (Threshold(USD_JPY_ABS), m("-1.00", "USD"), m("10.00", "USD"), True),
        (Threshold(USD_JPY_ABS), m("1.01", "USD"), m("1000000.00", "USD"), False),
        (Threshold(USD_JPY_ABS), m("100", "JPY"), m("500", "JPY"), True),
        (Threshold(USD_JPY_ABS), m("101", "JPY"), m("1000000", "JPY"), False),
        # A currency without an absolute limit (and no percent): exact.
        (Threshold(USD_JPY_ABS), m("0.01", "EUR"), m("100.00", "EUR"), False),
        # Percent only: |v| * 100 <= p * |r|.
        (Threshold(percent=Decimal("0.5")), m("5.00", "USD"), m("1000.00", "USD"), True),
        (Threshold(percent=Decimal("0.5")), m("5.01", "USD"), m("1000.00", "USD"), False),
        (Threshold(percent=Decimal("0.5")), m("500", "JPY"), m("100000", "JPY"), True),
        (Threshold(percent=Decimal("0.5")), m("501", "JPY"), m("100000", "JPY"), False),
        (Threshold(percent=Decimal("0.5")), m("0.01", "USD"), m("0.00", "USD"), False),
        (Threshold(percent=Decimal("0.5")), m("0.00", "USD"), m("0.00", "USD"), True),
        # OR: either test suffices.
        (
            Threshold(USD_JPY_ABS, Decimal("0.5"), Combine.OR),
            m("4.00", "USD"),
            m("1000.00", "USD"),
            True,  # 4.00 > 1.00 but 0.4% <= 0.5%
        ),
        (
            Threshold(USD_JPY_ABS, Decimal("0.5"), Combine.OR),
            m("0.90", "USD"),
            m("10.00", "USD"),
            True,  # 9% > 0.5% but 0.90 <= 1.00
        ),
        (
            Threshold(USD_JPY_ABS, Decimal("0.5"), Combine.OR),
            m("150", "JPY"),
            m("10000", "JPY"),
            False,  # 150 > 100 and 1.5% > 0.5%
        ),
        (
            Threshold(USD_JPY_ABS, Decimal("0.5"), Combine.OR),
            m("150", "JPY"),
            m("100000", "JPY"),
            True,  # 0.15%
        ),
        # AND: both must hold.
        (
            Threshold(USD_JPY_ABS, Decimal("0.5"), Combine.AND),
            m("4.00", "USD"),
            m("1000.00", "USD"),
            False,
        ),
        (
            Threshold(USD_JPY_ABS, Decimal("0.5"), Combine.AND),
            m("0.90", "USD"),
            m("1000.00", "USD"),
            True,
        ),
        (
            Threshold(USD_JPY_ABS, Decimal("0.5"), Combine.AND),
            m("90", "JPY"),
            m("100000", "JPY"),
            True,  # 90 <= 100 and 0.09% <= 0.5%
        ),
        (
            Threshold(USD_JPY_ABS, Decimal("0.5"), Combine.AND),
            m("90", "JPY"),
            m("10000", "JPY"),
            False,  # 90 <= 100 but 0.9% > 0.5%
        ),
        # AND with the currency not listed: the percent test alone.
        (
            Threshold(USD_JPY_ABS, Decimal("0.5"), Combine.AND),
            m("4.00", "EUR"),
            m("1000.00", "EUR"),
            True,
        ),
    ],
)
def test_threshold_semantics(
    threshold: Threshold, variance: Money, reference: Money, within: bool
) -> None:
    assert threshold.within(variance, reference) is within


def test_a_threshold_never_compares_across_currencies() -> None:
    with pytest.raises(CurrencyMismatch):
        Threshold().within(m("1", "USD"), m("1", "EUR"))


def test_thresholds_describe_themselves() -> None:
    both = Threshold(USD_JPY_ABS, Decimal("0.5"), Combine.AND)
    assert both.describe("JPY") == "±100 JPY and 0.5%"
    assert both.describe("EUR") == "0.5%"
    assert Threshold().describe("USD") == "exact"
