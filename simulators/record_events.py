"""Record change events of the CRM, Contracts and ERP simulators, sent as signed webhooks.

Salesforce and NetSuite have no webhook format a gateway could verify out of
the box, so these simulators share one: a JSON body ::

    {"id": "evt_01735689600123456", "object": "event", "type": "Account.updated",
     "created": "2025-01-01T00:00:00.123456+00:00",
     "object_type": "Account", "object_id": "001...", "record": {...}}

(``record`` as the REST API returns it; after a delete, as it was), signed
like Stripe signs but in its own header: ``X-Revgraph-Signature:
t=<unix>,v1=<hex>`` with the hex HMAC-SHA256 of ``f"{t}.{body}"`` under the
simulator's webhook secret. Delivery, and the hostile modes (duplicate,
out of order), are :class:`~simulators.webhooks.WebhookSender`'s.

``created`` has microseconds and ids grow with it, both strictly increasing
within a simulator, so a receiver can always tell which of two events of one
record is the newer.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any, Literal

from simulators.config import SimulatorConfig
from simulators.webhooks import Signer, WebhookSender, WebhookSettings

SIGNATURE_HEADER = "X-Revgraph-Signature"

Action = Literal["created", "updated", "deleted"]


def revgraph_signer(secret: str) -> Signer:
    """Headers signing a webhook body: ``X-Revgraph-Signature: t=..,v1=..``."""

    def sign(body: bytes) -> dict[str, str]:
        timestamp = int(time.time())
        signed = f"{timestamp}.".encode() + body
        digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        return {SIGNATURE_HEADER: f"t={timestamp},v1={digest}"}

    return sign


class RecordEvents:
    """Builds one event per record change and hands it to the webhook sender."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.sender = WebhookSender(
            revgraph_signer(config.webhook_secret), WebhookSettings(url=config.webhook_url)
        )
        self._last_us = 0

    def emit(
        self, object_type: str, action: Action, object_id: str, record: dict[str, Any]
    ) -> None:
        """Send ``{object_type}.{action}`` for ``record`` (when a URL is configured)."""
        # Microseconds, strictly increasing: two changes in one tick stay ordered.
        micros = self._last_us = max(time.time_ns() // 1000, self._last_us + 1)
        seconds, fraction = divmod(micros, 1_000_000)
        created = datetime.fromtimestamp(seconds, UTC).replace(microsecond=fraction)
        event = {
            "id": f"evt_{micros:017d}",
            "object": "event",
            "type": f"{object_type}.{action}",
            "created": created.isoformat(),
            "object_type": object_type,
            "object_id": object_id,
            "record": record,
        }
        self.sender.emit(event)
