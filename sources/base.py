"""The shared HTTP client every adapter is built on.

One pooled :class:`httpx.AsyncClient` per source, per-source timeouts and
concurrency, the correlation id on every call, and vendor errors translated
into :mod:`sources.errors` at this boundary. Adapters subclass
:class:`SourceClient`, declare their vendor's error codes as a table
(:attr:`SourceClient.error_classes`, read by :meth:`SourceClient.translate_error`)
and return domain records (:mod:`domain.records`).

The retry policy, the same for every adapter:

* reads (GET, HEAD, and POSTs that only read, like a SuiteQL query) are retried
  on retryable failures with jittered exponential backoff;
* writes are retried only when the call carries the vendor's idempotency — a
  Stripe POST with its ``Idempotency-Key``, a NetSuite ``PUT .../eid:X`` upsert —
  so a retry after a lost answer lands on the same object instead of a second one;
* plain POSTs (creates) and every PATCH are never retried (see
  :data:`NEVER_RETRIED`).

Three guards keep a failing or slow system from hurting the gateway, and the
gateway from hurting the system:

* the request's deadline (:mod:`sources.deadline`) caps every attempt and
  stops retries that could not finish before it;
* a circuit breaker per source (:mod:`sources.breaker`), shared by every
  request of the process, fails calls fast with no request while the system
  is failing, and lets one probe through now and then;
* a retry budget per source (:mod:`sources.retry_budget`) keeps retries to a
  fraction of its traffic, so an outage does not triple the load on it.

And the vendors' own limits are kept rather than discovered:

* a rate limiter per source (:mod:`sources.limiter`; in-process, or shared by
  the replicas through Redis) paces calls under the vendor's rate, and the slot
  semaphore (``SourceConfig.concurrency``) under its concurrency limit; a call
  the limiter could only send after the request's deadline fails at once as
  :class:`~sources.errors.SourceThrottled` (nothing sent);
* a call the vendor still refuses for a limit (429, a
  :class:`~sources.errors.SourceThrottled`) is retried after the vendor's
  ``Retry-After`` (else the usual jittered backoff), up to
  ``max_throttle_retries`` times, only when the request's deadline leaves room
  for the wait and the retry budget allows, and never after a
  ``Retry-After`` longer than ``max_retry_after_s``. Retried like any other
  retry: reads and idempotent writes only. A 429 does not count against the
  circuit breaker — the system is answering, and asking us to slow down, which
  the limiter and ``Retry-After`` do; opening the breaker would turn a second of
  throttling into seconds of failures. A daily allocation used up (Salesforce's
  ``REQUEST_LIMIT_EXCEEDED``, :class:`~sources.errors.SourceQuotaExhausted`) is
  not retried. :attr:`SourceHealth.throttled` counts the refusals.

Concurrent calls of one batch go through :func:`gather_or_cancel`: the first
failure cancels the siblings, which would otherwise keep running (and holding
connection slots) for a caller that has already given up.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self, TypeVar

import httpx
from httpx_aiohttp import AiohttpTransport
from tenacity import AsyncRetrying, RetryCallState, wait_random_exponential

from sources.breaker import BreakerPolicy, CircuitBreaker
from sources.correlation import HEADER as CORRELATION_HEADER
from sources.correlation import current_correlation_id
from sources.deadline import remaining
from sources.errors import (
    SourceAuthError,
    SourceCircuitOpen,
    SourceError,
    SourceThrottled,
    SourceTimeout,
    SourceUnavailable,
    classify,
)
from sources.limiter import RateLimiter, rate_limiter
from sources.retry_budget import RetryBudget
from sources.systems import System

Observer = Callable[[System, str, float], None]
T = TypeVar("T")

READ_METHODS = frozenset({"GET", "HEAD"})
NEVER_RETRIED = frozenset({"PATCH"})
"""PATCH sets fields to values, which looks idempotent, but neither Salesforce nor
NetSuite takes an idempotency key for it: between a lost answer and a retry another
writer may have changed the record, and the retry would silently undo that change
(and fire the vendor's triggers and field history twice). A flow step that must
repeat a PATCH re-reads the record first."""
MIN_ATTEMPT_S = 0.05
"""No attempt starts with less than this left before the request's deadline."""


async def gather_or_cancel(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Run ``calls`` concurrently, results in order; on the first failure cancel the
    rest (and wait for them to finish) before raising it.

    Plain :func:`asyncio.gather` would leave the siblings running for a caller that
    has given up, holding connection slots other requests are waiting for.
    """
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


@dataclass(frozen=True)
class SourceConfig:
    """How to reach one system of record."""

    system: System
    base_url: str
    token: str
    token_env: str | None = None
    """The environment variable the token comes from, named in auth errors."""
    timeout_s: float = 5.0
    connect_timeout_s: float = 2.0
    max_retries: int = 2
    retry_backoff_s: float = 0.05
    retry_budget_ratio: float = 0.2
    """Retries may add at most this share to the source's traffic ..."""
    retry_budget_burst: float = 10.0
    """... beyond a reserve of this many retries."""
    concurrency: int = 16
    """Calls in flight at once, per process (NetSuite's account limit is 5 on the
    shared tier: keep ERP's at or under it, divided among replicas)."""
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    rate_limit_per_s: float | None = 0.0
    """Client-side pace, requests a second; 0 (the default) is off, None is the
    vendor's recommended pace (:data:`sources.limiter.VENDOR_RATES`: Billing 20/s,
    the others none). Off by default so a gateway against an unlimited system (the
    simulators without limits) is not slowed; set it where the vendor limits."""
    rate_limit_burst: float | None = None
    """Requests that may go out at once after a quiet spell (None: the default's,
    or one second's worth of ``rate_limit_per_s``)."""
    rate_limit_redis_url: str | None = None
    """Share the pace among replicas through this Redis (None: per process)."""
    rate_limit_prefix: str = "revgraph:"
    """Redis key prefix; the bucket is ``{prefix}ratelimit:{SYSTEM}``."""
    max_throttle_retries: int = 4
    """Retries of a call the vendor throttled (429), within the deadline and budget."""
    max_retry_after_s: float = 10.0
    """A ``Retry-After`` longer than this is not waited for (the call fails throttled)."""


@dataclass
class SourceHealth:
    """What the gateway last saw of a source: fed by every call, read by health checks."""

    requests: int = 0
    errors: int = 0
    last_latency_ms: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    last_ok_at: float | None = None
    fast_failures: int = 0
    """Calls refused by the open circuit breaker, with no request sent."""
    throttled: int = 0
    """Answers refusing a call for a vendor limit (429, Salesforce's daily allocation)."""
    limiter_waits: int = 0
    """Calls the client-side rate limiter held back before sending ..."""
    limiter_wait_s: float = 0.0
    """... and the seconds they waited in all."""
    limiter_refusals: int = 0
    """Calls the limiter could not send before the request's deadline (not sent)."""


class SourceClient:
    """Base adapter: HTTP plumbing shared by the four vendors.

    Subclasses override :meth:`default_headers` if the vendor does not use a
    bearer token alone, declare :attr:`error_classes`, and override
    :meth:`translate_error` to read their vendor's error body.
    """

    error_classes: ClassVar[Mapping[str, type[SourceError]]] = {}
    """The vendor's error codes → the error class, consulted before the HTTP status."""

    def __init__(
        self,
        config: SourceConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.config = config
        self.system = config.system
        self.health = SourceHealth()
        self.limiter = limiter or rate_limiter(
            config.system,
            rate=config.rate_limit_per_s,
            burst=config.rate_limit_burst,
            redis_url=config.rate_limit_redis_url,
            prefix=config.rate_limit_prefix,
        )
        """Paces calls under the vendor's rate (None: no pace; see :mod:`sources.limiter`)."""
        self.breaker = CircuitBreaker(config.breaker)
        self.retry_budget = RetryBudget(
            ratio=config.retry_budget_ratio,
            burst=config.retry_budget_burst,
            tokens=config.retry_budget_burst,
        )
        self.observers: list[Observer] = []
        """Called after every attempt with (system, "ok" | "error", seconds): metrics."""
        limits = httpx.Limits(
            max_connections=config.concurrency, max_keepalive_connections=config.concurrency
        )
        self._http = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/"),
            headers=self.default_headers(),
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            # httpx's API over aiohttp's connection pool: httpcore's pool costs
            # ~1.4 ms of CPU per request at 86 concurrent requests (Billing's
            # fan-out) and degrades with pool size; aiohttp's costs ~0.4 ms.
            transport=transport or AiohttpTransport(limits=limits),
        )
        # Bounds fan-out (e.g. Stripe's per-customer lists) below the pool size so a
        # large batch queues here instead of timing out while waiting for a connection.
        self._slots = asyncio.Semaphore(config.concurrency)

    def default_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.token}", "Accept": "application/json"}

    async def aclose(self) -> None:
        await self._http.aclose()
        if self.limiter is not None:
            await self.limiter.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send one request, retrying it only when that is safe (see the module docstring).

        ``idempotent`` defaults to True for reads (GET, HEAD). Pass True for a POST
        that only reads (a SuiteQL query) or that carries the vendor's idempotency
        (a Stripe ``Idempotency-Key``, a NetSuite ``eid:`` PUT); a PATCH is never
        retried. Returns the successful response; raises a :class:`SourceError`.
        """
        verb = method.upper()
        if idempotent is None:
            idempotent = verb in READ_METHODS
        elif idempotent and verb in NEVER_RETRIED:
            raise ValueError(f"{verb} is never retried (see sources.base.NEVER_RETRIED)")
        attempts = 1 + (self.config.max_retries if idempotent else 0)
        throttled_attempts = 1 + (self.config.max_throttle_retries if idempotent else 0)
        backoff = wait_random_exponential(multiplier=self.config.retry_backoff_s, max=2.0)

        def wait(state: RetryCallState) -> float:
            """The vendor's ``Retry-After`` when it sent one (plus a little jitter, so
            the calls it refused together do not all come back at once), else backoff."""
            error = _failure(state)
            if error is not None and error.retry_after is not None:
                return error.retry_after + random.uniform(0, min(1.0, error.retry_after) / 4)
            return backoff(state)

        def stop(state: RetryCallState) -> bool:
            """Stop after the last attempt, before one the deadline would cut short,
            or when the source's retry budget is spent (checked last: it spends)."""
            error = _failure(state)
            throttled = isinstance(error, SourceThrottled)
            if state.attempt_number >= (throttled_attempts if throttled else attempts):
                return True
            if (
                error is not None
                and error.retry_after is not None
                and error.retry_after > self.config.max_retry_after_s
            ):
                return True
            left = remaining()
            if left is not None and left < state.upcoming_sleep + MIN_ATTEMPT_S:
                return True
            return not self.retry_budget.withdraw()

        retrying = AsyncRetrying(retry=_retryable, stop=stop, wait=wait, reraise=True)
        self.retry_budget.deposit()
        async for attempt in retrying:
            with attempt:
                return await self._send_once(verb, url, params, json, data, headers)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _send_once(
        self,
        method: str,
        url: str,
        params: Any,
        json: Any,
        data: Any,
        headers: dict[str, str] | None,
    ) -> httpx.Response:
        left = remaining()
        if left is not None and left < MIN_ATTEMPT_S:
            raise SourceTimeout(self.system, "the request's deadline passed before this call")
        if not self.breaker.allow():
            self.health.fast_failures += 1
            raise SourceCircuitOpen(
                self.system,
                f"failing fast after repeated failures; next try in "
                f"{self.breaker.retry_after():.1f}s",
                vendor_code="CIRCUIT_OPEN",
            )
        sent_headers = {CORRELATION_HEADER: current_correlation_id(), **(headers or {})}
        started = time.perf_counter()
        try:
            await self._pace(left)
            self.health.requests += 1
            started = time.perf_counter()
            # The deadline bounds the wait for a connection slot and the call itself.
            async with asyncio.timeout(remaining()), self._slots:
                response = await self._http.request(
                    method, url, params=params, json=json, data=data, headers=sent_headers
                )
        except TimeoutError as exc:
            self.breaker.failure()
            raise self._record(
                SourceTimeout(self.system, "no answer before the request's deadline"), started
            ) from exc
        except httpx.TransportError as exc:
            self.breaker.failure()
            raise self._record(self._transport_error(exc), started) from exc
        except BaseException:
            # Cancelled, or not sent (the limiter refused): a probe in flight must not
            # hold the breaker.
            self.breaker.abandon()
            raise
        if response.is_success:
            self.breaker.success()
            self.health.last_latency_ms = self._observe("ok", started)
            self.health.last_ok_at = time.time()
            return response
        error = self._with_hint(self.translate_error(response))
        if error.retry_after is None:
            error.retry_after = retry_after_s(response)
        if isinstance(error, SourceThrottled):
            # The system is answering and asks us to slow down: neither a failure
            # nor a success for the breaker (see the module docstring).
            self.health.throttled += 1
            self.breaker.abandon()
        else:
            # A rejected request (4xx) means the system is answering: only its own
            # failures (5xx, unavailable) count against it. The class decides, not a
            # vendor's retry hint for this one answer.
            (self.breaker.failure if type(error).retryable else self.breaker.success)()
        raise self._record(error, started)

    async def _pace(self, left: float | None) -> None:
        """Wait for the rate limiter's go; SourceThrottled (nothing sent) if it would
        only come after the request's deadline."""
        if self.limiter is None:
            return
        max_wait = None if left is None else left - MIN_ATTEMPT_S
        admission = await self.limiter.reserve(max_wait)
        if not admission.admitted:
            self.health.limiter_refusals += 1
            raise SourceThrottled(
                self.system,
                f"client-side rate limit ({self.limiter.policy.rate:g}/s): the call could "
                f"only go out in {admission.wait_s:.2f}s, after the request's deadline",
                vendor_code="CLIENT_RATE_LIMIT",
                retry_after=admission.wait_s,
            )
        if admission.wait_s > 0:
            self.health.limiter_waits += 1
            self.health.limiter_wait_s += admission.wait_s
            await asyncio.sleep(admission.wait_s)

    def _transport_error(self, exc: httpx.TransportError) -> SourceError:
        """A refused or broken connection is SourceUnavailable; only a real timeout is
        SourceTimeout.

        httpx-aiohttp maps *every* aiohttp connection error (refused, DNS failure,
        server disconnected) to ``httpx.ConnectTimeout``: its exception table lets
        the broader ``ClientConnectionError → ConnectTimeout`` win over
        ``ClientConnectorError → ConnectError``. So the aiohttp cause decides: only
        one that is itself a timeout is reported as one.
        """
        if any(isinstance(e, ConnectionRefusedError) for e in _chain(exc)):
            return SourceUnavailable(self.system, f"connection refused at {self.config.base_url}")
        if _is_timeout(exc):
            return SourceTimeout(self.system, f"no answer within {self.config.timeout_s}s")
        return SourceUnavailable(self.system, f"cannot connect to {self.config.base_url}: {exc}")

    def _with_hint(self, error: SourceError) -> SourceError:
        """An auth error names the setting to fix (``REVGRAPH_ERP_TOKEN``)."""
        if not isinstance(error, SourceAuthError) or not self.config.token_env:
            return error
        return type(error)(
            error.system,
            f"{error.message} (check {self.config.token_env})",
            status=error.status,
            vendor_code=error.vendor_code,
        )

    def _observe(self, outcome: str, started: float) -> float:
        """Report one attempt's latency to the observers; returns it in ms."""
        seconds = time.perf_counter() - started
        for observe in self.observers:
            observe(self.system, outcome, seconds)
        return seconds * 1000

    def _record(self, error: SourceError, started: float) -> SourceError:
        self.health.errors += 1
        self.health.last_latency_ms = self._observe("error", started)
        self.health.last_error = error.message
        self.health.last_error_at = time.time()
        return error

    async def ping(self) -> None:
        """The cheapest authenticated read the vendor offers; raises SourceError if down.

        Readiness checks call it. Adapters override it with their vendor's call.
        """
        await self.request("GET", "/")

    def translate_error(self, response: httpx.Response) -> SourceError:
        """Turn a vendor error response into a :class:`SourceError`.

        The default classifies by status and keeps the raw text; adapters
        override it to read their vendor's error body (code and message) and
        classify through :meth:`error_class`.
        """
        cls = self.error_class(response.status_code)
        return cls(
            self.system,
            response.text[:500] or response.reason_phrase,
            status=response.status_code,
        )

    def error_class(self, status: int, *codes: str | None) -> type[SourceError]:
        """The class for a vendor error: the first code in :attr:`error_classes`,
        else the HTTP status's."""
        return classify(self.error_classes, codes, status)


def _failure(state: RetryCallState) -> SourceError | None:
    """The SourceError the last attempt failed with, if it did."""
    outcome = state.outcome
    if outcome is None or not outcome.failed:
        return None
    error = outcome.exception()
    return error if isinstance(error, SourceError) else None


def _retryable(state: RetryCallState) -> bool:
    """Retry a failed attempt that may succeed later — not one the breaker refused.

    ``retryable`` is the error's: its class's, or the vendor's word for this answer
    (Stripe's ``Stripe-Should-Retry``)."""
    error = _failure(state)
    return error is not None and error.retryable and not isinstance(error, SourceCircuitOpen)


def retry_after_s(response: httpx.Response) -> float | None:
    """The response's ``Retry-After`` in seconds (delta-seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if seconds == seconds else None  # NaN: ignored


def _chain(exc: BaseException) -> Iterable[BaseException]:
    """``exc`` and its causes (``raise ... from``) and contexts, innermost last."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_timeout(exc: httpx.TransportError) -> bool:
    if not isinstance(exc, httpx.TimeoutException):
        return False
    cause = exc.__cause__
    if cause is not None and type(cause).__module__.startswith("aiohttp"):
        # aiohttp's own timeouts are TimeoutErrors; its other connection errors
        # arrive here mislabelled as ConnectTimeout (see _transport_error).
        return isinstance(cause, TimeoutError)
    return True
