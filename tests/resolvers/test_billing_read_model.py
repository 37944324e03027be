"""The billing read model end to end: webhooks and the catch-up keep it live,
``freshness: LIVE`` bypasses it, every answer says how it was obtained, replicas
share it, and it answers when Billing is down.

A stack of its own (its changes to Billing must not reach the other tests), and a
second gateway on the same store whose catch-up runs every 0.3 s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from api.demo import GATEWAY, Stack, start_gateway
from api.settings import ReadSettings
from domain.access import Role
from domain.billing_read_model import BillingReadModel
from domain.clients import build_clients
from simulators.registry import SIMULATORS
from store.billing_objects import BillingObjects
from store.database import create_engine
from tests.conftest import eventually, own_stack

QUERY = """query Subs($f: Freshness) {
  customers(first: 10) { edges { node { name
    subscriptions(first: 10, freshness: $f) { edges { node {
      id status sources { system via asOf }
    } } }
  } } }
}"""

LISTS = ("GET /v1/subscriptions", "GET /v1/invoices")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = own_stack(
        tmp_path_factory,
        "rm",
        customers=6,
        seed=9,
        breakers=False,
        anonymous_role=Role.ADMIN,
        caller_limits=False,
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def replica(stack: Stack) -> Iterator[str]:
    """Another gateway on the same store, catching up with Billing's events every 0.3 s."""
    flows = stack.settings.flows.model_copy(update={"worker": False})
    settings = stack.settings.model_copy(
        update={"reads": ReadSettings(catch_up_s=0.3), "flows": flows}
    )
    gateway = start_gateway(settings)
    try:
        yield f"{gateway.urls[GATEWAY]}/graphql"
    finally:
        gateway.stop()


def billing(stack: Stack, method: str, path: str, **data: Any) -> Any:
    response = httpx.request(
        method,
        f"{stack.simulator_urls['BILLING']}/v1/{path}",
        data=data or None,
        headers={"Authorization": f"Bearer {SIMULATORS['BILLING'].token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def billing_calls(stack: Stack, prefix: str | tuple[str, ...]) -> int:
    """Requests Billing has had since the last reset, on routes starting with ``prefix``."""
    routes = httpx.get(f"{stack.simulator_urls['BILLING']}/_sim/stats").json()["by_route"]
    return sum(n for route, n in routes.items() if route.startswith(prefix))


def list_calls(stack: Stack) -> int:
    return billing_calls(stack, LISTS)


def first_invoice(stack: Stack) -> tuple[str, str]:
    """(customer id, invoice id) of the first listed customer that has an invoice."""
    listed = httpx.post(
        stack.graphql_url,
        json={
            "query": "query I { customers(first: 10) { edges { node { id invoices(first: 1) "
            "{ edges { node { id } } } } } } }"
        },
        timeout=60,
    ).json()
    return next(
        (customer["node"]["id"], edge["node"]["id"])
        for customer in listed["data"]["customers"]["edges"]
        for edge in customer["node"]["invoices"]["edges"]
    )


def reset(stack: Stack) -> None:
    httpx.delete(f"{stack.simulator_urls['BILLING']}/_sim/stats")


def subscriptions(url: str, freshness: str = "POLICY") -> dict[str, dict[str, Any]]:
    body = httpx.post(url, json={"query": QUERY, "variables": {"f": freshness}}, timeout=60).json()
    assert "errors" not in body, body["errors"]
    found: dict[str, dict[str, Any]] = {}
    for customer in body["data"]["customers"]["edges"]:
        for edge in customer["node"]["subscriptions"]["edges"]:
            node = edge["node"]
            (source,) = node["sources"]
            found[node["id"]] = {
                "status": node["status"],
                "via": source["via"],
                "as_of": datetime.fromisoformat(source["asOf"]),
            }
    return found


def raw(global_id: str) -> str:
    from strawberry import relay

    return relay.GlobalID.from_id(global_id).node_id


def warm(stack: Stack) -> dict[str, dict[str, Any]]:
    subscriptions(stack.graphql_url)  # reads each list live once, and keeps it
    reset(stack)
    found = subscriptions(stack.graphql_url)
    assert found and list_calls(stack) == 0
    return found


def active(found: dict[str, dict[str, Any]]) -> list[str]:
    return [i for i, s in found.items() if s["status"] == "active"]


def test_a_warm_read_model_answers_without_billing_and_says_so(stack: Stack) -> None:
    before = datetime.now(UTC)
    first = subscriptions(stack.graphql_url)
    assert {s["via"] for s in first.values()} <= {"LIVE", "READ_MODEL"}
    reset(stack)
    again = subscriptions(stack.graphql_url)
    assert list_calls(stack) == 0
    assert again.keys() == first.keys()
    assert {s["via"] for s in again.values()} == {"READ_MODEL"}
    # Known current since the live read (or a later catch-up): not older, not in the future.
    assert all(before <= s["as_of"] <= datetime.now(UTC) for s in again.values())


def test_freshness_live_bypasses_the_read_model(stack: Stack) -> None:
    warm(stack)
    started = datetime.now(UTC)
    live = subscriptions(stack.graphql_url, "LIVE")
    assert list_calls(stack) > 0
    assert {s["via"] for s in live.values()} == {"LIVE"}
    assert all(s["as_of"] >= started for s in live.values())
    cost = httpx.post(
        stack.graphql_url, json={"query": QUERY, "variables": {"f": "LIVE"}}, timeout=60
    ).json()["extensions"]["cost"]["requested"]
    policy = httpx.post(
        stack.graphql_url, json={"query": QUERY, "variables": {"f": "POLICY"}}, timeout=60
    ).json()["extensions"]["cost"]["requested"]
    assert cost > policy  # a live read counts against the budget


def test_a_webhook_updates_the_read_model(stack: Stack) -> None:
    found = warm(stack)
    target = active(found)[0]
    billing(stack, "DELETE", f"subscriptions/{raw(target)}")  # Stripe sends the event
    reset(stack)

    def canceled() -> bool:
        return bool(subscriptions(stack.graphql_url)[target]["status"] == "canceled")

    assert eventually(canceled)
    # What the cancellation started meanwhile (a proration invoice's posting flow)
    # reads Billing for itself; the query does not.
    reset(stack)
    found = subscriptions(stack.graphql_url)
    assert found[target]["status"] == "canceled" and found[target]["via"] == "READ_MODEL"
    assert list_calls(stack) == 0  # the change came with the event, not a live read


def test_a_missed_webhook_is_healed_by_the_catch_up(stack: Stack, replica: str) -> None:
    found = warm(stack)
    target = active(found)[0]
    webhooks = f"{stack.simulator_urls['BILLING']}/_sim/webhooks"
    gateway_hook = httpx.get(webhooks).json()["url"]
    httpx.post(webhooks, json={"url": "http://127.0.0.1:9/lost"}).raise_for_status()
    try:
        billing(stack, "DELETE", f"subscriptions/{raw(target)}")
    finally:
        httpx.post(webhooks, json={"url": gateway_hook}).raise_for_status()
    reset(stack)

    def healed() -> bool:
        return bool(subscriptions(replica)[target]["status"] == "canceled")

    assert eventually(healed)
    # Healed from /v1/events, not by reading the lists again; the store is shared, so
    # the first gateway (whose catch-up has not run yet) shows it too.
    reset(stack)
    assert subscriptions(stack.graphql_url)[target]["status"] == "canceled"
    assert list_calls(stack) == 0


def test_two_gateways_share_the_read_model(stack: Stack, replica: str) -> None:
    warm(stack)  # filled through the first gateway
    reset(stack)
    other = subscriptions(replica)
    assert list_calls(stack) == 0
    assert {s["via"] for s in other.values()} == {"READ_MODEL"}


def test_with_billing_down_answers_come_from_the_read_model_marked_stale(
    stack: Stack, fault: Any
) -> None:
    found = warm(stack)
    fault("BILLING", down=True)
    for freshness in ("POLICY", "LIVE"):
        answer = subscriptions(stack.graphql_url, freshness)  # no errors, no nulls
        assert answer.keys() == found.keys()
        assert {s["via"] for s in answer.values()} == {"READ_MODEL"}
        assert all(s["as_of"] < datetime.now(UTC) for s in answer.values())


def test_a_write_through_the_gateway_is_read_back_at_once(stack: Stack) -> None:
    """Read-your-writes: what a write answered is stored before any event arrives."""
    found = warm(stack)
    target = active(found)[-1]
    webhooks = f"{stack.simulator_urls['BILLING']}/_sim/webhooks"
    gateway_hook = httpx.get(webhooks).json()["url"]
    httpx.post(webhooks, json={"url": None}).raise_for_status()  # no event will come

    async def cancel() -> None:
        # The flows' way of writing: the gateway's own adapter and read model.
        engine = create_engine(stack.settings.database_url, schema=stack.settings.store_schema)
        async with build_clients(stack.settings) as clients:
            BillingReadModel(clients.billing, BillingObjects(engine))
            await clients.billing.cancel_subscription(raw(target))
        await engine.dispose()

    try:
        asyncio.run(cancel())
    finally:
        httpx.post(webhooks, json={"url": gateway_hook}).raise_for_status()
    reset(stack)
    after = subscriptions(stack.graphql_url)
    assert after[target]["status"] == "canceled" and after[target]["via"] == "READ_MODEL"
    assert list_calls(stack) == 0


NODE = """query Node($id: ID!, $f: Freshness! = POLICY) {
  node(id: $id, freshness: $f) { ... on Invoice { id status sources { via asOf } } }
}"""


def test_invoices_by_id_come_from_the_read_model(stack: Stack, fault: Any) -> None:
    _, invoice_id = first_invoice(stack)
    reset(stack)
    found = httpx.post(stack.graphql_url, json={"query": NODE, "variables": {"id": invoice_id}})
    node = found.json()["data"]["node"]
    assert node["id"] == invoice_id and node["sources"][0]["via"] == "READ_MODEL"
    assert billing_calls(stack, "GET /v1/invoices") == 0
    fault("BILLING", down=True)
    down = httpx.post(stack.graphql_url, json={"query": NODE, "variables": {"id": invoice_id}})
    assert "errors" not in down.json() and down.json()["data"]["node"]["id"] == invoice_id


OWNER = """query Owner($id: ID!) {
  node(id: $id) { ... on Invoice { id customer { id name } } }
}"""


def test_billing_customers_by_id_come_from_the_read_model(stack: Stack, fault: Any) -> None:
    # An invoice reached by id names only its billing customer: the CRM customer
    # comes from that customer's cross-reference, read once and then kept.
    owner, invoice_id = first_invoice(stack)

    def ask() -> dict[str, Any]:
        body: dict[str, Any] = httpx.post(
            stack.graphql_url, json={"query": OWNER, "variables": {"id": invoice_id}}, timeout=60
        ).json()
        return body

    first = ask()
    assert "errors" not in first, first["errors"]
    assert first["data"]["node"]["customer"]["id"] == owner
    reset(stack)
    assert ask() == first
    assert billing_calls(stack, "GET /v1/customers/") == 0
    fault("BILLING", down=True)
    assert ask() == first  # Billing down: still the read model's answer


def test_freshness_live_on_node_asks_billing_for_the_invoice(stack: Stack) -> None:
    # A collections app checks an invoice before acting: it asks Billing itself.
    _, invoice_id = first_invoice(stack)

    def node(freshness: str) -> dict[str, Any]:
        body: dict[str, Any] = httpx.post(
            stack.graphql_url,
            json={"query": NODE, "variables": {"id": invoice_id, "f": freshness}},
            timeout=60,
        ).json()
        assert "errors" not in body, body["errors"]
        return body

    node("POLICY")  # known to the read model from here on
    reset(stack)
    policy = node("POLICY")
    assert policy["data"]["node"]["sources"][0]["via"] == "READ_MODEL"
    assert billing_calls(stack, "GET /v1/invoices/") == 0
    started = datetime.now(UTC)
    live = node("LIVE")
    (source,) = live["data"]["node"]["sources"]
    assert source["via"] == "LIVE" and datetime.fromisoformat(source["asOf"]) >= started
    assert billing_calls(stack, "GET /v1/invoices/") == 1
    assert live["extensions"]["cost"]["requested"] > policy["extensions"]["cost"]["requested"]
