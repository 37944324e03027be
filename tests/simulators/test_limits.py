"""The shared limit primitives and the ``/_sim/limits`` control routes (injected clocks)."""

from __future__ import annotations

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from simulators.control import VendorResponses, build_simulator
from simulators.limits import (
    ConcurrencyLimiter,
    DailyAllocation,
    Limits,
    LimitsConfigError,
    TokenBucket,
)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_token_bucket_admits_a_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=4, clock=clock)
    assert [bucket.acquire("acct") for _ in range(4)] == [None] * 4
    wait = bucket.acquire("acct")
    assert wait == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.acquire("acct") is None
    assert bucket.acquire("acct") == pytest.approx(0.5)
    clock.now += 10  # refills up to the burst, no further
    assert bucket.available("acct") == pytest.approx(4)
    assert (bucket.admitted, bucket.refused) == (5, 2)


def test_token_bucket_keys_are_independent_and_enforce_false_admits() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1, clock=clock)
    assert bucket.acquire(("acct", "/v1/invoices")) is None
    assert bucket.acquire(("acct", "/v1/invoices")) == pytest.approx(1.0)
    assert bucket.acquire(("acct", "/v1/customers")) is None
    assert bucket.acquire(("acct", "/v1/invoices"), enforce=False) is None
    assert bucket.acquire("x", cost=3) == pytest.approx(2.0)


def test_token_bucket_configure_validates_everything_first() -> None:
    bucket = TokenBucket(rate=25)
    assert bucket.settings() == {"enabled": True, "rate": 25.0, "burst": 25.0}
    with pytest.raises(LimitsConfigError):
        bucket.configure({"rate": 10, "burst": "lots"})
    assert bucket.rate == 25
    bucket.configure({"rate": 100})
    assert (bucket.rate, bucket.burst) == (100, 100)


def test_concurrency_limiter_counts_slots_per_key() -> None:
    limiter = ConcurrencyLimiter(2)
    assert limiter.acquire("acct") and limiter.acquire("acct")
    assert not limiter.acquire("acct")
    assert limiter.acquire("other")
    limiter.release("acct")
    assert limiter.acquire("acct")
    assert limiter.in_flight("acct") == 2
    with limiter.slot("acct") as admitted:
        assert not admitted
    with limiter.slot("third") as admitted:
        assert admitted and limiter.in_flight("third") == 1
    assert limiter.in_flight("third") == 0
    # Slots taken while not enforced still count, so releases stay balanced.
    assert limiter.acquire("acct", enforce=False)
    assert limiter.in_flight("acct") == 3
    assert limiter.usage() == {"in_flight": 4, "used": 6, "refused": 2}


def test_daily_allocation_refuses_when_spent_and_resets_each_day() -> None:
    clock = FakeClock(now=86_400 * 10 + 5)
    daily = DailyAllocation(3, clock=clock)
    assert [daily.consume() for _ in range(4)] == [True, True, True, False]
    assert (daily.used, daily.remaining, daily.refused) == (3, 0, 1)
    assert daily.consume(enforce=False)  # counted, not refused
    assert daily.used == 4 and daily.remaining == 0
    clock.now += 86_400
    assert (daily.used, daily.remaining) == (0, 3)
    daily.configure({"used": 2, "allocation": 5})
    assert (daily.used, daily.remaining) == (2, 3)


def make_limits(enabled: bool = False) -> Limits:
    return Limits(
        {
            "DailyApiRequests": DailyAllocation(100, scope="org", clock=FakeClock()),
            "PerSecond": TokenBucket(25, scope="account", clock=FakeClock()),
            "Concurrent": ConcurrencyLimiter(5, scope="account"),
        },
        enabled=enabled,
    )


def test_limits_configure_merges_and_reset_restores_defaults() -> None:
    limits = make_limits()
    assert not limits.enforced("PerSecond")
    limits.configure({"enabled": True, "limits": {"PerSecond": {"rate": 5, "burst": 10}}})
    assert limits.enforced("PerSecond") and limits.rate("PerSecond").burst == 10
    limits.configure({"limits": {"Concurrent": {"enabled": False}}})
    assert not limits.enforced("Concurrent") and limits.enforced("DailyApiRequests")
    limits.daily("DailyApiRequests").consume(7)
    body = limits.describe()
    assert body["enabled"] is True
    assert body["limits"]["DailyApiRequests"] == {
        "kind": "daily",
        "scope": "org",
        "enabled": True,
        "allocation": 100,
        "used": 7,
        "remaining": 93,
        "refused": 0,
    }
    limits.reset()
    assert limits.describe() == make_limits().describe()


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"enabled": "yes"},
        {"nope": 1},
        {"limits": {"Unknown": {}}},
        {"limits": {"PerSecond": 5}},
        {"limits": {"PerSecond": {"rate": 5}, "Concurrent": {"max_in_flight": 0}}},
    ],
)
def test_limits_configure_refuses_bad_bodies_without_changing_anything(body: object) -> None:
    limits = make_limits()
    before = limits.describe()
    with pytest.raises(LimitsConfigError):
        limits.configure(body)
    assert limits.describe() == before


def test_typed_getters_check_the_kind() -> None:
    limits = make_limits()
    with pytest.raises(TypeError):
        limits.rate("Concurrent")
    assert "Concurrent" in limits and limits.names() == [
        "DailyApiRequests",
        "PerSecond",
        "Concurrent",
    ]


class DailyGate:
    """A vendor gate as a simulator would write one: 429 when the allocation is spent."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = "DailyApiRequests"
        if not self.limits.daily(name).consume(enforce=self.limits.enforced(name)):
            await JSONResponse({"error": "limited"}, status_code=429)(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def test_control_routes_and_gate_over_asgi() -> None:
    limits = make_limits()

    async def hello(request: Request) -> Response:
        return JSONResponse({"ok": True})

    app = build_simulator(
        "TEST",
        [Route("/hello", hello)],
        VendorResponses(
            authorized=lambda request: True,
            unauthorized=lambda: Response(status_code=401),
            server_error=lambda: Response(status_code=500),
            unavailable=lambda: Response(status_code=503),
        ),
        limits=limits,
        gate=lambda inner: DailyGate(inner, limits),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        body = (await client.get("/_sim/limits")).json()
        assert body["enabled"] is False and set(body["limits"]) == set(limits.names())
        answer = await client.post(
            "/_sim/limits",
            json={"enabled": True, "limits": {"DailyApiRequests": {"allocation": 2}}},
        )
        assert answer.status_code == 200
        assert answer.json()["limits"]["DailyApiRequests"]["allocation"] == 2
        statuses = [(await client.get("/hello")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert (await client.get("/_sim/limits")).json()["limits"]["DailyApiRequests"][
            "refused"
        ] == 1
        bad = await client.post("/_sim/limits", json={"limits": {"Nope": {}}})
        assert bad.status_code == 400 and "Nope" in bad.json()["error"]
        assert (await client.post("/_sim/limits", content=b"{")).status_code == 400
        reset = (await client.delete("/_sim/limits")).json()
        assert reset["enabled"] is False
        assert reset["limits"]["DailyApiRequests"]["used"] == 0
        assert reset["limits"]["DailyApiRequests"]["allocation"] == 100
        assert (await client.get("/hello")).status_code == 200
