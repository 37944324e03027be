"""The Billing simulator's OpenAPI 3 document (committed as ``simulators/openapi/billing.json``).

Built from the routes in :mod:`simulators.billing.app`: every vendor route
(what the gateway's Stripe adapter calls, and the rest the simulator serves),
the simulator's own ``/_sim`` routes, Stripe's request conventions (form
bodies with bracketed keys, ``expand[]``, ``Idempotency-Key``,
``Stripe-Version``) and the objects in both API versions the simulator
serves. Object schemas name the fields every served version has and allow
the rest (Stripe adds fields in new versions).
"""

from __future__ import annotations

from typing import Any

from simulators.billing.versions import CURRENT, LEGACY
from simulators.openapi import OPENAPI_VERSION, OpenApiDocument, control_paths

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _object(kind: str, required: dict[str, Any], optional: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["id", "object", *required],
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string", "const": kind},
            **required,
            **optional,
        },
        "additionalProperties": True,
    }


def _expandable(name: str) -> dict[str, Any]:
    return {"anyOf": [{"type": "string"}, _ref(name)]}


def _list_of(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["object", "data", "has_more", "url"],
        "properties": {
            "object": {"type": "string", "const": "list"},
            "data": {"type": "array", "items": item},
            "has_more": {"type": "boolean"},
            "url": {"type": "string"},
            "total_count": {"type": "integer"},
        },
    }


INT = {"type": "integer"}
STR = {"type": "string"}
BOOL = {"type": "boolean"}
METADATA = {"type": "object", "additionalProperties": {"type": "string"}}
TIME = _nullable(INT)


def _schemas() -> dict[str, Any]:
    price = _object(
        "price",
        {
            "active": BOOL,
            "billing_scheme": STR,
            "created": INT,
            "currency": STR,
            "livemode": BOOL,
            "metadata": METADATA,
            "product": STR,
            "type": STR,
            "unit_amount": _nullable(INT),
            "recurring": _nullable(
                {
                    "type": "object",
                    "required": ["interval", "interval_count", "usage_type"],
                    "properties": {"interval": STR, "interval_count": INT, "usage_type": STR},
                }
            ),
        },
        {"nickname": _nullable(STR), "unit_amount_decimal": _nullable(STR)},
    )
    customer = {
        "anyOf": [
            _object(
                "customer",
                {"created": INT, "livemode": BOOL, "metadata": METADATA},
                {
                    "name": _nullable(STR),
                    "email": _nullable(STR),
                    "currency": _nullable(STR),
                    "balance": INT,
                },
            ),
            {
                "type": "object",
                "required": ["id", "object", "deleted"],
                "properties": {
                    "id": STR,
                    "object": {"const": "customer"},
                    "deleted": {"const": True},
                },
            },
        ]
    }
    item = _object(
        "subscription_item",
        {
            "created": INT,
            "discounts": {"type": "array"},
            "metadata": METADATA,
            "price": _ref("price"),
            "subscription": STR,
        },
        {
            "quantity": _nullable(INT),
            "current_period_start": INT,
            "current_period_end": INT,  # 2025-03-31.basil on
        },
    )
    subscription = _object(
        "subscription",
        {
            "automatic_tax": {"type": "object"},
            "billing_cycle_anchor": INT,
            "cancel_at": TIME,
            "canceled_at": TIME,
            "collection_method": STR,
            "created": INT,
            "currency": STR,
            "customer": _expandable("customer"),
            "discounts": {"type": "array"},
            "items": _list_of(_ref("subscription_item")),
            "latest_invoice": _nullable(_expandable("invoice")),
            "livemode": BOOL,
            "metadata": METADATA,
            "start_date": INT,
            "status": STR,
        },
        {
            "current_period_start": INT,
            "current_period_end": INT,  # up to 2025-02-24
        },
    )
    line = _object(
        "line_item",
        {
            "amount": INT,
            "currency": STR,
            "discountable": BOOL,
            "discounts": {"type": "array"},
            "livemode": BOOL,
            "metadata": METADATA,
            "period": {
                "type": "object",
                "required": ["start", "end"],
                "properties": {"start": INT, "end": INT},
            },
        },
        {
            "description": _nullable(STR),
            "quantity": _nullable(INT),
            # up to 2025-02-24:
            "type": STR,
            "proration": BOOL,
            "price": _nullable(_ref("price")),
            # from 2025-03-31.basil:
            "parent": _nullable({"type": "object"}),
            "pricing": _nullable({"type": "object"}),
        },
    )
    invoice = _object(
        "invoice",
        {
            "amount_due": INT,
            "amount_paid": INT,
            "amount_remaining": INT,
            "attempt_count": INT,
            "attempted": BOOL,
            "collection_method": STR,
            "created": INT,
            "currency": STR,
            "customer": _expandable("customer"),
            "discounts": {"type": "array"},
            "issuer": {"type": "object"},
            "lines": _list_of(_ref("line_item")),
            "livemode": BOOL,
            "metadata": METADATA,
            "payment_settings": {"type": "object"},
            "starting_balance": INT,
            "status_transitions": {"type": "object"},
            "subtotal": INT,
            "total": INT,
        },
        {
            "number": _nullable(STR),
            "status": _nullable(STR),
            "due_date": TIME,
            "period_start": INT,
            "period_end": INT,
            # up to 2025-02-24:
            "paid": BOOL,
            "subscription": _nullable(_expandable("subscription")),
            "total_tax_amounts": {"type": "array"},
            # from 2025-03-31.basil:
            "parent": _nullable({"type": "object"}),
            "total_taxes": {"type": "array"},
        },
    )
    event = _object(
        "event",
        {
            "api_version": STR,
            "created": INT,
            "type": STR,
            "livemode": BOOL,
            "data": {
                "type": "object",
                "required": ["object"],
                "properties": {"object": {"type": "object"}},
            },
        },
        {"request": {"type": "object"}, "pending_webhooks": INT},
    )
    error = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {
                    "type": {
                        "type": "string",
                        "enum": [
                            "api_error",
                            "card_error",
                            "idempotency_error",
                            "invalid_request_error",
                            "rate_limit_error",
                            "authentication_error",
                        ],
                    },
                    "message": STR,
                    "code": STR,
                    "param": STR,
                },
            }
        },
    }
    return {
        "price": price, "customer": customer, "subscription_item": item,
        "subscription": subscription, "line_item": line, "invoice": invoice, "event": event,
        "error": error,
        "search_result": {
            "type": "object",
            "required": ["object", "data", "has_more", "next_page", "url"],
            "properties": {
                "object": {"const": "search_result"},
                "data": {"type": "array", "items": _ref("customer")},
                "has_more": BOOL, "next_page": _nullable(STR), "url": STR,
            },
        },
    }  # fmt: skip


def _headers() -> dict[str, Any]:
    return {
        "Request-Id": {"schema": STR, "description": "The request's id (req_...)."},
        "Stripe-Version": {"schema": STR, "description": "The API version of this answer."},
    }


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref("error")}}}


def _responses(schema: dict[str, Any], *, missing: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "200": {"description": "OK", "headers": _headers(), "content": {JSON: {"schema": schema}}},
        "400": _error("Invalid request (invalid_request_error, idempotency_error)"),
        "401": _error("No or wrong API key"),
    }
    if missing:
        out["404"] = _error("No such object (resource_missing)")
    out["429"] = _error("Too many requests (rate_limit_error, code rate_limit)")
    out["default"] = _error("Server errors (api_error)")
    return out


_VERSION = {
    "name": "Stripe-Version",
    "in": "header",
    "required": False,
    "description": (
        f"The API version to answer in ({LEGACY} shapes up to 2025-02-24, 2025-03-31.basil "
        f"shapes from then on up to {CURRENT}); without it, the account default."
    ),
    "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?(;.*)?$"},
}
_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Replays the first answer for 24 hours (Idempotent-Replayed: true).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
_EXPAND = {
    "name": "expand[]",
    "in": "query",
    "required": False,
    "schema": {"type": "array", "items": STR},
    "style": "form",
    "explode": True,
}
_LIST = [
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 100},
    },
    {"name": "starting_after", "in": "query", "required": False, "schema": STR},
    {"name": "ending_before", "in": "query", "required": False, "schema": STR},
]
_ID = {"name": "id", "in": "path", "required": True, "schema": STR}
_FORM_BODY = {
    "required": False,
    "content": {FORM: {"schema": {"type": "object", "additionalProperties": True}}},
}


def _filter(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema or STR}


def _op(
    operation_id: str,
    summary: str,
    response: dict[str, Any],
    *,
    params: tuple[Any, ...] | list[Any] = (),
    post: bool = False,
    missing: bool = False,
) -> dict[str, Any]:
    parameters = [_VERSION, *params]
    out: dict[str, Any] = {"operationId": operation_id, "summary": summary}
    if post:
        parameters.append(_IDEMPOTENCY)
        out["requestBody"] = _FORM_BODY
    out["parameters"] = parameters
    out["responses"] = _responses(response, missing=missing)
    return out


def billing_document() -> OpenApiDocument:
    """The Billing simulator's document."""
    sub, inv, cus = _ref("subscription"), _ref("invoice"), _ref("customer")
    created = _filter("created", {"type": "integer"})
    paths: dict[str, Any] = {
        "/v1/customers": {
            "get": _op(
                "ListCustomers",
                "Customers, newest first",
                _list_of(cus),
                params=[*_LIST, _EXPAND, _filter("email"), created],
            ),
            "post": _op("CreateCustomer", "Create a customer", cus, post=True),
        },
        "/v1/customers/search": {
            "get": _op(
                "SearchCustomers",
                "Stripe Search over customers",
                _ref("search_result"),
                params=[_filter("query"), _filter("page"), _LIST[0], _EXPAND],
            ),
        },
        "/v1/customers/{id}": {
            "get": _op("RetrieveCustomer", "A customer", cus, params=[_ID, _EXPAND], missing=True),
            "post": _op(
                "UpdateCustomer", "Update a customer", cus, params=[_ID], post=True, missing=True
            ),
            "delete": _op("DeleteCustomer", "Delete a customer", cus, params=[_ID], missing=True),
        },
        "/v1/subscriptions": {
            "get": _op(
                "ListSubscriptions",
                "Subscriptions, newest first",
                _list_of(sub),
                params=[
                    *_LIST,
                    _EXPAND,
                    _filter("customer"),
                    _filter("price"),
                    _filter("status"),
                    created,
                ],
            ),
            "post": _op("CreateSubscription", "Create a subscription", sub, post=True),
        },
        "/v1/subscriptions/{id}": {
            "get": _op(
                "RetrieveSubscription", "A subscription", sub, params=[_ID, _EXPAND], missing=True
            ),
            "post": _op(
                "UpdateSubscription",
                "Update a subscription",
                sub,
                params=[_ID],
                post=True,
                missing=True,
            ),
            "delete": _op(
                "CancelSubscription", "Cancel a subscription now", sub, params=[_ID], missing=True
            ),
        },
        "/v1/invoices": {
            "get": _op(
                "ListInvoices",
                "Invoices, newest first",
                _list_of(inv),
                params=[
                    *_LIST,
                    _EXPAND,
                    _filter("customer"),
                    _filter("subscription"),
                    _filter("status"),
                    _filter("collection_method"),
                    created,
                    _filter("due_date", {"type": "integer"}),
                ],
            ),
            "post": _op("CreateInvoice", "Create a draft invoice", inv, post=True),
        },
        "/v1/invoices/{id}": {
            "get": _op("RetrieveInvoice", "An invoice", inv, params=[_ID, _EXPAND], missing=True),
            "post": _op(
                "UpdateInvoice", "Update an invoice", inv, params=[_ID], post=True, missing=True
            ),
        },
        "/v1/invoices/{id}/lines": {
            "get": _op(
                "ListInvoiceLines",
                "An invoice's lines",
                _list_of(_ref("line_item")),
                params=[_ID, *_LIST],
                missing=True,
            ),
        },
        "/v1/prices": {
            "post": _op("CreatePrice", "Create a recurring price", _ref("price"), post=True),
        },
        "/v1/prices/{id}": {
            "get": _op(
                "RetrievePrice", "A price", _ref("price"), params=[_ID, _EXPAND], missing=True
            ),
        },
        "/v1/events": {
            "get": _op(
                "ListEvents",
                "Events, newest first",
                _list_of(_ref("event")),
                params=[*_LIST, _filter("type"), created],
            ),
        },
        "/v1/events/{id}": {
            "get": _op("RetrieveEvent", "An event", _ref("event"), params=[_ID], missing=True),
        },
    }
    for action, summary in (
        ("finalize", "Finalize a draft invoice"),
        ("pay", "Pay an invoice"),
        ("void", "Void an invoice"),
        ("mark_uncollectible", "Mark an invoice uncollectible"),
    ):
        operation_id = "".join(p.capitalize() for p in action.split("_")) + "Invoice"
        paths[f"/v1/invoices/{{id}}/{action}"] = {
            "post": _op(operation_id, summary, inv, params=[_ID], post=True, missing=True)
        }
    paths.update(control_paths())
    paths.update(_simulator_paths())
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Revgraph Billing simulator (Stripe API)",
            "version": CURRENT,
            "description": (
                "The Stripe API subset the Billing simulator serves, in the API versions "
                f"{LEGACY} (the account default) and 2025-03-31.basil to {CURRENT}."
            ),
        },
        "security": [{"bearer": []}, {"basic": []}],
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic",
                          "description": "The API key as the user name, no password."},
            },
        },
    }  # fmt: skip


def _simulator_paths() -> dict[str, Any]:
    tag = ["simulator"]
    settings = {"type": "object", "additionalProperties": True}
    ok = {"description": "OK", "content": {JSON: {"schema": settings}}}
    bad = {"description": "Bad settings", "content": {JSON: {"schema": settings}}}
    body = {"required": True, "content": {JSON: {"schema": settings}}}
    paths: dict[str, Any] = {
        "/_sim/webhooks": {
            "get": {"tags": tag, "operationId": "simGetWebhooks", "responses": {"200": ok}},
            "post": {"tags": tag, "operationId": "simSetWebhooks", "requestBody": body,
                     "summary": '{"url": str | null, "duplicate": bool, "out_of_order": bool}',
                     "responses": {"200": ok, "400": bad}},
        },
        "/_sim/webhooks/flush": {
            "post": {"tags": tag, "operationId": "simFlushWebhooks", "responses": {"200": ok}},
        },
        "/_sim/account": {
            "get": {"tags": tag, "operationId": "simGetAccount", "responses": {"200": ok}},
            "post": {"tags": tag, "operationId": "simSetAccount", "requestBody": body,
                     "summary": 'The default API version: {"api_version": str}',
                     "responses": {"200": ok, "400": bad}},
        },
    }  # fmt: skip
    for item in paths.values():
        for operation in item.values():
            operation["security"] = []
    return paths
