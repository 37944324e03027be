"""A circuit breaker per source, shared by every request of a process.

::

    CLOSED ──(N consecutive failures, or ≥ rate of failures over a window)──▶ OPEN
    OPEN ──(after open_s)──▶ HALF_OPEN: one probe call is let through
    HALF_OPEN ──probe succeeds──▶ CLOSED      HALF_OPEN ──probe fails──▶ OPEN

While OPEN (and while a HALF_OPEN probe is in flight) calls fail at once as
:class:`~sources.errors.SourceUnavailable` without a request: a system that is
down is not hammered by every request's fan-out and retries. Only failures that
say "the system is unwell" count (timeouts, refused connections, 5xx, 429); a
404 or a rejected request is the caller's business, not the system's health.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


@dataclass(frozen=True)
class BreakerPolicy:
    """When a breaker opens and how long it stays open."""

    consecutive_failures: int = 5
    """Open after this many failures in a row."""
    failure_rate: float = 0.5
    """... or when at least this share of the calls in the window failed,"""
    window_s: float = 10.0
    min_calls: int = 20
    """... counting only windows with at least this many calls."""
    open_s: float = 5.0
    """How long calls fail fast before a probe is let through."""


@dataclass
class CircuitBreaker:
    """One system's breaker (see the module docstring)."""

    policy: BreakerPolicy = field(default_factory=BreakerPolicy)
    clock: Callable[[], float] = time.monotonic
    state: BreakerState = BreakerState.CLOSED
    opened_at: float | None = None
    consecutive: int = 0
    opened: int = 0
    """How many times it has opened (for metrics)."""
    _calls: deque[tuple[float, bool]] = field(default_factory=deque)
    _probing: bool = False

    def allow(self) -> bool:
        """Whether a call may go out now (and, if HALF_OPEN, claim the probe)."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            if self.opened_at is not None and self.clock() - self.opened_at >= self.policy.open_s:
                self.state = BreakerState.HALF_OPEN
                self._probing = False
            else:
                return False
        if self._probing:
            return False
        self._probing = True
        return True

    def retry_after(self) -> float:
        """Seconds until a probe will be let through (0 when closed)."""
        if self.state is not BreakerState.OPEN or self.opened_at is None:
            return 0.0
        return max(0.0, self.policy.open_s - (self.clock() - self.opened_at))

    def abandon(self) -> None:
        """A call was cancelled before it told anything: free the probe slot."""
        if self.state is BreakerState.HALF_OPEN:
            self._probing = False

    def success(self) -> None:
        self._record(True)
        self.consecutive = 0
        if self.state is not BreakerState.CLOSED:
            self.state = BreakerState.CLOSED
            self.opened_at = None
            self._probing = False
            self._calls.clear()

    def failure(self) -> None:
        self._record(False)
        self.consecutive += 1
        if self.state is BreakerState.HALF_OPEN or self._tripped():
            self._open()

    def _record(self, ok: bool) -> None:
        now = self.clock()
        self._calls.append((now, ok))
        horizon = now - self.policy.window_s
        while self._calls and self._calls[0][0] < horizon:
            self._calls.popleft()

    def _tripped(self) -> bool:
        if self.state is not BreakerState.CLOSED:
            return False
        if self.consecutive >= self.policy.consecutive_failures:
            return True
        calls = len(self._calls)
        failed = sum(1 for _, ok in self._calls if not ok)
        return calls >= self.policy.min_calls and failed / calls >= self.policy.failure_rate

    def _open(self) -> None:
        self.state = BreakerState.OPEN
        self.opened_at = self.clock()
        self._probing = False
        self.opened += 1


NO_BREAKER = BreakerPolicy(consecutive_failures=2**31, min_calls=2**31)
"""A policy that never opens (for tests that count retries, and tools that must)."""
