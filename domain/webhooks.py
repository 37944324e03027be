"""Inbound webhooks: signature verification and the one event shape the gateway keeps.

Two signing schemes, both HMAC-SHA256 over ``f"{t}.{body}"`` (``t`` the
sender's unix time, ``body`` the exact bytes received) with a header
``t=<unix>,v1=<hex>[,v1=<hex>...]``:

* Billing signs as Stripe does, in ``Stripe-Signature`` (:func:`verify_stripe`);
* CRM, Contracts and ERP have no standard outbound signature, so their
  simulators sign with the same scheme in ``X-Revgraph-Signature``
  (:func:`verify_revgraph`).

A header may carry several ``v1`` values (the sender signs with the old and
the new secret while one is rotated) and the receiver may hold several
secrets (while it rotates its own): any ``v1`` matching any secret passes.
A signature older or newer than the tolerance (300 s) is refused, so a
captured delivery cannot be replayed later. Every refusal is a
:class:`SignatureError` saying why.

:func:`parse_event` turns a verified payload into a :class:`WebhookEvent`:
the source, the vendor's event id (the dedupe key), its type, the *subject*
(the id of the object the event is about: events of one subject apply in
order) and when it happened.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sources.systems import System

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "MAX_ID_LENGTH",
    "MAX_TYPE_LENGTH",
    "REVGRAPH_SIGNATURE_HEADER",
    "STRIPE_SIGNATURE_HEADER",
    "EventError",
    "SignatureError",
    "SignatureFailure",
    "WebhookEvent",
    "WebhookStatus",
    "parse_event",
    "signature_header",
    "verify",
]

STRIPE_SIGNATURE_HEADER = "Stripe-Signature"
REVGRAPH_SIGNATURE_HEADER = "X-Revgraph-Signature"
DEFAULT_TOLERANCE_S = 300
MAX_ID_LENGTH = 255
"""Longest event id or subject the inbox keeps (its column width)."""
MAX_TYPE_LENGTH = 64


class SignatureFailure(StrEnum):
    """Why a signature was refused."""

    MISSING_HEADER = "MISSING_HEADER"
    MALFORMED = "MALFORMED"
    NO_MATCH = "NO_MATCH"
    TIMESTAMP_OUT_OF_TOLERANCE = "TIMESTAMP_OUT_OF_TOLERANCE"


class SignatureError(ValueError):
    """A delivery whose signature does not prove it came from the sender."""

    def __init__(self, reason: SignatureFailure, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class EventError(ValueError):
    """A correctly signed body that is not an event the gateway understands."""


class WebhookStatus(StrEnum):
    """Where an event is in the inbox."""

    RECEIVED = "RECEIVED"
    """Stored, waiting to be applied."""
    APPLIED = "APPLIED"
    SUPERSEDED = "SUPERSEDED"
    """Older than an event of the same subject already applied: never applied."""
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One event from a system of record, as the inbox stores it."""

    source: System
    event_id: str
    type: str
    subject: str
    """The id of the object the event is about (Stripe ``data.object.id``)."""
    occurred_at: datetime
    """When it happened at the source (timezone-aware)."""
    payload: dict[str, Any]


def signature_header(system: System) -> str:
    """The header ``system``'s webhooks carry their signature in."""
    return STRIPE_SIGNATURE_HEADER if system is System.BILLING else REVGRAPH_SIGNATURE_HEADER


def verify(
    system: System,
    body: bytes,
    header: str | None,
    secrets: Sequence[str],
    now: datetime,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> None:
    """Check the signature of a delivery from ``system`` (its own scheme and header)."""
    _verify(signature_header(system), body, header, secrets, now, tolerance_s)


def _verify(
    name: str,
    body: bytes,
    header: str | None,
    secrets: Sequence[str],
    now: datetime,
    tolerance_s: float,
) -> None:
    if not header:
        raise SignatureError(SignatureFailure.MISSING_HEADER, f"no {name} header")
    timestamp, signatures = _parse_header(name, header)
    signed = f"{timestamp}.".encode() + body
    expected = [hmac.new(s.encode(), signed, hashlib.sha256).hexdigest() for s in secrets]
    # Every pair is compared (no early exit), in constant time per comparison.
    matched = False
    for candidate in signatures:
        for digest in expected:
            matched |= hmac.compare_digest(candidate, digest)
    if not matched:
        raise SignatureError(
            SignatureFailure.NO_MATCH, f"no {name} v1 signature matches the payload"
        )
    # Checked after the signature, so a forged header never learns about timestamps.
    age = now.timestamp() - timestamp
    if abs(age) > tolerance_s:
        raise SignatureError(
            SignatureFailure.TIMESTAMP_OUT_OF_TOLERANCE,
            f"{name} timestamp is {age:.0f} s from now, outside the {tolerance_s:g} s tolerance",
        )


def _parse_header(name: str, header: str) -> tuple[int, list[str]]:
    """``t`` and the ``v1`` values of ``t=..,v1=..``; other schemes (``v0``) are ignored."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError(SignatureFailure.MALFORMED, f"{name} item {item!r} is not k=v")
        if key == "t":
            # Bounded: a huge number would overflow the float arithmetic of the age check.
            if not value.isdigit() or len(value) > 12:
                raise SignatureError(SignatureFailure.MALFORMED, f"{name} t={value!r} is no time")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None:
        raise SignatureError(SignatureFailure.MALFORMED, f"{name} has no timestamp (t=)")
    if not signatures:
        raise SignatureError(SignatureFailure.MALFORMED, f"{name} has no v1 signature")
    return timestamp, signatures


# -- parsing -------------------------------------------------------------------------


def parse_event(system: System, payload: bytes | Mapping[str, Any]) -> WebhookEvent:
    """The :class:`WebhookEvent` in a (verified) delivery from ``system``.

    Billing sends Stripe events (``id``, ``type``, ``created`` in epoch seconds,
    ``data.object.id``); the other systems send ``id``, ``type``, ``created``
    (ISO 8601), ``object_type``, ``object_id`` and ``record``. Anything else is
    an :class:`EventError`.
    """
    body = _json_object(payload)
    parse = _PARSERS[system]
    try:
        return parse(system, body)
    except (KeyError, TypeError, ValueError) as exc:
        raise EventError(f"not a {system} event: {exc}") from exc


def _json_object(payload: bytes | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(payload, bytes):
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            raise EventError(f"body is not JSON: {exc}") from exc
    if not isinstance(payload, Mapping):
        raise EventError("body is not a JSON object")
    return dict(payload)


def _text(body: Mapping[str, Any], key: str, limit: int = MAX_ID_LENGTH) -> str:
    value = body[key]
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise ValueError(f"{key} must be a string of 1 to {limit} characters")
    return value


def _stripe(system: System, body: dict[str, Any]) -> WebhookEvent:
    created = body["created"]
    if isinstance(created, bool) or not isinstance(created, int):
        raise ValueError("created must be epoch seconds")
    data = body["data"]
    if not isinstance(data, Mapping) or not isinstance(data.get("object"), Mapping):
        raise ValueError("data.object must be an object")
    return WebhookEvent(
        source=system,
        event_id=_text(body, "id"),
        type=_text(body, "type", MAX_TYPE_LENGTH),
        subject=_text(data["object"], "id"),
        occurred_at=datetime.fromtimestamp(created, UTC),
        payload=body,
    )


def _record_change(system: System, body: dict[str, Any]) -> WebhookEvent:
    occurred = datetime.fromisoformat(_text(body, "created"))
    if occurred.tzinfo is None:
        raise ValueError("created must carry a UTC offset")
    return WebhookEvent(
        source=system,
        event_id=_text(body, "id"),
        type=_text(body, "type", MAX_TYPE_LENGTH),
        subject=_text(body, "object_id"),
        occurred_at=occurred.astimezone(UTC),
        payload=body,
    )


_PARSERS: dict[System, Callable[[System, dict[str, Any]], WebhookEvent]] = {
    System.BILLING: _stripe,
    System.CRM: _record_change,
    System.CONTRACTS: _record_change,
    System.ERP: _record_change,
}
