"""Vendor limits: the client-side limiter, 429s and Retry-After, throttled errors.

Unit tests of the limiters run on a fake clock; the loopback tests run the
adapters against simulators with their vendor limits switched on and set tight
(``POST /_sim/limits``), and read what the simulators refused from
``GET /_sim/limits``. The Redis limiter's tests need ``REDIS_URL`` (CI sets it).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from domain.records import BillingCustomer
from resolvers.errors import source_error_code
from sources.base import SourceConfig, retry_after_s
from sources.billing.client import STRIPE_VERSION, BillingClient
from sources.breaker import BreakerPolicy, BreakerState
from sources.crm import CrmClient
from sources.deadline import deadline
from sources.erp import ErpClient
from sources.errors import SourceQuotaExhausted, SourceServerError, SourceThrottled
from sources.limiter import (
    VENDOR_RATES,
    LocalRateLimiter,
    RatePolicy,
    RedisRateLimiter,
    rate_limiter,
)
from sources.systems import System
from tests.conftest import StartSimulators
from tests.simulators.test_erp import erp_records
from tests.sources.test_billing import records as billing_records

BILLING_TOKEN = "sk_test_demo"
ERP_TOKEN = "demo-erp-token"
CRM_TOKEN = "demo-crm-token"
CUSTOMERS = [f"cus_{i:05d}" for i in range(40)]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the limiter ----------------------------------------------------------------


async def test_local_limiter_bursts_then_paces_and_refuses_past_max_wait() -> None:
    clock = FakeClock()
    limiter = LocalRateLimiter(RatePolicy(rate=10, burst=3), clock=clock)
    waits = [(await limiter.reserve()).wait_s for _ in range(5)]
    assert waits == pytest.approx([0, 0, 0, 0.1, 0.2])  # a burst of 3, then one per 0.1 s
    refused = await limiter.reserve(max_wait=0.25)
    assert not refused.admitted and refused.wait_s == pytest.approx(0.3)
    # A refusal reserves nothing: the next caller with time to wait gets that place.
    assert (await limiter.reserve(max_wait=1.0)).wait_s == pytest.approx(0.3)
    clock.now += 10  # quiet: the burst is back, and no more
    assert [(await limiter.reserve()).wait_s for _ in range(4)] == pytest.approx([0, 0, 0, 0.1])


def test_vendor_defaults_and_config() -> None:
    assert SourceConfig(System.BILLING, "u", "t").rate_limit_per_s == 0  # off unless set
    billing = rate_limiter(System.BILLING, rate=None, burst=None)
    assert billing is not None and billing.policy == VENDOR_RATES[System.BILLING]
    assert rate_limiter(System.BILLING, rate=0, burst=None) is None  # switched off
    assert rate_limiter(System.ERP, rate=None, burst=None) is None  # NetSuite: concurrency
    custom = rate_limiter(System.CRM, rate=5, burst=None)
    assert custom is not None and custom.policy == RatePolicy(5, 5)
    with pytest.raises(ValueError, match="burst"):
        RatePolicy(rate=1, burst=0.5)


def test_retry_after_header() -> None:
    def answer(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value})

    assert retry_after_s(answer("2")) == 2.0
    assert retry_after_s(answer("0.5")) == 0.5
    assert retry_after_s(answer("Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0  # in the past
    assert retry_after_s(answer("soon")) is None
    assert retry_after_s(httpx.Response(429)) is None


# --- 429s through the base client (mock transport) --------------------------------


def _stripe_429(retry_after: str = "1") -> httpx.Response:
    body = {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "slow"}}
    return httpx.Response(
        429, json=body, headers={"Retry-After": retry_after, "Stripe-Should-Retry": "true"}
    )


def _customer(request: httpx.Request) -> httpx.Response:
    cid = request.url.path.rsplit("/", 1)[-1]
    return httpx.Response(200, json={"id": cid, "object": "customer", "created": 1, "metadata": {}})


def _mock_billing(handler: Callable[[httpx.Request], httpx.Response], **options: Any) -> Any:
    settings: dict[str, Any] = {"rate_limit_per_s": 0, "retry_backoff_s": 0.001, **options}
    return BillingClient(
        SourceConfig(System.BILLING, "https://stripe.test", BILLING_TOKEN, **settings),
        transport=httpx.MockTransport(handler),
    )


async def test_a_429_is_retried_after_retry_after_and_does_not_trip_the_breaker() -> None:
    answers = iter([_stripe_429("0.2"), _stripe_429("0.2"), None])
    sent: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        return next(answers) or _customer(request)

    policy = BreakerPolicy(consecutive_failures=1)
    async with _mock_billing(handler, breaker=policy, max_retries=0) as client:
        with deadline(5.0):
            customer = await client.get_customer("cus_1")
        assert isinstance(customer, BillingCustomer) and customer.id == "cus_1"
        assert client.health.throttled == 2
        assert client.breaker.state is BreakerState.CLOSED  # 429s are not failures
    # Two waits of Retry-After (0.2 s, plus at most a quarter of it as jitter).
    assert len(sent) == 3 and 0.2 <= sent[1] - sent[0] <= 0.3 and 0.2 <= sent[2] - sent[1] <= 0.3


async def test_a_429_is_not_waited_for_past_the_deadline_or_a_long_retry_after() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return _stripe_429("3")

    async with _mock_billing(handler) as client:
        started = time.monotonic()
        with deadline(1.0), pytest.raises(SourceThrottled) as caught:
            await client.get_customer("cus_1")
        assert time.monotonic() - started < 0.5  # did not sleep 3 s into a 1 s deadline
        assert caught.value.retry_after == 3.0 and caught.value.vendor_code == "rate_limit"
        assert source_error_code(caught.value) == "SOURCE_THROTTLED"
        assert len(calls) == 1
    calls.clear()
    async with _mock_billing(handler, max_retry_after_s=2.0) as client:
        with pytest.raises(SourceThrottled):  # no deadline, but 3 s > max_retry_after_s
            await client.get_customer("cus_1")
    assert len(calls) == 1


async def test_429_retries_spend_the_retry_budget() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return _stripe_429("0")

    async with _mock_billing(handler, retry_budget_burst=2.0, retry_budget_ratio=0.0) as client:
        with pytest.raises(SourceThrottled):
            await client.get_customer("cus_1")
        assert len(calls) == 3  # the first attempt and the 2 retries the budget holds
        assert client.retry_budget.denied == 1


async def test_stripe_should_retry_overrides_the_status() -> None:
    answers = iter(
        [
            httpx.Response(
                500, json={"error": {"type": "api_error"}}, headers={"Stripe-Should-Retry": "false"}
            ),
            httpx.Response(
                409,
                json={"error": {"type": "invalid_request_error", "code": "lock_timeout"}},
                headers={"Stripe-Should-Retry": "true"},
            ),
            None,
        ]
    )
    async with _mock_billing(lambda r: next(answers) or _customer(r)) as client:
        with pytest.raises(SourceServerError) as done:
            await client.get_customer("cus_1")  # the 500 is not retried
        assert not done.value.retryable
        assert (await client.get_customer("cus_1")).id == "cus_1"  # the 409 is


async def test_the_limiter_refuses_what_it_could_only_send_after_the_deadline() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return _customer(request)

    async with _mock_billing(handler, rate_limit_per_s=2, rate_limit_burst=1) as client:
        with deadline(0.3):
            await client.get_customer("cus_1")
            with pytest.raises(SourceThrottled) as caught:
                await client.get_customer("cus_2")  # its place is 0.5 s away
        assert caught.value.vendor_code == "CLIENT_RATE_LIMIT"
        assert calls == ["/v1/customers/cus_1"]
        assert client.health.limiter_refusals == 1 and client.health.throttled == 0
        started = time.monotonic()
        await client.get_customer("cus_3")  # no deadline: waits for its place
        assert time.monotonic() - started >= 0.3 and client.health.limiter_waits == 1


# --- against the simulators with their limits on ---------------------------------


@pytest.fixture(scope="module")
def billing_url(start_simulators: StartSimulators) -> str:
    return start_simulators(("BILLING",), billing_records())["BILLING"]


@pytest.fixture
async def billing_sim(billing_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=billing_url) as control:
        await control.delete("/_sim/limits")
        yield control
        await control.delete("/_sim/limits")


async def _stripe_limits(control: httpx.AsyncClient, rate: float) -> None:
    """Stripe's limiter on, at ``rate`` a second for the account and per endpoint."""
    both = {"rate": rate, "burst": rate}
    response = await control.post(
        "/_sim/limits",
        json={"enabled": True, "limits": {"TestModeOperations": both, "EndpointRequests": both}},
    )
    response.raise_for_status()


async def _refused(control: httpx.AsyncClient) -> int:
    limits = (await control.get("/_sim/limits")).json()["limits"]
    return sum(int(limit.get("refused", 0)) for limit in limits.values())


def _billing(url: str, **options: Any) -> BillingClient:
    return BillingClient(SourceConfig(System.BILLING, url, BILLING_TOKEN, **options))


async def test_limiter_below_the_vendor_limit_sends_no_429(
    billing_url: str, billing_sim: httpx.AsyncClient
) -> None:
    await _stripe_limits(billing_sim, 10)
    async with _billing(billing_url, rate_limit_per_s=8, rate_limit_burst=8) as client:
        started = time.monotonic()
        found = await client.customers_by_ids(CUSTOMERS[:24])
        elapsed = time.monotonic() - started
        assert set(found) == set(CUSTOMERS[:24])
        assert client.health.throttled == 0 and client.health.limiter_waits == 16
    assert await _refused(billing_sim) == 0
    assert elapsed >= 1.9  # 8 at once, then 16 more at 8 a second


async def test_without_a_limiter_429s_are_retried_after_retry_after(
    billing_url: str, billing_sim: httpx.AsyncClient
) -> None:
    await _stripe_limits(billing_sim, 10)
    async with _billing(billing_url, rate_limit_per_s=0, retry_budget_burst=100.0) as client:
        with deadline(5.0):
            found = await client.customers_by_ids(CUSTOMERS[:18])
        assert set(found) == set(CUSTOMERS[:18])
        throttled = client.health.throttled
    # 10 went through at once; the other 8 were refused, waited Retry-After (1 s), passed.
    assert throttled == await _refused(billing_sim) == 8


async def test_the_pinned_stripe_version_reaches_the_simulator(
    billing_url: str, billing_sim: httpx.AsyncClient
) -> None:
    """Every call sends ``Stripe-Version``: the simulator answers in the pinned version
    even when the account's default is another one."""
    answered: list[tuple[str | None, str | None]] = []

    async def seen(response: httpx.Response) -> None:
        answered.append(
            (response.request.headers.get("Stripe-Version"), response.headers.get("Stripe-Version"))
        )

    current = (await billing_sim.get("/_sim/account")).json()["api_version"]
    await billing_sim.post("/_sim/account", json={"api_version": "2026-10-28.endive"})
    try:
        async with _billing(billing_url) as client:
            client._http.event_hooks["response"].append(seen)
            await client.get_customer(CUSTOMERS[1])
            await client.invoices_for_customers(CUSTOMERS[:2])
            await client.subscriptions_for_customers(CUSTOMERS[:2])
    finally:
        await billing_sim.post("/_sim/account", json={"api_version": current})
    assert len(answered) == 5
    assert set(answered) == {(STRIPE_VERSION, STRIPE_VERSION)}


@pytest.fixture(scope="module")
def erp_url(start_simulators: StartSimulators) -> str:
    records = erp_records(20, invoices_per_customer=2, versions=1, lines_per_schedule=2)
    return start_simulators(("ERP",), {"ERP": records})["ERP"]


async def test_netsuite_concurrency_429s_are_retried_or_avoided(erp_url: str) -> None:
    """NetSuite refuses requests over the account's concurrency with 429: retried with
    backoff (no Retry-After), or never sent with the client's concurrency at the limit.

    Upserts, because the simulator's reads never yield mid-request (so never overlap);
    writes await the store, as a real account's requests overlap.
    """

    async def upsert_all(client: ErpClient, tag: str) -> list[str]:
        return await asyncio.gather(
            *(
                client.upsert_record("customer", f"limits-{tag}-{i}", {"companyName": f"C{i}"})
                for i in range(24)
            )
        )

    async with httpx.AsyncClient(base_url=erp_url) as control:
        await control.post(
            "/_sim/limits",
            json={"enabled": True, "limits": {"AccountConcurrency": {"max_in_flight": 1}}},
        )
        try:
            over = ErpClient(
                SourceConfig(
                    System.ERP, erp_url, ERP_TOKEN, retry_backoff_s=0.01,
                    concurrency=16, max_throttle_retries=20, retry_budget_burst=1000.0,
                )
            )  # fmt: skip
            async with over:
                with deadline(20.0):
                    written = await upsert_all(over, "over")
                assert over.health.throttled > 0 and over.health.errors == over.health.throttled
            assert len(set(written)) == 24  # every one written once
            refused = await _refused(control)
            assert refused == over.health.throttled
            # At the account's concurrency: none refused.
            async with ErpClient(
                SourceConfig(System.ERP, erp_url, ERP_TOKEN, concurrency=1)
            ) as within:
                await upsert_all(within, "within")
                assert within.health.throttled == 0
            assert await _refused(control) == refused
        finally:
            await control.delete("/_sim/limits")


@pytest.fixture(scope="module")
def crm_url(start_simulators: StartSimulators) -> str:
    from tests.simulators.test_crm import account_records

    return start_simulators(("CRM",), {"CRM": {"Account": account_records()}})["CRM"]


async def test_exhausted_salesforce_allocation_is_throttled_not_retried(crm_url: str) -> None:
    async with httpx.AsyncClient(base_url=crm_url) as control:
        await control.post(
            "/_sim/limits",
            json={"enabled": True, "limits": {"DailyApiRequests": {"allocation": 5, "used": 5}}},
        )
        try:
            async with CrmClient(SourceConfig(System.CRM, crm_url, CRM_TOKEN)) as crm:
                with pytest.raises(SourceQuotaExhausted) as caught:
                    await crm.ping()
                assert crm.health.throttled == 1 and crm.health.requests == 1  # not retried
                assert crm.breaker.state is BreakerState.CLOSED
            error = caught.value
            assert (error.status, error.vendor_code) == (403, "REQUEST_LIMIT_EXCEEDED")
            assert source_error_code(caught.value) == "SOURCE_THROTTLED"
            assert await _refused(control) == 1
        finally:
            await control.delete("/_sim/limits")


# --- the Redis limiter -------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL")
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="REDIS_URL is not set: the Redis rate limiter needs a Redis (CI has one)"
)


@pytest.fixture
def redis_key(redis_prefix: str) -> Iterator[str]:
    yield f"{redis_prefix}ratelimit:test-{uuid.uuid4().hex[:8]}"


@needs_redis
async def test_redis_limiter_is_shared_by_replicas(redis_key: str) -> None:
    assert REDIS_URL is not None
    policy = RatePolicy(rate=10, burst=2)
    one = RedisRateLimiter.from_url(policy, REDIS_URL, redis_key)
    two = RedisRateLimiter.from_url(policy, REDIS_URL, redis_key)
    try:
        waits = [(await limiter.reserve()).wait_s for limiter in (one, two, one, two)]
        # Two replicas, one pace: a burst of 2 between them, then 0.1 s apart.
        assert waits[:2] == [0, 0]
        assert waits[2] == pytest.approx(0.1, abs=0.02)
        assert waits[3] == pytest.approx(0.2, abs=0.02)
        refused = await two.reserve(max_wait=0.05)
        assert not refused.admitted and refused.wait_s == pytest.approx(0.3, abs=0.02)
        assert (await one.reserve(max_wait=1.0)).wait_s == pytest.approx(0.3, abs=0.02)
        ttl = await one.redis.pttl(redis_key)
        assert 0 < ttl <= 2000  # the key goes away once it holds nothing back
        assert one.fallbacks == two.fallbacks == 0
    finally:
        await one.aclose()
        await two.aclose()


@needs_redis
async def test_clients_on_two_replicas_share_the_pace_through_redis(
    billing_url: str, billing_sim: httpx.AsyncClient, redis_prefix: str
) -> None:
    await _stripe_limits(billing_sim, 10)
    prefix = f"{redis_prefix}{uuid.uuid4().hex[:8]}:"
    options: dict[str, Any] = {
        "rate_limit_per_s": 8, "rate_limit_burst": 8, "rate_limit_redis_url": REDIS_URL,
        "rate_limit_prefix": prefix,
    }  # fmt: skip
    async with _billing(billing_url, **options) as one, _billing(billing_url, **options) as two:
        assert isinstance(one.limiter, RedisRateLimiter)
        assert one.limiter.key == f"{prefix}ratelimit:BILLING"
        await asyncio.gather(
            one.customers_by_ids(CUSTOMERS[:12]), two.customers_by_ids(CUSTOMERS[12:24])
        )
        assert one.health.throttled == two.health.throttled == 0
    assert await _refused(billing_sim) == 0


async def test_redis_limiter_falls_back_in_process_when_redis_is_down() -> None:
    clock = FakeClock()
    limiter = RedisRateLimiter.from_url(
        RatePolicy(rate=10, burst=1), "redis://127.0.0.1:1/0", "k", clock=clock
    )
    try:
        assert (await limiter.reserve()).admitted
        assert (await limiter.reserve()).wait_s == pytest.approx(0.1)
        assert limiter.fallbacks == 1  # tried once, then in-process until retry_redis_after_s
    finally:
        await limiter.aclose()
