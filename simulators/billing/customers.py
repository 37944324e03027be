"""``/v1/customers``: list, create, retrieve, update, delete, search.

Deleting keeps the document, flagged ``deleted`` (a retrieve answers Stripe's
``{"id", "object": "customer", "deleted": true}``; lists and search skip it)
and cancels the customer's live subscriptions, as Stripe does. ``currency``
is accepted on create/update (Stripe sets it from the first subscription or
invoice; the gateway's onboarding sets it up front); a subscription sets it
when it is still empty.
"""

from __future__ import annotations

import re
from typing import Any

from simulators.billing import lists, render, search
from simulators.billing.context import Billing, Call
from simulators.billing.errors import InvalidParams, missing
from simulators.billing.events import previous_attributes
from simulators.billing.forms import Params
from simulators.billing.refs import existing
from simulators.billing.subscriptions import cancel
from simulators.storage import Document

KIND = "customer"
URL = "/v1/customers"
WRITABLE = ("name", "email", "description", "phone", "currency", "metadata", "expand")
_CURRENCY = re.compile(r"^[a-zA-Z]{3}$")


def read_currency(params: Params) -> str | None:
    value = params.string("currency")
    if value is None:
        return None
    if not _CURRENCY.match(value):
        raise InvalidParams(f"Invalid currency: {value}", param=params.name("currency"))
    return value.lower()


async def list_customers(billing: Billing, call: Call) -> dict[str, Any]:
    params = call.params
    params.allow(*lists.LIST_PARAMS, "email", "created")
    call.expansions(KIND, in_list=True)
    email = params.string("email")
    return lists.page(
        billing.objects,
        KIND,
        params,
        url=URL,
        label=KIND,
        render=render.customer,
        candidates=billing.objects.find(KIND, "email", email) if email is not None else None,
        keep=[lambda d: not d.get("deleted"), lists.created_filter(params)],
    )


async def create_customer(billing: Billing, call: Call) -> dict[str, Any]:
    params = call.params
    params.allow(*WRITABLE)
    call.expansions(KIND, in_list=False)
    doc: Document = {
        "id": billing.objects.new_id("cus_", KIND),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": billing.objects.now(),
        "currency": read_currency(params),
        "description": params.string("description") or None,
        "email": params.string("email") or None,
        "livemode": False,
        "metadata": params.metadata_update({}) or {},
        "name": params.string("name", max_length=256) or None,
        "phone": params.string("phone", max_length=20) or None,
    }
    await billing.objects.put(KIND, doc)
    body = render.customer(doc)
    await billing.events.emit(
        "customer.created", body, request_id=call.request_id, idempotency_key=call.idempotency_key
    )
    return body


async def retrieve_customer(billing: Billing, call: Call) -> dict[str, Any]:
    call.params.allow("expand")
    call.expansions(KIND, in_list=False)
    customer_id = call.path_params["id"]
    doc = billing.objects.get(KIND, customer_id)
    if doc is None:
        raise missing(KIND, customer_id)
    return render.customer(doc)


async def update_customer(billing: Billing, call: Call) -> dict[str, Any]:
    params = call.params
    params.allow(*WRITABLE)
    call.expansions(KIND, in_list=False)
    before = existing(billing, KIND, call.path_params["id"])
    doc = dict(before)
    for field, max_length in (("name", 256), ("email", 512), ("description", 5000), ("phone", 20)):
        if params.has(field):
            doc[field] = params.string(field, max_length=max_length) or None
    if params.has("currency"):
        doc["currency"] = read_currency(params)
    metadata = params.metadata_update(dict(before.get("metadata") or {}))
    if metadata is not None:
        doc["metadata"] = metadata
    await billing.objects.put(KIND, doc)
    body = render.customer(doc)
    old = render.customer(before)
    if previous_attributes(old, body):
        await billing.events.emit(
            "customer.updated",
            body,
            before=old,
            request_id=call.request_id,
            idempotency_key=call.idempotency_key,
        )
    return body


async def delete_customer(billing: Billing, call: Call) -> dict[str, Any]:
    call.params.allow()
    doc = existing(billing, KIND, call.path_params["id"])
    for sub in billing.objects.find("subscription", "customer", doc["id"]):
        if sub.get("status") != "canceled":
            await cancel(billing, sub, call)
    await billing.objects.put(KIND, {**doc, "deleted": True})
    await billing.events.emit("customer.deleted", render.customer(doc), request_id=call.request_id)
    return render.customer({**doc, "deleted": True})


async def search_customers(billing: Billing, call: Call) -> dict[str, Any]:
    params = call.params
    params.allow("query", "limit", "page", "expand")
    call.expansions(KIND, in_list=True)
    query = search.parse(params.required_string("query"))
    limit = lists.read_limit(params)
    token = params.string("page")
    offset = search.decode_page(token) if token else 0
    indexed = query.indexed()
    objects = billing.objects
    key_of = objects.order(KIND).key_of
    pool = objects.find(KIND, *indexed) if indexed else objects.store.all(KIND)
    hits = [d for d in pool if not d.get("deleted") and query.test(d)]
    hits.sort(key=lambda d: key_of[d["id"]])
    chunk = hits[offset : offset + limit]
    has_more = offset + limit < len(hits)
    return {
        "object": "search_result",
        "data": [render.customer(d) for d in chunk],
        "has_more": has_more,
        "next_page": search.encode_page(offset + limit) if has_more else None,
        "url": f"{URL}/search",
    }
