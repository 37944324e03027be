"""The configured cache (in-process, or Redis with this run's prefix) and the cached crosswalk."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.crosswalk_lookup import CrosswalkLookup
from domain.crosswalk_types import CrosswalkEntry, LinkProblem, LinkStatus
from store.cache import Cache, MemoryCache, RedisCache, open_cache
from store.crosswalk import CrosswalkRepository


@pytest.fixture
async def cache(redis_prefix: str) -> AsyncIterator[Cache]:
    cache = open_cache(os.environ.get("REDIS_URL"), f"{redis_prefix}cache-test:")
    yield cache
    await cache.delete_prefix("")
    await cache.aclose()


def test_backend_follows_the_environment(redis_prefix: str) -> None:
    expected = RedisCache if os.environ.get("REDIS_URL") else MemoryCache
    assert isinstance(open_cache(os.environ.get("REDIS_URL"), redis_prefix), expected)


async def test_batch_get_set_expire_and_prefix_delete(cache: Cache) -> None:
    await cache.ping()
    await cache.set_many({"a:1": b"one", "a:2": b"two", "b:1": b"other"}, ttl_s=30)
    assert await cache.get_many(["a:1", "a:2", "a:3", "b:1"]) == {
        "a:1": b"one",
        "a:2": b"two",
        "b:1": b"other",
    }
    assert await cache.delete_prefix("a:") == 2
    assert await cache.get_many(["a:1", "a:2", "b:1"]) == {"b:1": b"other"}
    await cache.set_many({"short": b"x"}, ttl_s=0.05)
    await asyncio.sleep(0.15)
    assert await cache.get_many(["short"]) == {}


def test_memory_cache_is_bounded() -> None:
    async def fill() -> dict[str, bytes]:
        cache = MemoryCache(max_entries=2)
        await cache.set_many({"a": b"1", "b": b"2"}, 60)
        await cache.get_many(["a"])  # a is now the most recent
        await cache.set_many({"c": b"3"}, 60)
        return await cache.get_many(["a", "b", "c"])

    assert asyncio.run(fill()) == {"a": b"1", "c": b"3"}


class CountingRepository(CrosswalkRepository):
    queries = 0

    async def many(self, canonical_ids: list[str]) -> dict[str, CrosswalkEntry]:  # type: ignore[override]
        self.queries += 1
        return await super().many(canonical_ids)


async def test_crosswalk_lookup_reads_through_and_invalidates(
    cache: Cache, store_engine: AsyncEngine
) -> None:
    repo = CountingRepository(store_engine)
    entry = CrosswalkEntry(
        "001A", "001A", "Acme", LinkStatus.AMBIGUOUS, None, "17",
        (LinkProblem("AMBIGUOUS_BILLING", "BILLING", "two claim it", ("cus_1", "cus_2")),),
    )  # fmt: skip
    await repo.replace_all([entry])
    lookup = CrosswalkLookup(repo, cache)
    first = await lookup.many(["001A", "001missing"])
    assert first["001A"].billing_ids == ("cus_1", "cus_2")
    assert "001missing" not in first
    again = await lookup.many(["001A", "001missing"])
    assert again == first and repo.queries == 1  # both, the absent one too, were cached
    await repo.replace_all([])
    assert await lookup.invalidate() == 2
    assert await lookup.many(["001A"]) == {} and repo.queries == 2
