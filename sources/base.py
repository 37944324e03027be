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

Concurrent calls of one batch go through :func:`gather_or_cancel`: the first
failure cancels the siblings, which would otherwise keep running (and holding
connection slots) for a caller that has already given up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

import httpx
from httpx_aiohttp import AiohttpTransport
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from sources.correlation import HEADER as CORRELATION_HEADER
from sources.correlation import current_correlation_id
from sources.errors import (
    RetryableSourceError,
    SourceAuthError,
    SourceError,
    SourceTimeout,
    SourceUnavailable,
    classify,
)
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
    concurrency: int = 16


@dataclass
class SourceHealth:
    """What the gateway last saw of a source: fed by every call, read by health checks."""

    requests: int = 0
    errors: int = 0
    last_latency_ms: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    last_ok_at: float | None = None


class SourceClient:
    """Base adapter: HTTP plumbing shared by the four vendors.

    Subclasses override :meth:`default_headers` if the vendor does not use a
    bearer token alone, declare :attr:`error_classes`, and override
    :meth:`translate_error` to read their vendor's error body.
    """

    error_classes: ClassVar[Mapping[str, type[SourceError]]] = {}
    """The vendor's error codes → the error class, consulted before the HTTP status."""

    def __init__(
        self, config: SourceConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        self.system = config.system
        self.health = SourceHealth()
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
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(RetryableSourceError),
            stop=stop_after_attempt(attempts),
            wait=wait_random_exponential(multiplier=self.config.retry_backoff_s, max=2.0),
            reraise=True,
        )
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
        sent_headers = {CORRELATION_HEADER: current_correlation_id(), **(headers or {})}
        self.health.requests += 1
        started = time.perf_counter()
        try:
            async with self._slots:
                response = await self._http.request(
                    method, url, params=params, json=json, data=data, headers=sent_headers
                )
        except httpx.TransportError as exc:
            raise self._record(self._transport_error(exc), started) from exc
        if response.is_success:
            self.health.last_latency_ms = self._observe("ok", started)
            self.health.last_ok_at = time.time()
            return response
        raise self._record(self._with_hint(self.translate_error(response)), started)

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
            return SourceUnavailable(
                self.system, f"connection refused at {self.config.base_url}"
            )
        if _is_timeout(exc):
            return SourceTimeout(self.system, f"no answer within {self.config.timeout_s}s")
        return SourceUnavailable(
            self.system, f"cannot connect to {self.config.base_url}: {exc}"
        )

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
