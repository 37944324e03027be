"""``/metrics``: HTTP, GraphQL and upstream metrics after real traffic, one registry per app."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

import api.metrics
from api.app import create_app
from api.demo import Stack
from api.metrics import Metrics, operation_label
from api.settings import Settings

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(stack: Stack) -> Samples:
    response = httpx.get(f"{stack.gateway_url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def erp_down(stack: Stack) -> Iterator[None]:
    url = stack.simulator_urls["ERP"]
    httpx.post(f"{url}/_sim/faults", json={"down": True}).raise_for_status()
    try:
        yield
    finally:
        httpx.delete(f"{url}/_sim/faults")


PROBE = (
    "query MetricsProbe { customers(first: 2) { edges { node {"
    " id contracts(first: 1) { edges { node { id } } } } } } }"
)


def test_a_query_shows_up_in_http_graphql_and_upstream_metrics(stack: Stack) -> None:
    before = scrape(stack)
    response = httpx.post(stack.graphql_url, json={"query": PROBE}, timeout=30)
    assert response.status_code == 200 and "errors" not in response.json()
    after = scrape(stack)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("revgraph_graphql_operations_total", operation="MetricsProbe", outcome="ok") == 1
    assert (
        value(after, "revgraph_graphql_operation_duration_seconds_count", operation="MetricsProbe")
        >= 1
    )
    http_labels = {"route": "/graphql", "method": "POST"}
    assert grew("revgraph_http_requests_total", status="200", **http_labels) >= 1
    assert grew("revgraph_http_request_duration_seconds_count", **http_labels) >= 1
    for system in ("CRM", "CONTRACTS"):
        assert grew("revgraph_upstream_requests_total", system=system) >= 1, system
        assert value(after, "revgraph_upstream_last_latency_seconds", system=system) > 0
        assert value(after, "revgraph_upstream_last_ok_timestamp_seconds", system=system) > 0
        histogram = "revgraph_upstream_request_duration_seconds"
        assert grew(f"{histogram}_count", system=system, outcome="ok") >= 1, system
        assert grew(f"{histogram}_sum", system=system, outcome="ok") > 0, system


def test_rejected_operations_and_refused_requests_are_counted(stack: Stack) -> None:
    before = scrape(stack)
    httpx.post(stack.graphql_url, json={"query": "{"})
    httpx.post(stack.graphql_url, json={"query": "query A { __typename }", "operationName": "Zz"})
    httpx.put(stack.graphql_url)
    httpx.get(f"{stack.gateway_url}/no/such/path")
    after = scrape(stack)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    operations = "revgraph_graphql_operations_total"
    assert grew(operations, operation="invalid", outcome="rejected") == 1
    assert grew(operations, operation="unknown", outcome="rejected") == 1
    requests = "revgraph_http_requests_total"
    assert grew(requests, route="/graphql", method="PUT", status="405") == 1
    assert grew(requests, route="unmatched", method="GET", status="404") == 1


def test_upstream_failures_are_counted(stack: Stack, erp_down: None) -> None:
    before = scrape(stack)
    assert httpx.get(f"{stack.gateway_url}/readyz", timeout=30).status_code == 503
    after = scrape(stack)
    errors = "revgraph_upstream_errors_total"
    assert value(after, errors, system="ERP") > value(before, errors, system="ERP")
    assert value(after, errors, system="CRM") == value(before, errors, system="CRM")
    assert value(after, "revgraph_upstream_last_error_timestamp_seconds", system="ERP") > 0
    failed = "revgraph_upstream_request_duration_seconds_count"
    assert value(after, failed, system="ERP", outcome="error") > value(
        before, failed, system="ERP", outcome="error"
    )


def test_openmetrics_when_asked(stack: Stack) -> None:
    response = httpx.get(
        f"{stack.gateway_url}/metrics", headers={"accept": "application/openmetrics-text"}
    )
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


def test_each_app_has_its_own_registry() -> None:
    first, second = create_app(Settings()), create_app(Settings())
    one: Metrics = first.state.metrics
    other: Metrics = second.state.metrics
    assert one.registry is not other.registry
    one.observe_operation("OnlyInOne", "ok", 0.01)
    assert (
        one.registry.get_sample_value(
            "revgraph_graphql_operations_total", {"operation": "OnlyInOne", "outcome": "ok"}
        )
        == 1
    )
    assert (
        other.registry.get_sample_value(
            "revgraph_graphql_operations_total", {"operation": "OnlyInOne", "outcome": "ok"}
        )
        is None
    )
    global_names = {m.name for m in REGISTRY.collect()}
    assert not any(name.startswith("revgraph") for name in global_names)


def test_an_app_without_resources_scrapes_without_upstream_samples() -> None:
    metrics: Metrics = create_app(Settings()).state.metrics
    body, _ = metrics.render(None)
    assert b"# TYPE revgraph_upstream_requests_total counter" in body
    assert b"revgraph_upstream_requests_total{" not in body


@pytest.mark.parametrize(
    ("query", "operation_name", "label"),
    [
        ("query A { __typename } query B { __typename }", "B", "B"),
        ("query Named { __typename }", None, "Named"),
        ("fragment F on Query { __typename } query AfterFragment { ...F }", None, "AfterFragment"),
        ("{ __typename }", None, "anonymous"),
        ("{", None, "invalid"),
        (None, None, "invalid"),
        ("fragment F on Query { __typename }", None, "invalid"),
    ],
)
def test_operation_labels(query: str | None, operation_name: str | None, label: str) -> None:
    assert operation_label(query, operation_name) == label


def test_operation_names_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.metrics, "MAX_OPERATION_NAMES", 3)
    metrics = Metrics()
    for name in ("A", "B", "C", "D", "E", "A"):
        metrics.observe_operation(name, "ok", 0.001)

    def count(name: str) -> float | None:
        return metrics.registry.get_sample_value(
            "revgraph_graphql_operations_total", {"operation": name, "outcome": "ok"}
        )

    assert [count(name) for name in ("A", "B", "C", "other")] == [2, 1, 1, 2]
    assert count("D") is None
