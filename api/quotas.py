"""Per-caller limits: a request rate and a cost budget per minute, per API key or token.

Each caller (an :class:`~domain.access.Identity`'s ``key_id``) gets

* a **rate**: ``key_rate_per_s`` requests a second with bursts of ``key_burst``
  (GCRA, :mod:`sources.limiter`'s limiters: in Redis when the gateway has one,
  so every replica counts against the same bucket, else in-process). A request
  over it is answered 429 with ``Retry-After`` before anything runs;
* a **cost budget**: ``key_cost_per_min`` units of operation cost (the same
  cost :mod:`resolvers.limits` computes to refuse one oversized operation) per
  wall-clock minute, counted in a fixed window (``INCRBY`` in Redis with the
  window's expiry, or a dict). An operation that would go over it does not run:
  ``COST_BUDGET_EXCEEDED``, 429 and ``Retry-After`` until the next minute.

Both answer with the seconds to wait, or None when the request may go on.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from api.settings import AuthSettings
from domain.access import Identity
from sources.limiter import LocalRateLimiter, RateLimiter, RatePolicy, RedisRateLimiter

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

WINDOW_S = 60
MAX_TRACKED = 10_000
"""Callers whose rate state a process keeps at once (least recently seen dropped)."""

# KEYS[1]: the caller's window. ARGV: cost, budget, window seconds.
# Adds the cost unless that would exceed the budget; returns {admitted, used}.
_CHARGE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost = tonumber(ARGV[1])
if used + cost > tonumber(ARGV[2]) then return {0, used} end
used = redis.call('INCRBY', KEYS[1], cost)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return {1, used}
"""


class CallerQuotas:
    """The per-caller rate and cost budget of one gateway process (see the module)."""

    def __init__(
        self,
        settings: AuthSettings,
        redis: Redis | None = None,
        prefix: str = "revgraph:",
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.prefix = prefix
        self.clock = clock
        self._rates: OrderedDict[str, RateLimiter] = OrderedDict()
        self._spent: dict[tuple[str, int], int] = {}
        self._charge = redis.register_script(_CHARGE) if redis is not None else None

    @classmethod
    def open(cls, settings: AuthSettings, redis_url: str | None, prefix: str) -> CallerQuotas:
        if not redis_url:
            return cls(settings, None, prefix)
        from redis.asyncio import Redis

        return cls(settings, Redis.from_url(redis_url), prefix)

    async def admit(self, identity: Identity) -> float | None:
        """None if the caller may send this request now, else the seconds to wait."""
        if not self.settings.key_rate_per_s:
            return None
        admission = await self._rate(identity.key_id).reserve(max_wait=0.0)
        return None if admission.admitted else max(admission.wait_s, 0.001)

    async def charge(self, identity: Identity, cost: int) -> float | None:
        """Spend ``cost`` of the caller's budget: None if it fits, else the seconds
        until the budget's next window (nothing is spent then)."""
        budget = self.settings.key_cost_per_min
        if not budget or cost <= 0:
            return None
        now = self.clock()
        window = int(now // WINDOW_S)
        retry_after = (window + 1) * WINDOW_S - now
        if self._charge is not None:
            key = f"{self.prefix}callers:{identity.key_id}:cost:{window}"
            try:
                admitted, _ = await self._charge(keys=[key], args=[cost, budget, WINDOW_S])
                return None if int(admitted) else retry_after
            except (RedisError, OSError) as exc:  # count in-process until Redis is back
                log.warning("cost budget: Redis failed (%s); counting in-process", exc)
        spent_key = (identity.key_id, window)
        used = self._spent.get(spent_key, 0)
        if used + cost > budget:
            return retry_after
        self._spent = {k: v for k, v in self._spent.items() if k[1] >= window}
        self._spent[spent_key] = used + cost
        return None

    def _rate(self, key_id: str) -> RateLimiter:
        limiter = self._rates.get(key_id)
        if limiter is not None:
            self._rates.move_to_end(key_id)
            return limiter
        policy = RatePolicy(rate=self.settings.key_rate_per_s, burst=self.settings.key_burst)
        if self.redis is not None:
            limiter = RedisRateLimiter(policy, self.redis, f"{self.prefix}callers:{key_id}:rate")
        else:
            limiter = LocalRateLimiter(policy)
        self._rates[key_id] = limiter
        if len(self._rates) > MAX_TRACKED:
            self._rates.popitem(last=False)
        return limiter

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
