"""contract.value: contract value, billing over the term and ERP schedule total agree."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from domain.consistency.policy import Policy
from domain.consistency.rules import contract_value
from domain.consistency.types import CheckStatus, RuleName, SubjectKind, SystemValue
from domain.exception_items import ExceptionQueue
from domain.money import Money
from domain.records import ContractStatus, SubscriptionStatus
from sources.systems import System

from .builders import (
    ACCOUNT,
    CONTRACT,
    DEFAULT,
    NOW,
    bundle,
    contract,
    contract_bundle,
    down,
    item,
    only,
    policy,
    schedule,
    schedule_bundle,
    subscription,
    usd,
)

TOLERANCE = "(tolerance ±0.50 USD or 0.01%)"


def erp_total(total: str, **changes: Any) -> tuple[Any, ...]:
    return (schedule_bundle(schedule(total, "0.00", **changes)),)


@pytest.mark.parametrize(
    ("changes", "status", "message", "variance"),
    [
        (
            {},
            CheckStatus.CONSISTENT,
            "BILLING and ERP agree with the contract value 2400.00 USD",
            usd("0.00"),
        ),
        (
            {"schedules": erp_total("2500.00")},
            CheckStatus.DRIFT,
            "ERP schedule total 2500.00 USD differs from the contract value 2400.00 USD by "
            f"100.00 USD {TOLERANCE}",
            usd("100.00"),
        ),
        (
            {"schedules": erp_total("2400.40")},
            CheckStatus.CONSISTENT,
            "BILLING and ERP agree with the contract value 2400.00 USD",
            usd("0.40"),
        ),
        (
            {"subscriptions": (subscription(items=(item("101.00"),)),)},
            CheckStatus.DRIFT,
            "BILLING billing over term 2424.00 USD differs from the contract value 2400.00 USD "
            f"by 24.00 USD {TOLERANCE}",
            usd("24.00"),
        ),
        (
            {
                "subscriptions": (subscription(items=(item("99.00"),)),),
                "schedules": erp_total("2500.00"),
            },
            CheckStatus.DRIFT,
            "BILLING billing over term 2376.00 USD differs from the contract value 2400.00 USD "
            f"by -24.00 USD {TOLERANCE}; ERP schedule total 2500.00 USD differs from the "
            f"contract value 2400.00 USD by 100.00 USD {TOLERANCE}",
            usd("100.00"),  # the largest
        ),
        # A counterpart at another version is contract.version's finding, not compared here.
        (
            {"schedules": erp_total("9999.00", version=2)},
            CheckStatus.CONSISTENT,
            "BILLING agrees with the contract value 2400.00 USD",
            usd("0.00"),
        ),
        (
            {"subscriptions": (subscription(contract_version=2, items=(item("1.00"),)),)},
            CheckStatus.CONSISTENT,
            "ERP agrees with the contract value 2400.00 USD",
            usd("0.00"),
        ),
        # Yearly prices count term/12 periods: 24 months of 1 x 1080.00 / year.
        (
            {
                "the_contract": contract(
                    total_value=usd("2160.00"), term_months=24, billing_frequency="Annual"
                ),
                "subscriptions": (subscription(items=(item("1080.00", 1, "year"),)),),
                "schedules": erp_total("2160.00"),
            },
            CheckStatus.CONSISTENT,
            "BILLING and ERP agree with the contract value 2160.00 USD",
            usd("0.00"),
        ),
        # Mixed intervals, a term that is not whole years: 18 x 10.00 + 1.5 x 120.00.
        (
            {
                "the_contract": contract(total_value=usd("360.00"), term_months=18),
                "subscriptions": (
                    subscription(items=(item("10.00", 1), item("120.00", 1, "year"))),
                ),
                "schedules": (),
            },
            CheckStatus.CONSISTENT,
            "BILLING agrees with the contract value 360.00 USD",
            usd("0.00"),
        ),
        (
            {"subscriptions": (subscription(items=(item(interval="week"),)),), "schedules": ()},
            CheckStatus.DRIFT,
            "BILLING sub_1: its billing over the term cannot be computed (term or interval "
            "unknown)",
            None,
        ),
        (
            {
                "subscriptions": (subscription(currency="EUR", items=(item(currency="EUR"),)),),
                "schedules": (),
            },
            CheckStatus.DRIFT,
            "BILLING sub_1 is in EUR, the contract in USD",
            None,
        ),
        (
            {"schedules": (schedule_bundle(schedule(currency=None)),)},
            CheckStatus.DRIFT,
            "ERP 101: the revenue schedule has no currency",
            usd("0.00"),
        ),
        # Terminated: a truncated schedule is not the contract's value; a full one is.
        (
            {
                "the_contract": contract(status=ContractStatus.TERMINATED),
                "subscriptions": (subscription(status=SubscriptionStatus.CANCELED),),
                "schedules": erp_total("1200.00", end=date(2026, 6, 30)),
            },
            CheckStatus.CONSISTENT,
            "BILLING agrees with the contract value 2400.00 USD",
            usd("0.00"),
        ),
        (
            {
                "the_contract": contract(status=ContractStatus.TERMINATED),
                "subscriptions": (subscription(status=SubscriptionStatus.CANCELED),),
                "schedules": erp_total("1200.00"),
            },
            CheckStatus.DRIFT,
            "ERP schedule total 1200.00 USD differs from the contract value 2400.00 USD by "
            f"-1200.00 USD {TOLERANCE}",
            usd("-1200.00"),
        ),
        (
            {"subscriptions": down(System.BILLING)},
            CheckStatus.UNKNOWN,
            "BILLING could not be read (timeout)",
            None,
        ),
        (
            {"schedules": down(System.ERP)},
            CheckStatus.UNKNOWN,
            "ERP could not be read (timeout)",
            None,
        ),
    ],
)
def test_value(
    changes: dict[str, Any], status: CheckStatus, message: str, variance: Money | None
) -> None:
    check = only(
        contract_value.check(bundle(contracts=(contract_bundle(**changes),)), DEFAULT, NOW)
    )
    assert (check.rule, check.subject_kind, check.subject_id, check.customer_id) == (
        RuleName.CONTRACT_VALUE,
        SubjectKind.CONTRACT,
        CONTRACT,
        ACCOUNT,
    )
    assert (check.status, check.message, check.variance) == (status, message, variance)
    assert check.queue == (None if status is CheckStatus.CONSISTENT else ExceptionQueue.FINANCE_OPS)
    assert check.repair is None


def test_each_amount_side_by_side() -> None:
    item_ = contract_bundle(schedules=erp_total("2500.00"))
    check = only(contract_value.check(bundle(contracts=(item_,)), DEFAULT, NOW))
    assert check.values == (
        SystemValue(
            System.CONTRACTS,
            "2400.00",
            money=usd("2400.00"),
            record_id=CONTRACT,
            attribute="total_value",
        ),
        SystemValue(
            System.BILLING,
            "2400.00",
            money=usd("2400.00"),
            record_id="sub_1",
            attribute="billing_over_term",
        ),
        SystemValue(
            System.ERP,
            "2500.00",
            money=usd("2500.00"),
            record_id="101",
            attribute="schedule_total",
        ),
    )


@pytest.mark.parametrize(
    "item_",
    [
        contract_bundle(subscriptions=(), schedules=()),
        contract_bundle(
            contract(version=3),
            subscriptions=(subscription(contract_version=2),),
            schedules=erp_total("2400.00", version=2),
        ),
        contract_bundle(contract(status=ContractStatus.DRAFT)),
    ],
)
def test_no_check_without_a_counterpart_at_the_contracts_version(item_: Any) -> None:
    assert contract_value.check(bundle(contracts=(item_,)), DEFAULT, NOW) == []


JPY_EUR = """
[rules."contract.value"]
queue = "FINANCE_OPS"
absolute = {{ JPY = "50", EUR = "1.00" }}
percent = "0.1"
combine = "{combine}"
"""


def in_currency(total: str, erp: str, currency: str, unit: str) -> Any:
    """A 12-month monthly contract of ``total`` in ``currency``, billed 12 x ``unit``."""
    money = Money.of(total, currency)
    return contract_bundle(
        contract(currency=currency, total_value=money),
        subscriptions=(subscription(currency=currency, items=(item(unit, 1, currency=currency),)),),
        schedules=(schedule_bundle(schedule(erp, "0", currency=currency)),),
    )


@pytest.mark.parametrize(
    ("combine", "case", "status"),
    [
        # JPY (no minor unit): 30 yen on 120 000 is within 50 yen, and 0.025% is within 0.1%.
        ("OR", in_currency("120000", "120030", "JPY", "10000"), CheckStatus.CONSISTENT),
        ("AND", in_currency("120000", "120030", "JPY", "10000"), CheckStatus.CONSISTENT),
        # 80 yen on 120 000: over 50 yen, but 0.067% is within 0.1%.
        ("OR", in_currency("120000", "120080", "JPY", "10000"), CheckStatus.CONSISTENT),
        ("AND", in_currency("120000", "120080", "JPY", "10000"), CheckStatus.DRIFT),
        # 40 yen on 12 000: within 50 yen, but 0.33% is over 0.1%.
        ("OR", in_currency("12000", "12040", "JPY", "1000"), CheckStatus.CONSISTENT),
        ("AND", in_currency("12000", "12040", "JPY", "1000"), CheckStatus.DRIFT),
        # 200 yen on 12 000: over both.
        ("OR", in_currency("12000", "12200", "JPY", "1000"), CheckStatus.DRIFT),
        # EUR: 0.90 on 120.00 is within 1.00 but 0.75% is over 0.1%.
        ("OR", in_currency("120.00", "120.90", "EUR", "10.00"), CheckStatus.CONSISTENT),
        ("AND", in_currency("120.00", "120.90", "EUR", "10.00"), CheckStatus.DRIFT),
        # USD is not listed: the percent test alone (0.05% <= 0.1%; 0.2% > 0.1%).
        ("AND", in_currency("1200.00", "1200.60", "USD", "100.00"), CheckStatus.CONSISTENT),
        ("OR", in_currency("1200.00", "1202.40", "USD", "100.00"), CheckStatus.DRIFT),
    ],
)
def test_thresholds_per_currency_combined(combine: str, case: Any, status: CheckStatus) -> None:
    rules: Policy = policy(JPY_EUR.format(combine=combine))
    check = only(contract_value.check(bundle(contracts=(case,)), rules, NOW))
    assert check.status is status, check.message
