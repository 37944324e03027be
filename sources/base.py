"""The shared HTTP client every adapter is built on.

One pooled :class:`httpx.AsyncClient` per source, per-source timeouts and
concurrency, bounded retries with jittered backoff for idempotent reads only,
the correlation id on every call, and vendor errors translated into
:mod:`sources.errors` at this boundary. Adapters subclass :class:`SourceClient`
and implement :meth:`SourceClient.translate_error` for their vendor's error body.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

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
    SourceError,
    SourceTimeout,
    SourceUnavailable,
    error_for_status,
)
from sources.systems import System

Observer = Callable[[System, str, float], None]


@dataclass(frozen=True)
class SourceConfig:
    """How to reach one system of record."""

    system: System
    base_url: str
    token: str
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

    Subclasses set ``auth_headers`` through :meth:`default_headers` if the vendor
    does not use a bearer token, and override :meth:`translate_error`.
    """

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
        """Send one request; retry it only when it is safe to (``idempotent``).

        ``idempotent`` defaults to True for GET; POSTs that are reads (a SuiteQL
        query) or carry the vendor's idempotency key pass it explicitly.
        Returns the successful response; raises a :class:`SourceError` otherwise.
        """
        if idempotent is None:
            idempotent = method.upper() in ("GET", "HEAD")
        attempts = 1 + (self.config.max_retries if idempotent else 0)
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(RetryableSourceError),
            stop=stop_after_attempt(attempts),
            wait=wait_random_exponential(multiplier=self.config.retry_backoff_s, max=2.0),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send_once(method, url, params, json, data, headers)
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
        except httpx.TimeoutException as exc:
            raise self._record(
                SourceTimeout(self.system, f"no answer within {self.config.timeout_s}s"), started
            ) from exc
        except httpx.TransportError as exc:
            raise self._record(
                SourceUnavailable(self.system, f"cannot connect: {exc!r}"), started
            ) from exc
        if response.is_success:
            self.health.last_latency_ms = self._observe("ok", started)
            self.health.last_ok_at = time.time()
            return response
        raise self._record(self.translate_error(response), started)

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
        override it to read their vendor's error body (code and message).
        """
        cls = error_for_status(response.status_code)
        return cls(
            self.system,
            response.text[:500] or response.reason_phrase,
            status=response.status_code,
        )
