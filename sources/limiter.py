"""A client-side rate limiter per source, so the gateway stays under its vendors' limits.

Vendors limit how fast (Stripe: 25 requests a second per endpoint and per
test-mode account, 100 in live mode) and how many at once (NetSuite: 5
concurrent requests on the shared tier) a client may call. The gateway keeps
under those limits itself rather than finding them with 429s:

* **concurrency** is :class:`~sources.base.SourceClient`'s slot semaphore
  (``SourceConfig.concurrency``), per process;
* **rate** is a :class:`RateLimiter` per source: ``rate`` requests a second
  with bursts of ``burst``, shared by every request of the process
  (:class:`LocalRateLimiter`) or by every replica (:class:`RedisRateLimiter`,
  when ``SourceConfig.rate_limit_redis_url`` is set).

Both implement the same algorithm, GCRA (the generic cell rate algorithm, a
token bucket kept as one timestamp): the state is the theoretical arrival time
``tat`` of the next request; a request at ``now`` is due at
``max(tat, now) + 1/rate`` and may go out ``burst/rate`` ahead of that. A
request that would have to wait *reserves* its place (``tat`` moves on) and
sleeps until then, so waiting callers are served in order without polling; one
that could not go out within ``max_wait`` (what is left of the request's
deadline) reserves nothing and is refused. The Redis version does the same in
one Lua script on Redis's clock, under ``{prefix}ratelimit:{system}``.

If Redis fails, the Redis limiter falls back to an in-process one (each replica
then keeps the whole rate to itself: a slower warning sign than no limit at
all) and tries Redis again after a while.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from redis.exceptions import RedisError

from sources.systems import System

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

Clock = Callable[[], float]


@dataclass(frozen=True)
class RatePolicy:
    """``rate`` requests per second, with bursts of up to ``burst`` requests."""

    rate: float
    burst: float = 1.0

    def __post_init__(self) -> None:
        if self.rate <= 0 or not math.isfinite(self.rate):
            raise ValueError("rate must be a positive number")
        if self.burst < 1:
            raise ValueError("burst must be at least 1")


VENDOR_RATES: Mapping[System, RatePolicy | None] = {
    # Stripe: 25 requests/s per endpoint and per test-mode account (100/s live).
    # Most of the gateway's Stripe traffic is one endpoint (per-customer lists),
    # so the endpoint limit binds: stay at 80 % of it. A stream of at most
    # 20 + 20t requests in any t seconds never exceeds a 25 + 25t bucket.
    System.BILLING: RatePolicy(rate=20.0, burst=20.0),
    # NetSuite limits concurrency, not rate (SourceConfig.concurrency is the limit);
    # Salesforce limits requests per day, which no per-second pace can protect.
    System.ERP: None,
    System.CRM: None,
    System.CONTRACTS: None,
}
"""The recommended client-side pace per source (``SourceConfig.rate_limit_per_s=None``)."""


@dataclass
class Admission:
    """What a limiter decided for one request."""

    wait_s: float
    """Seconds to sleep before sending (0: now)."""
    admitted: bool = True
    """False: it could not go out within ``max_wait``; nothing was reserved, and
    ``wait_s`` says how long it would have had to wait."""


class RateLimiter(Protocol):
    """Paces one source's requests (see the module docstring)."""

    policy: RatePolicy

    async def reserve(self, max_wait: float | None = None) -> Admission:
        """Reserve the next place: admitted with the wait before sending, or refused
        (nothing reserved) when that wait would exceed ``max_wait`` seconds."""
        ...

    async def aclose(self) -> None: ...


def _gcra(
    tat: float, now: float, policy: RatePolicy, max_wait: float | None
) -> tuple[float, Admission]:
    """One GCRA step: the new ``tat`` and the decision (``tat`` unchanged if refused)."""
    interval = 1.0 / policy.rate
    due = max(tat, now) + interval
    wait = max(0.0, due - now - policy.burst * interval)
    if max_wait is not None and wait > max(0.0, max_wait):
        return tat, Admission(wait, admitted=False)
    return due, Admission(wait)


class LocalRateLimiter:
    """GCRA in this process: every request of this gateway process shares it."""

    def __init__(self, policy: RatePolicy, *, clock: Clock = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self._tat = 0.0

    async def reserve(self, max_wait: float | None = None) -> Admission:
        self._tat, admission = _gcra(self._tat, self.clock(), self.policy, max_wait)
        return admission

    async def aclose(self) -> None:
        return None


# KEYS[1]: the bucket. ARGV: interval (µs), burst tolerance (µs), max wait (µs, -1: none).
# Returns {admitted (1/0), wait (µs)}. Redis's clock, so replicas agree on "now".
GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local due = tat + interval
local wait = due - now - tolerance
if wait < 0 then wait = 0 end
if max_wait >= 0 and wait > max_wait then
  return {0, wait}
end
redis.call('SET', KEYS[1], string.format('%.0f', due), 'PX', math.ceil((due - now) / 1000) + 1000)
return {1, wait}
"""


class RedisRateLimiter:
    """GCRA in Redis: every replica's requests to one source share one pace.

    ``redis.asyncio`` and one Lua script (atomic, on Redis's clock); the key is
    ``{prefix}ratelimit:{system}`` and expires once it no longer holds anything
    back. On a Redis error it falls back to :class:`LocalRateLimiter` for
    ``retry_redis_after_s`` and logs it once per fallback.
    """

    def __init__(
        self,
        policy: RatePolicy,
        redis: Redis,
        key: str,
        *,
        owns_redis: bool = False,
        retry_redis_after_s: float = 5.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.policy = policy
        self.redis = redis
        self.key = key
        self.owns_redis = owns_redis
        self.retry_redis_after_s = retry_redis_after_s
        self.clock = clock
        self.fallback = LocalRateLimiter(policy, clock=clock)
        self.fallbacks = 0
        """How many times Redis failed and the in-process limiter took over."""
        self._redis_down_until: float | None = None
        self._script: Any = redis.register_script(GCRA_SCRIPT)

    @classmethod
    def from_url(cls, policy: RatePolicy, url: str, key: str, **options: Any) -> RedisRateLimiter:
        from redis.asyncio import Redis

        return cls(policy, Redis.from_url(url), key, owns_redis=True, **options)

    async def reserve(self, max_wait: float | None = None) -> Admission:
        if self._redis_down_until is not None and self.clock() < self._redis_down_until:
            return await self.fallback.reserve(max_wait)
        interval_us = 1_000_000 / self.policy.rate
        tolerance_us = self.policy.burst * interval_us
        max_wait_us = -1 if max_wait is None else max(0, int(max_wait * 1_000_000))
        try:
            admitted, wait_us = await self._script(
                keys=[self.key], args=[f"{interval_us:.0f}", f"{tolerance_us:.0f}", max_wait_us]
            )
        except (RedisError, OSError) as exc:  # Redis down or failing: pace locally
            self.fallbacks += 1
            self._redis_down_until = self.clock() + self.retry_redis_after_s
            log.warning("rate limiter %s: Redis failed (%s); pacing in-process", self.key, exc)
            return await self.fallback.reserve(max_wait)
        self._redis_down_until = None
        return Admission(int(wait_us) / 1_000_000, admitted=bool(int(admitted)))

    async def aclose(self) -> None:
        if self.owns_redis:
            await self.redis.aclose()


def rate_limiter(
    system: System,
    *,
    rate: float | None,
    burst: float | None,
    redis_url: str | None = None,
    prefix: str = "revgraph:",
) -> RateLimiter | None:
    """The limiter a source's config asks for; None when its rate is off.

    ``rate`` None means the vendor's default (:data:`VENDOR_RATES`), 0 means off;
    ``burst`` None means the default's burst, or one second's worth of ``rate``.
    """
    default = VENDOR_RATES.get(system)
    if rate is None:
        if default is None:
            return None
        rate = default.rate
        burst = default.burst if burst is None else burst
    if rate <= 0:
        return None
    policy = RatePolicy(rate=rate, burst=max(1.0, rate if burst is None else burst))
    if redis_url:
        return RedisRateLimiter.from_url(policy, redis_url, f"{prefix}ratelimit:{system.value}")
    return LocalRateLimiter(policy)
