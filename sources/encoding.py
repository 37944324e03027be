"""What every adapter does to bytes and ids on the way in and out.

* :func:`decode_json` — a vendor's JSON body (UTF-8, as RFC 8259 requires),
  numbers with a fraction as :class:`~decimal.Decimal` (money never passes
  through a float);
* :func:`to_json` — Python values as JSON for a vendor: Decimals as numbers,
  dates ISO, instants UTC ``...Z``;
* :func:`utc`, :func:`from_epoch` — instants as aware UTC datetimes;
* :func:`unique` — ids without duplicates or empties, first occurrence order;
* :func:`wire_errors` — a payload that does not match its wire model (pydantic
  ``ValidationError``, an unknown enum value, a missing key) becomes a
  :class:`~sources.errors.SourceResponseError` naming the system.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import msgspec

from sources.errors import SourceResponseError, SourceServerError
from sources.systems import System

INVALID_RESPONSE = "INVALID_RESPONSE"

_DECODER = msgspec.json.Decoder(float_hook=Decimal)
"""Vendor JSON with fractions as Decimal, in 0.43 of json.loads' time (a Stripe list page)."""


def decode_json(system: System, response: httpx.Response) -> Any:
    """The body as JSON with exact decimals; a body that is not JSON is a
    :class:`SourceServerError` (a proxy's HTML page, a truncated answer)."""
    try:
        return _DECODER.decode(response.content)
    except ValueError as exc:  # msgspec.DecodeError is one
        content_type = response.headers.get("content-type", "no content type")
        raise SourceServerError(
            system,
            f"invalid JSON from {response.request.url.path} (expected JSON, got "
            f"{content_type}): {response.text[:200]!r}",
            status=response.status_code,
            vendor_code=INVALID_RESPONSE,
        ) from exc


def decode_object(system: System, response: httpx.Response, what: str = "answer") -> dict[str, Any]:
    """Like :func:`decode_json`, for bodies that must be a JSON object."""
    body = decode_json(system, response)
    if not isinstance(body, dict):
        raise SourceResponseError(
            system,
            f"{what} is not a JSON object but {type(body).__name__}",
            status=response.status_code,
            vendor_code=INVALID_RESPONSE,
        )
    return body


def to_json(value: Any) -> Any:
    """A Python value as the JSON a vendor expects.

    Decimals become JSON numbers (through float, which is exact for money
    amounts: a few decimals, fewer than 15 significant digits), dates ISO,
    datetimes UTC ``YYYY-MM-DDTHH:MM:SSZ`` (naive ones are taken as UTC).
    """
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def utc(moment: datetime | None) -> datetime | None:
    """An instant as an aware UTC datetime (a naive one is taken as UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def from_epoch(seconds: int | None) -> datetime | None:
    """Epoch seconds (Stripe's timestamps) as an aware UTC datetime."""
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def unique(values: Iterable[str | None]) -> list[str]:
    """``values`` without duplicates or empties, in first-occurrence order."""
    return [v for v in dict.fromkeys(values) if v]


@contextmanager
def wire_errors(system: System, what: str) -> Iterator[None]:
    """Translate a payload the adapter cannot read into a :class:`SourceResponseError`.

    Wrap the parsing of vendor JSON into wire models and domain records: pydantic's
    ``ValidationError`` (a ``ValueError``), an unknown status (``ValueError`` from
    the enum), a missing key or a wrong type are the vendor's answer not matching
    what the adapter was written against — reported with the system named, never
    as an anonymous internal error.
    """
    try:
        yield
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SourceResponseError(
            system,
            f"unexpected {what} payload: {_summary(exc)}",
            vendor_code=INVALID_RESPONSE,
        ) from exc


def _summary(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"
