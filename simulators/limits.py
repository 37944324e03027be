"""Vendor limits the simulators can enforce: rates, concurrency, daily allocations.

Three primitives, each counting per key (an account, an endpoint ...) where it
makes sense, on an injectable clock so tests need no sleeps:

* :class:`TokenBucket` — ``rate`` requests per second with bursts up to
  ``burst``; :meth:`~TokenBucket.acquire` answers None (admitted) or the seconds
  to wait (what a ``Retry-After`` says).
* :class:`ConcurrencyLimiter` — at most ``max_in_flight`` requests at once;
  :meth:`~ConcurrencyLimiter.acquire` / :meth:`~ConcurrencyLimiter.release`.
* :class:`DailyAllocation` — ``allocation`` requests per day (a window of
  ``period_s`` on the clock); :meth:`~DailyAllocation.consume`.

Every method takes ``enforce``: with ``enforce=False`` the request is always
admitted but still counted (a disabled Salesforce allocation keeps reporting
usage; a concurrency slot taken while limits were off is still released).

A :class:`Limits` holds one simulator's named limits with the vendor defaults
and an ``enabled`` switch (off unless the app is built with
``SimulatorConfig(limits_enabled=True)``). The shared control routes
(:mod:`simulators.control`) expose it::

    GET    /_sim/limits   {"enabled": false, "limits": {"DailyApiRequests":
                           {"kind": "daily", "enabled": true, "allocation": 100000,
                            "used": 3, "remaining": 99997, "refused": 0, ...}}}
    POST   /_sim/limits   {"enabled": true, "limits": {"DailyApiRequests": {"allocation": 10}}}
    DELETE /_sim/limits   back to the defaults the app was built with, usage cleared

A simulator checks its limits where its vendor does (an ASGI ``gate`` passed to
:func:`simulators.control.build_simulator` runs after faults and authentication)
with :meth:`Limits.enforced` telling whether a limit is switched on.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

Clock = Callable[[], float]

DAY_S = 24 * 60 * 60
_MAX_BUCKETS = 10_000


class LimitsConfigError(ValueError):
    """A ``POST /_sim/limits`` body the limits cannot take."""


class Limit(Protocol):
    """What :class:`Limits` needs from each primitive."""

    kind: str
    enabled: bool
    scope: str

    def settings(self) -> dict[str, Any]:
        """The configurable values (what ``configure`` takes back)."""

    def usage(self) -> dict[str, Any]:
        """Counters, for ``GET /_sim/limits``."""

    def configure(self, settings: Mapping[str, Any]) -> None:
        """Apply some of :meth:`settings`; LimitsConfigError if one is invalid."""

    def reset_usage(self) -> None: ...


def _number(settings: Mapping[str, Any], name: str, *, minimum: float) -> float | None:
    if name not in settings:
        return None
    value = settings[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise LimitsConfigError(f"{name} must be a number >= {minimum}")
    return float(value)


def _integer(settings: Mapping[str, Any], name: str, *, minimum: int) -> int | None:
    value = _number(settings, name, minimum=minimum)
    if value is None:
        return None
    if not value.is_integer():
        raise LimitsConfigError(f"{name} must be an integer >= {minimum}")
    return int(value)


def _enabled(settings: Mapping[str, Any], current: bool) -> bool:
    value = settings.get("enabled", current)
    if not isinstance(value, bool):
        raise LimitsConfigError("enabled must be a boolean")
    return value


class TokenBucket:
    """``rate`` tokens a second per key, holding at most ``burst`` (default: ``rate``)."""

    kind = "rate"

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        scope: str = "",
        enabled: bool = True,
        clock: Clock = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate))
        self.scope = scope
        self.enabled = enabled
        self.clock = clock
        self._buckets: dict[Hashable, tuple[float, float]] = {}
        self.admitted = 0
        self.refused = 0

    def _tokens(self, key: Hashable, now: float) -> float:
        tokens, last = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + max(0.0, now - last) * self.rate)

    def acquire(
        self, key: Hashable = "", *, cost: float = 1.0, enforce: bool = True
    ) -> float | None:
        """Take ``cost`` tokens: None if admitted, else the seconds until they are there."""
        if not enforce:
            return None
        now = self.clock()
        tokens = self._tokens(key, now)
        if tokens + 1e-9 < cost:
            self.refused += 1
            self._buckets[key] = (tokens, now)
            return (cost - tokens) / self.rate
        if len(self._buckets) >= _MAX_BUCKETS and key not in self._buckets:
            self._prune(now)
        self._buckets[key] = (tokens - cost, now)
        self.admitted += 1
        return None

    def _prune(self, now: float) -> None:
        """Forget the buckets that are full again (they read the same as absent ones)."""
        for key in [k for k in self._buckets if self._tokens(k, now) >= self.burst]:
            del self._buckets[key]

    def available(self, key: Hashable = "") -> float:
        return self._tokens(key, self.clock())

    def settings(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "rate": self.rate, "burst": self.burst}

    def usage(self) -> dict[str, Any]:
        return {"used": self.admitted, "refused": self.refused}

    def configure(self, settings: Mapping[str, Any]) -> None:
        enabled = _enabled(settings, self.enabled)
        rate = _number(settings, "rate", minimum=1e-6)
        burst = _number(settings, "burst", minimum=1.0)
        self.enabled = enabled
        if rate is not None:
            self.rate = rate
        if burst is not None:
            self.burst = burst
        elif rate is not None:
            self.burst = max(1.0, rate)

    def reset_usage(self) -> None:
        self._buckets.clear()
        self.admitted = self.refused = 0


class ConcurrencyLimiter:
    """At most ``max_in_flight`` requests at once per key."""

    kind = "concurrency"

    def __init__(self, max_in_flight: int, *, scope: str = "", enabled: bool = True) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.max_in_flight = max_in_flight
        self.scope = scope
        self.enabled = enabled
        self._in_flight: dict[Hashable, int] = {}
        self.admitted = 0
        self.refused = 0

    def in_flight(self, key: Hashable = "") -> int:
        return self._in_flight.get(key, 0)

    def acquire(self, key: Hashable = "", *, enforce: bool = True) -> bool:
        """Take a slot; False (nothing taken) when ``max_in_flight`` are busy."""
        current = self._in_flight.get(key, 0)
        if enforce and current >= self.max_in_flight:
            self.refused += 1
            return False
        self._in_flight[key] = current + 1
        self.admitted += 1
        return True

    def release(self, key: Hashable = "") -> None:
        current = self._in_flight.get(key, 0)
        if current <= 1:
            self._in_flight.pop(key, None)
        else:
            self._in_flight[key] = current - 1

    @contextmanager
    def slot(self, key: Hashable = "", *, enforce: bool = True) -> Iterator[bool]:
        """``with limiter.slot(key) as admitted:`` — released on exit if it was taken."""
        admitted = self.acquire(key, enforce=enforce)
        try:
            yield admitted
        finally:
            if admitted:
                self.release(key)

    def settings(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "max_in_flight": self.max_in_flight}

    def usage(self) -> dict[str, Any]:
        return {
            "in_flight": sum(self._in_flight.values()),
            "used": self.admitted,
            "refused": self.refused,
        }

    def configure(self, settings: Mapping[str, Any]) -> None:
        enabled = _enabled(settings, self.enabled)
        maximum = _integer(settings, "max_in_flight", minimum=1)
        self.enabled = enabled
        if maximum is not None:
            self.max_in_flight = maximum

    def reset_usage(self) -> None:
        # Requests in flight still release their slots; only the counters restart.
        self.admitted = self.refused = 0


class DailyAllocation:
    """``allocation`` requests per window of ``period_s`` (a day), for the whole org."""

    kind = "daily"

    def __init__(
        self,
        allocation: int,
        *,
        period_s: float = DAY_S,
        scope: str = "",
        enabled: bool = True,
        clock: Clock = time.time,
    ) -> None:
        if allocation < 0:
            raise ValueError("allocation must not be negative")
        self.allocation = allocation
        self.period_s = period_s
        self.scope = scope
        self.enabled = enabled
        self.clock = clock
        self._window = self._current_window()
        self._used = 0
        self.refused = 0

    def _current_window(self) -> int:
        return int(self.clock() // self.period_s)

    def _roll(self) -> None:
        window = self._current_window()
        if window != self._window:
            self._window = window
            self._used = 0

    @property
    def used(self) -> int:
        self._roll()
        return self._used

    @property
    def remaining(self) -> int:
        return max(0, self.allocation - self.used)

    def consume(self, n: int = 1, *, enforce: bool = True) -> bool:
        """Count ``n`` requests; False (nothing counted) if that would exceed the allocation."""
        self._roll()
        if enforce and self._used + n > self.allocation:
            self.refused += 1
            return False
        self._used += n
        return True

    def settings(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "allocation": self.allocation}

    def usage(self) -> dict[str, Any]:
        return {"used": self.used, "remaining": self.remaining, "refused": self.refused}

    def configure(self, settings: Mapping[str, Any]) -> None:
        enabled = _enabled(settings, self.enabled)
        allocation = _integer(settings, "allocation", minimum=0)
        used = _integer(settings, "used", minimum=0)
        self.enabled = enabled
        if allocation is not None:
            self.allocation = allocation
        if used is not None:  # lets a test or demo start near exhaustion
            self._roll()
            self._used = used

    def reset_usage(self) -> None:
        self._window = self._current_window()
        self._used = 0
        self.refused = 0


class Limits:
    """One simulator's named limits, their defaults and the switch enforcing them."""

    def __init__(self, limits: Mapping[str, Limit] | None = None, *, enabled: bool = False):
        self._limits: dict[str, Limit] = dict(limits or {})
        self.enabled = enabled
        self._defaults = (enabled, {name: lim.settings() for name, lim in self._limits.items()})

    def __getitem__(self, name: str) -> Limit:
        return self._limits[name]

    def __contains__(self, name: object) -> bool:
        return name in self._limits

    def names(self) -> list[str]:
        return list(self._limits)

    def _typed(self, name: str, kind: type[Any]) -> Any:
        limit = self._limits[name]
        if not isinstance(limit, kind):
            raise TypeError(f"limit {name!r} is a {limit.kind} limit")
        return limit

    def rate(self, name: str) -> TokenBucket:
        limiter: TokenBucket = self._typed(name, TokenBucket)
        return limiter

    def concurrency(self, name: str) -> ConcurrencyLimiter:
        limiter: ConcurrencyLimiter = self._typed(name, ConcurrencyLimiter)
        return limiter

    def daily(self, name: str) -> DailyAllocation:
        limiter: DailyAllocation = self._typed(name, DailyAllocation)
        return limiter

    def enforced(self, name: str) -> bool:
        """Whether ``name`` refuses requests now: limits on, and that limit on."""
        return self.enabled and self._limits[name].enabled

    # -- the /_sim/limits body -----------------------------------------------

    def describe(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "limits": {
                name: {"kind": lim.kind, "scope": lim.scope, **lim.settings(), **lim.usage()}
                for name, lim in self._limits.items()
            },
        }

    def configure(self, body: Any) -> None:
        """Merge a ``POST /_sim/limits`` body; all or nothing (LimitsConfigError)."""
        if not isinstance(body, dict):
            raise LimitsConfigError("body must be a JSON object")
        unknown_keys = set(body) - {"enabled", "limits"}
        if unknown_keys:
            raise LimitsConfigError(f"unknown keys: {sorted(unknown_keys)}")
        enabled = _enabled(body, self.enabled)
        changes = body.get("limits", {})
        if not isinstance(changes, dict):
            raise LimitsConfigError("limits must be an object of name -> settings")
        for name, settings in changes.items():
            if name not in self._limits:
                raise LimitsConfigError(f"unknown limit {name!r}; known: {self.names()}")
            if not isinstance(settings, dict):
                raise LimitsConfigError(f"settings of {name!r} must be an object")
        # Validate everything before changing anything.
        backup = {name: self._limits[name].settings() for name in changes}
        try:
            for name, settings in changes.items():
                self._limits[name].configure(settings)
        except LimitsConfigError:
            for name, settings in backup.items():
                self._limits[name].configure(settings)
            raise
        self.enabled = enabled

    def reset(self) -> None:
        """The defaults the limits were built with, and no usage."""
        enabled, settings = self._defaults
        self.enabled = enabled
        for name, limit in self._limits.items():
            limit.configure(settings[name])
            limit.reset_usage()


class LimitGate(ABC):
    """Base of a simulator's limit middleware (its ``gate``): HTTP requests go
    through :meth:`check`, which answers the vendor's refusal or passes them on."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.check(scope, receive, send)

    @abstractmethod
    async def check(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request as the vendor would, or pass it to ``self.app``."""
