"""The GraphiQL "writes" example, run operation by operation as a new user would."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from api.demo import Stack
from api.graphiql import example
from domain.access import Role


@pytest.fixture
def stack(writes_stack: Stack) -> Stack:
    """This module writes: it gets a stack of its own (see tests/conftest.py)."""
    return writes_stack


def run(
    stack: Stack,
    document: str,
    operation: str,
    variables: dict[str, Any],
    token: str | None = None,
) -> dict[str, Any]:
    response = httpx.post(
        stack.graphql_url,
        json={"query": document, "operationName": operation, "variables": variables},
        headers={"Authorization": f"Bearer {token}"} if token else {},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def test_the_writes_example_onboards_and_takes_a_contract_through_its_life(stack: Stack) -> None:
    # Fresh keys, as the example's comment tells a second user to do.
    document = example("writes").replace("graphiql-", f"t{uuid.uuid4().hex[:8]}-")
    onboard = run(stack, document, "Onboard", {})["createCustomer"]
    assert onboard["transaction"]["status"] == "COMPLETED"
    assert {s["system"] for s in onboard["customer"]["sources"]} == {"CRM", "BILLING", "ERP"}
    created = run(stack, document, "CreateContract", {"customer": onboard["customer"]["id"]})
    contract = created["createContract"]["contract"]
    ids = {"contract": contract["id"], "version": contract["version"]}
    assert run(stack, document, "Submit", ids)["submitContract"]["userErrors"] == []
    # Not by whoever created the contract: the approver's key (as the tab's comment says).
    approver = stack.keys[Role.APPROVER]
    assert run(stack, document, "Approve", ids, approver)["approveContract"]["userErrors"] == []
    activated = run(stack, document, "Activate", ids)["activateContract"]
    assert activated["transaction"]["status"] == "COMPLETED"
    assert activated["transaction"]["currentSystem"] == "ERP"
    assert activated["contract"]["subscription"]["status"] == "active"
    assert activated["contract"]["revenueSchedule"]["contractVersion"] == 1
    amended = run(stack, document, "Amend", ids)["amendContract"]
    assert amended["transaction"]["status"] == "COMPLETED"
    assert amended["contract"]["version"] == 2
    timeline = run(stack, document, "Timeline", {"contract": contract["id"]})["node"]["timeline"]
    kinds = [edge["node"]["kind"] for edge in timeline["edges"]]
    assert kinds == [
        "AMEND_CONTRACT",
        "ACTIVATE_CONTRACT",
        "APPROVE_CONTRACT",
        "SUBMIT_CONTRACT",
        "CREATE_CONTRACT",
    ]
