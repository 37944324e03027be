"""The answer read model, turned on by an operator for the systems that batch.

A stack of its own with ``REVGRAPH_READS_MODELS`` = CRM, CONTRACTS, ERP (and
Billing's read model, as by default): repeated reads make no request to them
and say so (``via``/``asOf``); a change a system reports by webhook, or a
write through the gateway, makes the next read go live and show it; with the
system down, stored answers stand in.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from strawberry import relay

from api.demo import Stack
from domain.access import Role
from simulators.registry import SIMULATORS
from sources.systems import System
from tests.conftest import eventually, own_stack

QUERY = """query Q {
  customers(first: 8) { edges { node { id
    contracts(first: 5) { edges { node { id number sources { via asOf }
      revenueSchedule { id total { amount currency } sources { via asOf } }
      invoices { id erpPosting { id number sources { via asOf } } }
    } } }
  } } }
}"""

ERP_RECORDS = "/services/rest/record/v1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = own_stack(
        tmp_path_factory,
        "answers",
        customers=12,
        seed=11,
        anonymous_role=Role.ADMIN,
        caller_limits=False,
        answer_models=frozenset({System.CRM, System.CONTRACTS, System.ERP}),
    )
    try:
        yield running
    finally:
        running.stop()


def ask(stack: Stack) -> dict[str, Any]:
    body: dict[str, Any] = httpx.post(stack.graphql_url, json={"query": QUERY}, timeout=60).json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def requests(stack: Stack, system: str) -> int:
    stats = httpx.get(f"{stack.simulator_urls[system]}/_sim/stats").json()
    return int(stats["requests"])


def reset(stack: Stack) -> None:
    for url in stack.simulator_urls.values():
        httpx.delete(f"{url}/_sim/stats")


def contracts(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        c["node"]
        for customer in data["customers"]["edges"]
        for c in customer["node"]["contracts"]["edges"]
    ]


def postings(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        invoice["erpPosting"]
        for contract in contracts(data)
        for invoice in contract["invoices"] or []
        if invoice["erpPosting"]
    ]


def vias(data: dict[str, Any]) -> set[str]:
    found = {source["via"] for c in contracts(data) for source in c["sources"]}
    found |= {
        source["via"]
        for c in contracts(data)
        if c["revenueSchedule"]
        for source in c["revenueSchedule"]["sources"]
    }
    found |= {source["via"] for p in postings(data) for source in p["sources"]}
    return found


def warm(stack: Stack) -> dict[str, Any]:
    ask(stack)
    reset(stack)
    data = ask(stack)
    assert requests(stack, "ERP") == 0 and requests(stack, "CONTRACTS") == 0
    return data


def test_repeated_reads_are_answered_from_the_store_and_say_so(stack: Stack) -> None:
    before = datetime.now(UTC)
    first = ask(stack)
    assert postings(first) and any(c["revenueSchedule"] for c in contracts(first))
    reset(stack)
    again = ask(stack)
    # The customers page is a search, not a hop: CRM still answers it; the rest is stored.
    assert requests(stack, "ERP") == 0 and requests(stack, "CONTRACTS") == 0
    assert requests(stack, "CRM") == 1
    assert vias(again) == {"READ_MODEL"}
    as_of = [datetime.fromisoformat(s["asOf"]) for c in contracts(again) for s in c["sources"]]
    assert all(before <= moment <= datetime.now(UTC) for moment in as_of)
    assert [c["number"] for c in contracts(again)] == [c["number"] for c in contracts(first)]


def test_a_change_the_erp_reports_is_read_live_next_time(stack: Stack) -> None:
    data = warm(stack)
    posting = postings(data)[0]
    posting_id = relay.GlobalID.from_id(posting["id"]).node_id
    renamed = f"INV-{int(time.time() * 1000) % 10**8}"
    response = httpx.patch(
        f"{stack.simulator_urls['ERP']}{ERP_RECORDS}/invoice/{posting_id}",
        json={"tranId": renamed},
        headers={"Authorization": f"Bearer {SIMULATORS['ERP'].token}"},
    )
    assert response.status_code == 204, response.text

    def shows_it() -> bool:
        found = {p["id"]: p for p in postings(ask(stack))}
        return bool(found[posting["id"]]["number"] == renamed)

    reset(stack)
    assert eventually(shows_it)  # the webhook dropped ERP's stored answers
    assert requests(stack, "ERP") > 0


def test_with_the_erp_down_a_warm_read_model_still_answers(stack: Stack, fault: Any) -> None:
    data = warm(stack)
    fault("ERP", down=True)
    down = httpx.post(stack.graphql_url, json={"query": QUERY}, timeout=60).json()
    assert "errors" not in down, down["errors"]
    assert postings(down["data"]) == postings(data)


POSTING = """query P($id: ID!) {
  node(id: $id) { ... on Invoice { id erpPosting { id sources { via } } } }
}"""
POST_INVOICE = """mutation Post($id: ID!) {
  postInvoice(invoiceId: $id) { transaction { status } userErrors { message } }
}"""


def test_a_write_through_the_gateway_is_read_back_at_once(stack: Stack) -> None:
    """Read-your-writes: a flow's ERP step drops ERP's stored answers, no event needed."""
    (unposted, *_) = stack.manifest["drift"]["invoices_not_posted"]
    invoice_id = str(relay.GlobalID("Invoice", unposted["invoice_id"]))

    def posting() -> Any:
        body = httpx.post(
            stack.graphql_url, json={"query": POSTING, "variables": {"id": invoice_id}}, timeout=60
        ).json()
        assert "errors" not in body, body["errors"]
        return body["data"]["node"]["erpPosting"]

    assert posting() is None  # not posted: "nothing exists" is stored too
    reset(stack)
    assert posting() is None and requests(stack, "ERP") == 0
    webhooks = f"{stack.simulator_urls['ERP']}/_sim/webhooks"
    gateway_hook = httpx.get(webhooks).json()["url"]
    httpx.post(webhooks, json={"url": None}).raise_for_status()  # no event will come
    try:
        done = httpx.post(
            stack.graphql_url,
            json={"query": POST_INVOICE, "variables": {"id": invoice_id}},
            timeout=60,
        ).json()["data"]["postInvoice"]
        assert done["transaction"]["status"] == "COMPLETED", done
        posted = posting()
    finally:
        httpx.post(webhooks, json={"url": gateway_hook}).raise_for_status()
    assert posted is not None and posted["sources"][0]["via"] == "LIVE"
