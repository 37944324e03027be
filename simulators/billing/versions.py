"""Stripe API versions: which one a request gets, and the object shapes each serves.

Stripe answers every request in one API version: the ``Stripe-Version``
request header when there is one, else the account's default version (the
one the account was pinned to; events and webhooks always use it). Answers
carry the version used in their own ``Stripe-Version`` header.

The simulator serves two families of shapes:

* **2024-06-20** (and any older version): the shapes of that release —
  invoice ``subscription``, ``paid``, ``total_tax_amounts``; line items with
  ``type``, ``price``, ``plan``, ``proration``, ``subscription_item``;
  subscriptions with ``current_period_start``/``end``, ``plan``, ``quantity``;
* **2025-03-31.basil and later** (up to :data:`CURRENT`, what the current
  stripe-python pins): invoice ``parent.subscription_details.subscription``
  instead of ``subscription``, no ``paid``, ``total_taxes``; line items with
  ``parent`` and ``pricing`` instead of ``type``/``price``/``proration``;
  ``current_period_start``/``end`` on subscription *items*, not on the
  subscription. Releases after basil that did not change these objects are
  served the same shapes.

Handlers build one canonical object per resource (:mod:`simulators.billing.render`:
the stored document plus what is looked up, such as ``latest_invoice``);
:func:`present` turns it into the requested version's shape, filling every
field Stripe's API specification marks as always present (``null`` where it
is nullable and unset here). Fields come out as ``id``, ``object``, then in
alphabetical order, as Stripe sends them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from simulators.billing.errors import StripeError

LEGACY = "2024-06-20"
"""The version the simulator's objects were first written against (the account default)."""
BASIL = "2025-03-31.basil"
"""The release that moved billing periods to items and invoice references under ``parent``."""
CURRENT = "2026-10-28.endive"
"""The newest version served (what stripe-python 16 sends)."""

ACCOUNT_COUNTRY = "US"
ACCOUNT_NAME = "Revgraph Demo"

_FORMAT = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\.([a-z]+))?$")
# From this release on, versions carry the release name (``2024-09-30.acacia``).
_NAMED_FROM = "2024-09-30"


@dataclass(frozen=True)
class ApiVersion:
    name: str

    @property
    def day(self) -> str:
        return self.name[:10]

    @property
    def basil(self) -> bool:
        """Whether this version has the 2025-03-31.basil shapes."""
        return self.day >= BASIL[:10]


LEGACY_VERSION = ApiVersion(LEGACY)
CURRENT_VERSION = ApiVersion(CURRENT)


def parse_version(text: str) -> ApiVersion:
    """A ``Stripe-Version`` value (beta flags after ``;`` ignored), or Stripe's 400."""
    name = text.split(";", 1)[0].strip()
    match = _FORMAT.match(name)
    valid = match is not None
    if match is not None:
        day, release = match.group(1), match.group(2)
        try:
            date.fromisoformat(day)
        except ValueError:
            valid = False
        if day > CURRENT[:10] or (release is None) != (day < _NAMED_FROM):
            valid = False
    if not valid:
        raise StripeError(
            400,
            f"Invalid Stripe API version: {name}. See https://docs.stripe.com/upgrades for "
            "the available versions.",
        )
    return ApiVersion(name)


@dataclass
class Account:
    """Account-wide settings: the default API version (``/_sim/account`` changes it)."""

    default_version: ApiVersion = LEGACY_VERSION

    def version_for(self, header: str | None) -> ApiVersion:
        return parse_version(header) if header else self.default_version


# -- expansion -----------------------------------------------------------------------

_EXPANDABLE_LEGACY: dict[str, dict[str, str]] = {
    "customer": {},
    "subscription": {"customer": "customer", "latest_invoice": "latest_invoice"},
    "invoice": {"customer": "customer", "subscription": "subscription"},
}
_EXPANDABLE_BASIL: dict[str, dict[str, str]] = {
    **_EXPANDABLE_LEGACY,
    "invoice": {
        "customer": "customer",
        "parent.subscription_details.subscription": "subscription",
    },
}


def expandable(kind: str, version: ApiVersion) -> dict[str, str]:
    """The paths ``expand[]`` takes on ``kind`` in ``version`` → the canonical field."""
    return (_EXPANDABLE_BASIL if version.basil else _EXPANDABLE_LEGACY)[kind]


# -- presentation --------------------------------------------------------------------

Shaper = Callable[[dict[str, Any], ApiVersion], dict[str, Any]]


def present(value: Any, version: ApiVersion) -> Any:
    """``value`` (an answer body) with every Stripe object in ``version``'s shape.

    Events are left as they are: they were rendered when they happened, in the
    account's version of the time, as Stripe keeps them.
    """
    if isinstance(value, list):
        return [present(v, version) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("object")
    if kind == "event":
        return value
    shaper = _SHAPERS.get(kind) if isinstance(kind, str) else None
    shaped = shaper(value, version) if shaper is not None else value
    return {k: v if k == "metadata" else present(v, version) for k, v in _ordered(shaped).items()}


def _ordered(obj: dict[str, Any]) -> dict[str, Any]:
    head: dict[str, Any] = {k: obj[k] for k in ("id", "object") if k in obj}
    return {**head, **{k: obj[k] for k in sorted(obj) if k not in head}}


def _customer(d: dict[str, Any], v: ApiVersion) -> dict[str, Any]:
    if d.get("deleted"):
        return {"id": d["id"], "object": "customer", "deleted": True}
    if v.basil:
        later = {"business_name": None, "customer_account": None, "individual_name": None}
    else:
        later = {}
    return {
        **later,
        "id": d["id"],
        "object": "customer",
        "address": d.get("address"),
        "balance": d.get("balance") or 0,
        "created": d.get("created"),
        "currency": d.get("currency"),
        "default_source": None,
        "delinquent": bool(d.get("delinquent", False)),
        "description": d.get("description"),
        "discount": None,
        "email": d.get("email"),
        "invoice_prefix": d.get("invoice_prefix"),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": bool(d.get("livemode", False)),
        "metadata": d.get("metadata") or {},
        "name": d.get("name"),
        "next_invoice_sequence": d.get("next_invoice_sequence", 1),
        "phone": d.get("phone"),
        "preferred_locales": d.get("preferred_locales") or [],
        "shipping": None,
        "tax_exempt": d.get("tax_exempt") or "none",
        "test_clock": None,
    }


def _recurring(d: dict[str, Any]) -> dict[str, Any] | None:
    recurring = d.get("recurring")
    if not isinstance(recurring, dict):
        return None
    return {
        "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count") or 1,
        "meter": recurring.get("meter"),
        "trial_period_days": recurring.get("trial_period_days"),
        "usage_type": recurring.get("usage_type") or "licensed",
    }


def _price(d: dict[str, Any], v: ApiVersion) -> dict[str, Any]:
    recurring = _recurring(d)
    if recurring is not None and not v.basil:
        recurring["aggregate_usage"] = None  # removed by 2025-03-31.basil
    unit_amount = d.get("unit_amount")
    return {
        "id": d["id"],
        "object": "price",
        "active": d.get("active", True),
        "billing_scheme": d.get("billing_scheme") or "per_unit",
        "created": d.get("created"),
        "currency": d.get("currency"),
        "custom_unit_amount": None,
        "livemode": bool(d.get("livemode", False)),
        "lookup_key": d.get("lookup_key"),
        "metadata": d.get("metadata") or {},
        "nickname": d.get("nickname"),
        "product": d.get("product"),
        "recurring": recurring,
        "tax_behavior": d.get("tax_behavior") or "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": d.get("type") or ("recurring" if recurring is not None else "one_time"),
        "unit_amount": unit_amount,
        "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
    }


def _plan(price: Any) -> dict[str, Any] | None:
    """The legacy ``plan`` object a recurring price also shows as."""
    if not isinstance(price, dict):
        return None
    recurring = price.get("recurring") or {}
    amount = price.get("unit_amount")
    return {
        "id": price.get("id"),
        "object": "plan",
        "active": price.get("active", True),
        "aggregate_usage": None,
        "amount": amount,
        "amount_decimal": None if amount is None else str(amount),
        "billing_scheme": price.get("billing_scheme") or "per_unit",
        "created": price.get("created"),
        "currency": price.get("currency"),
        "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count") or 1,
        "livemode": bool(price.get("livemode", False)),
        "metadata": price.get("metadata") or {},
        "meter": None,
        "nickname": price.get("nickname"),
        "product": price.get("product"),
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def _subscription_item(d: dict[str, Any], v: ApiVersion) -> dict[str, Any]:
    out = {
        "id": d["id"],
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": d.get("created"),
        "discounts": d.get("discounts") or [],
        "metadata": d.get("metadata") or {},
        "plan": _plan(d.get("price")),
        "price": d.get("price"),
        "quantity": d.get("quantity", 1),
        "subscription": d.get("subscription"),
        "tax_rates": [],
    }
    if v.basil:
        out["billed_until"] = None
        out["current_period_end"] = d.get("current_period_end")
        out["current_period_start"] = d.get("current_period_start")
        out["current_trial"] = None
    return out


def _subscription(d: dict[str, Any], v: ApiVersion) -> dict[str, Any]:
    items = d.get("items") or {}
    item_list = list(items.get("data") or []) if isinstance(items, dict) else []
    status = d.get("status")
    out: dict[str, Any] = {
        "id": d["id"],
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"enabled": False, "liability": None},
        "billing_cycle_anchor": d.get("billing_cycle_anchor")
        or d.get("current_period_start")
        or d.get("start_date"),
        "billing_cycle_anchor_config": None,
        "billing_thresholds": None,
        "cancel_at": d.get("cancel_at"),
        "cancel_at_period_end": bool(d.get("cancel_at_period_end", False)),
        "canceled_at": d.get("canceled_at"),
        "cancellation_details": {
            "comment": None,
            "feedback": None,
            "reason": "cancellation_requested" if status == "canceled" else None,
        },
        "collection_method": d.get("collection_method") or "charge_automatically",
        "created": d.get("created"),
        "currency": d.get("currency"),
        "customer": d.get("customer"),
        "days_until_due": d.get("days_until_due"),
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": d.get("description"),
        "discounts": d.get("discounts") or [],
        "ended_at": d.get("ended_at"),
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": items,
        "latest_invoice": d.get("latest_invoice"),
        "livemode": bool(d.get("livemode", False)),
        "metadata": d.get("metadata") or {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": d.get("pause_collection"),
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": d.get("start_date"),
        "status": status,
        "test_clock": None,
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None,
    }
    if v.basil:
        out["automatic_tax"] = {"disabled_reason": None, "enabled": False, "liability": None}
        out["billing_mode"] = {"flexible": None, "type": "classic", "updated_at": None}
        out["billing_schedules"] = []
        out["customer_account"] = None
        out["managed_payments"] = None
        out["presentment_details"] = None
        out["status_details"] = None
    else:
        out["current_period_end"] = d.get("current_period_end")
        out["current_period_start"] = d.get("current_period_start")
        out["discount"] = None
        single = item_list[0] if len(item_list) == 1 and isinstance(item_list[0], dict) else None
        out["plan"] = _plan(single.get("price")) if single else None
        out["quantity"] = single.get("quantity") if single else None
    return out


def _line_item(d: dict[str, Any], v: ApiVersion) -> dict[str, Any]:
    price = d.get("price")
    amount = d.get("amount")
    quantity = d.get("quantity")
    subscription = d.get("subscription")
    out: dict[str, Any] = {
        "id": d["id"],
        "object": "line_item",
        "amount": amount,
        "currency": d.get("currency"),
        "description": d.get("description"),
        "discount_amounts": [],
        "discountable": d.get("discountable", True),
        "discounts": d.get("discounts") or [],
        "invoice": d.get("invoice"),
        "livemode": bool(d.get("livemode", False)),
        "metadata": d.get("metadata") or {},
        "period": d.get("period"),
        "quantity": quantity,
        "subscription": subscription,
    }
    unit_amount = price.get("unit_amount") if isinstance(price, dict) else None
    if v.basil:
        price_id = price.get("id") if isinstance(price, dict) else price
        product = price.get("product") if isinstance(price, dict) else None
        out["parent"] = (
            {
                "type": "subscription_item_details",
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": None,
                    "proration": bool(d.get("proration", False)),
                    "proration_details": {"credited_items": None},
                    "subscription": subscription,
                    "subscription_item": d.get("subscription_item"),
                },
            }
            if subscription is not None
            else None
        )
        out["pretax_credit_amounts"] = []
        out["pricing"] = (
            {
                "type": "price_details",
                "price_details": {"price": price_id, "product": product},
                "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
            }
            if price_id is not None
            else None
        )
        out["quantity_decimal"] = None if quantity is None else str(quantity)
        out["subtotal"] = amount
        out["taxes"] = []
    else:
        out["amount_excluding_tax"] = amount
        out["plan"] = _plan(price)
        out["price"] = price
        out["proration"] = bool(d.get("proration", False))
        out["proration_details"] = {"credited_items": None}
        out["subscription_item"] = d.get("subscription_item")
        out["tax_amounts"] = []
        out["tax_rates"] = []
        out["type"] = d.get("type") or ("subscription" if subscription else "invoiceitem")
        out["unit_amount_excluding_tax"] = None if unit_amount is None else str(unit_amount)
    return out


def _attempted(d: dict[str, Any]) -> bool:
    return d.get("status") in ("paid", "uncollectible")


def _invoice(d: dict[str, Any], v: ApiVersion) -> dict[str, Any]:
    status = d.get("status")
    transitions = {
        "finalized_at": None,
        "marked_uncollectible_at": None,
        "paid_at": None,
        "voided_at": None,
        **(d.get("status_transitions") or {}),
    }
    subscription = d.get("subscription")
    collection = d.get("collection_method") or "charge_automatically"
    attempted = _attempted(d)
    out: dict[str, Any] = {
        "id": d["id"],
        "object": "invoice",
        "account_country": ACCOUNT_COUNTRY,
        "account_name": ACCOUNT_NAME,
        "account_tax_ids": None,
        "amount_due": d.get("amount_due", 0),
        "amount_paid": d.get("amount_paid", 0),
        "amount_remaining": d.get("amount_remaining", 0),
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 1 if attempted and collection == "charge_automatically" else 0,
        "attempted": attempted,
        "auto_advance": bool(d.get("auto_advance", False)),
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "automatically_finalizes_at": None,
        "billing_reason": d.get("billing_reason")
        or ("subscription_cycle" if subscription else "manual"),
        "collection_method": collection,
        "created": d.get("created"),
        "currency": d.get("currency"),
        "custom_fields": None,
        "customer": d.get("customer"),
        "customer_address": d.get("customer_address"),
        "customer_email": d.get("customer_email"),
        "customer_name": d.get("customer_name"),
        "customer_phone": d.get("customer_phone"),
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": d.get("description"),
        "discounts": d.get("discounts") or [],
        "due_date": d.get("due_date"),
        "effective_at": transitions["finalized_at"],
        "ending_balance": None if status == "draft" else 0,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": d.get("lines"),
        "livemode": bool(d.get("livemode", False)),
        "metadata": d.get("metadata") or {},
        "next_payment_attempt": None,
        "number": d.get("number"),
        "on_behalf_of": None,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": d.get("period_end"),
        "period_start": d.get("period_start"),
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": status,
        "status_transitions": transitions,
        "subtotal": d.get("subtotal", 0),
        "subtotal_excluding_tax": d.get("subtotal", 0),
        "test_clock": None,
        "threshold_reason": None,
        "total": d.get("total", 0),
        "total_discount_amounts": [],
        "total_excluding_tax": d.get("total", 0),
        "webhooks_delivered_at": d.get("created"),
    }
    details = d.get("subscription_details") or {}
    if v.basil:
        out["amount_overpaid"] = 0
        out["amount_paid_off_stripe"] = d.get("amount_paid", 0) if d.get("paid_out_of_band") else 0
        out["automatic_tax"] = {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        }
        out["confirmation_secret"] = None
        out["customer_account"] = None
        out["parent"] = (
            {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {
                    "metadata": details.get("metadata") or {},
                    "subscription": subscription,
                    "subscription_proration_date": None,
                },
            }
            if subscription is not None
            else None
        )
        out["status_details"] = None
        out["total_pretax_credit_amounts"] = []
        out["total_taxes"] = []
    else:
        out["application_fee_amount"] = None
        out["charge"] = None
        out["discount"] = None
        out["paid"] = status == "paid"
        out["paid_out_of_band"] = bool(d.get("paid_out_of_band", False))
        out["payment_intent"] = None
        out["quote"] = None
        out["subscription"] = subscription
        out["subscription_details"] = (
            {"metadata": details.get("metadata") or {}} if subscription is not None else None
        )
        out["subscription_proration_date"] = None
        out["tax"] = None
        out["total_tax_amounts"] = []
        out["transfer_data"] = None
    return out


_SHAPERS: dict[str, Shaper] = {
    "customer": _customer,
    "price": _price,
    "subscription_item": _subscription_item,
    "subscription": _subscription,
    "line_item": _line_item,
    "invoice": _invoice,
}
