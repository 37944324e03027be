"""Failure isolated to what failed, and visible at every place it left a null."""

from __future__ import annotations

from typing import Any

from api.demo import Stack
from tests.resolvers.test_quote_to_cash import post

QUERY = """query($first: Int = 20) { customers(first: $first) { edges { node { id
  contracts(first: 20) { edges { node {
    number status stage revenueScheduleStatus
    subscription { id }
    revenueSchedule { id }
    invoices { id status postingStatus erpPosting { id } }
  } } }
} } } }"""


def contracts_with_paths(body: dict[str, Any]) -> list[tuple[list[Any], dict[str, Any]]]:
    found = []
    for i, customer in enumerate(body["data"]["customers"]["edges"]):
        for j, edge in enumerate(customer["node"]["contracts"]["edges"]):
            path = ["customers", "edges", i, "node", "contracts", "edges", j, "node"]
            found.append((path, edge["node"]))
    return found


def affected_paths(body: dict[str, Any], system: str) -> set[tuple[Any, ...]]:
    return {
        tuple(path)
        for error in body.get("errors", [])
        if error["extensions"]["system"] == system
        for path in error["extensions"]["paths"]
    }


def test_a_failed_call_for_some_customers_nulls_only_their_billing(
    stack: Stack, fault: Any
) -> None:
    fault("BILLING", error_rate=0.6)
    body = post(stack, QUERY)
    unknown = affected_paths(body, "BILLING")
    assert unknown, "some billing calls failed"
    live = [(p, c) for p, c in contracts_with_paths(body) if c["status"] == "Activated"]
    kept = [c for _, c in live if c["subscription"] and c["invoices"] is not None]
    lost = [(p, c) for p, c in live if c["subscription"] is None or c["invoices"] is None]
    assert kept and lost, "a mix: failures stayed with the customers whose calls failed"
    # A contract whose billing was read keeps its stage, whatever failed elsewhere.
    assert all(c["stage"] is not None for c in kept)
    for path, contract in lost:
        # Every null the failure caused is named as unknown, where it is.
        for name in ("subscription", "invoices"):
            assert contract[name] is not None or (*path, name) in unknown
        assert contract["stage"] is None and (*path, "stage") in unknown
    errors = [e for e in body["errors"] if e["extensions"]["system"] == "BILLING"]
    assert all(e["extensions"]["affected"] == len(e["extensions"]["paths"]) for e in errors)


def test_erp_down_reads_as_unknown_not_as_missing(stack: Stack, fault: Any) -> None:
    fault("ERP", down=True)
    body = post(stack, QUERY, {"first": 2})  # few enough for every path to be listed
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    assert error["extensions"]["system"] == "ERP"
    unknown = affected_paths(body, "ERP")
    contracts = contracts_with_paths(body)
    invoices = 0
    for path, contract in contracts:
        assert contract["revenueScheduleStatus"] == "UNKNOWN"
        assert contract["revenueSchedule"] is None
        assert (*path, "revenueSchedule") in unknown
        for k, invoice in enumerate(contract["invoices"] or []):
            invoices += 1
            assert invoice["postingStatus"] == "UNKNOWN"
            assert invoice["erpPosting"] is None
            assert (*path, "invoices", k, "erpPosting") in unknown
    assert invoices
    assert error["extensions"]["affected"] == len(unknown)


def test_posting_status_tells_posted_from_not_posted(stack: Stack) -> None:
    body = post(stack, QUERY)
    assert "errors" not in body
    statuses = {
        (invoice["erpPosting"] is not None, invoice["postingStatus"])
        for _, contract in contracts_with_paths(body)
        for invoice in contract["invoices"] or []
    }
    assert statuses <= {(True, "POSTED"), (False, "NOT_POSTED")}
    assert (True, "POSTED") in statuses
    scheduled = {c["revenueScheduleStatus"] for _, c in contracts_with_paths(body)}
    assert scheduled <= {"SCHEDULED", "NOT_SCHEDULED"}
