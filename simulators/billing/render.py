"""Stored documents → API objects: Stripe's defaults filled in, sublists bounded, ``expand[]``.

Stored shapes follow ``simulators/SHAPES.md`` (what the seed writes); an answer
adds the fields Stripe always sends. An invoice embeds at most
:data:`EMBEDDED_LINES` lines with ``has_more`` (the rest via
``/v1/invoices/{id}/lines``), as Stripe does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from simulators.billing.errors import InvalidParams
from simulators.billing.objects import Objects
from simulators.storage import Document

EMBEDDED_LINES = 10

CUSTOMER_DEFAULTS: dict[str, Any] = {
    "object": "customer",
    "address": None,
    "balance": 0,
    "currency": None,
    "description": None,
    "email": None,
    "livemode": False,
    "metadata": {},
    "name": None,
    "phone": None,
}

SUBSCRIPTION_DEFAULTS: dict[str, Any] = {
    "object": "subscription",
    "cancel_at": None,
    "cancel_at_period_end": False,
    "canceled_at": None,
    "ended_at": None,
    "latest_invoice": None,
    "livemode": False,
    "metadata": {},
    "pause_collection": None,
}

INVOICE_DEFAULTS: dict[str, Any] = {
    "object": "invoice",
    "auto_advance": False,
    "collection_method": "charge_automatically",
    "description": None,
    "due_date": None,
    "livemode": False,
    "metadata": {},
    "number": None,
    "subscription": None,
    "status_transitions": {
        "finalized_at": None, "marked_uncollectible_at": None, "paid_at": None, "voided_at": None
    },
}

EXPANDABLE = {
    "customer": frozenset(),
    "subscription": frozenset({"customer", "latest_invoice"}),
    "invoice": frozenset({"customer", "subscription"}),
}


def expansions(paths: Iterable[str], kind: str, *, in_list: bool) -> frozenset[str]:
    """Validated ``expand[]`` fields for ``kind`` (``data.customer`` inside a list)."""
    wanted = set()
    for path in paths:
        field = path
        if in_list:
            if not path.startswith("data."):
                raise InvalidParams(
                    f"This property cannot be expanded ({path}).", param="expand"
                )
            field = path.removeprefix("data.")
        if field not in EXPANDABLE[kind]:
            raise InvalidParams(f"This property cannot be expanded ({path}).", param="expand")
        wanted.add(field)
    return frozenset(wanted)


def lines_of(doc: Document) -> list[dict[str, Any]]:
    """An invoice's stored lines (a list object per SHAPES.md, or a bare list)."""
    lines = doc.get("lines")
    if isinstance(lines, dict):
        return list(lines.get("data") or [])
    return list(lines or [])


def items_of(doc: Document) -> list[dict[str, Any]]:
    items = doc.get("items")
    if isinstance(items, dict):
        return list(items.get("data") or [])
    return list(items or [])


def customer(doc: Document) -> dict[str, Any]:
    if doc.get("deleted"):
        return {"id": doc["id"], "object": "customer", "deleted": True}
    return {"id": doc["id"], **CUSTOMER_DEFAULTS, **doc}


def subscription(
    objects: Objects, doc: Document, expand: frozenset[str] = frozenset()
) -> dict[str, Any]:
    out = {"id": doc["id"], **SUBSCRIPTION_DEFAULTS, **doc}
    items = items_of(doc)
    out["items"] = {
        "object": "list",
        "data": items,
        "has_more": False,
        "total_count": len(items),
        "url": f"/v1/subscription_items?subscription={doc['id']}",
    }
    return _expand(objects, out, expand)


def invoice(
    objects: Objects, doc: Document, expand: frozenset[str] = frozenset()
) -> dict[str, Any]:
    out = {"id": doc["id"], **INVOICE_DEFAULTS, **doc}
    lines = lines_of(doc)
    out["lines"] = {
        "object": "list",
        "data": lines[:EMBEDDED_LINES],
        "has_more": len(lines) > EMBEDDED_LINES,
        "total_count": len(lines),
        "url": f"/v1/invoices/{doc['id']}/lines",
    }
    return _expand(objects, out, expand)


def _expand(objects: Objects, out: dict[str, Any], expand: frozenset[str]) -> dict[str, Any]:
    for field in expand:
        ref = out.get(field)
        if not isinstance(ref, str):
            continue
        if field == "customer":
            found = objects.get("customer", ref)
            out[field] = customer(found) if found else ref
        elif field in ("subscription",):
            found = objects.get("subscription", ref)
            out[field] = subscription(objects, found) if found else ref
        elif field == "latest_invoice":
            found = objects.get("invoice", ref)
            out[field] = invoice(objects, found) if found else ref
    return out
