"""Stripe events: stored (``GET /v1/events``) and delivered as signed webhooks.

A delivery carries ``Stripe-Signature: t=<unix>,v1=<hex>`` where the hex is
HMAC-SHA256 of ``f"{t}.{body}"`` under the endpoint secret, exactly as Stripe
signs; the receiver verifies it (the simulator only signs). Event objects are
rendered in the account's default API version at the time of the event (its
``api_version``), as Stripe renders events, whatever version the request that
caused it asked for.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from simulators.billing.objects import Objects
from simulators.billing.versions import Account, present
from simulators.webhooks import Signer, WebhookSender, WebhookSettings

KIND = "event"


def stripe_signer(secret: str) -> Signer:
    """Headers signing a webhook body the way Stripe does."""

    def sign(body: bytes) -> dict[str, str]:
        timestamp = int(time.time())
        signed = f"{timestamp}.".encode() + body
        digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        return {"Stripe-Signature": f"t={timestamp},v1={digest}"}

    return sign


def previous_attributes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What changed, as Stripe reports it: old values of changed keys (``None`` if new),
    recursing into hashes such as ``metadata``."""
    changed: dict[str, Any] = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict) and "object" not in old:
            changed[key] = previous_attributes(old, new)
        else:
            changed[key] = old
    return changed


class Events:
    """Records an event per change and hands it to the webhook sender."""

    def __init__(
        self, objects: Objects, *, secret: str, url: str | None, account: Account | None = None
    ) -> None:
        self.objects = objects
        self.account = account if account is not None else Account()
        self.sender = WebhookSender(stripe_signer(secret), WebhookSettings(url=url))

    async def emit(
        self,
        type_: str,
        obj: dict[str, Any],
        *,
        previous: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        request_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Record and send ``type_`` for ``obj`` (a canonical object); what changed is
        ``previous``, or worked out from ``before`` (the canonical object before)."""
        version = self.account.default_version
        shaped = present(obj, version)
        if before is not None:
            previous = previous_attributes(present(before, version), shaped)
        data: dict[str, Any] = {"object": shaped}
        if previous:
            data["previous_attributes"] = previous
        event = {
            "id": self.objects.new_id("evt_", KIND),
            "object": "event",
            "api_version": version.name,
            "created": self.objects.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1 if self.sender.settings.url else 0,
            "request": {"id": request_id, "idempotency_key": idempotency_key},
            "type": type_,
        }
        await self.objects.put(KIND, event)
        self.sender.emit(event)
        return event
