"""The rest of the graph end to end: filters, lookups, node ids, health, more failures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from api.demo import GATEWAY, Stack, start_gateway
from api.settings import ErpSettings
from simulators.seed import generate
from tests.resolvers.test_quote_to_cash import QUOTE_TO_CASH, contracts_of, post, raw_id


def gql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(url, json={"query": query, "variables": variables or {}}, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def accounts(stack: Stack) -> list[dict[str, Any]]:
    return [doc for _, doc in _seed(stack)["CRM"]["Account"]]


def _seed(stack: Stack) -> Any:

    return generate(stack.customers, stack.manifest["seed"]).records


def test_customer_filters(stack: Stack) -> None:
    crm = accounts(stack)
    gbp = [a for a in crm if a["CurrencyIsoCode"] == "GBP"]
    body = post(stack, '{ customers(first: 100, currency: "GBP") { edges { node { currency } } } }')
    assert len(body["data"]["customers"]["edges"]) == len(gbp)
    parent = next(a for a in crm if any(c["ParentId"] == a["Id"] for c in crm))
    children = {c["Id"] for c in crm if c["ParentId"] == parent["Id"]}
    body = post(
        stack,
        "query($p: ID) { customers(first: 100, parentId: $p) { edges { node { id } } } }",
        {"p": parent["Id"]},
    )
    assert {raw_id(e["node"]["id"]) for e in body["data"]["customers"]["edges"]} == children
    smb = post(stack, '{ customers(first: 100, segment: "SMB") { edges { node { segment } } } }')
    segments = [e["node"]["segment"] for e in smb["data"]["customers"]["edges"]]
    assert segments == ["SMB"] * sum(a["Segment__c"] == "SMB" for a in crm) and segments
    prefix = crm[0]["Name"][:3]
    body = post(
        stack,
        "query($n: String) { customers(first: 100, namePrefix: $n) { edges { node { name } } } }",
        {"n": prefix},
    )
    names = [e["node"]["name"] for e in body["data"]["customers"]["edges"]]
    assert names and all(n.lower().startswith(prefix.lower()) for n in names)
    assert len(names) == sum(a["Name"].lower().startswith(prefix.lower()) for a in crm)


def test_contract_by_number_with_lines_amendments_and_schedule(stack: Stack) -> None:
    amended = stack.manifest["drift"]["amendment_not_in_erp"][0]
    body = post(
        stack,
        """query($n: String!) { contract(number: $n) {
            id number version status stage
            lines { quantity unitPrice { amount currency } }
            amendments { version reason totalValue { amount } }
            revenueSchedule { contractVersion lines { period recognized amount { amount } } }
            customer { id } sources { system id url }
            subscription { items { quantity unitPrice { amount currency } } }
            invoices { total { amount } lines { amount { amount } } }
        } }""",
        {"n": amended["contract_number"]},
    )
    contract = body["data"]["contract"]
    assert contract["version"] == amended["contract_version"]
    assert [a["version"] for a in contract["amendments"]] == list(
        range(1, amended["contract_version"] + 1)
    )
    assert contract["lines"]
    # The planted drift: the ERP schedule is still at the previous version.
    assert contract["revenueSchedule"]["contractVersion"] == amended["erp_version"]
    assert contract["revenueSchedule"]["lines"]
    assert raw_id(contract["customer"]["id"]) == amended["crm_account_id"]
    assert contract["sources"][0]["system"] == "CONTRACTS"
    assert contract["sources"][0]["url"].startswith(stack.simulator_urls["CONTRACTS"])
    assert contract["subscription"]["items"]
    for invoice in contract["invoices"]:
        lines = sum(Decimal(line["amount"]["amount"]) for line in invoice["lines"])
        assert lines == Decimal(invoice["total"]["amount"])
    assert post(stack, '{ contract(number: "C-0") { id } }')["data"]["contract"] is None


def test_contracts_filtered_by_status_and_stage(stack: Stack) -> None:
    body = post(
        stack,
        "{ customers(first: 100) { edges { node { contracts(first: 50) {"
        " edges { node { status stage } } } } } } }",
    )
    everything = contracts_of(body)
    for status, stage in (("ACTIVATED", "AMENDED"), ("DRAFT", "DRAFT")):
        by_status = post(
            stack,
            f"{{ customers(first: 100) {{ edges {{ node {{ contracts(first: 50, status: {status})"
            " { edges { node { status stage } } } } } } }",
        )
        by_stage = post(
            stack,
            f"{{ customers(first: 100) {{ edges {{ node {{ contracts(first: 50, stage: {stage})"
            " { edges { node { status stage } } } } } } }",
        )
        expected_status = [c for c in everything if c["status"].upper() == status]
        assert contracts_of(by_status) == expected_status
        assert contracts_of(by_stage) == [c for c in everything if c["stage"] == stage]
        assert contracts_of(by_stage)


def test_customer_invoices_filters_and_paging(stack: Stack) -> None:
    query = """query($after: String, $status: InvoiceStatus, $from: DateTime) {
      customers(first: 100) { edges { node { invoices(first: 3, after: $after, status: $status,
        issuedAfter: $from) { edges { node { id status createdAt } }
        pageInfo { hasNextPage endCursor } } } } } }"""
    body = post(stack, query, {"status": "PAID"})
    pages = [e["node"]["invoices"] for e in body["data"]["customers"]["edges"]]
    assert all(i["node"]["status"] == "paid" for p in pages for i in p["edges"])
    busy = next(p for p in pages if p["pageInfo"]["hasNextPage"])
    assert len(busy["edges"]) == 3
    later = post(stack, query, {"from": "2026-06-01T00:00:00Z"})
    dates = [
        i["node"]["createdAt"]
        for e in later["data"]["customers"]["edges"]
        for i in e["node"]["invoices"]["edges"]
    ]
    assert dates and all(d >= "2026-06-01" for d in dates)


def test_every_node_type_round_trips(stack: Stack) -> None:
    body = post(stack, QUOTE_TO_CASH)
    contract = next(c for c in contracts_of(body) if c["invoices"] and c["revenueSchedule"])
    invoice = next(i for i in contract["invoices"] if i["erpPosting"])
    ids = [
        contract["id"],
        contract["subscription"]["id"],
        invoice["id"],
        invoice["erpPosting"]["id"],
        contract["revenueSchedule"]["id"],
    ]
    again = post(
        stack,
        "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id"
        " ... on BillingSubscription { customer { id } } ... on Invoice { customer { id } } } }",
        {"ids": ids},
    )
    owners = {n["customer"]["id"] for n in again["data"]["nodes"] if "customer" in n}
    assert len(owners) == 1 and None not in owners  # found through billing's cross-reference
    assert [n["id"] for n in again["data"]["nodes"]] == ids
    assert [n["__typename"] for n in again["data"]["nodes"]] == [
        "Contract",
        "BillingSubscription",
        "Invoice",
        "ArPosting",
        "RevenueSchedule",
    ]


def test_billing_errors_are_reported_once_and_leave_the_rest(stack: Stack, fault: Any) -> None:
    fault("BILLING", error_rate=1.0)
    body = post(stack, QUOTE_TO_CASH)
    codes = [(e["extensions"]["code"], e["extensions"]["system"]) for e in body["errors"]]
    assert set(codes) == {("SOURCE_ERROR", "BILLING")}
    assert len(codes) == len({e["extensions"]["hop"] for e in body["errors"]})
    contracts = contracts_of(body)
    assert contracts and all(c["subscription"] is None for c in contracts)
    assert any(c["revenueSchedule"] for c in contracts)


def test_slow_source_times_out(stack: Stack, fault: Any) -> None:
    settings = stack.settings.model_copy(
        update={
            "erp": ErpSettings(
                url=stack.simulator_urls["ERP"],
                token=stack.settings.erp.token,
                timeout_s=0.3,
                max_retries=0,
            )
        }
    )
    gateway = start_gateway(settings)
    try:
        fault("ERP", latency_ms=1000)
        body = gql(f"{gateway.urls[GATEWAY]}/graphql", QUOTE_TO_CASH)
    finally:
        gateway.stop()
    # Schedules and postings were both in flight when ERP timed out: still one error.
    assert [(e["extensions"]["code"], e["extensions"]["system"]) for e in body["errors"]] == [
        ("SOURCE_TIMEOUT", "ERP")
    ]
    assert all(c["revenueSchedule"] is None for c in contracts_of(body))


def test_source_health_reflects_what_the_gateway_saw(stack: Stack, fault: Any) -> None:
    post(stack, QUOTE_TO_CASH)
    query = "{ sourceHealth { system status requests lastLatencyMs lastError url } }"
    health = {h["system"]: h for h in post(stack, query)["data"]["sourceHealth"]}
    assert set(health) == {"CRM", "CONTRACTS", "BILLING", "ERP"}
    assert all(h["status"] in ("UP", "DEGRADED") and h["requests"] > 0 for h in health.values())
    fault("ERP", down=True)
    post(stack, QUOTE_TO_CASH)
    erp = {h["system"]: h for h in post(stack, query)["data"]["sourceHealth"]}["ERP"]
    assert erp["status"] == "DOWN" and erp["lastError"]


def test_several_operations_need_an_operation_name(stack: Stack) -> None:
    document = (
        "query A { sourceHealth { system } } query B { customers(first: 1) { edges { cursor } } }"
    )
    body = post(stack, document)
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "OPERATION_RESOLUTION_FAILURE"
    chosen = httpx.post(
        stack.graphql_url, json={"query": document, "operationName": "B"}, timeout=60
    ).json()
    assert len(chosen["data"]["customers"]["edges"]) == 1


def test_customer_subscriptions_page(stack: Stack) -> None:
    body = post(
        stack,
        "{ customers(first: 100) { edges { node { subscriptions(first: 1) {"
        " edges { node { id status customer { id } } }"
        " pageInfo { hasNextPage endCursor } } } } } }",
    )
    pages = [e["node"]["subscriptions"] for e in body["data"]["customers"]["edges"]]
    assert all(len(p["edges"]) <= 1 for p in pages)
    assert any(p["pageInfo"]["hasNextPage"] for p in pages)
