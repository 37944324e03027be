"""The gateway's cache: in-process by default, Redis when ``REDIS_URL`` is set.

Both keep bytes under string keys with a time to live, read and write in
batches (one round trip for a DataLoader batch), and can drop everything under
a prefix (invalidation after a rebuild). With Redis, every gateway replica sees
the same entries and the same invalidations, and keys carry the deployment's
prefix (``REVGRAPH_REDIS_PREFIX``; tests use one per run).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Protocol, cast

from redis.asyncio import Redis


class Cache(Protocol):
    """What the gateway needs of a cache."""

    async def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The values present for ``keys`` (missing or expired keys are left out)."""
        ...

    async def set_many(self, items: Mapping[str, bytes], ttl_s: float) -> None: ...

    async def delete_prefix(self, prefix: str) -> int:
        """Drop every key starting with ``prefix``; returns how many were dropped."""
        ...

    async def ping(self) -> None: ...

    async def aclose(self) -> None: ...


class MemoryCache:
    """A bounded in-process LRU with per-entry expiry (the embedded default).

    Bounded in entries and in bytes (keys and values), so large values cannot
    grow the process without limit.
    """

    def __init__(self, max_entries: int = 100_000, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0

    def _drop(self, key: str) -> None:
        _, value = self._items.pop(key)
        self._bytes -= len(key) + len(value)

    async def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        now = time.monotonic()
        found: dict[str, bytes] = {}
        for key in keys:
            item = self._items.get(key)
            if item is None:
                continue
            if item[0] <= now:
                self._drop(key)
                continue
            self._items.move_to_end(key)
            found[key] = item[1]
        return found

    async def set_many(self, items: Mapping[str, bytes], ttl_s: float) -> None:
        expires = time.monotonic() + ttl_s
        for key, value in items.items():
            if key in self._items:
                self._drop(key)
            self._items[key] = (expires, value)
            self._bytes += len(key) + len(value)
        while self._items and (len(self._items) > self._max or self._bytes > self._max_bytes):
            self._drop(next(iter(self._items)))

    async def delete_prefix(self, prefix: str) -> int:
        doomed = [k for k in self._items if k.startswith(prefix)]
        for key in doomed:
            self._drop(key)
        return len(doomed)

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        self._items.clear()
        self._bytes = 0


class RedisCache:
    """Redis, every key under ``prefix``; MGET and pipelined SETs keep batches to one trip."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis = Redis.from_url(url)
        self.prefix = prefix

    async def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        if not keys:
            return {}
        # Without decode_responses, redis-py returns bytes (its stubs also allow str).
        values = cast(list[bytes | None], await self._redis.mget([self.prefix + k for k in keys]))
        return {k: v for k, v in zip(keys, values, strict=True) if v is not None}

    async def set_many(self, items: Mapping[str, bytes], ttl_s: float) -> None:
        if not items:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, value in items.items():
                pipe.set(self.prefix + key, value, px=int(ttl_s * 1000))
            await pipe.execute()

    async def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        batch: list[bytes] = []
        async for key in self._redis.scan_iter(match=f"{self.prefix}{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += await self._redis.unlink(*batch)
                batch.clear()
        if batch:
            deleted += await self._redis.unlink(*batch)
        return deleted

    async def ping(self) -> None:
        await self._redis.ping()

    async def aclose(self) -> None:
        await self._redis.aclose()


def open_cache(redis_url: str | None, prefix: str) -> Cache:
    """Redis when a URL is configured, else the in-process cache."""
    return RedisCache(redis_url, prefix) if redis_url else MemoryCache()
