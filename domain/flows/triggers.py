"""Flows that systems of record start through their webhooks.

Billing's invoice events post a finalized invoice to ERP AR. Registered on the
``invoice.`` prefix and decided by the invoice's status in the event, not by
the event type: the inbox applies a subject's events in order and skips one
older than an event already applied (``invoice.finalized`` arriving after
``invoice.paid``), so the posting must follow whichever event got through. The
posting's correlation id comes from the invoice, so a webhook delivered twice,
two events of one invoice, or a webhook and a ``postInvoice`` mutation journal
one transaction and post once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from domain.flows.engine import FlowRunner
from domain.flows.finance import posting_correlation_id
from domain.transactions import TransactionKind
from domain.webhooks import WebhookEvent
from sources.systems import System

__all__ = ["Trigger", "triggers"]

Trigger = tuple[System, str, Callable[[WebhookEvent], Awaitable[None]]]
"""(source, event type prefix, handler)."""


def triggers(runner: FlowRunner) -> list[Trigger]:
    """The webhook handlers that start flows on ``runner``."""

    async def post_invoice(event: WebhookEvent) -> None:
        if _invoice_status(event) not in POSTABLE:
            return  # a draft (or a deleted one): nothing to post yet
        # Durable once journaled: the flow goes on even if this process stops now.
        await runner.start(
            TransactionKind.POST_INVOICE,
            posting_correlation_id(event.subject),
            event.subject,
            {"invoice_id": event.subject},
            idempotency_key=f"webhook:{event.source}:{event.event_id}",
        )

    return [(System.BILLING, "invoice.", post_invoice)]


POSTABLE = frozenset({"open", "paid", "uncollectible"})
"""Invoice statuses that are finalized: what AR must hold."""


def _invoice_status(event: WebhookEvent) -> str | None:
    data = event.payload.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    status = obj.get("status") if isinstance(obj, dict) else None
    return status if isinstance(status, str) else None
