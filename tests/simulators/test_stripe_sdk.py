"""The official stripe-python library, stock, against the Billing simulator over loopback.

Every test runs twice: with the SDK's own API version (``stripe.api_version``,
the newest shapes: invoice ``parent``, line ``pricing``, periods on items) and
pinned to 2024-06-20 (invoice ``subscription``, ``paid``, line ``price``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import stripe

from tests.conftest import StartSimulators

TOKEN = "sk_test_demo"
BASE = 1_700_000_000
DAY = 86400
LEGACY = "2024-06-20"


def _price() -> dict[str, Any]:
    return {
        "id": "price_sdk",
        "object": "price",
        "unit_amount": 1500,
        "currency": "usd",
        "product": "prod_sdk",
        "recurring": {"interval": "month", "interval_count": 1},
    }


def _records() -> dict[str, dict[str, list[tuple[str, dict[str, Any]]]]]:
    customers: list[dict[str, Any]] = [
        {
            "id": f"cus_sdk{i:03d}",
            "object": "customer",
            "name": f"SDK {i}",
            "email": f"sdk{i}@example.com",
            "currency": "usd",
            "created": BASE + i,
            "livemode": False,
            "metadata": {"crm_account_id": f"001{i:015d}"},
        }
        for i in range(23)
    ]
    subscription = {
        "id": "sub_sdk",
        "object": "subscription",
        "customer": "cus_sdk000",
        "status": "active",
        "currency": "usd",
        "start_date": BASE,
        "current_period_start": BASE + 30 * DAY,
        "current_period_end": BASE + 60 * DAY,
        "cancel_at": None,
        "canceled_at": None,
        "created": BASE,
        "items": {
            "object": "list",
            "has_more": False,
            "data": [
                {"id": "si_sdk", "object": "subscription_item", "quantity": 2, "price": _price()}
            ],
        },
        "metadata": {"contract_id": "800000000000000001", "contract_version": "1"},
    }

    def invoice(n: int, status: str) -> dict[str, Any]:
        start = BASE + (n - 1) * 30 * DAY
        return {
            "id": f"in_sdk{n}",
            "object": "invoice",
            "number": f"RG-90000{n}",
            "customer": "cus_sdk000",
            "subscription": "sub_sdk",
            "status": status,
            "currency": "usd",
            "subtotal": 3000,
            "total": 3000,
            "amount_due": 3000,
            "amount_paid": 3000 if status == "paid" else 0,
            "amount_remaining": 0 if status == "paid" else 3000,
            "created": start,
            "due_date": start + 30 * DAY,
            "period_start": start,
            "period_end": start + 30 * DAY,
            "status_transitions": {"finalized_at": start, "paid_at": None, "voided_at": None},
            "lines": {
                "object": "list",
                "has_more": False,
                "data": [
                    {
                        "id": f"il_sdk{n}",
                        "object": "line_item",
                        "amount": 3000,
                        "currency": "usd",
                        "description": "2 x Platform",
                        "quantity": 2,
                        "price": _price(),
                        "period": {"start": start, "end": start + 30 * DAY},
                    }
                ],
            },
            "metadata": {},
        }

    invoices = [invoice(1, "paid"), invoice(2, "open")]
    return {
        "BILLING": {
            "customer": [(str(c["id"]), c) for c in customers],
            "subscription": [("sub_sdk", subscription)],
            "invoice": [(i["id"], i) for i in invoices],
        }
    }


@pytest.fixture(scope="module")
def url(start_simulators: StartSimulators) -> str:
    return start_simulators(("BILLING",), _records())["BILLING"]


@pytest.fixture(params=[None, LEGACY], ids=["sdk-default-version", "pinned-2024-06-20"])
def version(request: pytest.FixtureRequest) -> str | None:
    param: str | None = request.param
    return param


@contextmanager
def make_client(url: str, version: str | None, key: str = TOKEN) -> Iterator[stripe.StripeClient]:
    """A stock client on its requests transport (closed afterwards), no retries."""
    options: dict[str, Any] = {} if version is None else {"stripe_version": version}
    http = stripe.RequestsClient()
    try:
        yield stripe.StripeClient(
            key, base_addresses={"api": url}, http_client=http, max_network_retries=0, **options
        )
    finally:
        http.close()  # type: ignore[no-untyped-call]


@pytest.fixture
def client(url: str, version: str | None) -> Iterator[stripe.StripeClient]:
    with make_client(url, version) as sdk:
        yield sdk


def served_version(obj: stripe.StripeObject) -> str:
    response = obj.last_response
    assert response is not None
    return str(response.headers["Stripe-Version"])


def test_sdk_default_is_a_basil_or_later_version() -> None:
    assert stripe.api_version >= "2025-03-31"


# Fields Stripe sends only when asked (``expand[]``/includable), or on deleted objects.
NOT_BY_DEFAULT = {
    stripe.Invoice: {"deleted", "payments"},
    stripe.InvoiceLineItem: set(),
    stripe.Subscription: set(),
    stripe.SubscriptionItem: {"deleted"},
    stripe.Price: {"currency_options", "deleted", "tiers"},
    stripe.Customer: {
        "cash_balance",
        "deleted",
        "invoice_credit_balance",
        "sources",
        "subscriptions",
        "tax",
        "tax_ids",
    },
}


def sdk_fields(cls: type[stripe.StripeObject]) -> set[str]:
    """The fields the SDK's typed resource declares (its version's published shape)."""
    return {name for name in cls.__annotations__ if name != "OBJECT_NAME"}


def test_objects_carry_every_field_the_sdk_declares(url: str) -> None:
    with make_client(url, None) as sdk:
        invoice = sdk.v1.invoices.retrieve("in_sdk2", params={"expand": ["customer"]})
        sub = sdk.v1.subscriptions.retrieve("sub_sdk")
    item = sub["items"].data[0]
    objects: list[tuple[type[stripe.StripeObject], stripe.StripeObject]] = [
        (stripe.Invoice, invoice),
        (stripe.InvoiceLineItem, invoice.lines.data[0]),
        (stripe.Subscription, sub),
        (stripe.SubscriptionItem, item),
        (stripe.Price, item.price),
        (stripe.Customer, invoice.customer),  # type: ignore[list-item]
    ]
    for cls, obj in objects:
        assert isinstance(obj, cls)
        expected = sdk_fields(cls) - NOT_BY_DEFAULT[cls]
        assert set(obj.to_dict()) == expected, cls.__name__


def test_list_with_auto_paging(client: stripe.StripeClient, version: str | None) -> None:
    page = client.v1.customers.list(params={"limit": 5})
    assert served_version(page) == (version or stripe.api_version)
    assert len(page.data) == 5 and page.has_more
    every = [c.id for c in page.auto_paging_iter()]
    seeded = [f"cus_sdk{i:03d}" for i in reversed(range(23))]
    assert [i for i in every if i.startswith("cus_sdk")] == seeded  # newest first, all pages
    assert len(every) == len(set(every))


def test_retrieve_invoice_with_expand(client: stripe.StripeClient, version: str | None) -> None:
    invoice = client.v1.invoices.retrieve("in_sdk2", params={"expand": ["customer"]})
    assert isinstance(invoice.customer, stripe.Customer) and invoice.customer.id == "cus_sdk000"
    assert invoice.customer.email == "sdk0@example.com"
    # Always present in every version.
    assert invoice.attempted is False and invoice.attempt_count == 0
    assert invoice.starting_balance == 0 and invoice.issuer.type == "self"
    assert invoice.discounts == [] and invoice.payment_settings.payment_method_types is None
    assert invoice.customer_email == "sdk0@example.com"
    line = invoice.lines.data[0]
    assert isinstance(line, stripe.InvoiceLineItem)
    assert line.discountable is True and line.discounts == [] and line.livemode is False
    assert line.metadata.to_dict() == {} and line.period.end - line.period.start == 30 * DAY
    if version is None:
        assert "subscription" not in invoice and "paid" not in invoice
        assert invoice.parent is not None and invoice.parent.type == "subscription_details"
        details = invoice.parent.subscription_details
        assert details is not None and details.subscription == "sub_sdk"
        assert details.metadata is not None and details.metadata["contract_version"] == "1"
        assert invoice.total_taxes == [] and invoice.amount_overpaid == 0
        assert line.pricing is not None and line.pricing.type == "price_details"
        assert line.pricing.price_details is not None
        assert line.pricing.price_details.price == "price_sdk"
        assert line.pricing.unit_amount_decimal == Decimal(1500)
        assert line.parent is not None
        item_details = line.parent.subscription_item_details
        assert item_details is not None and item_details.subscription_item == "si_sdk"
        assert item_details.proration is False and line.subtotal == 3000
        assert "price" not in line and "type" not in line
        expanded = client.v1.invoices.retrieve(
            "in_sdk2", params={"expand": ["parent.subscription_details.subscription"]}
        )
        assert expanded.parent is not None and expanded.parent.subscription_details is not None
        sub = expanded.parent.subscription_details.subscription
        assert isinstance(sub, stripe.Subscription) and sub.id == "sub_sdk"
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.invoices.retrieve("in_sdk2", params={"expand": ["subscription"]})
    else:
        assert invoice["subscription"] == "sub_sdk" and invoice["paid"] is False
        assert invoice["total_tax_amounts"] == [] and "parent" not in invoice
        assert invoice["subscription_details"]["metadata"]["contract_id"] == "800000000000000001"
        assert line["type"] == "subscription" and line["proration"] is False
        assert line["price"]["id"] == "price_sdk" and line["subscription_item"] == "si_sdk"
        assert "pricing" not in line and "parent" not in line
        expanded = client.v1.invoices.retrieve("in_sdk2", params={"expand": ["subscription"]})
        assert isinstance(expanded["subscription"], stripe.Subscription)


def test_retrieve_subscription_and_its_latest_invoice(
    client: stripe.StripeClient, version: str | None
) -> None:
    sub = client.v1.subscriptions.retrieve("sub_sdk", params={"expand": ["latest_invoice"]})
    assert isinstance(sub.latest_invoice, stripe.Invoice) and sub.latest_invoice.id == "in_sdk2"
    assert sub.collection_method == "charge_automatically"
    assert sub.billing_cycle_anchor == BASE + 30 * DAY
    assert sub.automatic_tax.enabled is False and sub.discounts == []
    item = sub["items"].data[0]
    assert isinstance(item, stripe.SubscriptionItem)
    assert item.subscription == "sub_sdk" and item.created == BASE and item.discounts == []
    assert item.metadata.to_dict() == {}
    price = item.price
    assert isinstance(price, stripe.Price)
    assert price.active is True and price.type == "recurring"
    assert price.billing_scheme == "per_unit" and price.created == BASE
    assert price.livemode is False and price.metadata.to_dict() == {}
    assert price.recurring is not None and price.recurring.usage_type == "licensed"
    if version is None:
        assert item.current_period_start == BASE + 30 * DAY
        assert item.current_period_end == BASE + 60 * DAY
        assert "current_period_end" not in sub
        assert sub.billing_mode.type == "classic"
    else:
        assert sub["current_period_end"] == BASE + 60 * DAY and "current_period_end" not in item
        assert sub["plan"]["id"] == "price_sdk" and sub["quantity"] == 2
    listed = client.v1.subscriptions.list(params={"customer": "cus_sdk000"})
    assert [s.latest_invoice for s in listed.data] == ["in_sdk2"]


def test_create_with_an_idempotency_key_replays_the_same_object(
    client: stripe.StripeClient, version: str | None
) -> None:
    key = f"sdk-create-{version}"
    params: Any = {"name": "Replayed", "metadata": {"crm_account_id": "001X"}}
    first = client.v1.customers.create(params=params, options={"idempotency_key": key})
    again = client.v1.customers.create(params=params, options={"idempotency_key": key})
    assert again.id == first.id and again.to_dict() == first.to_dict()
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    other = client.v1.customers.create(params=params)
    assert other.id != first.id
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create(params={"name": "Other"}, options={"idempotency_key": key})


def test_missing_object_is_invalid_request_resource_missing(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoices.retrieve("in_nope")
    assert caught.value.code == "resource_missing" and caught.value.http_status == 404
    assert caught.value.param == "id"


def test_wrong_key_is_an_authentication_error(url: str, version: str | None) -> None:
    with (
        make_client(url, version, key="sk_test_wrong0000") as wrong,
        pytest.raises(stripe.AuthenticationError) as caught,
    ):
        wrong.v1.customers.list()
    assert caught.value.http_status == 401
    assert "sk_test_*****0000" in str(caught.value.user_message)


def test_unknown_api_version_is_refused(url: str) -> None:
    with (
        make_client(url, "2031-01-01.zzz") as future,
        pytest.raises(stripe.InvalidRequestError) as caught,
    ):
        future.v1.customers.list()
    assert "Invalid Stripe API version" in str(caught.value.user_message)


class _Hooks(BaseHTTPRequestHandler):
    received: list[tuple[bytes, str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, self.headers["Stripe-Signature"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hook_url() -> Iterator[str]:
    _Hooks.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_webhook_signature_verifies_with_construct_event(
    url: str, hook_url: str, client: stripe.StripeClient
) -> None:
    with httpx.Client(base_url=url) as sim:
        sim.post("/_sim/webhooks", json={"url": hook_url})
        try:
            customer = client.v1.customers.create(params={"name": "Hooked"})
            sim.post("/_sim/webhooks/flush")
        finally:
            sim.post("/_sim/webhooks", json={"url": None})
    assert len(_Hooks.received) == 1
    payload, signature = _Hooks.received[0]
    event = stripe.Webhook.construct_event(payload.decode(), signature, "whsec_demo")
    assert event.type == "customer.created" and event.api_version == LEGACY  # account default
    assert event.data.object["id"] == customer.id
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload.decode(), signature, "whsec_other")
    tampered = json.dumps({**json.loads(payload), "type": "customer.deleted"})
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, signature, "whsec_demo")


def test_account_default_version_shapes_events(url: str, hook_url: str) -> None:
    """With the account on the SDK's version, headerless calls and events use it."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as sim:
        assert sim.get("/_sim/account").json() == {"api_version": LEGACY}
        sim.post("/_sim/account", json={"api_version": stripe.api_version})
        sim.post("/_sim/webhooks", json={"url": hook_url})
        try:
            plain = sim.get("/v1/invoices/in_sdk1")
            assert plain.headers["Stripe-Version"] == stripe.api_version
            assert plain.json()["parent"]["subscription_details"]["subscription"] == "sub_sdk"
            draft = sim.post("/v1/invoices", data={"subscription": "sub_sdk"}).json()
            sim.post("/_sim/webhooks/flush")
        finally:
            sim.post("/_sim/webhooks", json={"url": None})
            sim.post("/_sim/account", json={"api_version": LEGACY})
        assert sim.post("/_sim/account", json={"api_version": "soon"}).status_code == 400
        latest = sim.get("/v1/subscriptions/sub_sdk").json()["latest_invoice"]
        assert latest == draft["id"]
    payload, signature = _Hooks.received[0]
    event = stripe.Webhook.construct_event(payload.decode(), signature, "whsec_demo")
    assert event.type == "invoice.created" and event.api_version == stripe.api_version
    obj = event.data.object
    assert obj["parent"]["subscription_details"]["subscription"] == "sub_sdk"
    assert obj["lines"]["data"][0]["parent"]["subscription_item_details"]["subscription_item"] == (
        "si_sdk"
    )


def test_rate_limit_is_a_rate_limit_error(url: str, client: stripe.StripeClient) -> None:
    with httpx.Client(base_url=url) as sim:
        limits = {"TestModeOperations": {"rate": 0.01, "burst": 1}}
        sim.post("/_sim/limits", json={"enabled": True, "limits": limits})
        try:
            client.v1.customers.retrieve("cus_sdk001")
            with pytest.raises(stripe.RateLimitError) as caught:
                client.v1.customers.retrieve("cus_sdk001")
        finally:
            sim.delete("/_sim/limits")
    body: Any = caught.value.json_body
    assert caught.value.http_status == 429 and body["error"]["code"] == "rate_limit"
    assert str(caught.value.request_id).startswith("req_")
    assert caught.value.headers is not None
    assert caught.value.headers["Stripe-Should-Retry"] == "true"
