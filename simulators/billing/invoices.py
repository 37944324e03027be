"""``/v1/invoices``: list, create (draft), retrieve, update, lines, and the status actions.

Stripe's invoice state machine::

    draft ──finalize──▶ open ──pay──▶ paid
                         │ ├──void──▶ void
                         │ └──mark_uncollectible──▶ uncollectible ──pay──▶ paid
                         │                                         └─void──▶ void

Anything else is a 400 ``invoice_not_editable``. Finalizing assigns the number
(``RG-000123``) and, for ``send_invoice``, the due date; a zero-total invoice
is paid on finalization, as in Stripe. A draft for a subscription gets one
line per subscription item for the current period. Once finalized only
``metadata``, ``description`` and ``auto_advance`` can change.
"""

from __future__ import annotations

from typing import Any

from simulators.billing import lists, render
from simulators.billing.context import Billing, Call
from simulators.billing.errors import InvalidParams, StripeError, missing
from simulators.billing.events import previous_attributes
from simulators.billing.refs import existing
from simulators.storage import Document

KIND = "invoice"
URL = "/v1/invoices"
STATUSES = ("draft", "open", "paid", "uncollectible", "void")
COLLECTION_METHODS = ("charge_automatically", "send_invoice")
DAY = 86400


def _not_editable(message: str) -> StripeError:
    return StripeError(400, message, code="invoice_not_editable")


async def list_invoices(billing: Billing, call: Call) -> dict[str, Any]:
    params = call.params
    params.allow(
        *lists.LIST_PARAMS,
        "customer",
        "subscription",
        "status",
        "created",
        "due_date",
        "collection_method",
    )
    expand = call.expansions(KIND, in_list=True)
    customer = params.string("customer")
    subscription = params.string("subscription")
    status = params.choice("status", STATUSES)
    collection = params.choice("collection_method", COLLECTION_METHODS)
    objects = billing.objects
    if subscription is not None:
        candidates: list[Document] | None = objects.find(KIND, "subscription", subscription)
    elif customer is not None:
        candidates = objects.find(KIND, "customer", customer)
    else:
        candidates = None
    return lists.page(
        objects,
        KIND,
        params,
        url=URL,
        label=KIND,
        render=lambda d: render.invoice(objects, d, expand),
        candidates=candidates,
        keep=[
            (lambda d: d.get("customer") == customer) if customer is not None else None,
            (lambda d: d.get("status") == status) if status is not None else None,
            (lambda d: d.get("collection_method", "charge_automatically") == collection)
            if collection is not None
            else None,
            lists.created_filter(params),
            lists.created_filter(params, "due_date"),
        ],
    )


def _lines_for(billing: Billing, sub: Document, invoice_id: str) -> list[dict[str, Any]]:
    lines = []
    for item in render.items_of(sub):
        price = item["price"]
        quantity = int(item.get("quantity") or 0)
        recurring = price.get("recurring") or {}
        lines.append(
            {
                "id": billing.objects.new_id("il_"),
                "object": "line_item",
                "amount": int(price.get("unit_amount") or 0) * quantity,
                "currency": price["currency"],
                "description": (
                    f"{quantity} x {price.get('product')} (per {recurring.get('interval')})"
                ),
                "invoice": invoice_id,
                "metadata": {},
                "period": {
                    "start": sub.get("current_period_start"),
                    "end": sub.get("current_period_end"),
                },
                "price": price,
                "quantity": quantity,
                "subscription": sub["id"],
                "subscription_item": item["id"],
                "type": "subscription",
            }
        )
    return lines


async def create_invoice(billing: Billing, call: Call) -> dict[str, Any]:
    params = call.params
    params.allow(
        "customer",
        "subscription",
        "metadata",
        "description",
        "collection_method",
        "days_until_due",
        "due_date",
        "auto_advance",
        "currency",
        "expand",
        "pending_invoice_items_behavior",
    )
    expand = call.expansions(KIND, in_list=False)
    objects = billing.objects
    sub: Document | None = None
    sub_id = params.string("subscription")
    if sub_id is not None:
        sub = existing(billing, "subscription", sub_id, param="subscription")
        if sub.get("status") == "canceled":
            raise InvalidParams("You cannot invoice a canceled subscription.", param="subscription")
    customer_id = params.string("customer") or (sub["customer"] if sub else None)
    if customer_id is None:
        raise params.missing("customer")
    customer = existing(billing, "customer", customer_id, param="customer")
    if sub is not None and sub["customer"] != customer["id"]:
        raise InvalidParams(
            f"The subscription {sub['id']} does not belong to customer {customer['id']}.",
            param="subscription",
        )
    collection = (
        params.choice("collection_method", COLLECTION_METHODS)
        or (sub.get("collection_method") if sub else None)
        or "charge_automatically"
    )
    days = params.integer("days_until_due", minimum=0)
    due_date = params.integer("due_date", minimum=0)
    if collection == "charge_automatically":
        if days is not None or due_date is not None:
            raise InvalidParams(
                "Invoices with collection_method=charge_automatically cannot have a due date.",
                param="due_date" if due_date is not None else "days_until_due",
            )
    elif days is None and due_date is None:
        days = sub.get("days_until_due") if sub is not None else None
        if days is None:
            raise params.missing("days_until_due")
    now = objects.now()
    invoice_id = objects.new_id("in_", KIND)
    lines = _lines_for(billing, sub, invoice_id) if sub is not None else []
    currency = (
        (params.string("currency") or "").lower()
        or (sub or {}).get("currency")
        or customer.get("currency")
        or "usd"
    )
    total = sum(line["amount"] for line in lines)
    doc: Document = {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": total,
        "amount_paid": 0,
        "amount_remaining": total,
        "auto_advance": bool(params.boolean("auto_advance")),
        "collection_method": collection,
        "created": now,
        "currency": currency,
        "customer": customer["id"],
        "days_until_due": days if collection == "send_invoice" else None,
        "description": params.string("description"),
        "due_date": due_date,
        "lines": {"object": "list", "data": lines, "has_more": False},
        "livemode": False,
        "metadata": params.metadata_update({}) or {},
        "number": None,
        "period_end": sub.get("current_period_end") if sub else now,
        "period_start": sub.get("current_period_start") if sub else now,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subscription": sub["id"] if sub else None,
        "subtotal": total,
        "total": total,
    }
    await objects.put(KIND, doc)
    if sub is not None:
        await objects.put("subscription", {**sub, "latest_invoice": invoice_id})
    await billing.events.emit(
        "invoice.created",
        render.invoice(objects, doc),
        request_id=call.request_id,
        idempotency_key=call.idempotency_key,
    )
    return render.invoice(objects, doc, expand)


async def retrieve_invoice(billing: Billing, call: Call) -> dict[str, Any]:
    call.params.allow("expand")
    expand = call.expansions(KIND, in_list=False)
    doc = existing(billing, KIND, call.path_params["id"])
    return render.invoice(billing.objects, doc, expand)


async def update_invoice(billing: Billing, call: Call) -> dict[str, Any]:
    params = call.params
    params.allow("metadata", "description", "due_date", "days_until_due", "auto_advance", "expand")
    expand = call.expansions(KIND, in_list=False)
    before = existing(billing, KIND, call.path_params["id"])
    doc = dict(before)
    draft_only = [k for k in ("due_date", "days_until_due") if params.has(k)]
    if draft_only and before["status"] != "draft":
        raise _not_editable(
            f"You can only update {draft_only[0]} on a draft invoice; this invoice is "
            f"{before['status']}."
        )
    metadata = params.metadata_update(dict(before.get("metadata") or {}))
    if metadata is not None:
        doc["metadata"] = metadata
    if params.has("description"):
        doc["description"] = params.string("description") or None
    auto_advance = params.boolean("auto_advance")
    if auto_advance is not None:
        doc["auto_advance"] = auto_advance
    if params.has("due_date"):
        doc["due_date"] = params.integer("due_date", minimum=0)
    if params.has("days_until_due"):
        doc["days_until_due"] = params.integer("days_until_due", minimum=0)
    return await _save(billing, call, before, doc, "invoice.updated", expand)


async def list_lines(billing: Billing, call: Call) -> dict[str, Any]:
    params = call.params
    params.allow(*lists.LIST_PARAMS)
    doc = existing(billing, KIND, call.path_params["id"])
    lines = render.invoice_lines(billing.objects, doc)
    limit = lists.read_limit(params)
    index = {line["id"]: n for n, line in enumerate(lines)}

    def cursor(name: str) -> int | None:
        line_id = params.string(name)
        if line_id is None:
            return None
        if line_id not in index:
            raise missing("line_item", line_id, param=name, status=400)
        return index[line_id]

    after, before = cursor("starting_after"), cursor("ending_before")
    if after is not None and before is not None:
        raise InvalidParams(
            "You may only specify one of these parameters: starting_after, ending_before.",
            param="ending_before",
        )
    if before is not None:
        start = max(0, before - limit)
        chunk, has_more = lines[start:before], start > 0
    else:
        start = 0 if after is None else after + 1
        chunk, has_more = lines[start : start + limit], start + limit < len(lines)
    return lists.list_object(f"{URL}/{doc['id']}/lines", chunk, has_more)


async def finalize_invoice(billing: Billing, call: Call) -> dict[str, Any]:
    call.params.allow("auto_advance", "expand")
    expand = call.expansions(KIND, in_list=False)
    before = existing(billing, KIND, call.path_params["id"])
    if before["status"] != "draft":
        raise _not_editable(
            f"This invoice is already finalized, you can't re-finalize a non-draft invoice "
            f"(status: {before['status']})."
        )
    now = billing.objects.now()
    doc = dict(before)
    doc["status"] = "open"
    doc["number"] = billing.numbers.next()
    doc["status_transitions"] = {**(before.get("status_transitions") or {}), "finalized_at": now}
    if doc.get("collection_method") == "send_invoice" and doc.get("due_date") is None:
        doc["due_date"] = now + int(doc.get("days_until_due") or 0) * DAY
    body = await _save(billing, call, before, doc, "invoice.finalized", expand)
    if doc["total"] == 0:
        return await _pay(billing, call, doc, expand)
    return body


async def pay_invoice(billing: Billing, call: Call) -> dict[str, Any]:
    call.params.allow(
        "expand", "paid_out_of_band", "payment_method", "source", "forgive", "off_session"
    )
    expand = call.expansions(KIND, in_list=False)
    before = existing(billing, KIND, call.path_params["id"])
    status = before["status"]
    if status == "draft":
        raise _not_editable("You can only pay an invoice that has been finalized (status: draft).")
    if status == "paid":
        raise _not_editable("Invoice is already paid.")
    if status == "void":
        raise _not_editable("You cannot pay a voided invoice.")
    return await _pay(billing, call, before, expand)


async def _pay(
    billing: Billing, call: Call, before: Document, expand: frozenset[str]
) -> dict[str, Any]:
    now = billing.objects.now()
    doc = dict(before)
    doc["status"] = "paid"
    doc["amount_paid"] = before["amount_due"]
    doc["amount_remaining"] = 0
    doc["status_transitions"] = {**(before.get("status_transitions") or {}), "paid_at": now}
    return await _save(billing, call, before, doc, "invoice.paid", expand)


async def void_invoice(billing: Billing, call: Call) -> dict[str, Any]:
    call.params.allow("expand")
    expand = call.expansions(KIND, in_list=False)
    before = existing(billing, KIND, call.path_params["id"])
    if before["status"] not in ("open", "uncollectible"):
        raise _not_editable(
            f"You can only void an open or uncollectible invoice (status: {before['status']})."
        )
    doc = dict(before)
    doc["status"] = "void"
    doc["status_transitions"] = {
        **(before.get("status_transitions") or {}),
        "voided_at": billing.objects.now(),
    }
    return await _save(billing, call, before, doc, "invoice.voided", expand)


async def mark_uncollectible(billing: Billing, call: Call) -> dict[str, Any]:
    call.params.allow("expand")
    expand = call.expansions(KIND, in_list=False)
    before = existing(billing, KIND, call.path_params["id"])
    if before["status"] != "open":
        raise _not_editable(
            f"You can only mark an open invoice uncollectible (status: {before['status']})."
        )
    doc = dict(before)
    doc["status"] = "uncollectible"
    doc["status_transitions"] = {
        **(before.get("status_transitions") or {}),
        "marked_uncollectible_at": billing.objects.now(),
    }
    return await _save(billing, call, before, doc, "invoice.marked_uncollectible", expand)


async def _save(
    billing: Billing,
    call: Call,
    before: Document,
    doc: Document,
    event: str,
    expand: frozenset[str],
) -> dict[str, Any]:
    """Store the new state and emit ``event`` with what changed."""
    objects = billing.objects
    await objects.put(KIND, doc)
    body = render.invoice(objects, doc)
    old = render.invoice(objects, before)
    if previous_attributes(old, body) or event != "invoice.updated":
        await billing.events.emit(
            event,
            body,
            before=old,
            request_id=call.request_id,
            idempotency_key=call.idempotency_key,
        )
    return render.invoice(objects, doc, expand)
