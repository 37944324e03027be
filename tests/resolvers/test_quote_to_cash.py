"""The QuoteToCash query end to end: gateway → httpx → simulators over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from strawberry import relay

from api.demo import Stack
from api.graphiql import example

QUOTE_TO_CASH = example("quote_to_cash")


def post(
    stack: Stack, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> dict[str, Any]:
    """``query`` as the stack's anonymous caller, or with the API key ``token``."""
    response = httpx.post(
        stack.graphql_url,
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"} if token else {},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def raw_id(global_id: str) -> str:
    """The id in its own system, from a Relay global id."""
    return relay.GlobalID.from_id(global_id).node_id


def reset_stats(stack: Stack) -> None:
    for url in stack.simulator_urls.values():
        httpx.delete(f"{url}/_sim/stats")


def stats(stack: Stack) -> dict[str, int]:
    return {
        name: httpx.get(f"{url}/_sim/stats").json()["requests"]
        for name, url in stack.simulator_urls.items()
    }


@pytest.fixture
def erp_down(stack: Stack) -> Iterator[None]:
    url = stack.simulator_urls["ERP"]
    httpx.post(f"{url}/_sim/faults", json={"down": True})
    yield
    httpx.delete(f"{url}/_sim/faults")


def contracts_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        c["node"]
        for e in body["data"]["customers"]["edges"]
        for c in (e["node"]["contracts"] or {"edges": []})["edges"]
    ]


def test_quote_to_cash_is_fully_populated(stack: Stack) -> None:
    body = post(stack, QUOTE_TO_CASH)
    assert "errors" not in body, body.get("errors")
    customers = body["data"]["customers"]
    assert len(customers["edges"]) == 50
    assert customers["pageInfo"]["hasNextPage"] is True
    contracts = contracts_of(body)
    live = [c for c in contracts if c["status"] in ("Activated", "Terminated")]
    assert live, "the seed has live contracts"
    drift = stack.manifest["drift"]
    not_posted = {i["invoice_id"] for i in drift["invoices_not_posted"]} | {
        invoice_id
        for c in drift["billing_customer_without_erp"]
        for invoice_id in c["missing_erp_postings"]
    }
    for contract in live:
        assert contract["subscription"] is not None, contract["number"]
        assert contract["stage"] is not None
        assert contract["totalValue"]["amount"].replace(".", "").isdigit()
        for invoice in contract["invoices"]:
            finalized = invoice["status"] in ("open", "paid", "uncollectible")
            if finalized and raw_id(invoice["id"]) not in not_posted:
                assert invoice["erpPosting"] is not None, invoice["id"]
                assert invoice["erpPosting"]["amount"] == invoice["total"]
    drafts = [c for c in contracts if c["status"] == "Draft"]
    assert all(c["stage"] == "DRAFT" and c["subscription"] is None for c in drafts)


def test_quote_to_cash_batches_one_request_per_source_and_hop(stack: Stack) -> None:
    post(stack, QUOTE_TO_CASH)  # warm nothing: loaders are per request
    reset_stats(stack)
    body = post(stack, QUOTE_TO_CASH)
    counts = stats(stack)
    nodes = [e["node"] for e in body["data"]["customers"]["edges"]]
    listed = {n["id"] for n in nodes}
    parents_elsewhere = {n["parent"]["id"] for n in nodes if n["parent"]} - listed
    # CRM: the customers page, plus one batch for parents not on it (listed ones
    # are already known). CONTRACTS: one batch. ERP: schedules + postings.
    # BILLING has no multi-id read: one subscriptions list and one invoices list
    # per billed customer on the page, issued concurrently (asked for as soon as
    # the customers are known, alongside the contract system).
    assert counts["CRM"] == 1 + (1 if parents_elsewhere else 0)
    assert counts["CONTRACTS"] == 1
    assert counts["ERP"] == 2
    billing_ids = {e.canonical_id: e.billing_ids for e in stack.crosswalk.entries}
    billed = sum(len(billing_ids[raw_id(c)]) for c in listed)
    assert counts["BILLING"] == 2 * billed


def test_erp_down_keeps_everything_else(stack: Stack, erp_down: None) -> None:
    body = post(stack, QUOTE_TO_CASH)
    errors = body["errors"]
    assert len(errors) == 1, errors
    assert errors[0]["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    assert errors[0]["extensions"]["system"] == "ERP"
    contracts = contracts_of(body)
    live = [c for c in contracts if c["status"] == "Activated"]
    assert live and all(c["subscription"] is not None for c in live)
    assert all(c["revenueSchedule"] is None for c in contracts)
    invoices = [i for c in live for i in c["invoices"]]
    assert invoices and all(i["erpPosting"] is None for i in invoices)
    assert len(body["data"]["customers"]["edges"]) == 50


def test_page_size_is_enforced_with_a_clear_error(stack: Stack) -> None:
    body = post(stack, "{ customers(first: 500) { edges { node { id } } } }")
    assert body["data"]["customers"] is None
    assert body["errors"][0]["extensions"]["code"] == "PAGE_SIZE_EXCEEDED"


def test_cursor_pagination_walks_all_customers(stack: Stack) -> None:
    seen: list[str] = []
    after = None
    while True:
        body = post(
            stack,
            "query($after: String) { customers(first: 7, after: $after) {"
            " edges { node { id name } } pageInfo { hasNextPage endCursor } } }",
            {"after": after},
        )
        page = body["data"]["customers"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == stack.customers


def test_node_round_trip(stack: Stack) -> None:
    body = post(stack, "{ customers(first: 1) { edges { node { id name } } } }")
    customer = body["data"]["customers"]["edges"][0]["node"]
    again = post(
        stack,
        "query($id: ID!) { node(id: $id) { ... on Customer { id name } } }",
        {"id": customer["id"]},
    )
    assert again["data"]["node"] == customer
    bad = post(stack, '{ node(id: "not-an-id") { id } }')
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
