"""A failing or slow system cannot hurt the gateway, nor the gateway the system:
circuit breakers, one deadline per request, and a retry budget — end to end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.demo import GATEWAY, Stack, start_gateway
from api.settings import BillingSettings, Settings
from sources.breaker import NO_BREAKER
from sources.systems import System
from tests.resolvers.test_quote_to_cash import QUOTE_TO_CASH

BILLING_QUERY = (
    "{ customers(first: 10) { edges { node { subscriptions(first: 5) { edges {"
    " node { id } } } } } } }"
)


@pytest.fixture
def gateway(stack: Stack) -> Iterator[Any]:
    """``gateway(**settings)`` starts a gateway of its own on the stack's simulators."""
    started: list[Any] = []

    def start(**update: Any) -> str:
        server = start_gateway(stack.settings.model_copy(update=update))
        started.append(server)
        return str(server.urls[GATEWAY])

    yield start
    for server in started:
        server.stop()


def gql(url: str, query: str) -> dict[str, Any]:
    response = httpx.post(f"{url}/graphql", json={"query": query}, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def billing_requests(stack: Stack) -> int:
    url = stack.simulator_urls["BILLING"]
    count: int = httpx.get(f"{url}/_sim/stats").json()["requests"]
    return count


def reset_stats(stack: Stack) -> None:
    httpx.delete(f"{stack.simulator_urls['BILLING']}/_sim/stats")


def billing(stack: Stack, **options: Any) -> BillingSettings:
    return BillingSettings(
        url=stack.simulator_urls["BILLING"], token=stack.settings.billing.token, **options
    )


def circuit_state(url: str) -> str:
    metrics = httpx.get(f"{url}/metrics").text
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if (
                sample.name == "revgraph_upstream_circuit_state"
                and sample.labels["system"] == "BILLING"
                and sample.value == 1
            ):
                return sample.labels["state"]
    raise AssertionError("no breaker state for BILLING")


def test_breaker_opens_fails_fast_half_opens_and_closes(
    stack: Stack, fault: Any, gateway: Any
) -> None:
    url = gateway(billing=billing(stack, max_retries=0, breaker_failures=3, breaker_open_s=1.0))
    fault("BILLING", down=True)
    first = gql(url, BILLING_QUERY)
    assert {e["extensions"]["system"] for e in first["errors"]} == {"BILLING"}
    assert circuit_state(url) == "OPEN"
    # Open: every call fails at once, and not one request reaches Billing.
    reset_stats(stack)
    fast = gql(url, BILLING_QUERY)
    assert billing_requests(stack) == 0
    (error,) = fast["errors"]
    assert error["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    assert error["extensions"]["vendorCode"] == "CIRCUIT_OPEN"
    assert fast["data"]["customers"]["edges"], "the other systems still answer"
    ready = httpx.get(f"{url}/readyz").json()
    assert ready["checks"]["BILLING"]["breaker"] == "OPEN" and not ready["checks"]["BILLING"]["ok"]
    # Billing is back; after open_s one probe goes through, succeeds, and closes it.
    httpx.delete(f"{stack.simulator_urls['BILLING']}/_sim/faults")
    time.sleep(1.1)
    healed = gql(url, BILLING_QUERY)
    assert circuit_state(url) == "CLOSED"
    again = gql(url, BILLING_QUERY)
    assert "errors" not in again
    assert any(e["node"]["subscriptions"]["edges"] for e in again["data"]["customers"]["edges"])
    assert healed["data"]["customers"]["edges"]


def test_retries_add_at_most_a_fifth_to_a_failing_systems_traffic(
    stack: Stack, fault: Any, gateway: Any
) -> None:
    url = gateway(billing=billing(stack, max_retries=2, breaker_failures=0))
    fault("BILLING", error_rate=1.0)
    reset_stats(stack)
    body = gql(url, QUOTE_TO_CASH)
    calls = billing_requests(stack)
    first_attempts = 2 * len(body["data"]["customers"]["edges"]) + 4  # + ambiguous ones
    # Without a budget each call would be tried 3 times (~300 requests).
    assert calls <= first_attempts * 1.2 + 10
    assert {e["extensions"]["system"] for e in body["errors"]} == {"BILLING"}


def test_a_slow_system_ends_at_the_deadline_with_partial_data(
    stack: Stack, fault: Any, gateway: Any
) -> None:
    # 2 s leave Billing's 120 live list calls room on a loaded 2-core CI machine.
    url = gateway(request_deadline_s=2.0)
    fault("ERP", latency_ms=5000)
    httpx.delete(f"{stack.simulator_urls['ERP']}/_sim/stats")
    body = gql(url, QUOTE_TO_CASH)
    errors = [(e["extensions"]["code"], e["extensions"]["system"]) for e in body["errors"]]
    assert errors == [("SOURCE_TIMEOUT", "ERP")]
    customers = body["data"]["customers"]["edges"]
    contracts = [c["node"] for e in customers for c in e["node"]["contracts"]["edges"]]
    assert contracts and all(c["revenueSchedule"] is None for c in contracts)
    assert any(c["subscription"] for c in contracts), "billing answered in time"
    # No retry was started that could not finish before the deadline.
    erp_calls = httpx.get(f"{stack.simulator_urls['ERP']}/_sim/stats").json()["requests"]
    assert erp_calls <= 2


def test_everything_slow_still_answers_by_the_deadline(
    stack: Stack, fault: Any, gateway: Any
) -> None:
    url = gateway(request_deadline_s=0.5)
    for system in ("CRM", "CONTRACTS", "BILLING", "ERP"):
        fault(system, latency_ms=2000)
    body = gql(url, QUOTE_TO_CASH)
    assert body["data"]["customers"] is None
    assert body["errors"][0]["extensions"]["code"] == "SOURCE_TIMEOUT"


def test_settings_build_the_policies(stack: Stack) -> None:
    tuned = billing(stack, breaker_failures=0, retry_budget=0.1)
    configs = Settings(billing=tuned).source_configs()
    assert configs[System.BILLING].breaker == NO_BREAKER
    assert configs[System.BILLING].retry_budget_ratio == 0.1
    erp = configs[System.ERP].breaker
    assert (erp.consecutive_failures, erp.open_s) == (5, 5.0)
    assert Settings().request_deadline_s == 10.0
