"""``/v1/prices`` and the prices subscription items refer to.

An item names a price (``items[0][price]=price_x``) or creates one inline
(``items[0][price_data][currency|product|unit_amount|recurring][...]``).
Prices made here are stored as kind ``price``; a seeded price exists only
inside the subscriptions that use it, so a lookup falls back to those and
stores what it found.
"""

from __future__ import annotations

from typing import Any

from simulators.billing import render
from simulators.billing.context import Billing, Call
from simulators.billing.errors import InvalidParams, missing
from simulators.billing.forms import Params
from simulators.billing.render import items_of
from simulators.storage import Document

KIND = "price"
INTERVALS = ("day", "week", "month", "year")


async def lookup_price(billing: Billing, price_id: str) -> Document | None:
    """A stored price, or one seeded inside a subscription (then stored)."""
    doc = billing.objects.get(KIND, price_id)
    if doc is not None:
        return doc
    for sub in billing.objects.store.all("subscription"):
        for item in items_of(sub):
            price = item.get("price")
            if isinstance(price, dict) and price.get("id") == price_id:
                return await billing.objects.put(KIND, render.price(price, sub.get("created")))
    return None


async def find_price(billing: Billing, price_id: str, *, param: str) -> Document:
    """The price an item parameter names; Stripe's 400 ``resource_missing`` if none."""
    doc = await lookup_price(billing, price_id)
    if doc is None:
        raise missing(KIND, price_id, param=param, status=400)
    return doc


async def new_price(billing: Billing, data: Params, *, inline: bool) -> Document:
    """A recurring price from ``price_data`` (``inline``) or a ``POST /v1/prices`` body."""
    allowed = ["currency", "product", "product_data", "unit_amount", "recurring"]
    if not inline:
        allowed += ["metadata", "nickname", "expand"]
    data.allow(*allowed)
    currency = data.required_string("currency")
    if len(currency) != 3 or not currency.isalpha():
        raise InvalidParams(f"Invalid currency: {currency}", param=data.name("currency"))
    product = data.string("product")
    product_data = data.hash("product_data")
    if product_data is not None:
        product_data.allow("name")
        product_data.required_string("name")
        product = billing.objects.new_id("prod_")
    if not product:
        raise data.missing("product")
    unit_amount = data.integer("unit_amount", required=True, minimum=0)
    recurring = data.hash("recurring", required=True)
    assert recurring is not None
    recurring.allow("interval", "interval_count")
    interval = recurring.choice("interval", INTERVALS, required=True)
    interval_count = recurring.integer("interval_count", minimum=1, maximum=36) or 1
    doc: Document = {
        "id": billing.objects.new_id("price_", KIND),
        "object": "price",
        "active": True,
        "created": billing.objects.now(),
        "currency": currency.lower(),
        "livemode": False,
        "metadata": {} if inline else (data.metadata_update({}) or {}),
        "nickname": None if inline else data.string("nickname"),
        "product": product,
        "recurring": {"interval": interval, "interval_count": interval_count},
        "type": "recurring",
        "unit_amount": unit_amount,
    }
    return await billing.objects.put(KIND, doc)


async def create_price(billing: Billing, call: Call) -> dict[str, Any]:
    return await new_price(billing, call.params, inline=False)


async def retrieve_price(billing: Billing, call: Call) -> dict[str, Any]:
    call.params.allow("expand")
    price_id = call.path_params["id"]
    doc = await lookup_price(billing, price_id)
    if doc is None:
        raise missing(KIND, price_id)
    return doc
