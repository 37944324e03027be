"""Stored documents → canonical API objects: references looked up, sublists bounded, ``expand[]``.

Stored shapes follow ``simulators/SHAPES.md`` (what the seed writes). A
canonical object is the stored document plus what Stripe derives from other
objects: a subscription's ``latest_invoice`` (its newest invoice), its items'
``subscription``/``created``/billing period, an invoice's ``customer_email``/
``customer_name`` and ``subscription_details``, its lines' ``invoice``,
``subscription`` and ``subscription_item``, prices' ``created``.
:func:`simulators.billing.versions.present` then gives it the requested API
version's shape. An invoice embeds at most :data:`EMBEDDED_LINES` lines with
``has_more`` (the rest via ``/v1/invoices/{id}/lines``), as Stripe does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from simulators.billing.errors import InvalidParams
from simulators.billing.objects import Objects
from simulators.billing.versions import LEGACY_VERSION, ApiVersion, expandable
from simulators.storage import Document

EMBEDDED_LINES = 10


def expansions(
    paths: Iterable[str], kind: str, *, in_list: bool, version: ApiVersion = LEGACY_VERSION
) -> frozenset[str]:
    """Validated ``expand[]`` paths for ``kind`` (``data.customer`` inside a list), as the
    canonical fields they expand (``parent.subscription_details.subscription`` is the
    invoice's ``subscription``)."""
    allowed = expandable(kind, version)
    wanted = set()
    for path in paths:
        field = path
        if in_list:
            if not path.startswith("data."):
                raise InvalidParams(f"This property cannot be expanded ({path}).", param="expand")
            field = path.removeprefix("data.")
        if field not in allowed:
            raise InvalidParams(f"This property cannot be expanded ({path}).", param="expand")
        wanted.add(allowed[field])
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
    return {"object": "customer", **doc}


def price(doc: dict[str, Any], created: Any = None) -> dict[str, Any]:
    """A price; seeded prices carry no ``created``: the containing object's stands in."""
    out = {"object": "price", **doc}
    if out.get("created") is None:
        out["created"] = created
    return out


def latest_invoice(objects: Objects, subscription_id: str) -> str | None:
    """The newest invoice billing the subscription (Stripe's ``latest_invoice``)."""
    found = objects.find("invoice", "subscription", subscription_id)
    if not found:
        return None
    key_of = objects.order("invoice").key_of
    newest = min(found, key=lambda d: key_of.get(d["id"], (0, 0)))
    return str(newest["id"])


def subscription(
    objects: Objects, doc: Document, expand: frozenset[str] = frozenset()
) -> dict[str, Any]:
    out = {"object": "subscription", **doc}
    created = doc.get("created")
    items = [
        {
            "object": "subscription_item",
            "created": created,
            "metadata": {},
            **item,
            "subscription": doc["id"],
            "current_period_start": doc.get("current_period_start"),
            "current_period_end": doc.get("current_period_end"),
            "price": price(item["price"], item.get("created") or created),
        }
        for item in items_of(doc)
    ]
    out["items"] = {
        "object": "list",
        "data": items,
        "has_more": False,
        "total_count": len(items),
        "url": f"/v1/subscription_items?subscription={doc['id']}",
    }
    out["latest_invoice"] = latest_invoice(objects, doc["id"]) or doc.get("latest_invoice")
    return _expand(objects, out, expand)


def invoice_lines(objects: Objects, doc: Document) -> list[dict[str, Any]]:
    """An invoice's lines with their references (``subscription_item`` matched by price)."""
    sub_id = doc.get("subscription")
    sub = objects.get("subscription", sub_id) if isinstance(sub_id, str) else None
    items = items_of(sub) if sub is not None else []
    by_price = {i["price"].get("id"): i["id"] for i in items if isinstance(i.get("price"), dict)}
    by_product = {
        i["price"].get("product"): i["id"] for i in items if isinstance(i.get("price"), dict)
    }
    out = []
    for line in lines_of(doc):
        line_price = line.get("price")
        item_id = line.get("subscription_item")
        if item_id is None and isinstance(line_price, dict):
            item_id = by_price.get(line_price.get("id")) or by_product.get(
                line_price.get("product")
            )
        full = {
            "object": "line_item",
            "invoice": doc["id"],
            "metadata": {},
            "subscription": sub_id,
            **line,
            "subscription_item": item_id,
        }
        if isinstance(line_price, dict):
            full["price"] = price(line_price, doc.get("created"))
        out.append(full)
    return out


def invoice(
    objects: Objects, doc: Document, expand: frozenset[str] = frozenset()
) -> dict[str, Any]:
    out = {"object": "invoice", **doc}
    lines = invoice_lines(objects, doc)
    out["lines"] = {
        "object": "list",
        "data": lines[:EMBEDDED_LINES],
        "has_more": len(lines) > EMBEDDED_LINES,
        "total_count": len(lines),
        "url": f"/v1/invoices/{doc['id']}/lines",
    }
    owner = objects.get("customer", doc["customer"]) if doc.get("customer") else None
    if owner is not None:
        for field in ("email", "name", "phone", "address"):
            out.setdefault(f"customer_{field}", owner.get(field))
    sub_id = doc.get("subscription")
    if isinstance(sub_id, str) and "subscription_details" not in out:
        sub = objects.get("subscription", sub_id)
        out["subscription_details"] = {"metadata": (sub or {}).get("metadata") or {}}
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
