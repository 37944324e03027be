"""Mutations end to end: gateway → flows → simulators over real sockets."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from api.demo import Stack
from domain.access import Role
from simulators.registry import SIMULATORS
from tests.resolvers.test_quote_to_cash import post, raw_id, reset_stats

TX_FIELDS = """
  correlationId replayed
  userErrors { field code message }
  transaction {
    kind status currentSystem
    steps { system action status attempts createdId errorCode errorMessage }
  }
"""

CREATE_CUSTOMER = f"""
mutation Create($input: CreateCustomerInput!, $key: String) {{
  createCustomer(input: $input, idempotencyKey: $key) {{
    {TX_FIELDS}
    customer {{ id name currency sources {{ system id }} }}
  }}
}}"""


@pytest.fixture
def stack(writes_stack: Stack) -> Stack:
    """This module writes: it gets a stack of its own (see tests/conftest.py)."""
    return writes_stack


def key() -> str:
    return f"k-{uuid.uuid4()}"


def create_customer(
    stack: Stack, name: str, *, partial: bool = False, **extra: Any
) -> dict[str, Any]:
    """Onboard a customer; ``partial``: a system is down, so reading it back may report it."""
    body = post(
        stack,
        CREATE_CUSTOMER,
        {"input": {"name": name, "currency": "USD", **extra}, "key": key()},
    )
    assert partial or "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createCustomer"]
    return payload


def test_create_customer_reaches_every_system(stack: Stack) -> None:
    payload = create_customer(stack, "Onboarded Ltd")
    assert payload["userErrors"] == []
    tx = payload["transaction"]
    assert tx["status"] == "COMPLETED", str(tx["steps"])
    assert [(s["system"], s["status"]) for s in tx["steps"]] == [
        ("CRM", "SUCCEEDED"),
        ("BILLING", "SUCCEEDED"),
        ("ERP", "SUCCEEDED"),
    ]
    customer = payload["customer"]
    assert customer["name"] == "Onboarded Ltd"
    systems = {s["system"]: s["id"] for s in customer["sources"]}
    assert systems["CRM"] == raw_id(customer["id"])
    assert systems["BILLING"] == tx["steps"][1]["createdId"]
    assert systems["ERP"] == tx["steps"][2]["createdId"]


CONTRACT_FIELDS = "contract { id status version totalValue { amount currency } }"

CREATE_CONTRACT = f"""
mutation CreateContract($input: CreateContractInput!, $key: String) {{
  createContract(input: $input, idempotencyKey: $key) {{ {TX_FIELDS} {CONTRACT_FIELDS} }}
}}"""


def lifecycle(name: str) -> str:
    return f"""
mutation {name.title()}($id: ID!, $version: Int!, $key: String) {{
  {name}Contract(id: $id, version: $version, idempotencyKey: $key) {{
    {TX_FIELDS} {CONTRACT_FIELDS}
  }}
}}"""


AMEND = f"""
mutation Amend($input: AmendContractInput!, $key: String) {{
  amendContract(input: $input, idempotencyKey: $key) {{ {TX_FIELDS} {CONTRACT_FIELDS} }}
}}"""


def amend_input(contract_id: str, version: int, quantity: int = 3) -> dict[str, Any]:
    return {
        "id": contract_id,
        "version": version,
        "effectiveDate": "2026-07-01",
        "reason": "Upsell",
        "lines": [
            {
                "productId": "PRD-A",
                "productName": "Platform",
                "quantity": quantity,
                "unitPrice": "100.00",
            }
        ],
    }


def contract_input(customer_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "customerId": customer_id,
        "startDate": "2026-01-01",
        "termMonths": 12,
        "currency": "USD",
        "lines": [
            {"productId": "PRD-A", "productName": "Platform", "quantity": 2, "unitPrice": "100.00"}
        ],
        **extra,
    }


def create_contract(stack: Stack, customer_id: str, k: str | None = None) -> dict[str, Any]:
    body = post(stack, CREATE_CONTRACT, {"input": contract_input(customer_id), "key": k or key()})
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createContract"]
    return payload


def move(stack: Stack, action: str, contract_id: str, version: int, k: str | None = None) -> Any:
    """``action`` on the contract; approvals by the approver, who did not create it."""
    approver = stack.keys[Role.APPROVER] if action == "approve" else None
    body = post(
        stack,
        lifecycle(action),
        {"id": contract_id, "version": version, "key": k or key()},
        token=approver,
    )
    assert "errors" not in body, body
    return body["data"][f"{action}Contract"]


def test_contract_create_submit_approve(stack: Stack) -> None:
    customer = create_customer(stack, "Contracting Co")["customer"]
    created = create_contract(stack, customer["id"])
    assert created["userErrors"] == [], str(created["userErrors"])
    assert created["transaction"]["status"] == "COMPLETED"
    contract = created["contract"]
    assert contract["status"] == "Draft"
    assert contract["totalValue"] == {"amount": "2400.00", "currency": "USD"}
    submitted = move(stack, "submit", contract["id"], 1)
    assert submitted["userErrors"] == []
    assert submitted["contract"]["status"] == "InApproval"
    approved = move(stack, "approve", contract["id"], 1)
    assert approved["contract"]["status"] == "Activated"


def writes(stack: Stack) -> dict[str, int]:
    """Non-GET requests each simulator served since the last reset."""
    counts = {}
    for name, url in stack.simulator_urls.items():
        by_route = httpx.get(f"{url}/_sim/stats").json()["by_route"]
        counts[name] = sum(n for route, n in by_route.items() if not route.startswith("GET "))
    return counts


def draft(stack: Stack) -> str:
    customer = create_customer(stack, f"Draft Holder {uuid.uuid4().hex[:6]}")["customer"]
    contract_id: str = create_contract(stack, customer["id"])["contract"]["id"]
    return contract_id


def test_illegal_transitions_change_nothing_anywhere(stack: Stack) -> None:
    contract_id = draft(stack)
    reset_stats(stack)
    for action in ("approve", "activate", "suspend", "resume", "terminate"):
        query = lifecycle(action)
        variables: dict[str, Any] = {"id": contract_id, "version": 1, "key": key()}
        if action == "terminate":
            query = query.replace("$version: Int!,", "$version: Int!, $on: Date!,").replace(
                "version: $version,", "version: $version, effectiveDate: $on,"
            )
            variables["on"] = "2026-06-30"
        approver = stack.keys[Role.APPROVER] if action == "approve" else None
        body = post(stack, query, variables, token=approver)
        payload = body["data"][f"{action}Contract"]
        assert [e["code"] for e in payload["userErrors"]] == ["ILLEGAL_TRANSITION"], payload
        assert payload["transaction"] is None and payload["correlationId"] is None
    amend = post(
        stack,
        AMEND,
        {"input": amend_input(contract_id, 1), "key": key()},
    )["data"]["amendContract"]
    assert [e["code"] for e in amend["userErrors"]] == ["ILLEGAL_TRANSITION"]
    assert (
        "Draft" in amend["userErrors"][0]["message"] or "DRAFT" in amend["userErrors"][0]["message"]
    )
    assert sum(writes(stack).values()) == 0


def test_stale_version_is_a_conflict(stack: Stack) -> None:
    contract_id = draft(stack)
    reset_stats(stack)
    payload = move(stack, "submit", contract_id, 3)
    assert payload["userErrors"] == [
        {
            "field": "version",
            "code": "VERSION_CONFLICT",
            "message": "The contract is at version 1, not 3: read it again and retry",
        }
    ]
    assert sum(writes(stack).values()) == 0


def test_same_key_replays_and_other_input_is_refused(stack: Stack) -> None:
    contract_id = draft(stack)
    k = key()
    first = move(stack, "submit", contract_id, 1, k)
    assert first["transaction"]["status"] == "COMPLETED" and not first["replayed"]
    reset_stats(stack)
    again = move(stack, "submit", contract_id, 1, k)
    assert again["replayed"] and again["correlationId"] == first["correlationId"]
    assert again["userErrors"] == []
    assert sum(writes(stack).values()) == 0
    other = move(stack, "submit", contract_id, 2, k)
    assert [e["code"] for e in other["userErrors"]] == ["IDEMPOTENCY_KEY_REUSED"]


def test_key_from_the_header(stack: Stack) -> None:
    contract_id = draft(stack)
    k = key()
    query = lifecycle("submit")
    variables = {"id": contract_id, "version": 1}
    bodies = [
        httpx.post(
            stack.graphql_url,
            json={"query": query, "variables": variables},
            headers={"Idempotency-Key": k},
            timeout=30,
        ).json()["data"]["submitContract"]
        for _ in range(2)
    ]
    assert [b["replayed"] for b in bodies] == [False, True]
    assert bodies[0]["correlationId"] == bodies[1]["correlationId"]


def test_a_field_another_system_owns_is_refused(stack: Stack) -> None:
    customer = create_customer(stack, "Owned Fields Inc")["customer"]
    reset_stats(stack)
    body = post(
        stack,
        """mutation Update($input: UpdateCustomerInput!) {
          updateCustomer(input: $input) { userErrors { field code message } transaction { status } }
        }""",
        {"input": {"id": customer["id"], "name": "Renamed", "arBalance": "10.00"}},
    )
    payload = body["data"]["updateCustomer"]
    assert payload["userErrors"] == [
        {
            "field": "arBalance",
            "code": "OWNED_BY_OTHER_SYSTEM",
            "message": "arBalance is owned by ERP: change it there",
        }
    ]
    assert payload["transaction"] is None
    assert sum(writes(stack).values()) == 0


def test_update_customer_follows_in_billing_and_erp(stack: Stack) -> None:
    customer = create_customer(stack, "Before Rename")["customer"]
    body = post(
        stack,
        """mutation Update($input: UpdateCustomerInput!) {
          updateCustomer(input: $input) {
            userErrors { code } transaction { status steps { system status } }
            customer { name }
          }
        }""",
        {"input": {"id": customer["id"], "name": "After Rename"}},
    )
    payload = body["data"]["updateCustomer"]
    assert payload["transaction"]["status"] == "COMPLETED"
    assert [s["system"] for s in payload["transaction"]["steps"]] == ["CRM", "BILLING", "ERP"]
    assert payload["customer"]["name"] == "After Rename"
    systems = {s["system"]: s["id"] for s in customer["sources"]}
    billing = httpx.get(
        f"{stack.simulator_urls['BILLING']}/v1/customers/{systems['BILLING']}",
        headers={"Authorization": f"Bearer {SIMULATORS['BILLING'].token}"},
    ).json()
    assert billing["name"] == "After Rename"
    erp = httpx.get(
        f"{stack.simulator_urls['ERP']}/services/rest/record/v1/customer/{systems['ERP']}",
        headers={"Authorization": f"Bearer {SIMULATORS['ERP'].token}"},
    ).json()
    assert erp["companyName"] == "After Rename"


def approved(stack: Stack, name: str | None = None) -> tuple[str, dict[str, Any]]:
    """A new customer (in every system) with an approved contract; (contract id, customer)."""
    customer = create_customer(stack, name or f"Customer {uuid.uuid4().hex[:6]}")["customer"]
    contract_id: str = create_contract(stack, customer["id"])["contract"]["id"]
    assert move(stack, "submit", contract_id, 1)["userErrors"] == []
    assert move(stack, "approve", contract_id, 1)["userErrors"] == []
    return contract_id, customer


def billing_get(stack: Stack, path: str, **params: Any) -> Any:
    return httpx.get(
        f"{stack.simulator_urls['BILLING']}/v1/{path}",
        params=params,
        headers={"Authorization": f"Bearer {SIMULATORS['BILLING'].token}"},
    ).json()


def subscriptions_for(stack: Stack, contract_id: str, customer: dict[str, Any]) -> list[Any]:
    billing_id = {s["system"]: s["id"] for s in customer["sources"]}["BILLING"]
    subs = billing_get(stack, "subscriptions", customer=billing_id, status="all")["data"]
    return [s for s in subs if s["metadata"].get("contract_id") == raw_id(contract_id)]


def erp_rows(stack: Stack, q: str) -> list[dict[str, Any]]:
    response = httpx.post(
        f"{stack.simulator_urls['ERP']}/services/rest/query/v1/suiteql",
        json={"q": q},
        headers={
            "Authorization": f"Bearer {SIMULATORS['ERP'].token}",
            "Prefer": "transient",
        },
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def schedules_for(stack: Stack, contract_id: str) -> list[dict[str, Any]]:
    return erp_rows(
        stack,
        "SELECT id, custrecord_rg_contract_version, custrecord_rg_total "
        f"FROM customrecord_rg_revsched WHERE custrecord_rg_contract = '{raw_id(contract_id)}'",
    )


def test_activate_then_amend_reaches_billing_and_erp(stack: Stack) -> None:
    contract_id, customer = approved(stack)
    activated = move(stack, "activate", contract_id, 1)
    assert activated["userErrors"] == []
    tx = activated["transaction"]
    assert tx["status"] == "COMPLETED", str(tx["steps"])
    assert [(s["system"], s["action"]) for s in tx["steps"]] == [
        ("BILLING", "CREATE_SUBSCRIPTION"),
        ("ERP", "CREATE_REVENUE_SCHEDULE"),
    ]
    assert tx["currentSystem"] == "ERP"
    found = subscriptions_for(stack, contract_id, customer)
    (sub,) = found
    assert sub["id"] == tx["steps"][0]["createdId"]
    assert sub["metadata"]["contract_version"] == "1"
    (schedule,) = schedules_for(stack, contract_id)
    assert int(schedule["custrecord_rg_contract_version"]) == 1
    assert float(schedule["custrecord_rg_total"]) == 2400.0

    amended = post(stack, AMEND, {"input": amend_input(contract_id, 1, quantity=3), "key": key()})
    payload = amended["data"]["amendContract"]
    assert payload["userErrors"] == [], payload["userErrors"]
    assert payload["transaction"]["status"] == "COMPLETED", str(payload["transaction"]["steps"])
    assert payload["contract"]["version"] == 2
    (sub,) = subscriptions_for(stack, contract_id, customer)
    assert sub["metadata"]["contract_version"] == "2"
    assert [i["quantity"] for i in sub["items"]["data"]] == [3]
    versions = {int(s["custrecord_rg_contract_version"]) for s in schedules_for(stack, contract_id)}
    assert versions == {2}


def test_duplicate_activation_keys_make_one_subscription(stack: Stack) -> None:
    contract_id, customer = approved(stack)
    k = key()
    first = move(stack, "activate", contract_id, 1, k)
    second = move(stack, "activate", contract_id, 1, k)
    assert second["replayed"] and second["correlationId"] == first["correlationId"]
    assert len(subscriptions_for(stack, contract_id, customer)) == 1
    assert len(schedules_for(stack, contract_id)) == 1


EXCEPTIONS = """
query Open($queue: ExceptionQueue) {
  exceptions(queue: $queue, status: OPEN, first: 50) {
    edges { node { id queue status correlationId system action errorCode } }
  }
}"""

RETRY = f"""
mutation Retry($id: ID!) {{
  retryException(id: $id) {{ {TX_FIELDS} exceptionItem {{ status }} }}
}}"""


def open_items(stack: Stack, correlation_id: str) -> list[dict[str, Any]]:
    body = post(stack, EXCEPTIONS)
    assert "errors" not in body, body
    return [
        e["node"]
        for e in body["data"]["exceptions"]["edges"]
        if e["node"]["correlationId"] == correlation_id
    ]


def test_amendment_with_the_erp_down_waits_in_finance_ops_then_retries(
    stack: Stack, fault: Any
) -> None:
    contract_id, customer = approved(stack)
    assert move(stack, "activate", contract_id, 1)["transaction"]["status"] == "COMPLETED"
    fault("ERP", down=True)
    payload = post(stack, AMEND, {"input": amend_input(contract_id, 1, 5), "key": key()})["data"][
        "amendContract"
    ]
    tx = payload["transaction"]
    assert tx["status"] == "NEEDS_ATTENTION"
    assert [(s["system"], s["status"]) for s in tx["steps"]] == [
        ("CONTRACTS", "SUCCEEDED"),
        ("BILLING", "SUCCEEDED"),
        ("ERP", "FAILED"),
    ]
    assert tx["currentSystem"] == "BILLING"
    (item,) = open_items(stack, payload["correlationId"])
    assert item["queue"] == "FINANCE_OPS" and item["system"] == "ERP"
    assert item["action"] == "REVISE_REVENUE_SCHEDULE"
    # Billing has version 2, the ERP still version 1: exactly what finance must see.
    (sub,) = subscriptions_for(stack, contract_id, customer)
    assert sub["metadata"]["contract_version"] == "2"
    assert {
        int(s["custrecord_rg_contract_version"])
        for s in schedules_for_when_up(stack, fault, contract_id)
    } == {1}

    fault("ERP", down=True)
    still = post(stack, RETRY, {"id": item["id"]})["data"]["retryException"]
    assert still["transaction"]["status"] == "NEEDS_ATTENTION"
    httpx.delete(f"{stack.simulator_urls['ERP']}/_sim/faults")
    retried = post(stack, RETRY, {"id": item["id"]})["data"]["retryException"]
    assert retried["transaction"]["status"] == "COMPLETED", str(retried["transaction"]["steps"])
    assert retried["exceptionItem"]["status"] == "RESOLVED"
    steps = retried["transaction"]["steps"]
    assert [s["attempts"] for s in steps[:2]] == [1, 1]  # billing was not called again
    assert len(subscriptions_for(stack, contract_id, customer)) == 1
    assert {
        int(s["custrecord_rg_contract_version"]) for s in schedules_for(stack, contract_id)
    } == {2}
    assert open_items(stack, payload["correlationId"]) == []


def versions_in_erp(schedules: list[dict[str, Any]]) -> set[int]:
    return {int(s["custrecord_rg_contract_version"]) for s in schedules}


def schedules_for_when_up(stack: Stack, fault: Any, contract_id: str) -> list[dict[str, Any]]:
    httpx.delete(f"{stack.simulator_urls['ERP']}/_sim/faults")
    return schedules_for(stack, contract_id)


def active(stack: Stack) -> tuple[str, dict[str, Any]]:
    contract_id, customer = approved(stack)
    assert move(stack, "activate", contract_id, 1)["transaction"]["status"] == "COMPLETED"
    return contract_id, customer


TERMINATE = f"""
mutation Terminate($id: ID!, $version: Int!, $on: Date!, $key: String) {{
  terminateContract(id: $id, version: $version, effectiveDate: $on, idempotencyKey: $key) {{
    {TX_FIELDS} {CONTRACT_FIELDS}
  }}
}}"""


def test_suspend_resume_terminate(stack: Stack) -> None:
    contract_id, customer = active(stack)
    suspended = move(stack, "suspend", contract_id, 1)
    assert suspended["transaction"]["status"] == "COMPLETED"
    (sub,) = subscriptions_for(stack, contract_id, customer)
    assert sub["status"] == "paused" and sub["pause_collection"]["behavior"] == "void"
    assert [e["code"] for e in move(stack, "suspend", contract_id, 1)["userErrors"]] == [
        "ILLEGAL_TRANSITION"
    ]
    resumed = move(stack, "resume", contract_id, 1)
    assert resumed["transaction"]["status"] == "COMPLETED"
    (sub,) = subscriptions_for(stack, contract_id, customer)
    assert sub["status"] == "active" and sub["pause_collection"] is None
    body = post(
        stack, TERMINATE, {"id": contract_id, "version": 1, "on": "2026-06-30", "key": key()}
    )
    terminated = body["data"]["terminateContract"]
    assert terminated["transaction"]["status"] == "COMPLETED", str(terminated["transaction"])
    assert terminated["contract"]["status"] == "Terminated"
    (sub,) = subscriptions_for(stack, contract_id, customer)
    assert sub["status"] == "canceled"
    lines = erp_rows(
        stack,
        "SELECT l.custrecord_rg_period AS period FROM customrecord_rg_revsched_line l "
        "JOIN customrecord_rg_revsched s ON l.custrecord_rg_schedule = s.id "
        f"WHERE s.custrecord_rg_contract = '{raw_id(contract_id)}' ORDER BY l.custrecord_rg_period",
    )
    assert [row["period"] for row in lines][-1] == "2026-06"
    again = move(stack, "activate", contract_id, 1)
    assert [e["code"] for e in again["userErrors"]] == ["ILLEGAL_TRANSITION"]


def test_renew_makes_a_draft_for_the_next_term(stack: Stack) -> None:
    contract_id, _ = active(stack)
    body = post(
        stack,
        f"""mutation Renew($id: ID!, $key: String) {{
          renewContract(id: $id, version: 1, termMonths: 24, idempotencyKey: $key) {{
            {TX_FIELDS} renewal {{ id status startDate termMonths totalValue {{ amount }} }}
          }}
        }}""",
        {"id": contract_id, "key": key()},
    )
    payload = body["data"]["renewContract"]
    assert payload["transaction"]["status"] == "COMPLETED", payload
    renewal = payload["renewal"]
    assert renewal["status"] == "Draft"
    assert renewal["startDate"] == "2027-01-01" and renewal["termMonths"] == 24
    assert renewal["totalValue"]["amount"] == "4800.00"


def test_create_customer_with_billing_down_parks_then_completes_once(
    stack: Stack, fault: Any
) -> None:
    fault("BILLING", down=True)
    payload = create_customer(stack, "Patient Customer", partial=True)
    tx = payload["transaction"]
    assert tx["status"] == "NEEDS_ATTENTION"
    assert [(s["system"], s["status"]) for s in tx["steps"]] == [
        ("CRM", "SUCCEEDED"),
        ("BILLING", "FAILED"),
        ("ERP", "PENDING"),  # planned: the transaction says the ERP has nothing yet
    ]
    (item,) = open_items(stack, payload["correlationId"])
    assert item["queue"] == "PLATFORM" and item["errorCode"] == "UNAVAILABLE"
    httpx.delete(f"{stack.simulator_urls['BILLING']}/_sim/faults")
    retried = post(stack, RETRY, {"id": item["id"]})["data"]["retryException"]
    assert retried["transaction"]["status"] == "COMPLETED"
    account_id = tx["steps"][0]["createdId"]
    found = billing_get(
        stack, "customers/search", query=f"metadata['crm_account_id']:'{account_id}'"
    )["data"]
    assert len(found) == 1
    assert len(erp_rows(stack, f"SELECT id FROM customer WHERE externalid = '{account_id}'")) == 1


def test_create_contract_with_the_contract_system_down_changes_nothing_until_retried(
    stack: Stack, fault: Any
) -> None:
    customer = create_customer(stack, "Waiting For Contracts")["customer"]
    fault("CONTRACTS", down=True)
    payload = create_contract(stack, customer["id"])
    assert payload["transaction"]["status"] == "NEEDS_ATTENTION"
    assert payload["contract"] is None
    (item,) = open_items(stack, payload["correlationId"])
    assert item["queue"] == "PLATFORM" and item["system"] == "CONTRACTS"
    httpx.delete(f"{stack.simulator_urls['CONTRACTS']}/_sim/faults")
    retried = post(stack, RETRY, {"id": item["id"]})["data"]["retryException"]
    assert retried["transaction"]["status"] == "COMPLETED"
    created = retried["transaction"]["steps"][0]["createdId"]
    contracts = contract_rows(stack, raw_id(customer["id"]))
    assert [c["Id"] for c in contracts] == [created]


def contract_rows(stack: Stack, account_id: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{stack.simulator_urls['CONTRACTS']}/services/data/v60.0/query",
        params={"q": f"SELECT Id FROM Contract WHERE AccountId = '{account_id}'"},
        headers={"Authorization": f"Bearer {SIMULATORS['CONTRACTS'].token}"},
    )
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records


def billing_post(stack: Stack, path: str, data: dict[str, Any]) -> Any:
    response = httpx.post(
        f"{stack.simulator_urls['BILLING']}/v1/{path}",
        data=data,
        headers={"Authorization": f"Bearer {SIMULATORS['BILLING'].token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def finalized_invoice(stack: Stack) -> tuple[str, dict[str, Any]]:
    """A finalized billing invoice for a new active contract; (invoice id, invoice)."""
    contract_id, customer = active(stack)
    (sub,) = subscriptions_for(stack, contract_id, customer)
    draft_invoice = billing_post(
        stack, "invoices", {"customer": sub["customer"], "subscription": sub["id"]}
    )
    invoice = billing_post(stack, f"invoices/{draft_invoice['id']}/finalize", {})
    return invoice["id"], invoice


POST_INVOICE = f"""
mutation Post($id: ID!, $key: String) {{
  postInvoice(invoiceId: $id, idempotencyKey: $key) {{ {TX_FIELDS} invoice {{ id status }} }}
}}"""


def postings_for(stack: Stack, invoice_id: str) -> list[dict[str, Any]]:
    return erp_rows(
        stack,
        f"SELECT id, foreigntotal AS total FROM transaction WHERE type = 'CustInvc' "
        f"AND externalid = '{invoice_id}'",
    )


def test_post_invoice_posts_once_whoever_asks(stack: Stack) -> None:
    invoice_id, invoice = finalized_invoice(stack)
    first = post(stack, POST_INVOICE, {"id": invoice_id, "key": key()})["data"]["postInvoice"]
    assert first["transaction"]["status"] == "COMPLETED", str(first["transaction"])
    assert first["correlationId"] == f"post:{invoice_id}"
    second = post(stack, POST_INVOICE, {"id": invoice_id, "key": key()})["data"]["postInvoice"]
    assert second["correlationId"] == first["correlationId"]
    (posting,) = postings_for(stack, invoice_id)
    assert Decimal(str(posting["total"])) * 100 == invoice["total"]


def test_posting_a_draft_is_refused_by_billing_and_changes_nothing(stack: Stack) -> None:
    contract_id, customer = active(stack)
    (sub,) = subscriptions_for(stack, contract_id, customer)
    draft_invoice = billing_post(
        stack, "invoices", {"customer": sub["customer"], "subscription": sub["id"]}
    )
    payload = post(stack, POST_INVOICE, {"id": draft_invoice["id"], "key": key()})["data"][
        "postInvoice"
    ]
    assert payload["transaction"]["status"] == "FAILED"
    assert [e["code"] for e in payload["userErrors"]] == ["CONFLICT"]
    assert postings_for(stack, draft_invoice["id"]) == []


def test_recognize_revenue_books_the_period(stack: Stack) -> None:
    contract_id, _ = active(stack)
    body = post(
        stack,
        f"""mutation Recognize($key: String) {{
          recognizeRevenue(period: "2026-03", idempotencyKey: $key) {{ {TX_FIELDS} period }}
        }}""",
        {"key": key()},
    )
    payload = body["data"]["recognizeRevenue"]
    assert payload["transaction"]["status"] == "COMPLETED", str(payload["transaction"])
    lines = erp_rows(
        stack,
        "SELECT l.custrecord_rg_recognized AS recognized FROM customrecord_rg_revsched_line l "
        "JOIN customrecord_rg_revsched s ON l.custrecord_rg_schedule = s.id "
        f"WHERE s.custrecord_rg_contract = '{raw_id(contract_id)}' "
        "AND l.custrecord_rg_period = '2026-03'",
    )
    assert [row["recognized"] for row in lines] == ["T"]
    bad = post(
        stack, 'mutation { recognizeRevenue(period: "March") { userErrors { code field } } }'
    )
    assert bad["data"]["recognizeRevenue"]["userErrors"] == [
        {"code": "BAD_INPUT", "field": "period"}
    ]


def test_duplicated_and_reordered_webhooks_post_an_invoice_once(stack: Stack) -> None:
    """billing's invoice events start the posting; hostile delivery still posts once."""
    sim = stack.simulator_urls["BILLING"]
    httpx.post(f"{sim}/_sim/webhooks", json={"duplicate": True, "out_of_order": True})
    try:
        invoice_id, invoice = finalized_invoice(stack)
        # With out_of_order on, each event is held until the next: pay it to release
        # the finalized event (sent after the paid one, and twice).
        billing_post(stack, f"invoices/{invoice_id}/pay", {})
        billing_post(stack, "customers", {"name": "release the held event"})
    finally:
        httpx.post(f"{sim}/_sim/webhooks", json={"duplicate": False, "out_of_order": False})

    def posted() -> dict[str, Any] | None:
        body = post(
            stack,
            "query Tx($id: String!) { transaction(correlationId: $id) { status kind } }",
            {"id": f"post:{invoice_id}"},
        )
        tx: dict[str, Any] | None = body["data"]["transaction"]
        return tx if tx and tx["status"] == "COMPLETED" else None

    deadline = time.monotonic() + 20
    while not posted():
        assert time.monotonic() < deadline, "the webhook never posted the invoice"
        time.sleep(0.1)
    (posting,) = postings_for(stack, invoice_id)
    assert Decimal(str(posting["total"])) * 100 == invoice["total"]
    txs = post(
        stack,
        "query Txs($subject: String) { transactions(kind: POST_INVOICE, subject: $subject, "
        "first: 10) { edges { node { correlationId } } } }",
        {"subject": invoice_id},
    )["data"]["transactions"]["edges"]
    assert [e["node"]["correlationId"] for e in txs] == [f"post:{invoice_id}"]


def test_resolve_by_hand_and_replay_rules(stack: Stack, fault: Any) -> None:
    contract_id, _ = active(stack)
    # A check that cannot ask billing refuses with a typed error and changes nothing.
    fault("BILLING", down=True)
    reset_stats(stack)
    unasked = post(stack, lifecycle("suspend"), {"id": contract_id, "version": 1, "key": key()})
    assert unasked["data"] is None
    assert unasked["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    assert unasked["errors"][0]["extensions"]["system"] == "BILLING"
    assert sum(writes(stack).values()) == 0
    httpx.delete(f"{stack.simulator_urls['BILLING']}/_sim/faults")
    fault("ERP", down=True)
    variables = {"id": contract_id, "version": 1, "on": "2026-06-30", "key": key()}
    terminated = post(stack, TERMINATE, variables)["data"]["terminateContract"]
    cid = terminated["correlationId"]
    assert terminated["transaction"]["status"] == "NEEDS_ATTENTION"
    httpx.delete(f"{stack.simulator_urls['ERP']}/_sim/faults")
    again = move(stack, "suspend", contract_id, 1)
    assert [e["code"] for e in again["userErrors"]] == ["FLOW_IN_PROGRESS"]
    (item,) = open_items(stack, cid)
    assert item["queue"] == "FINANCE_OPS"
    resolve = """mutation Resolve($id: ID!, $note: String!) {
      resolveException(id: $id, note: $note) {
        userErrors { code field } transaction { status } exceptionItem { status resolutionNote }
      }
    }"""
    empty = post(stack, resolve, {"id": item["id"], "note": " "})["data"]["resolveException"]
    assert empty["userErrors"] == [{"code": "BAD_INPUT", "field": "note"}]
    note = "schedule truncated by hand in the ERP"
    done = post(stack, resolve, {"id": item["id"], "note": note})["data"]["resolveException"]
    assert done["transaction"]["status"] == "FAILED"
    assert done["exceptionItem"] == {"status": "RESOLVED", "resolutionNote": note}
    twice = post(stack, resolve, {"id": item["id"], "note": "again"})["data"]["resolveException"]
    assert [e["code"] for e in twice["userErrors"]] == ["ILLEGAL_TRANSITION"]
    replay = """mutation Replay($id: String!) {
      replayTransaction(correlationId: $id) { userErrors { code } transaction { status } }
    }"""
    finished = post(stack, replay, {"id": cid})["data"]["replayTransaction"]
    assert [e["code"] for e in finished["userErrors"]] == ["ILLEGAL_TRANSITION"]
    unknown = post(stack, replay, {"id": "tx_nope"})["data"]["replayTransaction"]
    assert [e["code"] for e in unknown["userErrors"]] == ["NOT_FOUND"]
    # The subject is free again: the state machine, not the parked flow, answers now.
    after = move(stack, "suspend", contract_id, 1)
    assert [e["code"] for e in after["userErrors"]] == ["ILLEGAL_TRANSITION"]


def test_bad_input_is_refused_before_anything_runs(stack: Stack) -> None:
    customer = create_customer(stack, "Bad Input Co")["customer"]
    reset_stats(stack)
    body = post(
        stack,
        CREATE_CONTRACT,
        {
            "input": contract_input(
                customer["id"],
                termMonths=0,
                lines=[{"productId": "P", "quantity": 0, "unitPrice": "ten"}],
            ),
            "key": key(),
        },
    )
    errors = body["data"]["createContract"]["userErrors"]
    assert {(e["code"], e["field"]) for e in errors} == {
        ("BAD_INPUT", "lines.0.unitPrice"),
        ("BAD_INPUT", "lines.0.quantity"),
        ("BAD_INPUT", "termMonths"),
    }
    missing = post(
        stack,
        """mutation U { updateCustomer(input: {id: "001000000000000AAA", name: "x"}) {
          userErrors { code field } } }""",
    )["data"]["updateCustomer"]
    assert missing["userErrors"] == [{"code": "NOT_FOUND", "field": "id"}]
    assert sum(writes(stack).values()) == 0


def test_a_contract_needs_a_known_customer_in_its_currency(stack: Stack) -> None:
    customer = create_customer(stack, "Currency Checked Co")["customer"]
    reset_stats(stack)
    cases = [
        (contract_input("001000000000000AAA"), ("NOT_FOUND", "customerId")),
        (contract_input(customer["id"], currency="EUR"), ("CURRENCY_MISMATCH", "currency")),
        (
            contract_input(customer["id"], billingFrequency="Weekly"),
            ("BAD_INPUT", "billingFrequency"),
        ),
    ]
    for data, expected in cases:
        body = post(stack, CREATE_CONTRACT, {"input": data, "key": key()})
        errors = body["data"]["createContract"]["userErrors"]
        assert [(e["code"], e["field"]) for e in errors] == [expected], errors
    assert sum(writes(stack).values()) == 0
