"""The consistency view end to end: sweep over seeded simulators, reports, tiles."""

from __future__ import annotations

import time
from typing import Any
from unittest.mock import ANY

import httpx

from api.demo import Stack
from tests.resolvers.test_quote_to_cash import post

CHECKS = """
query Checks($status: CheckStatus, $after: String) {
  consistency(status: $status, first: 100, after: $after) {
    edges { node { ruleName subjectKind subjectId customerId status queue
      values { system attribute value readable } variance { amount currency } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def reconcile(stack: Stack) -> dict[str, Any]:
    started = post(
        stack, "mutation Run { runReconciliation { run { id status } userErrors { code } } }"
    )
    payload = started["data"]["runReconciliation"]
    assert payload["userErrors"] == [], payload
    run_id = payload["run"]["id"]
    deadline = time.monotonic() + 120
    while True:
        body = post(
            stack,
            "query Run($id: Int) "
            "{ reconciliationRun(id: $id) { id status processed total error } }",
            {"id": run_id},
        )
        run: dict[str, Any] = body["data"]["reconciliationRun"]
        if run["status"] != "RUNNING":
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.2)


def unreconciled(stack: Stack) -> set[tuple[str, str, str, str]]:
    found: set[tuple[str, str, str, str]] = set()
    after = None
    while True:
        body = post(stack, CHECKS, {"after": after})
        assert "errors" not in body, body
        page = body["data"]["consistency"]
        for edge in page["edges"]:
            node = edge["node"]
            if node["status"] != "CONSISTENT":
                found.add(
                    (node["ruleName"], node["subjectKind"], node["subjectId"], node["status"])
                )
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def planted(manifest: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    """The manifest's drift as (rule, subject kind, subject id, status): the table in
    domain/consistency/evaluate.py."""
    drift = manifest["drift"]
    expected: set[tuple[str, str, str, str]] = set()
    for item in drift["amendment_not_in_erp"]:
        expected.add(("contract.version", "CONTRACT", item["contract_id"], "DRIFT"))
    for item in drift["invoices_not_posted"]:
        expected.add(("invoice.posting", "INVOICE", item["invoice_id"], "MISSING"))
    for item in drift["renamed_in_crm"]:
        expected.add(("customer.attributes", "CUSTOMER", item["crm_id"], "DRIFT"))
    for item in drift["billing_customer_without_erp"]:
        expected.add(("customer.links", "CUSTOMER", item["crm_id"], "MISSING"))
        for external_id in item["missing_erp_schedules"]:
            contract_id = external_id.split(":")[0]
            expected.add(("contract.activation", "CONTRACT", contract_id, "MISSING"))
        for invoice_id in item["missing_erp_postings"]:
            expected.add(("invoice.posting", "INVOICE", invoice_id, "MISSING"))
    for item in drift["value_variance"]:
        expected.add(("contract.value", "CONTRACT", item["contract_id"], "DRIFT"))
    for item in drift["duplicate_billing_customer"]:
        expected.add(("customer.links", "CUSTOMER", item["crm_id"], "DRIFT"))
    return expected


def test_the_sweep_finds_exactly_the_planted_drift(stack: Stack) -> None:
    run = reconcile(stack)
    assert run["status"] == "COMPLETED" and run["processed"] == stack.customers, run
    assert unreconciled(stack) == planted(stack.manifest)
    summary = post(
        stack,
        """query S { consistencySummary { total unreconciled customers fromCache
          byRule { ruleName count } variance { amount currency } } }""",
    )["data"]["consistencySummary"]
    assert summary["unreconciled"] == len(planted(stack.manifest))
    assert summary["customers"] == stack.customers and summary["fromCache"]
    by_rule = {r["ruleName"]: r["count"] for r in summary["byRule"]}
    expected_by_rule: dict[str, int] = {}
    for rule, *_ in planted(stack.manifest):
        expected_by_rule[rule] = expected_by_rule.get(rule, 0) + 1
    assert {k: v for k, v in by_rule.items() if v} == expected_by_rule


def test_the_graphiql_example_shows_the_tiles_and_the_drifts_side_by_side(stack: Stack) -> None:
    from api.graphiql import example

    document = example("consistency")
    started = httpx.post(
        stack.graphql_url, json={"query": document, "operationName": "Reconcile"}, timeout=30
    ).json()["data"]["runReconciliation"]
    assert started["userErrors"] in ([], [{"code": "RECONCILIATION_RUNNING", "message": ANY}])
    reconcile_done(stack)
    body = httpx.post(
        stack.graphql_url,
        json={"query": document, "operationName": "ConsistencyDashboard"},
        timeout=30,
    ).json()
    assert "errors" not in body, body
    drifts = [e["node"] for e in body["data"]["consistency"]["edges"]]
    expected = {p for p in planted(stack.manifest) if p[3] == "DRIFT"}
    assert {(d["ruleName"], d["subjectKind"], d["subjectId"], "DRIFT") for d in drifts} == expected
    version = next(d for d in drifts if d["ruleName"] == "contract.version")
    assert {v["system"] for v in version["values"]} == {"CONTRACTS", "BILLING", "ERP"}
    value = next(d for d in drifts if d["ruleName"] == "contract.value")
    assert value["variance"]["amount"] != "0.00"
    policy = body["data"]["consistencyPolicy"]
    assert {r["ruleName"] for r in policy["rules"]} == {r[0] for r in planted(stack.manifest)} | {
        "revenue.rollforward"
    }


def reconcile_done(stack: Stack) -> None:
    deadline = time.monotonic() + 120
    while True:
        run = post(stack, "query R { reconciliationRun { status } }")["data"]["reconciliationRun"]
        if run and run["status"] != "RUNNING":
            return
        assert time.monotonic() < deadline
        time.sleep(0.2)
