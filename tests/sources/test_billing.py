"""The Stripe adapter against the billing simulator over real loopback HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from domain.money import Money
from domain.records import Invoice, InvoiceStatus, Subscription, SubscriptionStatus
from sources.base import SourceConfig
from sources.billing.client import BillingClient
from sources.billing.forms import encode
from sources.breaker import NO_BREAKER
from sources.errors import (
    SourceAuthError,
    SourceConflict,
    SourceError,
    SourceNotFound,
    SourceRequestError,
    SourceResponseError,
    SourceServerError,
    SourceThrottled,
    SourceTimeout,
    SourceUnavailable,
)
from sources.systems import System
from tests.conftest import StartSimulators

TOKEN = "sk_test_demo"
BASE = 1_700_000_000
CUSTOMERS = 250
WITH_SUBSCRIPTIONS = 50


def _price(amount: int) -> dict[str, Any]:
    return {
        "id": f"price_{amount}",
        "object": "price",
        "unit_amount": amount,
        "currency": "eur",
        "product": "prod_core",
        "recurring": {"interval": "month", "interval_count": 1},
    }


def records() -> dict[str, dict[str, list[tuple[str, dict[str, Any]]]]]:
    customers, subscriptions, invoices = [], [], []
    for i in range(CUSTOMERS):
        cid = f"cus_{i:05d}"
        customers.append(
            (
                cid,
                {
                    "id": cid,
                    "object": "customer",
                    "name": f"Customer {i}",
                    "email": None,
                    "currency": "eur",
                    "created": BASE + i,
                    "livemode": False,
                    "metadata": {"crm_account_id": f"001{i:015d}"},
                },
            )
        )
        if i >= WITH_SUBSCRIPTIONS:
            continue
        for n, status in enumerate(("active", "canceled")[: 1 + i % 2]):
            sid = f"sub_{i:05d}_{n}"
            subscriptions.append(
                (
                    sid,
                    {
                        "id": sid,
                        "object": "subscription",
                        "customer": cid,
                        "status": status,
                        "currency": "eur",
                        "start_date": BASE,
                        "current_period_start": BASE,
                        "current_period_end": BASE + 86400 * 30,
                        "cancel_at": None,
                        "canceled_at": BASE + 5 if status == "canceled" else None,
                        "created": BASE + n,
                        "items": {
                            "object": "list",
                            "has_more": False,
                            "data": [
                                {
                                    "id": f"si_{i:05d}_{n}_a",
                                    "object": "subscription_item",
                                    "quantity": 3,
                                    "price": _price(1250),
                                },
                                {
                                    "id": f"si_{i:05d}_{n}_b",
                                    "object": "subscription_item",
                                    "quantity": 1,
                                    "price": _price(999),
                                },
                            ],
                        },
                        "metadata": {"contract_id": f"800{i:015d}", "contract_version": "2"},
                    },
                )
            )
        for n, status in enumerate(("paid", "open", "draft")):
            iid = f"in_{i:05d}_{n}"
            lines = [
                {
                    "id": f"il_{i:05d}_{n}_{k:03d}",
                    "object": "line_item",
                    "amount": 100,
                    "currency": "eur",
                    "description": f"line {k}",
                    "quantity": 1,
                    "period": {"start": BASE, "end": BASE + 86400},
                }
                for k in range(120 if iid == "in_00000_0" else 2)
            ]
            invoices.append(
                (
                    iid,
                    {
                        "id": iid,
                        "object": "invoice",
                        "number": f"RG-{i:04d}{n:02d}",
                        "customer": cid,
                        "subscription": f"sub_{i:05d}_0",
                        "status": status,
                        "currency": "eur",
                        "subtotal": 100 * len(lines),
                        "total": 100 * len(lines),
                        "amount_due": 100 * len(lines),
                        "amount_paid": 0,
                        "amount_remaining": 100 * len(lines),
                        "created": BASE + n * 86400,
                        "due_date": BASE + 30 * 86400,
                        "period_start": BASE,
                        "period_end": BASE + 86400,
                        "status_transitions": {
                            "finalized_at": BASE + 60,
                            "paid_at": None,
                            "voided_at": None,
                        },
                        "lines": {"object": "list", "data": lines, "has_more": False},
                        "metadata": {},
                    },
                )
            )
    return {"BILLING": {"customer": customers, "subscription": subscriptions, "invoice": invoices}}


@pytest.fixture(scope="module")
def url(start_simulators: StartSimulators) -> str:
    return start_simulators(("BILLING",), records())["BILLING"]


@pytest.fixture
async def sim(url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The simulator's control routes, with faults and stats reset around each test."""
    async with httpx.AsyncClient(base_url=url) as control:
        await control.delete("/_sim/faults")
        await control.delete("/_sim/stats")
        yield control
        await control.delete("/_sim/faults")


def make_client(url: str, **options: Any) -> BillingClient:
    settings: dict[str, Any] = {
        "retry_backoff_s": 0.001,
        # These tests count retries: no breaker or budget in the way (tested on their own).
        "breaker": NO_BREAKER,
        "retry_budget_burst": 1000.0,
        # Nor the client-side rate limiter (tests/sources/test_limits.py tests it).
        "rate_limit_per_s": 0,
        **options,
    }
    return BillingClient(SourceConfig(System.BILLING, url, TOKEN, **settings))


@pytest.fixture
async def billing(url: str) -> AsyncIterator[BillingClient]:
    client = make_client(url)
    yield client
    await client.aclose()


async def counts(sim: httpx.AsyncClient) -> dict[str, int]:
    """Requests the simulator served since the test started, by route."""
    by_route: dict[str, int] = (await sim.get("/_sim/stats")).json()["by_route"]
    return by_route


async def customer_ids_with_email(url: str, email: str) -> list[str]:
    """Asked of the simulator directly, not through the adapter under test."""
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        body = (await http.get(f"{url}/v1/customers", params={"email": email, "limit": 100})).json()
    return [c["id"] for c in body["data"]]


# -- reads -------------------------------------------------------------------------


async def test_all_customers_pages_by_hundreds(
    billing: BillingClient, sim: httpx.AsyncClient
) -> None:
    customers = await billing.all_customers()
    assert [c.id for c in customers] == [f"cus_{i:05d}" for i in reversed(range(CUSTOMERS))]
    assert customers[0].crm_account_id == f"001{CUSTOMERS - 1:015d}"
    assert customers[0].currency == "EUR"
    assert customers[0].created_at == _at(BASE + CUSTOMERS - 1)
    assert (await counts(sim)) == {"GET /v1/customers": 3}


async def test_get_and_batch_customers(billing: BillingClient, sim: httpx.AsyncClient) -> None:
    one = await billing.get_customer("cus_00007")
    assert one.name == "Customer 7" and one.crm_account_id == "001000000000000007"
    with pytest.raises(SourceNotFound) as info:
        await billing.get_customer("cus_missing")
    assert info.value.vendor_code == "resource_missing" and info.value.status == 404
    found = await billing.customers_by_ids(["cus_00001", "cus_missing", "cus_00002", "cus_00001"])
    assert sorted(found) == ["cus_00001", "cus_00002"]
    assert found["cus_00002"].name == "Customer 2"
    assert (await counts(sim)) == {"GET /v1/customers/{id}": 2 + 3}


async def test_search_by_crm_id(billing: BillingClient) -> None:
    [hit] = await billing.search_customers_by_crm_id("001000000000000123")
    assert hit.id == "cus_00123"
    assert await billing.search_customers_by_crm_id("001'); nothing") == []


async def test_subscriptions_for_50_customers_one_list_each_concurrently(
    url: str, sim: httpx.AsyncClient
) -> None:
    ids = [f"cus_{i:05d}" for i in range(WITH_SUBSCRIPTIONS)]
    await sim.post("/_sim/faults", json={"latency_ms": 50})
    client = make_client(url, concurrency=16)
    try:
        started = time.perf_counter()
        found = await client.subscriptions_for_customers(ids)
        elapsed = time.perf_counter() - started
    finally:
        await client.aclose()
    # 50 sequential calls would take >= 2.5 s; 16 at a time take ~4 x 50 ms.
    assert elapsed < 1.5, elapsed
    assert (await counts(sim)) == {"GET /v1/subscriptions": 50}
    assert list(found) == ids
    assert [len(found[i]) for i in ids[:4]] == [1, 2, 1, 2]  # status=all keeps canceled
    sub = found["cus_00001"][0]
    assert isinstance(sub, Subscription) and sub.customer_id == "cus_00001"
    assert sub.contract_id == "800000000000000001" and sub.contract_version == 2
    assert sub.recurring_amount == Money(Decimal("47.49"), "EUR")  # 3 x 12.50 + 9.99
    assert sub.items[0].interval == "month" and sub.items[0].interval_count == 1
    assert sub.items[0].unit_price == Money(Decimal("12.50"), "EUR")
    assert sub.current_period_end == _at(BASE + 86400 * 30)


async def test_subscriptions_status_filter_and_customers_without_any(
    billing: BillingClient,
) -> None:
    found = await billing.subscriptions_for_customers(["cus_00001", "cus_00200"], status="active")
    assert [s.status for s in found["cus_00001"]] == [SubscriptionStatus.ACTIVE]
    assert found["cus_00200"] == []


async def test_invoices_for_customers_with_filters(
    billing: BillingClient, sim: httpx.AsyncClient
) -> None:
    every = await billing.invoices_for_customers(["cus_00003", "cus_00004", "cus_00300"])
    assert [i.id for i in every["cus_00003"]] == ["in_00003_2", "in_00003_1", "in_00003_0"]
    assert every["cus_00300"] == []
    opened = await billing.invoices_for_customers(["cus_00003"], status="open")
    assert [i.id for i in opened["cus_00003"]] == ["in_00003_1"]
    window = await billing.invoices_for_customers(
        ["cus_00003"], created_gte=BASE + 86400, created_lte=BASE + 86400
    )
    assert [i.id for i in window["cus_00003"]] == ["in_00003_1"]
    invoice = opened["cus_00003"][0]
    assert isinstance(invoice, Invoice) and invoice.finalized_at == _at(BASE + 60)
    assert invoice.lines[0].period_start == _at(BASE) and invoice.lines_has_more is False
    assert invoice.status is InvoiceStatus.OPEN
    dated = await billing.invoices_for_customers(
        ["cus_00003"], created_gte=_at(BASE + 86400), created_lte=_at(BASE + 86400)
    )
    assert [i.id for i in dated["cus_00003"]] == ["in_00003_1"]
    assert (await counts(sim)) == {"GET /v1/invoices": 6}


async def test_invoice_lines_all_pages(billing: BillingClient, sim: httpx.AsyncClient) -> None:
    [invoice] = [
        i
        for i in (await billing.invoices_for_customers(["cus_00000"]))["cus_00000"]
        if i.id == "in_00000_0"
    ]
    assert len(invoice.lines) == 10 and invoice.lines_has_more is True
    lines = await billing.invoice_lines("in_00000_0")
    assert [line.id for line in lines] == [f"il_00000_0_{k:03d}" for k in range(120)]
    assert (await counts(sim))["GET /v1/invoices/{id}/lines"] == 2


# -- errors, retries, timeouts ---------------------------------------------------------


async def test_error_translation(url: str, billing: BillingClient) -> None:
    wrong = BillingClient(SourceConfig(System.BILLING, url, "sk_test_wrong"))
    try:
        with pytest.raises(SourceAuthError) as auth:
            await wrong.get_customer("cus_00001")
    finally:
        await wrong.aclose()
    assert auth.value.status == 401 and "Invalid API Key" in auth.value.message
    with pytest.raises(SourceRequestError) as bad:
        await billing.create_subscription({"customer": "cus_00001", "items": [{"quantity": 1}]})
    assert bad.value.vendor_code == "parameter_missing"
    assert "items[0][price]" in bad.value.message
    with pytest.raises(SourceNotFound) as gone:
        await billing.create_invoice({"customer": "cus_nobody"})
    assert gone.value.vendor_code == "resource_missing" and gone.value.status == 400


async def test_idempotency_replay_and_conflict(
    billing: BillingClient, sim: httpx.AsyncClient
) -> None:
    params = {"name": "Replay GmbH", "email": "replay@example.com"}
    first = await billing.create_customer(params, idempotency_key="flow-1:onboard")
    again = await billing.create_customer(params, idempotency_key="flow-1:onboard")
    assert again == first
    with pytest.raises(SourceConflict) as conflict:
        await billing.create_customer({**params, "name": "Other"}, idempotency_key="flow-1:onboard")
    assert conflict.value.vendor_code == "idempotency_error" and not conflict.value.retryable
    assert await customer_ids_with_email(str(sim.base_url), "replay@example.com") == [first.id]


async def test_5xx_is_retried_then_raised(url: str, sim: httpx.AsyncClient) -> None:
    client = make_client(url, max_retries=2)
    await sim.post("/_sim/faults", json={"error_rate": 1.0})
    try:
        with pytest.raises(SourceServerError) as info:
            await client.get_customer("cus_00001")
        assert info.value.vendor_code == "api_error" and info.value.status == 500
        with pytest.raises(SourceServerError):
            await client.create_customer({"name": "Never"})
        await sim.post("/_sim/faults", json={"error_rate": 0, "down": True})
        with pytest.raises(SourceUnavailable):
            await client.all_customers()
    finally:
        await client.aclose()
    # Each call: 1 attempt + 2 retries; the keyed POST is retried like a read.
    assert (await counts(sim)) == {
        "GET /v1/customers/{id}": 3,
        "POST /v1/customers": 3,
        "GET /v1/customers": 3,
    }


async def test_flaky_posts_retry_with_their_key_and_never_duplicate(
    url: str, sim: httpx.AsyncClient
) -> None:
    client = make_client(url, max_retries=10)
    await sim.post("/_sim/faults", json={"error_rate": 0.5})
    try:
        made = [
            await client.create_customer({"name": f"Flaky {n}", "email": "flaky@example.com"})
            for n in range(10)
        ]
    finally:
        await client.aclose()
        await sim.delete("/_sim/faults")
    attempts = (await counts(sim))["POST /v1/customers"]
    assert attempts == client.health.requests  # every attempt reached the simulator
    assert attempts > 10 and client.health.errors == attempts - 10  # some attempts failed
    listed = await customer_ids_with_email(url, "flaky@example.com")
    assert sorted(listed) == sorted(c.id for c in made)
    assert len({c.id for c in made}) == 10


class LoseFirstAnswer(httpx.AsyncBaseTransport):
    """Delivers every request, but loses the answer to the first POST (a read timeout
    after the vendor committed): a failure the simulator cannot produce by itself."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.lost = 0
        self.replayed: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST":
            await response.aread()
            self.replayed.append(response.headers.get("Idempotent-Replayed"))
            if self.lost == 0:
                self.lost += 1
                raise httpx.ReadTimeout("answer lost", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_lost_answer_retried_with_same_key_creates_once(
    url: str, sim: httpx.AsyncClient
) -> None:
    transport = LoseFirstAnswer()
    client = BillingClient(
        SourceConfig(System.BILLING, url, TOKEN, retry_backoff_s=0.001), transport=transport
    )
    try:
        customer = await client.create_customer({"name": "Lost", "email": "lost@example.com"})
    finally:
        await client.aclose()
    assert transport.replayed == [None, "true"]
    assert await customer_ids_with_email(url, "lost@example.com") == [customer.id]
    assert (await counts(sim)) == {"POST /v1/customers": 2, "GET /v1/customers": 1}


async def test_slow_answer_times_out(url: str, sim: httpx.AsyncClient) -> None:
    client = make_client(url, timeout_s=0.1, max_retries=1)
    await sim.post("/_sim/faults", json={"latency_ms": 300})
    try:
        with pytest.raises(SourceTimeout):
            await client.get_customer("cus_00001")
    finally:
        await client.aclose()
    assert (await counts(sim)) == {"GET /v1/customers/{id}": 2}
    # Let the simulator finish the abandoned requests, so none is pending at shutdown.
    await asyncio.sleep(0.3)


# -- writes ------------------------------------------------------------------------


async def test_write_flow_customer_subscription_invoice(billing: BillingClient) -> None:
    customer = await billing.create_customer(
        {
            "name": "Flow AG",
            "email": "flow@example.com",
            "currency": "EUR",
            "metadata": {"crm_account_id": "001FLOW", "segment": "SMB"},
        }
    )
    assert customer.currency == "EUR" and customer.crm_account_id == "001FLOW"
    customer = await billing.update_customer(customer.id, {"metadata": {"segment": ""}})
    assert customer.crm_account_id == "001FLOW"
    sub = await billing.create_subscription(
        {
            "customer": customer.id,
            "items": [
                {
                    "price_data": {
                        "currency": "eur",
                        "product": "prod_core",
                        "unit_amount": 4000,
                        "recurring": {"interval": "year"},
                    },
                    "quantity": 2,
                },
                {"price": "price_999"},
            ],
            "metadata": {"contract_id": "800FLOW", "contract_version": 1},
        }
    )
    assert sub.status == "active" and sub.contract_version == 1
    assert sub.recurring_amount == Money.from_minor(2 * 4000 + 999, "EUR")
    assert sub.items[0].interval == "year"
    sub = await billing.update_subscription(
        sub.id,
        {
            "items": [{"id": sub.items[0].id, "quantity": 3}],
            "metadata": {"contract_version": "2"},
            "pause_collection": {"behavior": "keep_as_draft"},
        },
    )
    assert sub.status == "paused" and sub.contract_version == 2
    assert sub.recurring_amount == Money.from_minor(3 * 4000 + 999, "EUR")
    sub = await billing.update_subscription(sub.id, {"pause_collection": ""})
    assert sub.status == "active"

    draft = await billing.create_invoice(
        {"customer": customer.id, "subscription": sub.id, "metadata": {"flow": "f-1"}},
        idempotency_key="f-1:invoice",
    )
    assert draft.status == "draft" and draft.total == Money.from_minor(3 * 4000 + 999, "EUR")
    assert draft.number is None and draft.subscription_id == sub.id
    assert [line.amount.to_minor() for line in draft.lines] == [12000, 999]
    opened = await billing.finalize_invoice(draft.id, idempotency_key="f-1:finalize")
    assert opened.status == "open" and opened.number is not None and opened.finalized_at
    again = await billing.finalize_invoice(draft.id, idempotency_key="f-1:finalize")
    assert again == opened  # replayed, not a second (refused) finalization
    with pytest.raises(SourceRequestError) as refused:
        await billing.finalize_invoice(draft.id)
    assert refused.value.vendor_code == "invoice_not_editable"
    paid = await billing.pay_invoice(draft.id)
    assert paid.status == "paid" and paid.paid_at is not None
    assert paid.amount_remaining == Money.zero("EUR")

    other = await billing.create_invoice({"customer": customer.id, "subscription": sub.id})
    await billing.finalize_invoice(other.id)
    voided = await billing.void_invoice(other.id)
    assert voided.status == "void"

    canceled = await billing.cancel_subscription(sub.id)
    assert canceled.status == "canceled" and canceled.canceled_at is not None
    assert (await billing.cancel_subscription(sub.id)).status == "canceled"
    with pytest.raises(SourceNotFound):
        await billing.cancel_subscription("sub_nope")


# -- encoding and models (no HTTP) --------------------------------------------------


def test_form_encoding_of_nested_params() -> None:
    assert encode(
        {
            "customer": "cus_1",
            "items": [{"price_data": {"unit_amount": 100, "recurring": {"interval": "month"}}}],
            "metadata": {"a": "1", "gone": ""},
            "expand": ["customer"],
            "cancel_at_period_end": True,
            "unit_amount_decimal": Decimal("12.50"),
            "skipped": None,
        }
    ) == [
        ("customer", "cus_1"),
        ("items[0][price_data][unit_amount]", "100"),
        ("items[0][price_data][recurring][interval]", "month"),
        ("metadata[a]", "1"),
        ("metadata[gone]", ""),
        ("expand[0]", "customer"),
        ("cancel_at_period_end", "true"),
        ("unit_amount_decimal", "12.50"),
    ]
    with pytest.raises(TypeError):
        encode({"unit_amount": 12.5})


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _mock(handler: Any) -> BillingClient:
    config = SourceConfig(System.BILLING, "https://api.stripe.test", TOKEN, max_retries=0)
    return BillingClient(config, transport=httpx.MockTransport(handler))


async def test_expanded_references_and_nested_shapes_become_plain_fields() -> None:
    bodies: dict[str, Any] = {
        "/v1/invoices/in_1": {
            "id": "in_1", "customer": {"id": "cus_1", "object": "customer"},
            "subscription": None, "status": "paid", "currency": "jpy", "subtotal": 5,
            "total": 5, "amount_due": 5, "amount_paid": 5, "amount_remaining": 0,
            "created": 1, "due_date": 86400 * 3 - 1,
            "status_transitions": {"finalized_at": 2, "paid_at": 3},
            "lines": {"object": "list", "data": [], "has_more": True}, "metadata": None,
        },
        "/v1/subscriptions/sub_1": {
            "id": "sub_1", "customer": "cus_1", "status": "active", "currency": "usd",
            "created": 1, "items": {"data": []}, "metadata": {"contract_version": "v2"},
        },
    }  # fmt: skip
    async with _mock(lambda request: httpx.Response(200, json=bodies[request.url.path])) as c:
        invoice = await c.get_invoice("in_1")
        sub = await c.get_subscription("sub_1")
    assert (invoice.customer_id, invoice.finalized_at, invoice.paid_at) == ("cus_1", _at(2), _at(3))
    assert invoice.total == Money(Decimal(5), "JPY") and invoice.lines_has_more is True
    assert str(invoice.due_date) == "1970-01-03"
    assert sub.contract_version is None and sub.recurring_amount == Money.zero("USD")


async def test_a_body_that_does_not_match_the_wire_model_is_a_source_error() -> None:
    """Missing fields, an unknown status, a list that is not one: named as BILLING's."""
    bodies: dict[str, Any] = {
        "/v1/customers/cus_1": {"id": "cus_1", "name": "No created"},
        "/v1/subscriptions/sub_1": {
            "id": "sub_1", "customer": "cus_1", "status": "resting", "currency": "usd",
            "created": 1,
        },
        "/v1/invoices": {"object": "list", "data": {"not": "a list"}, "has_more": False},
    }  # fmt: skip
    async with _mock(lambda request: httpx.Response(200, json=bodies[request.url.path])) as c:
        failures: list[SourceError] = []
        for call in (
            c.get_customer("cus_1"),
            c.get_subscription("sub_1"),
            c.invoices_for_customers(["cus_1"]),
        ):
            with pytest.raises(SourceResponseError) as caught:
                await call
            failures.append(caught.value)
    assert all(e.system is System.BILLING and not e.retryable for e in failures)
    assert "customer" in failures[0].message and "created" in failures[0].message
    assert "resting" in failures[1].message
    assert c.health.requests == 3  # a malformed answer is not retried


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (400, {"type": "idempotency_error", "message": "m"}, SourceConflict),
        (400, {"type": "invalid_request_error", "code": "resource_missing"}, SourceNotFound),
        (404, {"type": "invalid_request_error", "code": "resource_missing"}, SourceNotFound),
        (401, {"type": "authentication_error"}, SourceAuthError),
        (402, {"type": "card_error", "code": "card_declined"}, SourceRequestError),
        (409, {"type": "invalid_request_error", "code": "lock_timeout"}, SourceConflict),
        (429, {"type": "rate_limit_error"}, SourceThrottled),
        (429, {"type": "invalid_request_error", "code": "rate_limit"}, SourceThrottled),
        (500, {"type": "api_error"}, SourceServerError),
        (503, {"type": "api_error"}, SourceUnavailable),
    ],
)
async def test_error_table_then_status(
    status: int, error: dict[str, str], expected: type[SourceError]
) -> None:
    async with _mock(lambda request: httpx.Response(status, json={"error": error})) as c:
        with pytest.raises(SourceError) as caught:
            await c.get_customer("cus_1")
    assert type(caught.value) is expected
    assert caught.value.vendor_code == error.get("code", error["type"])
    if expected is SourceAuthError:
        assert "REVGRAPH_BILLING_TOKEN" not in caught.value.message  # no env var configured
