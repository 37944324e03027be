"""The circuit breaker: closed → open → half-open probe → closed (or open again)."""

from __future__ import annotations

from sources.breaker import BreakerPolicy, BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def state(b: CircuitBreaker) -> BreakerState:
    return b.state  # read through a call: the state changes between asserts


def breaker(clock: Clock, **policy: float) -> CircuitBreaker:
    return CircuitBreaker(BreakerPolicy(**policy), clock=clock)  # type: ignore[arg-type]


def test_opens_after_consecutive_failures_and_fails_fast() -> None:
    clock = Clock()
    b = breaker(clock, consecutive_failures=3, open_s=5)
    for _ in range(2):
        assert b.allow()
        b.failure()
    assert state(b) is BreakerState.CLOSED
    b.failure()
    assert state(b) is BreakerState.OPEN and b.opened == 1
    assert not b.allow()
    assert b.retry_after() == 5


def test_half_open_lets_one_probe_through_then_closes_on_success() -> None:
    clock = Clock()
    b = breaker(clock, consecutive_failures=1, open_s=5)
    b.failure()
    clock.now = 5
    assert b.allow()  # the probe
    assert state(b) is BreakerState.HALF_OPEN
    assert not b.allow()  # nobody else while it is in flight
    b.success()
    assert state(b) is BreakerState.CLOSED and b.allow()


def test_a_failed_probe_opens_it_again() -> None:
    clock = Clock()
    b = breaker(clock, consecutive_failures=1, open_s=5)
    b.failure()
    clock.now = 6
    assert b.allow()
    b.failure()
    assert state(b) is BreakerState.OPEN and b.opened == 2
    clock.now = 8
    assert not b.allow()


def test_opens_on_the_error_rate_over_the_window() -> None:
    clock = Clock()
    b = breaker(clock, consecutive_failures=100, failure_rate=0.5, min_calls=10, window_s=10)
    for i in range(10):
        clock.now = i * 0.1
        (b.failure if i % 2 else b.success)()
    assert state(b) is BreakerState.OPEN


def test_old_calls_leave_the_window() -> None:
    clock = Clock()
    b = breaker(clock, consecutive_failures=100, failure_rate=0.5, min_calls=4, window_s=10)
    for _ in range(3):
        b.failure()
        b.success()
    clock.now = 20
    b.failure()
    assert state(b) is BreakerState.CLOSED  # one call in the window
