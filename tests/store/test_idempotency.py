"""Idempotency records against a migrated store (SQLite or a Postgres schema)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from store.idempotency import (
    Claimed,
    Conflict,
    IdempotencyRepository,
    InProgress,
    Replay,
    input_hash,
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Iterator[Clock]:
    yield Clock()


@pytest.fixture
def repo(store_engine: AsyncEngine, clock: Clock) -> IdempotencyRepository:
    return IdempotencyRepository(store_engine, clock=clock)


ACTIVATE = {"contractId": "800A1", "version": 1}


def test_input_hash_is_canonical() -> None:
    assert input_hash({"b": 1, "a": [1, "x"]}) == input_hash({"a": [1, "x"], "b": 1})
    assert input_hash({"a": 1}) != input_hash({"a": 2})
    assert len(input_hash({})) == 64
    assert input_hash({"amount": Decimal("1.50"), "on": date(2026, 1, 2)}) == input_hash(
        {"on": "2026-01-02", "amount": "1.50"}
    )
    with pytest.raises(TypeError, match="object"):
        input_hash({"x": object()})


async def test_same_key_same_input_replays_the_first_result(
    repo: IdempotencyRepository,
) -> None:
    first = await repo.claim("k1", "activateContract", input_hash(ACTIVATE))
    assert isinstance(first, Claimed)
    assert first.expires_at == datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    running = await repo.claim("k1", "activateContract", input_hash(ACTIVATE))
    assert running == InProgress("k1", datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    result = {"contract": {"id": "800A1", "version": 1}, "correlationId": "c-1"}
    assert await repo.complete("k1", result)
    assert not await repo.complete("k1", {"other": True})  # completed once only
    assert await repo.claim("k1", "activateContract", input_hash(ACTIVATE)) == Replay("k1", result)


async def test_same_key_different_input_or_operation_is_a_conflict(
    repo: IdempotencyRepository,
) -> None:
    assert isinstance(await repo.claim("k2", "activateContract", input_hash(ACTIVATE)), Claimed)
    other = await repo.claim("k2", "activateContract", input_hash({**ACTIVATE, "version": 2}))
    assert other == Conflict("k2", "activateContract")
    assert "different input" in other.message
    await repo.complete("k2", {"ok": True})
    assert await repo.claim("k2", "amendContract", input_hash(ACTIVATE)) == Conflict(
        "k2", "activateContract"
    )


async def test_expired_keys_can_be_claimed_again(repo: IdempotencyRepository, clock: Clock) -> None:
    h = input_hash(ACTIVATE)
    assert isinstance(await repo.claim("k3", "activateContract", h), Claimed)
    await repo.complete("k3", {"n": 1})
    clock.now += timedelta(hours=23, minutes=59)
    assert await repo.claim("k3", "activateContract", h) == Replay("k3", {"n": 1})
    clock.now += timedelta(minutes=1)  # 24 h after the claim
    again = await repo.claim("k3", "renewContract", input_hash({"other": 1}))
    assert again == Claimed("k3", clock.now + timedelta(hours=24))
    assert await repo.claim("k3", "renewContract", input_hash({"other": 1})) == InProgress(
        "k3", clock.now
    )


async def test_release_and_purge(repo: IdempotencyRepository, clock: Clock) -> None:
    h = input_hash(ACTIVATE)
    await repo.claim("k4", "activateContract", h)
    assert await repo.release("k4")
    assert isinstance(await repo.claim("k4", "activateContract", h), Claimed)
    await repo.complete("k4", None)
    assert not await repo.release("k4")  # a finished operation keeps its record
    await repo.claim("k5", "activateContract", h)
    clock.now += timedelta(hours=25)
    await repo.claim("k6", "activateContract", h)
    assert await repo.purge_expired() == 2
    assert isinstance(await repo.claim("k6", "activateContract", h), InProgress)


async def test_fifty_concurrent_claims_have_one_winner(repo: IdempotencyRepository) -> None:
    h = input_hash(ACTIVATE)
    outcomes = await asyncio.gather(*[repo.claim("k7", "activateContract", h) for _ in range(50)])
    assert sum(isinstance(o, Claimed) for o in outcomes) == 1
    assert all(isinstance(o, Claimed | InProgress) for o in outcomes)


async def test_fifty_concurrent_takeovers_of_an_expired_key_have_one_winner(
    repo: IdempotencyRepository, clock: Clock
) -> None:
    await repo.claim("k8", "activateContract", input_hash(ACTIVATE))
    clock.now += timedelta(days=2)
    h = input_hash({"new": 1})
    outcomes = await asyncio.gather(*[repo.claim("k8", "renewContract", h) for _ in range(50)])
    assert sum(isinstance(o, Claimed) for o in outcomes) == 1


async def test_two_engines_racing_on_postgres_have_one_winner(
    store_engine: AsyncEngine, second_engine: AsyncEngine, clock: Clock
) -> None:
    """Two gateway processes share one Postgres: two engines, two connection pools."""
    repos = [
        IdempotencyRepository(store_engine, clock=clock),
        IdempotencyRepository(second_engine, clock=clock),
    ]
    h = input_hash(ACTIVATE)
    for key in ("k9", "k10", "k11"):
        outcomes = await asyncio.gather(
            *[repos[i % 2].claim(key, "activateContract", h) for i in range(50)]
        )
        assert sum(isinstance(o, Claimed) for o in outcomes) == 1
