"""The Stripe-shaped billing simulator over real loopback HTTP: Stripe's wire format."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from simulators.billing.app import create_app
from simulators.config import SimulatorConfig
from simulators.openapi import build, dumps
from simulators.serving import BackgroundServers
from simulators.storage import DocumentStore
from tests.conftest import StartSimulators

OPENAPI_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
TOKEN = "sk_test_demo"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = 1_700_000_000
CUSTOMERS = 250


def customer_doc(i: int) -> dict[str, Any]:
    return {
        "id": f"cus_{i:05d}",
        "object": "customer",
        "name": f"Customer {i}",
        "email": f"c{i}@example.com",
        "currency": "usd",
        # Three customers per second: ties are ordered by insertion, newest first.
        "created": BASE + i // 3,
        "livemode": False,
        "metadata": {"crm_account_id": f"001{i:015d}"},
    }


def price(price_id: str, amount: int, interval: str = "month") -> dict[str, Any]:
    return {
        "id": price_id,
        "object": "price",
        "unit_amount": amount,
        "currency": "usd",
        "product": "prod_A",
        "recurring": {"interval": interval, "interval_count": 1},
    }


def subscription_doc(n: int, customer: int, status: str) -> dict[str, Any]:
    items = [
        {
            "id": f"si_{n:05d}",
            "object": "subscription_item",
            "quantity": 2,
            "price": price("price_seed", 1000),
        }
    ]
    return {
        "id": f"sub_{n:05d}",
        "object": "subscription",
        "customer": f"cus_{customer:05d}",
        "status": status,
        "currency": "usd",
        "start_date": BASE,
        "current_period_start": BASE,
        "current_period_end": BASE + 30 * 86400,
        "cancel_at": None,
        "canceled_at": None,
        "created": BASE + n,
        "items": {"object": "list", "data": items, "has_more": False},
        "metadata": {"contract_id": f"800{n:015d}", "contract_version": "1"},
    }


def invoice_doc(n: int, customer: int, status: str, *, lines: int = 1) -> dict[str, Any]:
    data = [
        {
            "id": f"il_{n:05d}_{k:03d}",
            "object": "line_item",
            "amount": 100,
            "currency": "usd",
            "description": f"line {k}",
            "quantity": 1,
            "period": {"start": BASE, "end": BASE + 86400},
        }
        for k in range(lines)
    ]
    return {
        "id": f"in_{n:05d}",
        "object": "invoice",
        "number": f"RG-{n:06d}",
        "customer": f"cus_{customer:05d}",
        "subscription": None,
        "status": status,
        "currency": "usd",
        "subtotal": 100 * lines,
        "total": 100 * lines,
        "amount_due": 100 * lines,
        "amount_paid": 0,
        "amount_remaining": 100 * lines,
        "created": BASE + n * 86400,
        "due_date": None,
        "period_start": BASE,
        "period_end": BASE,
        "status_transitions": {"finalized_at": BASE, "paid_at": None, "voided_at": None},
        "lines": {"object": "list", "data": data, "has_more": False},
        "metadata": {},
    }


def records() -> dict[str, dict[str, list[tuple[str, dict[str, Any]]]]]:
    subs = [
        subscription_doc(1, 0, "active"),
        subscription_doc(2, 0, "canceled"),
        subscription_doc(3, 0, "past_due"),
        subscription_doc(4, 1, "active"),
    ]
    statuses = ["open", "paid", "void", "draft", "uncollectible", "open", "paid"]
    invoices = [invoice_doc(n, 0, s) for n, s in enumerate(statuses)]
    invoices.append(invoice_doc(50, 1, "open", lines=25))
    return {
        "BILLING": {
            "customer": [(d["id"], d) for d in (customer_doc(i) for i in range(CUSTOMERS))],
            "subscription": [(d["id"], d) for d in subs],
            "invoice": [(d["id"], d) for d in invoices],
        }
    }


@pytest.fixture(scope="module")
def url(start_simulators: StartSimulators) -> str:
    return start_simulators(("BILLING",), records())["BILLING"]


@pytest.fixture
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, headers=AUTH) as c:
        yield c
        c.delete("/_sim/faults")


def ids(body: Mapping[str, Any]) -> list[str]:
    return [d["id"] for d in body["data"]]


def newest_first() -> list[str]:
    docs = [customer_doc(i) for i in range(CUSTOMERS)]
    order = sorted(range(CUSTOMERS), key=lambda i: (docs[i]["created"], i), reverse=True)
    return [docs[i]["id"] for i in order]


# -- lists -------------------------------------------------------------------------


def test_list_pages_forward_and_back_newest_first(client: httpx.Client) -> None:
    expected = newest_first()
    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["starting_after"] = cursor
        body = client.get("/v1/customers", params=params).json()
        assert body["object"] == "list" and body["url"] == "/v1/customers"
        pages.append(body)
        if not body["has_more"]:
            break
        cursor = body["data"][-1]["id"]
    assert [len(p["data"]) for p in pages] == [100, 100, 50]
    assert [i for p in pages for i in ids(p)] == expected
    # Backwards from the oldest page: ending_before the first id of each page.
    back = client.get("/v1/customers", params={"limit": 100, "ending_before": ids(pages[2])[0]})
    assert ids(back.json()) == expected[100:200] and back.json()["has_more"] is True
    first = client.get("/v1/customers", params={"limit": 100, "ending_before": expected[100]})
    assert ids(first.json()) == expected[:100] and first.json()["has_more"] is False
    assert len(client.get("/v1/customers").json()["data"]) == 10  # default limit


@pytest.mark.parametrize("limit", ["0", "101", "abc"])
def test_limit_out_of_bounds_is_a_400_naming_limit(client: httpx.Client, limit: str) -> None:
    r = client.get("/v1/customers", params={"limit": limit})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "limit"


def test_unknown_cursor_and_unknown_parameter(client: httpx.Client) -> None:
    r = client.get("/v1/customers", params={"starting_after": "cus_nope"})
    assert r.status_code == 400
    assert r.json()["error"] == {
        "type": "invalid_request_error",
        "code": "resource_missing",
        "message": "No such customer: 'cus_nope'",
        "param": "starting_after",
    }
    r = client.get("/v1/customers", params={"colour": "red"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "parameter_unknown"
    assert r.json()["error"]["param"] == "colour"


def test_subscription_filters_and_status(client: httpx.Client) -> None:
    default = client.get("/v1/subscriptions", params={"customer": "cus_00000"}).json()
    assert ids(default) == ["sub_00003", "sub_00001"]  # canceled excluded, newest first
    every = client.get("/v1/subscriptions", params={"customer": "cus_00000", "status": "all"})
    assert ids(every.json()) == ["sub_00003", "sub_00002", "sub_00001"]
    canceled = client.get("/v1/subscriptions", params={"status": "canceled"}).json()
    assert ids(canceled) == ["sub_00002"]
    r = client.get("/v1/subscriptions", params={"status": "bogus"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "status"
    sub = default["data"][0]
    assert sub["items"]["object"] == "list" and sub["items"]["data"][0]["quantity"] == 2
    assert sub["metadata"]["contract_version"] == "1"
    expanded = client.get(
        "/v1/subscriptions", params={"customer": "cus_00001", "expand[]": "data.customer"}
    ).json()
    assert expanded["data"][0]["customer"]["id"] == "cus_00001"


def test_invoice_filters(client: httpx.Client) -> None:
    def listed(**params: Any) -> list[str]:
        r = client.get("/v1/invoices", params={"limit": 100, **params})
        assert r.status_code == 200, r.text
        return ids(r.json())

    assert listed(customer="cus_00000", status="open") == ["in_00005", "in_00000"]
    assert listed(customer="cus_00000", status="paid") == ["in_00006", "in_00001"]
    assert listed(
        **{
            "customer": "cus_00000",
            "created[gte]": BASE + 2 * 86400,
            "created[lte]": BASE + 4 * 86400,
        }
    ) == ["in_00004", "in_00003", "in_00002"]
    assert listed(customer="cus_00001") == ["in_00050"]
    assert client.get("/v1/invoices", params={"status": "late"}).status_code == 400
    r = client.get("/v1/invoices", params={"created[after]": "1"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "created[after]"


def test_customer_list_filters_by_email_and_created(client: httpx.Client) -> None:
    assert ids(client.get("/v1/customers", params={"email": "c7@example.com"}).json()) == [
        "cus_00007"
    ]
    window = client.get(
        "/v1/customers", params={"created[gte]": BASE + 1, "created[lt]": BASE + 2}
    ).json()
    assert ids(window) == ["cus_00005", "cus_00004", "cus_00003"]


def test_invoice_lines_page_and_embed_ten(client: httpx.Client) -> None:
    invoice = client.get("/v1/invoices/in_00050").json()
    assert len(invoice["lines"]["data"]) == 10 and invoice["lines"]["has_more"] is True
    assert invoice["lines"]["url"] == "/v1/invoices/in_00050/lines"
    first = client.get("/v1/invoices/in_00050/lines", params={"limit": 20}).json()
    assert first["has_more"] is True and len(first["data"]) == 20
    rest = client.get(
        "/v1/invoices/in_00050/lines", params={"limit": 20, "starting_after": ids(first)[-1]}
    ).json()
    assert rest["has_more"] is False
    assert ids(first) + ids(rest) == [f"il_00050_{k:03d}" for k in range(25)]
    before = client.get(
        "/v1/invoices/in_00050/lines", params={"limit": 5, "ending_before": "il_00050_010"}
    ).json()
    assert ids(before) == [f"il_00050_{k:03d}" for k in range(5, 10)] and before["has_more"]


# -- API versions ------------------------------------------------------------------


def test_legacy_shapes_carry_the_always_present_fields(client: httpx.Client) -> None:
    """Without ``Stripe-Version``: the account default, 2024-06-20."""
    r = client.get("/v1/subscriptions/sub_00001")
    assert r.headers["Stripe-Version"] == "2024-06-20"
    sub = r.json()
    for field in (
        "collection_method",
        "billing_cycle_anchor",
        "automatic_tax",
        "discounts",
        "current_period_start",
        "current_period_end",
        "latest_invoice",
    ):
        assert field in sub, field
    item = sub["items"]["data"][0]
    assert item["subscription"] == "sub_00001" and item["created"] == sub["created"]
    assert item["metadata"] == {} and item["discounts"] == []
    price = item["price"]
    assert price["active"] is True and price["type"] == "recurring"
    assert price["billing_scheme"] == "per_unit" and price["created"] == sub["created"]
    assert price["livemode"] is False and price["metadata"] == {}
    assert price["recurring"]["usage_type"] == "licensed"
    invoice = client.get("/v1/invoices/in_00001").json()
    assert invoice["paid"] is True and invoice["attempted"] is True
    assert invoice["attempt_count"] == 1 and invoice["starting_balance"] == 0
    assert invoice["issuer"] == {"type": "self"} and invoice["discounts"] == []
    assert invoice["total_tax_amounts"] == [] and "payment_settings" in invoice
    line = invoice["lines"]["data"][0]
    assert line["type"] == "invoiceitem" and line["proration"] is False  # no subscription
    assert line["discountable"] is True and line["discounts"] == []
    assert line["livemode"] is False and line["metadata"] == {}
    assert list(invoice)[:2] == ["id", "object"]


def test_stripe_version_header_picks_the_shapes(client: httpx.Client) -> None:
    created = client.post("/v1/invoices", data={"subscription": "sub_00004"}).json()
    assert created["subscription"] == "sub_00004" and created["lines"]["data"][0]["price"]
    sub = client.get("/v1/subscriptions/sub_00004").json()
    assert sub["latest_invoice"] == created["id"]
    basil = {"Stripe-Version": "2025-03-31.basil"}
    r = client.get(f"/v1/invoices/{created['id']}", headers=basil)
    assert r.headers["Stripe-Version"] == "2025-03-31.basil"
    invoice = r.json()
    assert "subscription" not in invoice and "paid" not in invoice
    assert invoice["parent"]["subscription_details"]["subscription"] == "sub_00004"
    line = invoice["lines"]["data"][0]
    assert line["pricing"]["price_details"]["price"] == "price_seed"
    assert line["parent"]["subscription_item_details"]["subscription_item"] == "si_00004"
    lines = client.get(f"/v1/invoices/{created['id']}/lines", headers=basil).json()
    assert lines["data"][0]["parent"] == line["parent"]
    sub = client.get("/v1/subscriptions/sub_00004", headers=basil).json()
    assert "current_period_end" not in sub and sub["latest_invoice"] == created["id"]
    assert sub["items"]["data"][0]["current_period_end"] == BASE + 30 * 86400
    bad = client.get("/v1/customers", headers={"Stripe-Version": "2024-13-01"})
    assert bad.status_code == 400
    assert bad.json()["error"]["message"].startswith("Invalid Stripe API version: 2024-13-01")
    wrong_path = client.get(
        f"/v1/invoices/{created['id']}", params={"expand[]": "subscription"}, headers=basil
    )
    assert wrong_path.status_code == 400 and wrong_path.json()["error"]["param"] == "expand"


# -- rate limits -------------------------------------------------------------------


def test_rate_limits_answer_stripes_429_when_on(client: httpx.Client) -> None:
    assert client.get("/_sim/limits").json()["enabled"] is False  # off by default
    try:
        limits = {
            "TestModeOperations": {"rate": 0.01, "burst": 3},
            "EndpointRequests": {"rate": 0.01, "burst": 2},
            "SearchReads": {"rate": 0.01, "burst": 1},
        }
        shown = client.post("/_sim/limits", json={"enabled": True, "limits": limits}).json()
        assert shown["limits"]["LiveModeOperations"]["rate"] == 100
        assert client.get("/v1/customers/cus_00001").status_code == 200
        assert client.get("/v1/customers/cus_00002").status_code == 200
        limited = client.get("/v1/customers/cus_00003")  # the endpoint's third in a row
        assert limited.status_code == 429
        assert limited.json() == {
            "error": {
                "type": "invalid_request_error",
                "code": "rate_limit",
                "doc_url": "https://docs.stripe.com/error-codes/rate-limit",
                "message": "Request rate limit exceeded. Learn more about rate limits here "
                "https://docs.stripe.com/rate-limits.",
            }
        }
        assert limited.headers["Stripe-Should-Retry"] == "true"
        assert int(limited.headers["Retry-After"]) >= 1
        assert client.get("/v1/invoices/in_00001").status_code == 200  # another endpoint
        assert client.get("/v1/invoices/in_00002").status_code == 429  # the account's 4th
        live = {"Authorization": "Bearer sk_live_other"}  # its own (live) bucket
        assert client.get("/v1/customers/search", headers=live).status_code == 401
        assert client.get("/v1/customers/search", headers=live).status_code == 429  # Search
        used = client.get("/_sim/limits").json()["limits"]
        assert used["TestModeOperations"]["refused"] >= 1 and used["SearchReads"]["refused"] == 1
    finally:
        client.delete("/_sim/limits")
    assert client.get("/v1/customers/cus_00003").status_code == 200


# -- auth, errors, faults ----------------------------------------------------------


def test_auth_bearer_basic_wrong_and_missing(client: httpx.Client) -> None:
    assert client.get("/v1/customers/cus_00001").status_code == 200
    basic = base64.b64encode(f"{TOKEN}:".encode()).decode()
    r = client.get("/v1/customers/cus_00001", headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 200 and r.json()["id"] == "cus_00001"
    wrong = client.get("/v1/customers", headers={"Authorization": "Bearer sk_test_nope1234"})
    assert wrong.status_code == 401
    assert wrong.json() == {
        "error": {
            "type": "invalid_request_error",
            "message": "Invalid API Key provided: sk_test_****1234",
        }
    }
    missing = client.get("/v1/customers", headers={"Authorization": ""})
    assert missing.status_code == 401
    assert missing.json()["error"]["message"].startswith("You did not provide an API key.")


def test_unknown_id_is_resource_missing(client: httpx.Client) -> None:
    r = client.get("/v1/customers/cus_x")
    assert r.status_code == 404
    assert r.json() == {
        "error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "message": "No such customer: 'cus_x'",
            "param": "id",
        }
    }
    assert client.get("/v1/invoices/in_x").json()["error"]["message"] == "No such invoice: 'in_x'"
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and "Unrecognized request URL" in r.json()["error"]["message"]


def test_injected_faults_answer_stripe_error_bodies(client: httpx.Client) -> None:
    client.post("/_sim/faults", json={"down": True})
    r = client.get("/v1/customers")
    assert r.status_code == 503 and r.json()["error"]["type"] == "api_error"
    client.post("/_sim/faults", json={"down": False, "error_rate": 1.0})
    r = client.get("/v1/customers")
    assert r.status_code == 500 and r.json()["error"]["type"] == "api_error"


# -- writes, forms, idempotency ----------------------------------------------------


def test_form_decoding_metadata_update_and_delete(client: httpx.Client) -> None:
    r = client.post(
        "/v1/customers",
        data={
            "name": "Forms Ltd",
            "email": "forms@example.com",
            "metadata[crm_account_id]": "001FORMS",
            "metadata[tier]": "gold",
            "expand[]": "",
        },
    )
    assert r.status_code == 400  # expand[] with an empty field name is not expandable
    r = client.post(
        "/v1/customers",
        data={
            "name": "Forms Ltd",
            "email": "forms@example.com",
            "metadata[crm_account_id]": "001FORMS",
            "metadata[tier]": "gold",
        },
    )
    assert r.status_code == 200, r.text
    customer = r.json()
    assert customer["id"].startswith("cus_") and customer["object"] == "customer"
    assert customer["metadata"] == {"crm_account_id": "001FORMS", "tier": "gold"}
    path = f"/v1/customers/{customer['id']}"
    updated = client.post(path, data={"metadata[tier]": "", "metadata[region]": "emea"}).json()
    assert updated["metadata"] == {"crm_account_id": "001FORMS", "region": "emea"}
    assert client.post(path, data={"metadata": ""}).json()["metadata"] == {}
    bad = client.post(path, data={"metadata": "oops"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "metadata"
    deleted = client.delete(path).json()
    assert deleted == {"id": customer["id"], "object": "customer", "deleted": True}
    assert client.get(path).json() == deleted
    assert client.post(path, data={"name": "x"}).status_code == 404
    found = client.get("/v1/customers", params={"email": "forms@example.com"}).json()
    assert found["data"] == []


def test_wrong_types_name_the_bracketed_param(client: httpx.Client) -> None:
    r = client.post(
        "/v1/subscriptions",
        data={
            "customer": "cus_00010",
            "items[0][price]": "price_seed",
            "items[0][quantity]": "two",
        },
    )
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "items[0][quantity]"
    assert r.json()["error"]["message"] == "Invalid integer: two"
    r = client.post("/v1/subscriptions", data={"customer": "cus_00010"})
    assert r.json()["error"] == {
        "type": "invalid_request_error",
        "code": "parameter_missing",
        "message": "Missing required param: items.",
        "param": "items",
    }
    r = client.post("/v1/subscriptions", data={"customer": "cus_zzz", "items[0][price]": "p"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "resource_missing"
    assert r.json()["error"]["param"] == "customer"


def test_idempotent_replay_and_conflicts(client: httpx.Client) -> None:
    form = {"name": "Once Inc", "email": "once@example.com", "metadata[k]": "v"}
    key = {"Idempotency-Key": "test-replay-1"}
    first = client.post("/v1/customers", data=form, headers=key)
    again = client.post("/v1/customers", data=form, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    newest = client.get("/v1/customers", params={"limit": 1}).json()
    assert ids(newest) == [first.json()["id"]]  # filed first in the newest-first order
    assert again.headers["Request-Id"] == first.headers["Request-Id"]
    listed = client.get("/v1/customers", params={"email": "once@example.com"}).json()
    assert ids(listed) == [first.json()["id"]]
    other = client.post("/v1/customers", data={**form, "name": "Twice"}, headers=key)
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"
    assert other.json()["error"]["message"].startswith(
        "Keys for idempotent requests can only be used with the same parameters"
    )
    elsewhere = client.post(f"/v1/customers/{first.json()['id']}", data=form, headers=key)
    assert elsewhere.status_code == 400
    assert elsewhere.json()["error"]["type"] == "idempotency_error"
    # A request rejected by validation saves nothing: the key can be used once fixed.
    fix_key = {"Idempotency-Key": "test-replay-2"}
    bad = client.post("/v1/customers", data={"metadata": "x"}, headers=fix_key)
    assert bad.status_code == 400
    good = client.post("/v1/customers", data={"name": "Fixed"}, headers=fix_key)
    assert good.status_code == 200 and "Idempotent-Replayed" not in good.headers


def test_subscription_create_update_pause_cancel(client: httpx.Client) -> None:
    created = client.post(
        "/v1/subscriptions",
        data={
            "customer": "cus_00020",
            "items[0][price_data][currency]": "usd",
            "items[0][price_data][product]": "prod_core",
            "items[0][price_data][unit_amount]": "2500",
            "items[0][price_data][recurring][interval]": "month",
            "items[0][quantity]": "4",
            "items[1][price]": "price_seed",
            "metadata[contract_id]": "800C1",
            "metadata[contract_version]": "1",
        },
    )
    assert created.status_code == 200, created.text
    sub = created.json()
    assert sub["status"] == "active" and sub["currency"] == "usd"
    assert [i["quantity"] for i in sub["items"]["data"]] == [4, 1]
    assert sub["items"]["data"][1]["price"]["unit_amount"] == 1000
    assert sub["current_period_end"] > sub["current_period_start"] >= sub["start_date"]
    path = f"/v1/subscriptions/{sub['id']}"
    first, second = sub["items"]["data"]
    changed = client.post(
        path,
        data={
            "items[0][id]": first["id"],
            "items[0][quantity]": "6",
            "items[1][id]": second["id"],
            "items[1][deleted]": "true",
            "metadata[contract_version]": "2",
        },
    ).json()
    assert [(i["id"], i["quantity"]) for i in changed["items"]["data"]] == [(first["id"], 6)]
    assert changed["metadata"] == {"contract_id": "800C1", "contract_version": "2"}
    paused = client.post(path, data={"pause_collection[behavior]": "void"}).json()
    assert paused["status"] == "paused" and paused["pause_collection"]["behavior"] == "void"
    resumed = client.post(path, data={"pause_collection": ""}).json()
    assert resumed["status"] == "active" and resumed["pause_collection"] is None
    canceled = client.delete(path).json()
    assert canceled["status"] == "canceled" and canceled["canceled_at"] is not None
    again = client.delete(path)
    assert again.status_code == 400
    assert client.post(path, data={"items[0][quantity]": "1"}).status_code == 400
    assert client.post(path, data={"metadata[note]": "x"}).status_code == 200
    events = client.get(
        "/v1/events", params={"type": "customer.subscription.*", "limit": 100}
    ).json()["data"]
    mine = [e for e in events if e["data"]["object"]["id"] == sub["id"]]
    assert [e["type"].rsplit(".", 1)[1] for e in mine] == [
        "updated",
        "deleted",
        "updated",
        "updated",
        "updated",
        "created",
    ]
    assert mine[1]["data"]["previous_attributes"] == {"status": "active"}


def test_invoice_status_transitions(client: httpx.Client) -> None:
    sub = client.post(
        "/v1/subscriptions",
        data={
            "customer": "cus_00030",
            "items[0][price]": "price_seed",
            "items[0][quantity]": "3",
        },
    ).json()
    draft = client.post(
        "/v1/invoices",
        data={
            "subscription": sub["id"],
            "collection_method": "send_invoice",
            "days_until_due": "30",
        },
    ).json()
    assert draft["status"] == "draft" and draft["number"] is None
    assert draft["customer"] == "cus_00030" and draft["total"] == 3000
    assert draft["lines"]["data"][0]["amount"] == 3000
    path = f"/v1/invoices/{draft['id']}"
    refused = client.post(f"{path}/pay")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invoice_not_editable"
    opened = client.post(f"{path}/finalize").json()
    assert opened["status"] == "open" and opened["number"].startswith("RG-")
    assert opened["status_transitions"]["finalized_at"] is not None
    assert opened["due_date"] == opened["status_transitions"]["finalized_at"] + 30 * 86400
    assert client.post(f"{path}/finalize").json()["error"]["code"] == "invoice_not_editable"
    assert client.post(path, data={"due_date": "1"}).status_code == 400
    noted = client.post(path, data={"metadata[erp]": "posted"}).json()
    assert noted["metadata"] == {"erp": "posted"}
    uncollectible = client.post(f"{path}/mark_uncollectible").json()
    assert uncollectible["status"] == "uncollectible"
    paid = client.post(f"{path}/pay").json()
    assert paid["status"] == "paid" and paid["amount_paid"] == 3000
    assert paid["amount_remaining"] == 0 and paid["status_transitions"]["paid_at"] is not None
    assert client.post(f"{path}/void").status_code == 400
    assert client.get(f"/v1/subscriptions/{sub['id']}").json()["latest_invoice"] == draft["id"]
    other = client.post("/v1/invoices", data={"customer": "cus_00030", "subscription": sub["id"]})
    other_path = f"/v1/invoices/{other.json()['id']}"
    client.post(f"{other_path}/finalize")
    voided = client.post(f"{other_path}/void").json()
    assert voided["status"] == "void" and voided["status_transitions"]["voided_at"] is not None
    numbers = [opened["number"], client.get(other_path).json()["number"]]
    assert int(numbers[1][3:]) == int(numbers[0][3:]) + 1
    events = client.get("/v1/events", params={"type": "invoice.*", "limit": 100}).json()
    mine = [e["type"] for e in events["data"] if e["data"]["object"]["id"] == draft["id"]]
    assert mine == [
        "invoice.paid",
        "invoice.marked_uncollectible",
        "invoice.updated",
        "invoice.finalized",
        "invoice.created",
    ]


async def test_concurrent_requests_with_one_key_run_once(url: str) -> None:
    form = {"name": "Racer", "email": "racer@example.com"}
    headers = {"Idempotency-Key": "race-1", **AUTH}
    async with httpx.AsyncClient(base_url=url, headers=headers) as http:
        answers = await asyncio.gather(*(http.post("/v1/customers", data=form) for _ in range(4)))
        listed = (await http.get("/v1/customers", params={"email": "racer@example.com"})).json()
    assert {a.content for a in answers} == {answers[0].content}
    assert sorted(a.headers.get("Idempotent-Replayed", "") for a in answers) == [
        "",
        "true",
        "true",
        "true",
    ]
    assert ids(listed) == [answers[0].json()["id"]]


def test_search_by_metadata(client: httpx.Client) -> None:
    query = "metadata['crm_account_id']:'001000000000000042'"
    body = client.get("/v1/customers/search", params={"query": query}).json()
    assert body["object"] == "search_result" and body["url"] == "/v1/customers/search"
    assert ids(body) == ["cus_00042"] and body["has_more"] is False
    assert body["next_page"] is None
    either = client.get(
        "/v1/customers/search",
        params={
            "query": "email:'c1@example.com' OR email:'C2@example.com'",
            "limit": 1,
        },
    ).json()
    assert ids(either) == ["cus_00002"] and either["has_more"] is True
    rest = client.get(
        "/v1/customers/search",
        params={
            "query": "email:'c1@example.com' OR email:'C2@example.com'",
            "page": either["next_page"],
        },
    ).json()
    assert ids(rest) == ["cus_00001"]
    bad = client.get("/v1/customers/search", params={"query": "metadata[crm"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "query"


# -- webhooks ------------------------------------------------------------------------


class Receiver:
    """A tiny webhook endpoint that records what it is sent."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.received.append((dict(request.headers), body))
        return Response(status_code=200)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.received]


def verify(payload: bytes, header: str, secret: str, tolerance_s: int = 300) -> bool:
    """What a receiver does with ``Stripe-Signature`` (test-side check)."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - timestamp) < tolerance_s


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    recv = Receiver()

    async def build(urls: Mapping[str, str]) -> Mapping[str, ASGIApp]:
        return {"HOOK": Starlette(routes=[Route("/hook", recv.hook, methods=["POST"])])}

    servers = BackgroundServers(build, {"HOOK": 0})
    yield recv, servers.start()["HOOK"] + "/hook"
    servers.stop()


def test_webhooks_signed_duplicated_and_out_of_order(
    client: httpx.Client, receiver: tuple[Receiver, str]
) -> None:
    recv, hook_url = receiver
    client.post("/_sim/webhooks", json={"url": hook_url})
    try:
        customer = client.post("/v1/customers", data={"name": "Hooked"}).json()
        client.post(f"/v1/customers/{customer['id']}", data={"name": "Hooked 2"})
        client.post("/_sim/webhooks/flush")
        events = recv.events()
        assert [e["type"] for e in events] == ["customer.created", "customer.updated"]
        assert events[0]["object"] == "event" and events[0]["id"].startswith("evt_")
        assert events[0]["data"]["object"]["id"] == customer["id"]
        assert events[1]["data"]["previous_attributes"] == {"name": "Hooked"}
        for headers, body in recv.received:
            assert verify(body, headers["stripe-signature"], "whsec_demo")
            assert not verify(body, headers["stripe-signature"], "whsec_other")
        stored = client.get("/v1/events", params={"type": "customer.*", "limit": 2}).json()
        assert ids(stored) == [events[1]["id"], events[0]["id"]]

        recv.received.clear()
        client.post("/_sim/webhooks", json={"duplicate": True, "out_of_order": True})
        invoice = client.post("/v1/invoices", data={"customer": customer["id"]}).json()
        client.post(f"/v1/invoices/{invoice['id']}/finalize")  # zero total: paid at once
        client.post("/_sim/webhooks/flush")
        types = [e["type"] for e in recv.events()]
        assert sorted(set(types)) == ["invoice.created", "invoice.finalized", "invoice.paid"]
        # Sent as pairs, each held back behind the next; the last one held is
        # released (once) by the flush.
        assert types.count("invoice.created") == types.count("invoice.finalized") == 2
        assert types.count("invoice.paid") == 1
        assert types.index("invoice.finalized") < types.index("invoice.created")
        assert all(
            verify(body, headers["stripe-signature"], "whsec_demo")
            for headers, body in recv.received
        )
    finally:
        client.post("/_sim/webhooks", json={"url": None})


# -- persistence -------------------------------------------------------------------


def test_idempotency_keys_survive_a_restart(tmp_path: Path, run_id: str) -> None:
    database = os.environ.get("DATABASE_URL", "")
    if database.startswith("postgresql"):

        def store() -> DocumentStore:
            return DocumentStore(database, schema=f"{run_id}_billing_restart")
    else:

        def store() -> DocumentStore:
            return DocumentStore(f"sqlite+aiosqlite:///{tmp_path / 'billing.sqlite3'}")

    def serve(reset: bool) -> BackgroundServers:
        opened = store()

        async def build(urls: Mapping[str, str]) -> Mapping[str, ASGIApp]:
            await opened.open(reset=reset)
            return {"BILLING": create_app(opened, SimulatorConfig(urls["BILLING"], TOKEN))}

        return BackgroundServers(build, {"BILLING": 0}, cleanup=opened.close)

    form = {"name": "Durable"}
    key = {"Idempotency-Key": "restart-key", **AUTH}
    first_server = serve(reset=True)
    url = first_server.start()["BILLING"]
    first = httpx.post(f"{url}/v1/customers", data=form, headers=key)
    first_server.stop()
    second_server = serve(reset=False)
    url = second_server.start()["BILLING"]
    try:
        again = httpx.post(f"{url}/v1/customers", data=form, headers=key)
        assert again.content == first.content and again.headers["Idempotent-Replayed"] == "true"
        fresh = httpx.post(f"{url}/v1/customers", data=form, headers=AUTH).json()
        assert fresh["id"] != first.json()["id"]
        listed = httpx.get(f"{url}/v1/customers", headers=AUTH).json()
        assert sorted(ids(listed)) == sorted([first.json()["id"], fresh["id"]])
    finally:
        second_server.stop()


# -- OpenAPI document --------------------------------------------------------------


def test_served_openapi_document_is_the_generated_one(client: httpx.Client) -> None:
    served = client.get("/_sim/openapi.json").json()
    assert served == json.loads(dumps(build("billing")))
    assert {"/v1/customers", "/v1/invoices/{id}/lines", "/v1/customers/search"} <= set(
        served["paths"]
    )


# (path, method, ids for its {id})
LIVE_OPERATIONS = [
    ("/v1/customers", "GET", []),
    ("/v1/customers/{id}", "GET", ["cus_00001", "cus_00002"]),
    ("/v1/subscriptions/{id}", "GET", ["sub_00001", "sub_00002"]),
    ("/v1/invoices/{id}", "GET", ["in_00001", "in_00050"]),
    ("/v1/invoices/{id}/lines", "GET", ["in_00050"]),
]


@pytest.mark.parametrize(("path", "method", "known"), LIVE_OPERATIONS)
def test_live_answers_conform_to_the_document(
    url: str, path: str, method: str, known: list[str]
) -> None:
    operation = schemathesis.openapi.from_dict(build("billing"))[path][method]
    strategy = operation.as_strategy()
    if known:
        strategy = st.one_of(
            strategy,
            st.sampled_from(known).flatmap(
                lambda i: operation.as_strategy(path_parameters={"id": i})
            ),
        )
    session = requests.Session()

    @settings(
        max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        case.call_and_validate(base_url=url, session=session, headers=AUTH, checks=OPENAPI_CHECKS)

    try:
        check()
    finally:
        session.close()
