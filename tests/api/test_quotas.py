"""Per-caller limits: the request rate and the cost budget per minute, in-process and in Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from api.quotas import CallerQuotas, retry_after_header
from api.settings import AuthSettings
from domain.access import Identity, Role


def caller(name: str) -> Identity:
    return Identity(name, frozenset({Role.VIEWER}), via="api_key", key_id=f"key_{name}")


class Clock:
    def __init__(self) -> None:
        self.now = 60.0 * 16_667 + 20  # 20 s into a minute

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["local", "redis"])
async def quotas(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[CallerQuotas]:
    settings = AuthSettings(key_rate_per_s=1, key_burst=2, key_cost_per_min=100)
    url = os.environ.get("REDIS_URL") if request.param == "redis" else None
    if request.param == "redis" and url is None:
        pytest.skip("REDIS_URL not set (CI runs this in its Postgres + Redis pass)")
    opened = CallerQuotas.open(settings, url, f"{redis_prefix}{uuid.uuid4().hex[:6]}:")
    yield opened
    await opened.aclose()


async def test_the_rate_admits_a_burst_then_says_how_long_to_wait(quotas: CallerQuotas) -> None:
    ann = caller("ann")
    assert await quotas.admit(ann) is None
    assert await quotas.admit(ann) is None
    wait = await quotas.admit(ann)
    assert wait is not None and 0 < wait <= 1.0
    assert await quotas.admit(caller("bob")) is None  # a bucket per caller


async def test_the_cost_budget_refuses_what_does_not_fit_and_spends_nothing(
    quotas: CallerQuotas,
) -> None:
    clock = Clock()
    quotas.clock = clock
    ann = caller("ann")
    assert await quotas.charge(ann, 60) is None
    assert await quotas.charge(ann, 50) == pytest.approx(40.0)  # 60 + 50 > 100: refused
    assert await quotas.charge(ann, 40) is None  # the refusal spent nothing
    assert await quotas.charge(ann, 1) is not None
    clock.now += 40  # the next minute
    assert await quotas.charge(ann, 100) is None


async def test_no_limits_when_switched_off() -> None:
    quotas = CallerQuotas(AuthSettings(key_rate_per_s=0, key_cost_per_min=0))
    ann = caller("ann")
    assert [await quotas.admit(ann) for _ in range(100)] == [None] * 100
    assert await quotas.charge(ann, 10**9) is None


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert retry_after_header(0.001) == "1"
    assert retry_after_header(2.1) == "3"
