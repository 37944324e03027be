"""``/v1/subscriptions``: list, create, retrieve, update, cancel.

Items follow Stripe: on update ``items[i][id]`` addresses an existing item
(``quantity``, ``price``/``price_data``, ``deleted=true``), an item without
``id`` is added. ``pause_collection[behavior]=...`` pauses collection and,
as a simplification the gateway relies on, also shows ``status: "paused"``
(``pause_collection=`` resumes to ``active``). No invoice is created
automatically: invoices are created through ``/v1/invoices``.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Any

from simulators.billing import lists, render
from simulators.billing.context import Billing, Call
from simulators.billing.errors import InvalidParams, StripeError, missing
from simulators.billing.events import previous_attributes
from simulators.billing.forms import Params
from simulators.billing.prices import find_price, new_price
from simulators.billing.refs import existing
from simulators.storage import Document

KIND = "subscription"
URL = "/v1/subscriptions"
STATUSES = (
    "active",
    "past_due",
    "unpaid",
    "canceled",
    "incomplete",
    "incomplete_expired",
    "trialing",
    "paused",
    "all",
    "ended",
)
PAUSE_BEHAVIORS = ("keep_as_draft", "mark_uncollectible", "void")
ENDED = ("canceled", "incomplete_expired")


def add_interval(ts: int, interval: str, count: int) -> int:
    """``ts`` moved on by ``count`` intervals, months clamped to the month's last day."""
    start = datetime.fromtimestamp(ts, UTC)
    if interval in ("day", "week"):
        return int((start + timedelta(days=count * (7 if interval == "week" else 1))).timestamp())
    months = count * (12 if interval == "year" else 1)
    month0 = start.month - 1 + months
    year, month = start.year + month0 // 12, month0 % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


def _status_filter(status: str | None) -> lists.Predicate:
    if status is None:
        return lambda d: d.get("status") not in ENDED
    if status == "all":
        return lambda d: True
    if status == "ended":
        return lambda d: d.get("status") in ENDED
    return lambda d: d.get("status") == status


async def list_subscriptions(billing: Billing, call: Call) -> dict[str, Any]:
    params = call.params
    params.allow(*lists.LIST_PARAMS, "customer", "price", "status", "created")
    expand = call.expansions(KIND, in_list=True)
    customer = params.string("customer")
    price = params.string("price")
    status = params.choice("status", STATUSES)
    objects = billing.objects
    return lists.page(
        objects,
        KIND,
        params,
        url=URL,
        label=KIND,
        render=lambda d: render.subscription(objects, d, expand),
        candidates=objects.find(KIND, "customer", customer) if customer is not None else None,
        keep=[
            _status_filter(status),
            lists.created_filter(params),
            (lambda d: any(i["price"]["id"] == price for i in render.items_of(d)))
            if price is not None
            else None,
        ],
    )


async def _item(
    billing: Billing, sub_id: str, item: Params, existing: dict[str, Any] | None
) -> dict[str, Any]:
    """A subscription item from ``items[i][...]``, new or updating ``existing``."""
    price: dict[str, Any] | None = existing["price"] if existing else None
    price_id = item.string("price")
    price_data = item.hash("price_data")
    if price_id is not None and price_data is not None:
        raise InvalidParams(
            f"You may only specify one of these parameters: {item.name('price')}, "
            f"{item.name('price_data')}.",
            param=item.name("price_data"),
        )
    if price_id is not None:
        price = await find_price(billing, price_id, param=item.name("price"))
    elif price_data is not None:
        price = await new_price(billing, price_data, inline=True)
    if price is None:
        raise item.missing("price")
    quantity = item.integer("quantity", minimum=0)
    metadata = item.metadata_update(dict(existing.get("metadata") or {}) if existing else {})
    if existing is not None:
        return {
            **existing,
            "price": price,
            "quantity": existing.get("quantity", 1) if quantity is None else quantity,
            "metadata": existing.get("metadata", {}) if metadata is None else metadata,
        }
    return {
        "id": billing.objects.new_id("si_"),
        "object": "subscription_item",
        "created": billing.objects.now(),
        "metadata": metadata or {},
        "price": price,
        "quantity": 1 if quantity is None else quantity,
        "subscription": sub_id,
    }


def _currency(items: list[dict[str, Any]], customer: Document) -> str:
    currencies = {i["price"]["currency"] for i in items}
    if len(currencies) > 1:
        raise InvalidParams(
            "All prices on a subscription must have the same `currency`.", param="items"
        )
    currency = currencies.pop()
    if customer.get("currency") and customer["currency"] != currency:
        raise InvalidParams(
            f"You cannot combine currencies on a single customer. This customer has had a "
            f"subscription or payment in {customer['currency']}, but you are trying to pay "
            f"in {currency}.",
            param="items",
        )
    return str(currency)


def _period(start: int, items: list[dict[str, Any]], now: int) -> tuple[int, int]:
    """The billing period containing ``now`` for a subscription started at ``start``."""
    recurring = items[0]["price"].get("recurring") or {"interval": "month", "interval_count": 1}
    interval, count = recurring["interval"], int(recurring.get("interval_count") or 1)
    period_start = start
    period_end = add_interval(start, interval, count)
    while period_end <= now:
        period_start, period_end = period_end, add_interval(period_end, interval, count)
    return period_start, period_end


async def create_subscription(billing: Billing, call: Call) -> dict[str, Any]:
    params = call.params
    params.allow(
        "customer",
        "items",
        "metadata",
        "cancel_at",
        "backdate_start_date",
        "collection_method",
        "days_until_due",
        "description",
        "expand",
        "proration_behavior",
    )
    expand = call.expansions(KIND, in_list=False)
    customer = existing(billing, "customer", params.required_string("customer"), param="customer")
    item_params = params.objects("items")
    if not item_params:
        raise params.missing("items")
    objects = billing.objects
    sub_id = objects.new_id("sub_", KIND)
    items = []
    for item in item_params:
        item.allow("price", "price_data", "quantity", "metadata")
        items.append(await _item(billing, sub_id, item, None))
    currency = _currency(items, customer)
    now = objects.now()
    start = params.integer("backdate_start_date", minimum=0) or now
    if start > now:
        raise InvalidParams("backdate_start_date must be in the past.", param="backdate_start_date")
    period_start, period_end = _period(start, items, now)
    doc: Document = {
        "id": sub_id,
        "object": "subscription",
        "cancel_at": params.integer("cancel_at", minimum=0),
        "cancel_at_period_end": False,
        "canceled_at": None,
        "collection_method": params.choice(
            "collection_method", ("charge_automatically", "send_invoice")
        )
        or "charge_automatically",
        "created": now,
        "currency": currency,
        "current_period_end": period_end,
        "current_period_start": period_start,
        "customer": customer["id"],
        "days_until_due": params.integer("days_until_due", minimum=0),
        "description": params.string("description"),
        "ended_at": None,
        "items": {"object": "list", "data": items, "has_more": False},
        "latest_invoice": None,
        "livemode": False,
        "metadata": params.metadata_update({}) or {},
        "pause_collection": None,
        "start_date": start,
        "status": "active",
    }
    if not customer.get("currency"):
        await objects.put("customer", {**customer, "currency": currency})
    await objects.put(KIND, doc)
    body = render.subscription(objects, doc)
    await billing.events.emit(
        "customer.subscription.created",
        body,
        request_id=call.request_id,
        idempotency_key=call.idempotency_key,
    )
    return render.subscription(objects, doc, expand)


async def retrieve_subscription(billing: Billing, call: Call) -> dict[str, Any]:
    call.params.allow("expand")
    expand = call.expansions(KIND, in_list=False)
    doc = existing(billing, KIND, call.path_params["id"])
    return render.subscription(billing.objects, doc, expand)


async def update_subscription(billing: Billing, call: Call) -> dict[str, Any]:
    params = call.params
    params.allow(
        "items",
        "metadata",
        "cancel_at",
        "cancel_at_period_end",
        "pause_collection",
        "description",
        "days_until_due",
        "collection_method",
        "expand",
        "proration_behavior",
    )
    expand = call.expansions(KIND, in_list=False)
    before = existing(billing, KIND, call.path_params["id"])
    if before.get("status") == "canceled" and set(params.data) - {"metadata", "expand"}:
        raise InvalidParams(
            "A canceled subscription can only update its cancellation_details and metadata."
        )
    doc = dict(before)
    if params.has("items"):
        items = await _updated_items(billing, doc, params)
        doc["items"] = {"object": "list", "data": items, "has_more": False}
        _currency(render.items_of(doc), {"currency": before.get("currency")})
    metadata = params.metadata_update(dict(before.get("metadata") or {}))
    if metadata is not None:
        doc["metadata"] = metadata
    if params.has("description"):
        doc["description"] = params.string("description") or None
    if params.has("days_until_due"):
        doc["days_until_due"] = params.integer("days_until_due", minimum=0)
    if params.has("collection_method"):
        doc["collection_method"] = params.choice(
            "collection_method", ("charge_automatically", "send_invoice")
        )
    if params.has("cancel_at"):
        doc["cancel_at"] = None if params.is_empty("cancel_at") else params.integer("cancel_at")
        doc["cancel_at_period_end"] = False
    period_end = params.boolean("cancel_at_period_end")
    if period_end is not None:
        doc["cancel_at_period_end"] = period_end
        doc["cancel_at"] = doc.get("current_period_end") if period_end else None
    if params.has("pause_collection"):
        _pause(params, doc)
    await billing.objects.put(KIND, doc)
    body = render.subscription(billing.objects, doc)
    old = render.subscription(billing.objects, before)
    if previous_attributes(old, body):
        await billing.events.emit(
            "customer.subscription.updated",
            body,
            before=old,
            request_id=call.request_id,
            idempotency_key=call.idempotency_key,
        )
    return render.subscription(billing.objects, doc, expand)


async def _updated_items(billing: Billing, doc: Document, params: Params) -> list[dict[str, Any]]:
    """The items after ``items[i][...]``: by ``id`` updated or ``deleted``, without ``id`` added."""
    result = render.items_of(doc)
    for item in params.objects("items"):
        item.allow("id", "price", "price_data", "quantity", "metadata", "deleted")
        item_id = item.string("id")
        if item_id is None:
            result.append(await _item(billing, doc["id"], item, None))
            continue
        current = next((i for i in result if i["id"] == item_id), None)
        if current is None:
            raise missing("subscription_item", item_id, param=item.name("id"), status=400)
        if item.boolean("deleted"):
            result = [i for i in result if i["id"] != item_id]
            continue
        updated = await _item(billing, doc["id"], item, current)
        result = [updated if i["id"] == item_id else i for i in result]
    if not result:
        raise InvalidParams("A subscription must have at least one item.", param="items")
    return result


def _pause(params: Params, doc: Document) -> None:
    if params.is_empty("pause_collection"):
        doc["pause_collection"] = None
        if doc.get("status") == "paused":
            doc["status"] = "active"
        return
    pause = params.hash("pause_collection")
    assert pause is not None
    pause.allow("behavior", "resumes_at")
    doc["pause_collection"] = {
        "behavior": pause.choice("behavior", PAUSE_BEHAVIORS, required=True),
        "resumes_at": pause.integer("resumes_at", minimum=0),
    }
    if doc.get("status") in ("active", "past_due"):
        doc["status"] = "paused"


async def cancel(billing: Billing, doc: Document, call: Call) -> Document:
    """Cancel now: ``status: canceled``, ``canceled_at``/``ended_at`` set, event emitted."""
    now = billing.objects.now()
    canceled = {**doc, "status": "canceled", "canceled_at": now, "ended_at": now}
    await billing.objects.put(KIND, canceled)
    await billing.events.emit(
        "customer.subscription.deleted",
        render.subscription(billing.objects, canceled),
        previous={"status": doc.get("status")},
        request_id=call.request_id,
    )
    return canceled


async def cancel_subscription(billing: Billing, call: Call) -> dict[str, Any]:
    call.params.allow("invoice_now", "prorate", "expand")
    expand = call.expansions(KIND, in_list=False)
    doc = existing(billing, KIND, call.path_params["id"])
    if doc.get("status") == "canceled":
        raise StripeError(
            400,
            f"This subscription has already been canceled: '{doc['id']}'.",
            param="subscription",
        )
    return render.subscription(billing.objects, await cancel(billing, doc, call), expand)
