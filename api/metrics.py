"""Prometheus metrics of one gateway app, served at ``/metrics``.

Every app owns a :class:`~prometheus_client.CollectorRegistry` (never the
process-global one), so tests and several apps in one process never collide.

===============================================  =====================================
Metric                                           Labels
===============================================  =====================================
``revgraph_http_requests_total``                 route (template), method, status
``revgraph_http_request_duration_seconds``       route, method (histogram)
``revgraph_graphql_operations_total``            operation, outcome
``revgraph_graphql_operation_duration_seconds``  operation (histogram)
``revgraph_upstream_requests_total``             system (attempts, retries included)
``revgraph_upstream_errors_total``               system (attempts that failed)
``revgraph_upstream_request_duration_seconds``  system, outcome (histogram, every attempt)
``revgraph_upstream_last_latency_seconds``       system (the last attempt's latency)
``revgraph_upstream_last_ok_timestamp_seconds``  system
``revgraph_upstream_last_error_timestamp_seconds``  system
``revgraph_upstream_circuit_state``              system, state (1 for the breaker's state)
``revgraph_upstream_circuit_opened_total``       system (times the breaker opened)
``revgraph_upstream_fast_failures_total``        system (calls refused by an open breaker)
``revgraph_upstream_retries_denied_total``       system (retries the retry budget refused)
``revgraph_step_latency_seconds``                system, quantile (0.5, 0.95; succeeded steps)
``revgraph_step_latency_samples``                system (succeeded steps measured)
``revgraph_duplicates_prevented_total``          kind (idempotent_replay, webhook_duplicate)
``revgraph_activation_cycle_seconds``            quantile (0.5): approved → ERP schedule
``revgraph_activation_cycle_avg_seconds``        (none)
``revgraph_activations_measured``                (none)
``revgraph_posting_success_ratio``               (none; absent until a posting finished)
``revgraph_open_exceptions``                     queue (unresolved items now)
``revgraph_flow_metrics_refreshed_timestamp_seconds``  when the flow metrics were read
``revgraph_consistency_checks``                  status (cached checks now)
``revgraph_consistency_unreconciled``            rule (cached checks not CONSISTENT now)
``revgraph_consistency_computed_timestamp_seconds``  the oldest cached computation
``revgraph_consistency_refreshed_timestamp_seconds``  when the consistency cache was read
===============================================  =====================================

GraphQL ``outcome`` is ``ok`` (no errors), ``partial`` (data and errors),
``failed`` (execution ran, no data) or ``rejected`` (a request error: parse,
validation, variable coercion, unknown operation). The upstream metrics are
read at scrape time from each source client's ``health`` (a
:class:`sources.base.SourceHealth`), which the clients update on every call;
successes are ``requests - errors`` at query time (a separate ``ok`` counter
could not stay monotonic while calls are in flight).

The flow metrics (``revgraph_step_latency_*`` to ``revgraph_open_exceptions``) come
from the store (:class:`store.flow_metrics.FlowMetricsRepository`): a scrape of
``/metrics`` re-reads them first (:meth:`Metrics.refresh_flows`, called by
:class:`MetricsMiddleware`) unless they were read less than
:data:`FLOW_REFRESH_S` ago, so however often Prometheus scrapes, the store sees
at most one bounded read per :data:`FLOW_REFRESH_S`. Latency, activation cycle
and posting success cover the last :data:`FLOW_WINDOW_S`; duplicates prevented
count every idempotency key and webhook event the store still holds (purging
expired keys lowers it, which Prometheus reads as a counter reset); open
exceptions are the current count. A failed read keeps the last values (see
the refreshed timestamp).

The consistency metrics (``revgraph_consistency_*``) are the consistency cache's
numbers, as the ``consistencySummary`` query answers them
(:meth:`store.consistency.ConsistencyStore.summary`: index sizes, no check is
read), read from the consistency store (:meth:`Metrics.refresh_consistency`, also called by
:class:`MetricsMiddleware`, with the store of ``request.state.resources``) at most
once per :data:`CONSISTENCY_REFRESH_S`; a failed read keeps the last values. The
computed timestamp is the oldest computation any count rests on (how stale the
cache may be); absent while the cache is empty.

Label values that clients control are bounded: operation names beyond
:data:`MAX_OPERATION_NAMES` distinct ones count as ``other``, unknown HTTP
methods as ``OTHER``, unrouted paths as ``unmatched``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from graphql import GraphQLError, OperationDefinitionNode, parse
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.consistency.types import CheckStatus, RuleName
from domain.flow_metrics import FlowMetrics
from sources.base import SourceClient
from sources.breaker import BreakerState
from sources.systems import System
from store.consistency import ConsistencyStore, ConsistencySummary
from store.flow_metrics import FlowMetricsRepository

logger = logging.getLogger("revgraph.metrics")

MAX_OPERATION_NAMES = 200
"""Distinct operation-name label values per app; later names count as ``other``."""

_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Documents larger than this are labelled without being cached (the cache holds query texts).
_CACHEABLE_DOCUMENT_CHARS = 64_000
_PARSE_MAX_TOKENS = 5000

FLOW_WINDOW_S = 3600.0
"""Latency, activation cycle and posting success on ``/metrics`` cover this long."""

FLOW_REFRESH_S = 10.0
"""Scrapes within this long of the last read of the flow metrics reuse it."""

CONSISTENCY_REFRESH_S = 10.0
"""Scrapes within this long of the last read of the consistency cache reuse it."""

METRICS_PATH = "/metrics"

SourcesProvider = Callable[[], Iterable[SourceClient]]


class Metrics:
    """The metrics of one app and the registry they are exposed from."""

    def __init__(self, sources: SourcesProvider = tuple) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "revgraph_http_requests",
            "HTTP requests the gateway answered.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "revgraph_http_request_duration_seconds",
            "Time to answer an HTTP request, until the response started.",
            ["route", "method"],
            registry=self.registry,
        )
        self.operations = Counter(
            "revgraph_graphql_operations",
            "GraphQL operations executed, by operation name and outcome.",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.operation_duration = Histogram(
            "revgraph_graphql_operation_duration_seconds",
            "Time to execute a GraphQL operation (parse, validate, resolve).",
            ["operation"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.upstream_duration = Histogram(
            "revgraph_upstream_request_duration_seconds",
            "Time of one request to a system of record (each retry counts).",
            ["system", "outcome"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self._watched: tuple[SourceClient, ...] = ()
        self.registry.register(UpstreamCollector(lambda: (*self._watched, *sources())))
        self.registry.register(ResilienceCollector(lambda: (*self._watched, *sources())))
        self.flows = FlowCollector()
        self.registry.register(self.flows)
        self.flow_window_s = FLOW_WINDOW_S
        self.flow_refresh_s = FLOW_REFRESH_S
        self._flows_read_at: float | None = None
        self._flows_refreshing = False
        self.consistency = ConsistencyCollector()
        self.registry.register(self.consistency)
        self.consistency_refresh_s = CONSISTENCY_REFRESH_S
        self._consistency_read_at: float | None = None
        self._consistency_refreshing = False
        self._names: set[str] = set()
        self._names_lock = threading.Lock()

    def watch(self, clients: Iterable[SourceClient]) -> None:
        """Observe every call of ``clients`` and expose their health (the lifespan's call)."""
        self.unwatch()
        self._watched = tuple(clients)
        for client in self._watched:
            client.observers.append(self.observe_upstream)

    def unwatch(self) -> None:
        for client in self._watched:
            if self.observe_upstream in client.observers:
                client.observers.remove(self.observe_upstream)
        self._watched = ()

    def observe_http(self, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in _HTTP_METHODS else "OTHER"
        self.http_requests.labels(route, method, str(status)).inc()
        self.http_duration.labels(route, method).observe(seconds)

    def observe_operation(self, operation: str, outcome: str, seconds: float) -> None:
        label = self._bounded(operation)
        self.operations.labels(label, outcome).inc()
        self.operation_duration.labels(label).observe(seconds)

    def observe_upstream(self, system: System, outcome: str, seconds: float) -> None:
        """A source client's observer (:attr:`sources.base.SourceClient.observers`)."""
        self.upstream_duration.labels(str(system), outcome).observe(seconds)

    async def refresh_flows(self, engine: AsyncEngine, *, force: bool = False) -> None:
        """Re-read the flow metrics from the store, unless read within ``flow_refresh_s``.

        Called before ``/metrics`` renders. While a read is under way, other
        scrapes serve the previous values; a failed read keeps them (logged).
        """
        now = time.monotonic()
        fresh = self._flows_read_at is not None and now - self._flows_read_at < self.flow_refresh_s
        if self._flows_refreshing or (fresh and not force):
            return
        self._flows_refreshing = True
        try:
            repository = FlowMetricsRepository(engine)
            since = datetime.now(UTC) - timedelta(seconds=self.flow_window_s)
            windowed = await repository.compute(since)
            replays, webhook_duplicates = await repository.duplicates_prevented()
        except Exception:  # the store failing must not fail the scrape
            logger.warning("could not read the flow metrics from the store", exc_info=True)
            return
        finally:
            self._flows_refreshing = False
        self._flows_read_at = now
        self.flows.snapshot = FlowSnapshot(windowed, replays, webhook_duplicates, time.time())

    async def refresh_consistency(self, store: ConsistencyStore, *, force: bool = False) -> None:
        """Re-read the consistency cache's numbers, unless read within
        ``consistency_refresh_s`` (as :meth:`refresh_flows`: concurrent scrapes serve
        the previous values; a failed read keeps them, logged)."""
        now = time.monotonic()
        read_at = self._consistency_read_at
        fresh = read_at is not None and now - read_at < self.consistency_refresh_s
        if self._consistency_refreshing or (fresh and not force):
            return
        self._consistency_refreshing = True
        try:
            summary = await store.summary()
        except Exception:  # the cache failing must not fail the scrape
            logger.warning("could not read the consistency cache", exc_info=True)
            return
        finally:
            self._consistency_refreshing = False
        self._consistency_read_at = now
        self.consistency.snapshot = ConsistencySnapshot(summary, time.time())

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition (Prometheus text, or OpenMetrics if asked) and its content type."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type

    def _bounded(self, name: str) -> str:
        if name in self._names:
            return name
        with self._names_lock:
            if len(self._names) >= MAX_OPERATION_NAMES:
                return "other"
            self._names.add(name)
        return name


class UpstreamCollector:
    """Reads each source client's health counters when Prometheus scrapes."""

    def __init__(self, sources: SourcesProvider) -> None:
        self.sources = sources

    def describe(self) -> Iterator[Metric]:
        # Names only (no samples), so the registry can check for clashes without
        # touching the clients, which may not exist yet at registration.
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        requests, errors, latency, last_ok, last_error = families = self._families()
        for client in self.sources():
            system = str(client.system)
            health = client.health
            requests.add_metric([system], health.requests)
            errors.add_metric([system], health.errors)
            if health.last_latency_ms is not None:
                latency.add_metric([system], health.last_latency_ms / 1000)
            if health.last_ok_at is not None:
                last_ok.add_metric([system], health.last_ok_at)
            if health.last_error_at is not None:
                last_error.add_metric([system], health.last_error_at)
        yield from families

    @staticmethod
    def _families() -> tuple[
        CounterMetricFamily,
        CounterMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
    ]:
        labels = ["system"]
        return (
            CounterMetricFamily(
                "revgraph_upstream_requests",
                "Requests sent to a system of record (each retry counts).",
                labels=labels,
            ),
            CounterMetricFamily(
                "revgraph_upstream_errors",
                "Requests to a system of record that failed (timeout, refused, vendor error).",
                labels=labels,
            ),
            GaugeMetricFamily(
                "revgraph_upstream_last_latency_seconds",
                "Latency of the last request to a system of record.",
                labels=labels,
            ),
            GaugeMetricFamily(
                "revgraph_upstream_last_ok_timestamp_seconds",
                "When a request to a system of record last succeeded (Unix time).",
                labels=labels,
            ),
            GaugeMetricFamily(
                "revgraph_upstream_last_error_timestamp_seconds",
                "When a request to a system of record last failed (Unix time).",
                labels=labels,
            ),
        )


def operation_label(query: str | None, operation_name: str | None) -> str:
    """The name an operation is counted under.

    The requested ``operationName`` if the client sent one, else the name of
    the document's first operation (the one that runs), ``anonymous`` if it
    has none, ``invalid`` if the document does not parse.
    """
    if operation_name:
        return operation_name[:100]
    if not query:
        return "invalid"
    if len(query) <= _CACHEABLE_DOCUMENT_CHARS:
        return _cached_first_operation_name(query)
    return _first_operation_name(query)


def _first_operation_name(query: str) -> str:
    try:
        document = parse(query, no_location=True, max_tokens=_PARSE_MAX_TOKENS)
    except (GraphQLError, RecursionError):
        return "invalid"
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            return definition.name.value if definition.name else "anonymous"
    return "invalid"


# Dashboards send the same few documents over and over; parsing one costs ~1 ms.
_cached_first_operation_name = lru_cache(maxsize=512)(_first_operation_name)


class MetricsMiddleware:
    """Counts and times every HTTP request by route template, method and status.

    An exception escaping the app counts as a 500 (and is re-raised for the
    error middleware outside this one to answer).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        if scope["path"] == METRICS_PATH and scope["method"] == "GET":
            # The flow metrics live in the store: read them (async) before the
            # endpoint renders the registry (sync). The store is the lifespan's.
            resources = scope.get("state", {}).get("resources")
            if resources is not None:
                await self.metrics.refresh_flows(resources.engine)
                consistency = getattr(resources, "consistency_store", None)
                if consistency is not None:
                    await self.metrics.refresh_consistency(consistency)
        responded = False

        async def send_and_observe(message: Message) -> None:
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
                self._observe(scope, message["status"], started)
            await send(message)

        try:
            await self.app(scope, receive, send_and_observe)
        except Exception:
            if not responded:
                self._observe(scope, 500, started)
            raise

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        self.metrics.observe_http(
            route_template(scope), scope["method"], status, time.perf_counter() - started
        )


def route_template(scope: Scope) -> str:
    """The path template of the route serving ``scope``, or ``unmatched``."""
    app = scope.get("app")
    routes: Iterable[BaseRoute] = getattr(getattr(app, "router", None), "routes", ())
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            return str(getattr(route, "path", "unmatched"))
    return "unmatched"


class ResilienceCollector:
    """Each source's circuit breaker and retry budget, read when Prometheus scrapes."""

    def __init__(self, sources: SourcesProvider) -> None:
        self.sources = sources

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        state, opened, fast, denied = families = self._families()
        for client in self.sources():
            system = str(client.system)
            for value in BreakerState:
                state.add_metric([system, str(value)], float(client.breaker.state is value))
            opened.add_metric([system], client.breaker.opened)
            fast.add_metric([system], client.health.fast_failures)
            denied.add_metric([system], client.retry_budget.denied)
        yield from families

    @staticmethod
    def _families() -> tuple[
        GaugeMetricFamily, CounterMetricFamily, CounterMetricFamily, CounterMetricFamily
    ]:
        return (
            GaugeMetricFamily(
                "revgraph_upstream_circuit_state",
                "The circuit breaker's state per system of record (1 for the current one).",
                labels=["system", "state"],
            ),
            CounterMetricFamily(
                "revgraph_upstream_circuit_opened",
                "Times the circuit breaker of a system of record opened.",
                labels=["system"],
            ),
            CounterMetricFamily(
                "revgraph_upstream_fast_failures",
                "Calls refused by an open circuit breaker, with no request sent.",
                labels=["system"],
            ),
            CounterMetricFamily(
                "revgraph_upstream_retries_denied",
                "Retries the retry budget refused (retries are capped at a share of traffic).",
                labels=["system"],
            ),
        )


@dataclass(frozen=True)
class FlowSnapshot:
    """The flow metrics as last read from the store."""

    windowed: FlowMetrics
    """Since :data:`FLOW_WINDOW_S` ago (open exceptions: now)."""
    idempotent_replays: int
    """Every key the store still holds."""
    webhook_duplicates: int
    """Every webhook event the store still holds."""
    read_at: float
    """Unix time."""


class FlowCollector:
    """The flow metrics of the last :meth:`Metrics.refresh_flows` (nothing before one)."""

    def __init__(self) -> None:
        self.snapshot: FlowSnapshot | None = None

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        families = self._families()
        snapshot = self.snapshot
        if snapshot is not None:
            latency, samples, duplicates, cycle, cycle_avg, cycles, posting, open_, read = families
            flows = snapshot.windowed
            for entry in flows.step_latency:
                system = str(entry.system)
                samples.add_metric([system], entry.steps)
                for quantile, ms in (("0.5", entry.p50_ms), ("0.95", entry.p95_ms)):
                    if ms is not None:
                        latency.add_metric([system, quantile], ms / 1000)
            duplicates.add_metric(["idempotent_replay"], snapshot.idempotent_replays)
            duplicates.add_metric(["webhook_duplicate"], snapshot.webhook_duplicates)
            activation = flows.activation_cycle
            cycles.add_metric([], activation.count)
            if activation.p50_s is not None:
                cycle.add_metric(["0.5"], activation.p50_s)
            if activation.avg_s is not None:
                cycle_avg.add_metric([], activation.avg_s)
            rate = flows.postings.success_rate
            if rate is not None:
                posting.add_metric([], rate)
            for queue, count in flows.open_exceptions:
                open_.add_metric([str(queue)], count)
            read.add_metric([], snapshot.read_at)
        yield from families

    @staticmethod
    def _families() -> tuple[
        GaugeMetricFamily,
        GaugeMetricFamily,
        CounterMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
    ]:
        window = f"over the last {FLOW_WINDOW_S:g} s"
        return (
            GaugeMetricFamily(
                "revgraph_step_latency_seconds",
                f"Latency of flow steps that succeeded, per system, {window}.",
                labels=["system", "quantile"],
            ),
            GaugeMetricFamily(
                "revgraph_step_latency_samples",
                f"Flow steps that succeeded with a latency, per system, {window}.",
                labels=["system"],
            ),
            CounterMetricFamily(
                "revgraph_duplicates_prevented",
                "Duplicates prevented: idempotent replays and deduplicated webhook deliveries.",
                labels=["kind"],
            ),
            GaugeMetricFamily(
                "revgraph_activation_cycle_seconds",
                f"Contract approved to revenue schedule created in the ERP, {window}.",
                labels=["quantile"],
            ),
            GaugeMetricFamily(
                "revgraph_activation_cycle_avg_seconds",
                f"Average activation cycle time, {window}.",
            ),
            GaugeMetricFamily(
                "revgraph_activations_measured",
                f"Activations whose cycle time was measured, {window}.",
            ),
            GaugeMetricFamily(
                "revgraph_posting_success_ratio",
                f"POST_INVOICE transactions completed of those finished, {window}.",
            ),
            GaugeMetricFamily(
                "revgraph_open_exceptions",
                "Unresolved exception items per queue.",
                labels=["queue"],
            ),
            GaugeMetricFamily(
                "revgraph_flow_metrics_refreshed_timestamp_seconds",
                "When the flow metrics were last read from the store (Unix time).",
            ),
        )


@dataclass(frozen=True)
class ConsistencySnapshot:
    """The consistency cache's numbers as last read."""

    summary: ConsistencySummary
    read_at: float
    """Unix time."""


class ConsistencyCollector:
    """The consistency metrics of the last :meth:`Metrics.refresh_consistency`
    (nothing before one)."""

    def __init__(self) -> None:
        self.snapshot: ConsistencySnapshot | None = None

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        families = self._families()
        snapshot = self.snapshot
        if snapshot is not None:
            checks, unreconciled, computed, read = families
            summary = snapshot.summary
            for status in CheckStatus:
                checks.add_metric([status.value], summary.by_status.get(status, 0))
            for rule in RuleName:
                unreconciled.add_metric([rule.value], summary.unreconciled_by_rule.get(rule, 0))
            if summary.computed_at is not None:
                computed.add_metric([], summary.computed_at.timestamp())
            read.add_metric([], snapshot.read_at)
        yield from families

    @staticmethod
    def _families() -> tuple[
        GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily
    ]:
        return (
            GaugeMetricFamily(
                "revgraph_consistency_checks",
                "Cached consistency checks per status (one per rule and subject).",
                labels=["status"],
            ),
            GaugeMetricFamily(
                "revgraph_consistency_unreconciled",
                "Cached consistency checks that are not CONSISTENT, per rule.",
                labels=["rule"],
            ),
            GaugeMetricFamily(
                "revgraph_consistency_computed_timestamp_seconds",
                "The oldest computation the cached consistency checks rest on (Unix time).",
            ),
            GaugeMetricFamily(
                "revgraph_consistency_refreshed_timestamp_seconds",
                "When the consistency checks were last read from the cache (Unix time).",
            ),
        )
