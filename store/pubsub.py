"""Broadcast messages between gateway replicas: Redis pub/sub, or in-process.

With ``REDIS_URL`` set, every replica subscribed to a channel (under the
deployment's prefix, ``REVGRAPH_REDIS_PREFIX``) gets every message published
to it, from any process. Without Redis (the embedded default) messages reach
the subscribers of the same process only (e.g. the demo's gateway when the
demo rebuilds the crosswalk), across threads and event loops.

Delivery is at most once, as with Redis: a subscriber that is not listening
when a message is published misses it, so messages are signals ("the
crosswalk was rebuilt"), never data.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any, Protocol

from redis.asyncio import Redis


class Subscription(Protocol):
    """Messages of one channel, as they arrive; :meth:`aclose` unsubscribes."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class PubSub(Protocol):
    """What the gateway needs of a broadcast channel."""

    async def publish(self, channel: str, message: bytes) -> int:
        """Send ``message`` to every subscriber of ``channel``; returns how many got it
        (for Redis: how many connections, every process counted)."""
        ...

    async def subscribe(self, channel: str) -> Subscription:
        """A subscription that is listening when this returns."""
        ...

    async def aclose(self) -> None: ...


# --- in-process ------------------------------------------------------------------

_Subscriber = tuple[asyncio.AbstractEventLoop, "asyncio.Queue[bytes]"]
_hub: dict[str, set[_Subscriber]] = {}
_hub_lock = threading.Lock()


class _MemorySubscription:
    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._subscriber: _Subscriber = (asyncio.get_running_loop(), self._queue)
        with _hub_lock:
            _hub.setdefault(name, set()).add(self._subscriber)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            yield await self._queue.get()

    async def aclose(self) -> None:
        with _hub_lock:
            subscribers = _hub.get(self._name, set())
            subscribers.discard(self._subscriber)
            if not subscribers:
                _hub.pop(self._name, None)


class MemoryPubSub:
    """Subscribers of this process only; thread-safe (each subscriber keeps its loop)."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    async def publish(self, channel: str, message: bytes) -> int:
        with _hub_lock:
            subscribers = list(_hub.get(self.prefix + channel, ()))
        delivered = 0
        for loop, queue in subscribers:
            # A subscriber whose loop has closed is gone; skip it.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, message)
                delivered += 1
        return delivered

    async def subscribe(self, channel: str) -> Subscription:
        return _MemorySubscription(self.prefix + channel)

    async def aclose(self) -> None:
        return None


# --- Redis -------------------------------------------------------------------------


class _RedisSubscription:
    def __init__(self, pubsub: Any) -> None:
        self._pubsub = pubsub

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for message in self._pubsub.listen():
            if message.get("type") == "message":
                data = message.get("data")
                yield data if isinstance(data, bytes) else str(data).encode()

    async def aclose(self) -> None:
        await self._pubsub.aclose()


class RedisPubSub:
    """Redis ``PUBLISH``/``SUBSCRIBE``, channels under ``prefix``."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis = Redis.from_url(url)
        self.prefix = prefix

    async def publish(self, channel: str, message: bytes) -> int:
        return int(await self._redis.publish(self.prefix + channel, message))

    async def subscribe(self, channel: str) -> Subscription:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self.prefix + channel)
        # Wait for the server's confirmation: from then on nothing published is missed.
        while True:
            confirmation = await pubsub.get_message(timeout=5.0)
            if confirmation is None or confirmation.get("type") == "subscribe":
                break
        return _RedisSubscription(pubsub)

    async def aclose(self) -> None:
        await self._redis.aclose()


def open_pubsub(redis_url: str | None, prefix: str) -> PubSub:
    """Redis when a URL is configured, else the in-process hub (keyed by ``prefix`` too)."""
    return RedisPubSub(redis_url, prefix) if redis_url else MemoryPubSub(prefix)
