"""revenue.rollforward: the current schedule's lines, recognized and deferred add up."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from domain.consistency.rules import revenue_rollforward
from domain.consistency.types import CheckStatus, RuleName, SubjectKind, SystemValue
from domain.exception_items import ExceptionQueue
from domain.money import Money
from domain.records import ContractStatus
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
    lines,
    only,
    policy,
    schedule,
    schedule_bundle,
    usd,
)

TWELVE = ["200.00"] * 12
OK = (
    "revenue schedule 101 rolls forward: 600.00 USD recognized + 1800.00 USD deferred = 2400.00 USD"
)


def sched(**changes: Any) -> tuple[Any, ...]:
    """The baseline schedule bundle, its schedule or lines replaced."""
    the_lines = changes.pop("lines", lines(TWELVE))
    return (schedule_bundle(replace(schedule(), **changes), the_lines),)


@pytest.mark.parametrize(
    ("changes", "status", "message", "variance"),
    [
        ({}, CheckStatus.CONSISTENT, OK, usd("0.00")),
        (
            {"schedules": sched(lines=lines(["200.00"] * 11 + ["199.99"]))},
            CheckStatus.DRIFT,
            "revenue schedule 101 (version 1): the lines add up to 2399.99 USD, not 2400.00 USD",
            usd("-0.01"),
        ),
        (
            {"schedules": sched(lines=lines(["200.00"] * 11 + ["200.001"]))},
            CheckStatus.DRIFT,
            "revenue schedule 101 (version 1): the lines add up to 2400.001 USD, not 2400.00 USD",
            Money.of("0.001", "USD"),
        ),
        (
            {"schedules": sched(deferred=usd("1700.00"))},
            CheckStatus.DRIFT,
            "revenue schedule 101 (version 1): recognized + deferred is 2300.00 USD, not "
            "2400.00 USD",
            usd("-100.00"),
        ),
        (
            {"schedules": sched(lines=lines(TWELVE, recognized=4))},
            CheckStatus.DRIFT,
            "revenue schedule 101 (version 1): the recognized lines add up to 800.00 USD, not "
            "600.00 USD",
            usd("200.00"),
        ),
        # Recognized after the schedule's end (a line past the term).
        (
            {
                "schedules": sched(
                    total=usd("2600.00"),
                    deferred=usd("1800.00"),
                    lines=lines(TWELVE, recognized=3)
                    + lines(["200.00"], recognized=1, schedule_id="101x", start=13),
                    recognized=usd("800.00"),
                )
            },
            CheckStatus.DRIFT,
            "revenue schedule 101 (version 1): 1 line(s) recognized after the term ends in "
            "2026-12 (2027-01)",
            usd("0.00"),
        ),
        # The contract ends earlier than the schedule says: its end counts too.
        (
            {"the_contract": contract(end_date=date(2026, 2, 28))},
            CheckStatus.DRIFT,
            "revenue schedule 101 (version 1): 1 line(s) recognized after the term ends in "
            "2026-02 (2026-03)",
            usd("0.00"),
        ),
        # A truncated schedule (termination): recognized within its end is fine...
        (
            {
                "the_contract": contract(status=ContractStatus.TERMINATED),
                "schedules": sched(
                    end=date(2026, 3, 15),
                    total=usd("600.00"),
                    deferred=usd("0.00"),
                    lines=lines(["200.00"] * 3),
                ),
            },
            CheckStatus.CONSISTENT,
            "revenue schedule 101 rolls forward: 600.00 USD recognized + 0.00 USD deferred = "
            "600.00 USD",
            usd("0.00"),
        ),
        # ... a line recognized after it is not.
        (
            {
                "the_contract": contract(status=ContractStatus.TERMINATED),
                "schedules": sched(
                    end=date(2026, 2, 15),
                    total=usd("600.00"),
                    deferred=usd("0.00"),
                    lines=lines(["200.00"] * 3),
                ),
            },
            CheckStatus.DRIFT,
            "revenue schedule 101 (version 1): 1 line(s) recognized after the term ends in "
            "2026-02 (2026-03)",
            usd("0.00"),
        ),
        (
            {"schedules": (schedule_bundle(schedule(currency=None)),)},
            CheckStatus.DRIFT,
            "revenue schedule 101 has no currency: its amounts cannot be read",
            None,
        ),
        # Only the current (highest-version) schedule counts.
        (
            {
                "schedules": (
                    schedule_bundle(schedule(version=1), lines(["1.00"])),
                    schedule_bundle(schedule(version=2, schedule_id="102")),
                )
            },
            CheckStatus.CONSISTENT,
            OK.replace("schedule 101", "schedule 102"),
            usd("0.00"),
        ),
        (
            {"schedules": down(System.ERP)},
            CheckStatus.UNKNOWN,
            "ERP could not be read (timeout)",
            None,
        ),
        (
            {"schedules": (schedule_bundle(schedule(), down(System.ERP)),)},
            CheckStatus.UNKNOWN,
            "lines of revenue schedule 101: ERP could not be read (timeout)",
            None,
        ),
    ],
)
def test_rollforward(
    changes: dict[str, Any], status: CheckStatus, message: str, variance: Money | None
) -> None:
    check = only(
        revenue_rollforward.check(bundle(contracts=(contract_bundle(**changes),)), DEFAULT, NOW)
    )
    assert (check.rule, check.subject_kind, check.subject_id, check.customer_id) == (
        RuleName.REVENUE_ROLLFORWARD,
        SubjectKind.CONTRACT,
        CONTRACT,
        ACCOUNT,
    )
    assert (check.status, check.message, check.variance) == (status, message, variance)
    assert check.systems == (System.ERP,)
    assert check.queue == (None if status is CheckStatus.CONSISTENT else ExceptionQueue.FINANCE_OPS)
    assert check.repair is None


def test_the_breached_figures_are_shown() -> None:
    item = contract_bundle(schedules=sched(deferred=usd("1700.00")))
    check = only(revenue_rollforward.check(bundle(contracts=(item,)), DEFAULT, NOW))
    assert check.values == (
        SystemValue(System.ERP, "2400.00", usd("2400.00"), "101", attribute="total"),
        SystemValue(
            System.ERP, "2300.00", usd("2300.00"), "101", attribute="recognized_plus_deferred"
        ),
        SystemValue(System.ERP, "1700.00", usd("1700.00"), "101", attribute="deferred"),
    )


def test_no_schedule_no_check() -> None:
    item = contract_bundle(schedules=())
    assert revenue_rollforward.check(bundle(contracts=(item,)), DEFAULT, NOW) == []


def test_a_threshold_tolerates_rounding() -> None:
    tolerant = policy('[rules."revenue.rollforward"]\nqueue = "FINANCE_OPS"\npercent = "0.01"')
    item = contract_bundle(schedules=sched(lines=lines(["200.00"] * 11 + ["199.99"])))
    check = only(revenue_rollforward.check(bundle(contracts=(item,)), tolerant, NOW))
    assert check.status is CheckStatus.CONSISTENT
    assert check.variance == usd("-0.01")


def test_an_unreadable_contract_system_is_one_unknown_check_on_the_customer() -> None:
    check = only(revenue_rollforward.check(bundle(contracts=down(System.CONTRACTS)), DEFAULT, NOW))
    assert (check.subject_kind, check.status) == (SubjectKind.CUSTOMER, CheckStatus.UNKNOWN)
