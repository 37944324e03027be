"""Dates for the seed: a fixed reference day (never the clock) and vendor formats.

The seed works on a few hundred distinct days, so the conversions are cached.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from functools import cache

TODAY = date(2026, 11, 1)
"""The seed's "today": contracts, invoices and recognition are laid out around it."""

REFERENCE_MONTH = TODAY.strftime("%Y-%m")
"""Revenue periods before this month are recognized."""


@cache
def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clamped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


@cache
def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@cache
def unix(day: date, hour: int = 12) -> int:
    """Stripe timestamp: unix seconds of ``day`` at ``hour`` UTC."""
    return calendar.timegm((day.year, day.month, day.day, hour, 0, 0))


def sf_datetime(day: date, hour: int = 12) -> str:
    """Salesforce datetime, e.g. ``2026-01-31T12:00:00.000+0000``."""
    return f"{day.isoformat()}T{hour:02d}:00:00.000+0000"


def ns_datetime(day: date, hour: int = 12) -> str:
    """NetSuite datetime, e.g. ``2026-01-31T12:00:00Z``."""
    return f"{day.isoformat()}T{hour:02d}:00:00Z"


def days(n: int) -> timedelta:
    return timedelta(days=n)
