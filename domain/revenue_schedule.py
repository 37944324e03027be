"""Revenue schedule arithmetic: spread a contract's value by month, revise, truncate.

Pure functions over :class:`~domain.money.Money`; no I/O, no floats. The flows
compute what a schedule should hold with them, and the ERP adapter
(:meth:`sources.erp.client.ErpClient.upsert_schedule` and friends) writes it.
Like :mod:`domain.money` this module imports nothing above it, so adapters
may use its value types.

**Periods** are calendar months, written ``YYYY-MM`` (NetSuite's
``custrecord_rg_period``). A term ``[start, end]`` (both days included) covers
every month from ``start``'s to ``end``'s.

**Spreading** (:func:`spread`) follows NetSuite's "straight-line, prorate first
and last period" rule: every whole month gets the same share; a first or last
month the term covers only partly gets a share in proportion to the days it
covers (15 of 30 days: half a share). Shares are rounded half away from zero
to the currency's minor unit and the **last period takes the remainder**, so
the lines always sum to the total exactly (JPY to the yen, USD to the cent). A
total too small for that (the last share would change sign, e.g. 6 JPY over 12
months) is rounded toward zero instead, which leaves a last share of the same
sign.

**Revising** (:func:`revise`, an amendment) is prospective, by month:

* a recognized period keeps its amount, wherever it lies;
* an unrecognized period before the effective month keeps its amount too (its
  revenue was earned under the old terms, it is merely not booked yet);
* every unrecognized month from the effective month through the new end is
  re-spread: it receives ``new_total`` minus everything kept, by the spread
  rule (the effective month counts as a whole month, unless the term only
  starts later in it; the end month is prorated), so the schedule totals
  ``new_total`` exactly. Lines after the new end that are not recognized go.

The effective month itself takes the new terms in full, whatever the day of
the month the amendment takes effect: the schedule's grain is the month.

**Truncating** (:func:`truncate`, a termination) ends the schedule on the
effective date, the last day of service: unrecognized periods after the
effective month are removed; the effective month and every recognized period
are untouched (the effective month is not re-prorated).

All three are idempotent: applied to their own result with the same arguments
they return it unchanged, which is what lets a retried flow step converge.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from domain.money import Money

__all__ = [
    "PeriodAmount",
    "Recognition",
    "ScheduleError",
    "ScheduleLineState",
    "period_of",
    "periods",
    "revise",
    "spread",
    "total_of",
    "truncate",
]

_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


class ScheduleError(ValueError):
    """A schedule that cannot be built: bad term, bad periods, nowhere to put an amount."""


@dataclass(frozen=True, slots=True)
class PeriodAmount:
    """The revenue of one period (``YYYY-MM``)."""

    period: str
    amount: Money


@dataclass(frozen=True, slots=True)
class ScheduleLineState:
    """A schedule line as revisions see it: its period, amount and whether it is recognized."""

    period: str
    amount: Money
    recognized: bool = False


@dataclass(frozen=True, slots=True)
class Recognition:
    """One schedule line recognized for a period, and the journal entry that books it.

    ``newly`` is False when the line was already recognized before the call (a
    retried step): nothing was written then.
    """

    schedule_id: str
    line_id: str
    period: str
    amount: Money
    journal_entry_id: str | None
    newly: bool = True


def period_of(day: date) -> str:
    """The period (``YYYY-MM``) ``day`` falls in."""
    return f"{day.year:04d}-{day.month:02d}"


def periods(start: date, end: date) -> list[str]:
    """Every period from ``start``'s month through ``end``'s, in order."""
    return [period_of(first) for first, _ in _months(start, end)]


def total_of(lines: Sequence[PeriodAmount | ScheduleLineState], currency: str) -> Money:
    """The sum of ``lines`` (zero in ``currency`` when there are none)."""
    return sum((line.amount for line in lines), Money.zero(currency))


def spread(total: Money, start: date, end: date) -> list[PeriodAmount]:
    """``total`` spread ratably by month over ``[start, end]`` (see the module docstring).

    Raises :class:`ScheduleError` when ``end`` is before ``start``, and
    ``ValueError`` when ``total`` is finer than its currency's minor unit.
    """
    if end < start:
        raise ScheduleError(f"the term ends ({end}) before it starts ({start})")
    months = _months(start, end)
    weights = [_coverage(first, start, end) for first, _ in months]
    shares = _apportion(total, weights)
    return [
        PeriodAmount(period_of(first), share)
        for (first, _), share in zip(months, shares, strict=True)
    ]


def revise(
    lines: Sequence[ScheduleLineState],
    new_total: Money,
    effective: date,
    end: date,
    *,
    start: date | None = None,
) -> list[ScheduleLineState]:
    """The schedule after an amendment effective ``effective``, totalling ``new_total``.

    Recognized lines, and unrecognized lines before the effective month, keep
    their amounts; the unrecognized months from the effective month through
    ``end`` share the rest (see the module docstring). ``start``, the term's
    first day, matters only when the amendment takes effect in the term's first
    month (that month is then prorated as :func:`spread` did). Returns every line
    of the revised schedule in period order.

    Raises :class:`ScheduleError` when ``end`` lies before the effective month,
    or when an amount remains but every month from the effective one on is
    recognized; :class:`~domain.money.CurrencyMismatch` when a line is in
    another currency than ``new_total``.
    """
    _check_periods(lines)
    effective_period = period_of(effective)
    if period_of(end) < effective_period:
        raise ScheduleError(f"the term ends ({end}) before the amendment's month ({effective})")
    kept = [line for line in lines if line.recognized or line.period < effective_period]
    recognized = {line.period for line in kept if line.recognized}
    remaining = new_total - total_of(kept, new_total.currency)
    first_day = effective.replace(day=1)
    if start is not None and start > first_day and period_of(start) == effective_period:
        first_day = start
    open_months = [m for m in _months(first_day, end) if period_of(m[0]) not in recognized]
    if not open_months:
        if remaining.amount != 0:
            raise ScheduleError(
                f"{remaining} is left to schedule, but every period from {effective_period} "
                f"through {period_of(end)} is recognized"
            )
        return sorted(kept, key=_by_period)
    weights = [_coverage(first, first_day, end) for first, _ in open_months]
    shares = _apportion(remaining, weights)
    respread = [
        ScheduleLineState(period_of(first), share)
        for (first, _), share in zip(open_months, shares, strict=True)
    ]
    return sorted([*kept, *respread], key=_by_period)


def truncate(lines: Sequence[ScheduleLineState], effective: date) -> list[ScheduleLineState]:
    """The schedule ending on ``effective`` (the last day of service).

    Unrecognized lines after the effective month are dropped; every other line
    is returned unchanged, in period order.
    """
    _check_periods(lines)
    last_period = period_of(effective)
    kept = [line for line in lines if line.recognized or line.period <= last_period]
    return sorted(kept, key=_by_period)


# --- internals ----------------------------------------------------------------------


def _by_period(line: ScheduleLineState) -> str:
    return line.period


def _check_periods(lines: Sequence[ScheduleLineState]) -> None:
    seen: set[str] = set()
    for line in lines:
        if not _PERIOD.fullmatch(line.period):
            raise ScheduleError(f"not a period (YYYY-MM): {line.period!r}")
        if line.period in seen:
            raise ScheduleError(f"period {line.period} appears twice")
        seen.add(line.period)


def _months(start: date, end: date) -> list[tuple[date, date]]:
    """``(first day, last day)`` of every calendar month from ``start``'s to ``end``'s."""
    months = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        last = calendar.monthrange(year, month)[1]
        months.append((date(year, month, 1), date(year, month, last)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _coverage(first: date, start: date, end: date) -> Fraction:
    """The share of the month starting ``first`` that ``[start, end]`` covers (0..1]."""
    days = calendar.monthrange(first.year, first.month)[1]
    last = first.replace(day=days)
    covered = (min(last, end) - max(first, start)).days + 1
    return Fraction(covered, days)


def _apportion(total: Money, weights: Sequence[Fraction]) -> list[Money]:
    """``total`` split by ``weights`` in minor units; the last share takes the remainder."""
    minor = total.to_minor()
    whole = sum(weights, Fraction(0))
    exact = [minor * weight / whole for weight in weights[:-1]]
    shares = [_round_half_away(share) for share in exact]
    last = minor - sum(shares)
    if last * minor < 0:  # too small a total to round half up: round toward zero instead
        shares = [int(share) for share in exact]  # int() truncates a Fraction toward zero
        last = minor - sum(shares)
    return [Money.from_minor(share, total.currency) for share in [*shares, last]]


def _round_half_away(value: Fraction) -> int:
    magnitude = int(abs(value) + Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude
