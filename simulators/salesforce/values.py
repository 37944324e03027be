"""Salesforce value formats: datetimes, dates and money as they travel in JSON."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

_DATETIME_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})?$"
)
_CENT = Decimal("0.01")


def format_datetime(value: datetime) -> str:
    """``2026-01-31T12:00:00.000+0000``: how Salesforce writes datetimes."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def now_datetime() -> str:
    return format_datetime(datetime.now(UTC))


def today() -> date:
    return datetime.now(UTC).date()


@lru_cache(maxsize=65536)
def parse_datetime(value: str) -> datetime | None:
    """A Salesforce or ISO 8601 datetime (``Z``, ``+0000`` or ``+00:00``); None if invalid."""
    match = _DATETIME_RE.match(value)
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    zone = zone or "Z"
    if zone != "Z" and ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    text = f"{day}T{clock}{fraction or ''}{'+00:00' if zone == 'Z' else zone}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@lru_cache(maxsize=65536)
def parse_date(value: str) -> date | None:
    """A ``YYYY-MM-DD`` date; None if invalid."""
    if len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def to_decimal(value: object) -> Decimal:
    """A JSON number as an exact Decimal (through ``str`` so floats don't leak digits)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def money(value: Decimal) -> float:
    """A Decimal amount as the 2-decimal JSON number Salesforce sends.

    The documents are JSON, so amounts are stored as numbers; rounding to cents
    first means the float's shortest repr is exactly the cent amount.
    """
    return float(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def add_months(start: date, months: int) -> date:
    """``start`` moved by whole months, clamped to the month's last day."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, min(start.day, day))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")
