"""Revenue schedule arithmetic: spread, revise, truncate (domain.revenue_schedule).

The property-style tests draw terms and totals from a seeded ``random.Random``
(reproducible, no extra dependency) and check the invariants on every draw.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain.money import CurrencyMismatch, Money
from domain.revenue_schedule import (
    PeriodAmount,
    ScheduleError,
    ScheduleLineState,
    period_of,
    periods,
    revise,
    spread,
    total_of,
    truncate,
)

CURRENCIES = ("USD", "JPY", "EUR", "KWD")


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def jpy(amount: int) -> Money:
    return Money.of(amount, "JPY")


def amounts(lines: list[PeriodAmount] | list[ScheduleLineState]) -> list[str]:
    return [str(line.amount.amount) for line in lines]


def states(
    lines: list[PeriodAmount], recognized_through: str | None = None
) -> list[ScheduleLineState]:
    return [
        ScheduleLineState(
            line.period,
            line.amount,
            recognized=recognized_through is not None and line.period <= recognized_through,
        )
        for line in lines
    ]


# --- periods ------------------------------------------------------------------------


def test_periods_are_calendar_months_inclusive() -> None:
    assert period_of(date(2026, 3, 31)) == "2026-03"
    assert periods(date(2025, 11, 15), date(2026, 2, 1)) == [
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
    ]
    assert periods(date(2026, 5, 5), date(2026, 5, 6)) == ["2026-05"]


# --- spread -------------------------------------------------------------------------


def test_spread_whole_months_equally_remainder_on_last() -> None:
    lines = spread(usd("100.00"), date(2026, 1, 1), date(2026, 3, 31))
    assert [line.period for line in lines] == ["2026-01", "2026-02", "2026-03"]
    assert amounts(lines) == ["33.33", "33.33", "33.34"]
    lines = spread(usd("200.00"), date(2026, 1, 1), date(2026, 3, 31))
    assert amounts(lines) == ["66.67", "66.67", "66.66"]  # half up; the last absorbs it


def test_spread_matches_the_seed_rule_for_a_twelve_month_term() -> None:
    lines = spread(usd("12000.00"), date(2025, 12, 1), date(2026, 11, 30))
    assert len(lines) == 12
    assert {line.amount for line in lines} == {usd("1000.00")}
    assert lines[0].period == "2025-12" and lines[-1].period == "2026-11"


def test_spread_prorates_a_partial_first_and_last_month() -> None:
    # Jan 17-31 is 15/31 of January, Mar 1-15 is 15/31 of March: weights 15/31, 1, 15/31
    # (February is whole: 1, whatever its 28 days), so January gets 1000 * 15/61.
    lines = spread(usd("1000.00"), date(2026, 1, 17), date(2026, 3, 15))
    assert [line.period for line in lines] == ["2026-01", "2026-02", "2026-03"]
    assert amounts(lines) == ["245.90", "508.20", "245.90"]
    assert total_of(lines, "USD") == usd("1000.00")


def test_spread_zero_decimal_currency_in_whole_yen() -> None:
    lines = spread(jpy(1_000_000), date(2026, 1, 1), date(2026, 12, 31))
    assert amounts(lines) == ["83333"] * 11 + ["83337"]
    assert all(line.amount.currency == "JPY" for line in lines)


def test_spread_one_day_and_zero_and_negative_totals() -> None:
    assert spread(usd("5.00"), date(2026, 2, 3), date(2026, 2, 3)) == [
        PeriodAmount("2026-02", usd("5.00"))
    ]
    assert amounts(spread(usd("0"), date(2026, 1, 1), date(2026, 2, 28))) == ["0.00", "0.00"]
    assert amounts(spread(usd("-100.00"), date(2026, 1, 1), date(2026, 3, 31))) == [
        "-33.33",
        "-33.33",
        "-33.34",
    ]


def test_spread_a_total_too_small_to_round_half_up_rounds_toward_zero() -> None:
    # 6 yen over 12 months: half up would give 1 yen x 11 and -5 on the last.
    lines = spread(jpy(6), date(2026, 1, 1), date(2026, 12, 31))
    assert amounts(lines) == ["0"] * 11 + ["6"]


def test_spread_refuses_a_backwards_term_and_sub_unit_totals() -> None:
    with pytest.raises(ScheduleError, match="before it starts"):
        spread(usd("1.00"), date(2026, 2, 1), date(2026, 1, 31))
    with pytest.raises(ValueError, match="precision"):
        spread(Money.of("10.5", "JPY"), date(2026, 1, 1), date(2026, 2, 28))


@pytest.mark.parametrize("currency", CURRENCIES)
def test_spread_property_sums_exactly(currency: str) -> None:
    rng = random.Random(f"spread-{currency}")
    for _ in range(400):
        start = date(2024, 1, 1) + timedelta(days=rng.randrange(0, 900))
        end = start + timedelta(days=rng.randrange(0, 1500))
        minor = rng.choice((0, 1, 7, 99, 1_000, 10 ** rng.randrange(3, 12))) + rng.randrange(0, 997)
        minor *= rng.choice((1, 1, 1, -1))
        total = Money.from_minor(minor, currency)
        lines = spread(total, start, end)
        assert [line.period for line in lines] == periods(start, end)
        assert total_of(lines, currency) == total  # exact, never a unit off
        for line in lines:
            assert line.amount.currency == currency
            line.amount.to_minor()  # at the currency's precision
            # every share has the total's sign (or is zero)
            assert line.amount.amount * total.amount >= 0
        # whole months (neither first nor last) all get the same share
        middle = {line.amount for line in lines[1:-2]}
        assert len(middle) <= 1


# --- revise -------------------------------------------------------------------------


def test_revise_keeps_recognized_and_respreads_the_rest() -> None:
    before = states(spread(usd("1200.00"), date(2026, 1, 1), date(2026, 12, 31)), "2026-03")
    after = revise(before, usd("2100.00"), date(2026, 4, 1), date(2026, 12, 31))
    assert [line.period for line in after] == [line.period for line in before]
    assert after[:3] == before[:3]  # recognized: untouched
    assert amounts(after[3:]) == ["200.00"] * 9  # (2100 - 300) / 9
    assert total_of(after, "USD") == usd("2100.00")
    assert [line.recognized for line in after] == [True] * 3 + [False] * 9


def test_revise_keeps_unrecognized_periods_before_the_effective_month() -> None:
    # Recognized through January; the amendment takes effect mid-April.
    before = states(spread(usd("1200.00"), date(2026, 1, 1), date(2026, 12, 31)), "2026-01")
    after = revise(before, usd("300.00"), date(2026, 4, 15), date(2026, 12, 31))
    assert after[:3] == before[:3]  # Jan recognized; Feb and Mar unrecognized but earned
    assert not after[1].recognized
    # 300 - 300 kept = 0 left for April .. December
    assert amounts(after[3:]) == ["0.00"] * 9


def test_revise_can_extend_and_shorten_the_term() -> None:
    before = states(spread(usd("600.00"), date(2026, 1, 1), date(2026, 6, 30)), "2026-02")
    longer = revise(before, usd("1000.00"), date(2026, 3, 1), date(2026, 9, 30))
    assert [line.period for line in longer][-1] == "2026-09"
    assert amounts(longer[2:]) == ["114.29"] * 6 + ["114.26"]
    assert total_of(longer, "USD") == usd("1000.00")
    shorter = revise(before, usd("400.00"), date(2026, 3, 1), date(2026, 4, 15))
    # March whole, April prorated 15/30 of a share
    assert [line.period for line in shorter] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert amounts(shorter[2:]) == ["133.33", "66.67"]


def test_revise_keeps_recognized_periods_after_the_new_end() -> None:
    before = states(spread(usd("600.00"), date(2026, 1, 1), date(2026, 6, 30)), "2026-05")
    after = revise(before, usd("700.00"), date(2026, 3, 1), date(2026, 6, 30))
    # March-May are recognized (untouched), only June is open: it gets 700 - 500.
    assert amounts(after) == ["100.00"] * 5 + ["200.00"]


def test_revise_in_the_first_partial_month_prorates_it_as_spread_did() -> None:
    start, end = date(2026, 1, 17), date(2026, 3, 15)
    before = states(spread(usd("1000.00"), start, end))
    assert revise(before, usd("1000.00"), date(2026, 1, 20), end, start=start) == before
    # without the start, the effective month counts whole: weights 1, 1, 15/31
    whole = revise(before, usd("1000.00"), date(2026, 1, 20), end)
    assert amounts(whole) == ["402.60", "402.60", "194.80"]


def test_revise_is_idempotent() -> None:
    before = states(spread(usd("1000.00"), date(2026, 1, 1), date(2026, 12, 31)), "2026-02")
    once = revise(before, usd("1234.56"), date(2026, 5, 10), date(2027, 3, 31))
    assert revise(once, usd("1234.56"), date(2026, 5, 10), date(2027, 3, 31)) == once


def test_revise_refuses_what_it_cannot_place() -> None:
    before = states(spread(usd("300.00"), date(2026, 1, 1), date(2026, 3, 31)), "2026-03")
    with pytest.raises(ScheduleError, match="every period"):
        revise(before, usd("400.00"), date(2026, 2, 1), date(2026, 3, 31))
    # nothing to place: fine
    assert revise(before, usd("300.00"), date(2026, 2, 1), date(2026, 3, 31)) == before
    with pytest.raises(ScheduleError, match="before the amendment"):
        revise(before, usd("300.00"), date(2026, 4, 1), date(2026, 3, 31))
    with pytest.raises(CurrencyMismatch):
        revise(before, Money.of(300, "EUR"), date(2026, 2, 1), date(2026, 3, 31))
    twice = [*before, before[0]]
    with pytest.raises(ScheduleError, match="twice"):
        revise(twice, usd("300.00"), date(2026, 2, 1), date(2026, 3, 31))
    with pytest.raises(ScheduleError, match="not a period"):
        revise(
            [ScheduleLineState("2026-13", usd("1"))], usd("1"), date(2026, 2, 1), date(2026, 3, 1)
        )


@pytest.mark.parametrize("currency", CURRENCIES)
def test_revise_property(currency: str) -> None:
    rng = random.Random(f"revise-{currency}")
    for _ in range(300):
        start = date(2025, 1, 1) + timedelta(days=rng.randrange(0, 400))
        end = start + timedelta(days=rng.randrange(28, 1100))
        total = Money.from_minor(rng.randrange(0, 10**9), currency)
        months = periods(start, end)
        cut = months[rng.randrange(0, len(months))]
        before = states(spread(total, start, end), cut if rng.random() < 0.8 else None)
        effective = start + timedelta(days=rng.randrange(0, (end - start).days + 1))
        new_end = effective + timedelta(days=rng.randrange(0, 800))
        new_total = Money.from_minor(rng.randrange(0, 10**9), currency)
        try:
            after = revise(before, new_total, effective, new_end, start=start)
        except ScheduleError:
            # only when every month from the effective one is recognized
            open_ = [
                p
                for p in periods(effective, new_end)
                if not any(b.period == p and b.recognized for b in before)
            ]
            assert not open_
            continue
        assert total_of(after, currency) == new_total
        by_period = {line.period: line for line in after}
        assert len(by_period) == len(after)
        for line in before:
            if line.recognized or line.period < period_of(effective):
                assert by_period[line.period] == line  # kept as it was
        for line in after:
            line.amount.to_minor()
            assert line.recognized == (line.period in {b.period for b in before if b.recognized})
        assert revise(after, new_total, effective, new_end, start=start) == after


# --- truncate -----------------------------------------------------------------------


def test_truncate_drops_unrecognized_periods_after_the_effective_month() -> None:
    before = states(spread(usd("1200.00"), date(2026, 1, 1), date(2026, 12, 31)), "2026-02")
    after = truncate(before, date(2026, 4, 15))
    assert after == before[:4]  # Jan, Feb (recognized), Mar, Apr (the last month of service)
    assert total_of(after, "USD") == usd("400.00")
    assert truncate(after, date(2026, 4, 15)) == after  # idempotent


def test_truncate_never_touches_recognized_periods() -> None:
    before = states(spread(jpy(120_000), date(2026, 1, 1), date(2026, 12, 31)), "2026-06")
    after = truncate(before, date(2026, 3, 31))
    assert after == before[:6]
    assert truncate([], date(2026, 3, 31)) == []
    assert total_of([], "JPY") == jpy(0)
    with pytest.raises(ScheduleError, match="twice"):
        truncate([before[0], before[0]], date(2026, 3, 31))


def test_amounts_are_exact_decimals() -> None:
    line = spread(usd("10.00"), date(2026, 1, 1), date(2026, 3, 31))[0]
    assert isinstance(line.amount.amount, Decimal)
    assert line.amount == usd("3.33")
