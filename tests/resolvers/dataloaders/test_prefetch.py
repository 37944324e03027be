"""The look-ahead, tested for what it saves: round trips and which rule sent each batch.

Every request can carry ``"extensions": {"trace": true}`` and get back the
upstream batches it made (system, hop, why) and its dependent round trips. Each
look-ahead rule labels the batches it sends, so removing a rule fails here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.demo import Stack
from resolvers.dataloaders.prefetch import (
    BILLING_WITH_CONTRACTS,
    POSTINGS_FROM_INVOICES,
    SCHEDULES_FROM_CONTRACTS,
)
from tests.resolvers.test_quote_to_cash import QUOTE_TO_CASH


def traced(stack: Stack, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(
        stack.graphql_url,
        json={"query": query, "variables": variables or {}, "extensions": {"trace": True}},
        timeout=60,
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body.get("errors")
    trace: dict[str, Any] = body["extensions"]["trace"]
    return trace


def batches(trace: dict[str, Any]) -> dict[tuple[str, str], list[str]]:
    """Origins of the batches sent, by (system, hop)."""
    found: dict[tuple[str, str], list[str]] = {}
    for call in trace["calls"]:
        found.setdefault((call["system"], call["hop"]), []).append(call["origin"])
    return found


def test_quote_to_cash_takes_three_dependent_round_trips(stack: Stack) -> None:
    trace = traced(stack, QUOTE_TO_CASH)
    sent = batches(trace)
    # CRM customers → contracts ∥ billing (asked alongside) → ERP schedules ∥ postings.
    # Without billing-with-contracts, billing would wait for contracts: 4.
    assert trace["roundTrips"] == 3, trace["calls"]
    assert sent[("BILLING", "subscriptions")] == [BILLING_WITH_CONTRACTS.name]
    assert sent[("BILLING", "invoices")] == [BILLING_WITH_CONTRACTS.name]
    assert sent[("ERP", "revenueSchedules")] == [SCHEDULES_FROM_CONTRACTS.name]
    assert sent[("ERP", "arPostings")] == [POSTINGS_FROM_INVOICES.name]
    # One batch per (system, hop).
    assert all(len(origins) == 1 for origins in sent.values()), sent


def test_aliases_of_one_root_field_each_get_their_look_ahead(stack: Stack) -> None:
    query = """{
      bare: customers(first: 5) { edges { node { id } } }
      full: customers(first: 5) { edges { node {
        contracts(first: 5) { edges { node {
          revenueSchedule { id } invoices { erpPosting { id } } } } }
      } } }
      again: customers(first: 5) { edges { node { name } } }
    }"""
    sent = batches(traced(stack, query))
    assert sent[("ERP", "revenueSchedules")] == [SCHEDULES_FROM_CONTRACTS.name]
    assert sent[("ERP", "arPostings")] == [POSTINGS_FROM_INVOICES.name]
    assert sent[("BILLING", "invoices")] == [BILLING_WITH_CONTRACTS.name]


@pytest.fixture
def latency(stack: Stack) -> Iterator[None]:
    """40 ms on every upstream request, as real systems have: overlaps become visible."""
    for url in stack.simulator_urls.values():
        httpx.post(f"{url}/_sim/faults", json={"latency_ms": 40}).raise_for_status()
    yield
    for url in stack.simulator_urls.values():
        httpx.delete(f"{url}/_sim/faults")


def test_look_ahead_works_below_any_root_field(stack: Stack, latency: None) -> None:
    listed = traced(stack, "{ customers(first: 3) { edges { node { id } } } }")
    assert listed["roundTrips"] == 1
    body = httpx.post(
        stack.graphql_url, json={"query": "{ customers(first: 3) { edges { node { id } } } }"}
    ).json()
    ids = [e["node"]["id"] for e in body["data"]["customers"]["edges"]]
    query = """query($ids: [ID!]!) { nodes(ids: $ids) { ... on Customer {
      contracts(first: 5) { edges { node { stage subscription { id } } } } } } }"""
    trace = traced(stack, query, {"ids": ids})
    sent = batches(trace)
    # accounts → contracts ∥ billing → ERP schedules (for stage).
    assert trace["roundTrips"] == 3
    assert sent[("BILLING", "subscriptions")] == [BILLING_WITH_CONTRACTS.name]
    assert sent[("ERP", "revenueSchedules")] == [SCHEDULES_FROM_CONTRACTS.name]


def test_nothing_is_fetched_ahead_that_the_query_does_not_need(stack: Stack) -> None:
    trace = traced(
        stack,
        "{ customers(first: 10) { edges { node { contracts(first: 5) { edges { node {"
        " number status } } } } } } }",
    )
    systems = Counter(call["system"] for call in trace["calls"])
    assert set(systems) == {"CRM", "CONTRACTS"}
    assert trace["roundTrips"] == 2


def test_node_lookups_share_the_request_loaders(stack: Stack) -> None:
    body = httpx.post(stack.graphql_url, json={"query": QUOTE_TO_CASH}, timeout=60).json()
    invoice = next(
        i
        for e in body["data"]["customers"]["edges"]
        for c in e["node"]["contracts"]["edges"]
        for i in c["node"]["invoices"]
        if i["erpPosting"]
    )
    query = """query($a: ID!, $b: ID!) {
      one: node(id: $a) { id } two: node(id: $a) { id } three: nodes(ids: [$a, $b]) { id } }"""
    trace = traced(stack, query, {"a": invoice["id"], "b": invoice["erpPosting"]["id"]})
    sent = batches(trace)
    # Three lookups of one invoice: one billing read, cached for the request.
    assert sent[("BILLING", "invoicesById")] == ["field"]
    assert sent[("ERP", "arPostingsById")] == ["field"]
