"""Webhooks end to end over loopback: a simulator write → a signed delivery → the
gateway's inbox, deduplicated and in order per subject; forgeries refused.

The tests write to the systems, so they run on the session's ``writes_stack``
(the read tests' ``stack`` keeps exactly its seed). The dispatcher's rules are
tested on the test's own store.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.demo import GATEWAY, Stack, start_gateway
from api.webhooks import WebhookDispatcher, WebhookHandler
from domain.webhooks import WebhookEvent, WebhookStatus
from simulators.registry import SIMULATORS
from sources.systems import System
from store.database import create_engine
from store.inbox import StoredEvent, WebhookInbox
from store.models import WebhookEventRow

SOBJECTS = "/services/data/v60.0/sobjects"
ERP_RECORDS = "/services/rest/record/v1"


@pytest.fixture
def stack(writes_stack: Stack) -> Stack:
    return writes_stack


@pytest.fixture
async def engine(stack: Stack) -> AsyncIterator[AsyncEngine]:
    """Another connection pool on the stack gateway's store."""
    engine = create_engine(stack.settings.database_url, schema=stack.settings.store_schema)
    yield engine
    await engine.dispose()


@pytest.fixture
def inbox(engine: AsyncEngine) -> WebhookInbox:
    return WebhookInbox(engine)


def simulator(stack: Stack, name: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=stack.simulator_urls[name],
        headers={"Authorization": f"Bearer {SIMULATORS[name].token}"},
        timeout=30,
    )


async def settled(inbox: WebhookInbox, source: System, event_id: str) -> StoredEvent:
    """The inbox row once the dispatcher is done with it."""
    deadline = time.monotonic() + 15
    while True:
        stored = await inbox.get(source, event_id)
        if stored is not None and stored.status is not WebhookStatus.RECEIVED:
            return stored
        assert time.monotonic() < deadline, f"{event_id} not settled: {stored}"
        await asyncio.sleep(0.05)


async def rows_about(engine: AsyncEngine, subject: str) -> int:
    table = WebhookEventRow.__table__
    async with engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(table).where(table.c.subject == subject)
        )
    return int(count or 0)


async def deliveries(sim: httpx.AsyncClient) -> list[dict[str, Any]]:
    """What the simulator delivered so far (after the ones in flight finished)."""
    response = await sim.post("/_sim/webhooks/flush")
    response.raise_for_status()
    log: list[dict[str, Any]] = response.json()["deliveries"]
    return log


async def next_delivery(sim: httpx.AsyncClient, seen: int) -> dict[str, Any]:
    """The first delivery after the ``seen`` first ones, once it was answered."""
    deadline = time.monotonic() + 15
    while True:
        log = (await sim.get("/_sim/webhooks")).json()["deliveries"]
        if len(log) > seen:
            delivery: dict[str, Any] = log[seen]
            return delivery
        assert time.monotonic() < deadline, "nothing delivered"
        await asyncio.sleep(0.02)


@pytest.fixture
def hostile(stack: Stack) -> Iterator[None]:
    """Puts every simulator's delivery back to well-behaved after the test."""
    yield
    for url in stack.simulator_urls.values():
        httpx.post(f"{url}/_sim/webhooks", json={}, timeout=30).raise_for_status()
        httpx.post(f"{url}/_sim/webhooks/flush", timeout=30).raise_for_status()


async def test_a_finalized_invoice_reaches_the_inbox_once(
    stack: Stack, inbox: WebhookInbox, engine: AsyncEngine
) -> None:
    async with simulator(stack, "BILLING") as sim:
        customer = (await sim.post("/v1/customers", data={"name": "Hooked"})).json()
        invoice = (await sim.post("/v1/invoices", data={"customer": customer["id"]})).json()
        finalized = await sim.post(f"/v1/invoices/{invoice['id']}/finalize")
        assert finalized.status_code == 200, finalized.text
        log = await deliveries(sim)
        listed = await sim.get("/v1/events", params={"type": "invoice.*", "limit": 100})
    events = [e for e in listed.json()["data"] if e["data"]["object"]["id"] == invoice["id"]]
    assert {"invoice.created", "invoice.finalized"} <= {e["type"] for e in events}
    status = {d["event_id"]: d["status"] for d in log}
    for sent in events:
        assert status[sent["id"]] == 200
        stored = await settled(inbox, System.BILLING, sent["id"])
        # Applied, or failed by a handler registered for invoices (the flows'): settled.
        assert stored.status in (WebhookStatus.APPLIED, WebhookStatus.FAILED)
        assert (stored.event.type, stored.event.subject) == (sent["type"], invoice["id"])
        assert stored.duplicates == 0 and stored.event.payload == sent
    assert await rows_about(engine, invoice["id"]) == len(events)


@pytest.mark.parametrize("name", ["CRM", "CONTRACTS", "ERP"])
async def test_record_changes_arrive_signed_from_every_system(
    stack: Stack, inbox: WebhookInbox, engine: AsyncEngine, name: str
) -> None:
    source = System(name)
    async with simulator(stack, name) as sim:
        before = len(await deliveries(sim))
        if name == "CRM":
            created = await sim.post(f"{SOBJECTS}/Account", json={"Name": "Hooked Inc"})
            record_id, kind = created.json()["id"], "Account"
        elif name == "CONTRACTS":
            body = {"AccountId": "001000000000001AAA", "StartDate": "2026-01-01"}
            created = await sim.post(f"{SOBJECTS}/Contract", json={**body, "ContractTerm": 12})
            record_id, kind = created.json()["id"], "Contract"
        else:
            body = {"companyName": "Hooked Ltd", "externalId": f"hook-{uuid.uuid4().hex[:8]}"}
            created = await sim.post(f"{ERP_RECORDS}/customer", json=body)
            record_id, kind = created.headers["Location"].rsplit("/", 1)[1], "customer"
        assert created.status_code in (201, 204), created.text
        new = (await deliveries(sim))[before:]
    assert new and all(d["status"] == 200 for d in new)
    stored = [await settled(inbox, source, d["event_id"]) for d in new]
    mine = [s for s in stored if s.event.subject == record_id]
    assert [s.event.type for s in mine] == [f"{kind}.created"]
    assert mine[0].status is WebhookStatus.APPLIED
    assert mine[0].event.payload["record"]["Id" if kind != "customer" else "id"] == record_id
    assert await rows_about(engine, record_id) == 1


async def test_duplicated_and_reordered_deliveries_keep_one_row_per_event_in_order(
    stack: Stack, inbox: WebhookInbox, engine: AsyncEngine, hostile: None
) -> None:
    async with simulator(stack, "CRM") as sim:
        account = (await sim.post(f"{SOBJECTS}/Account", json={"Name": "Hostile 0"})).json()["id"]
        before = len(await deliveries(sim))
        duplicates_before = await inbox.duplicates_total()
        await sim.post("/_sim/webhooks", json={"duplicate": True, "out_of_order": True})
        for n in (1, 2, 3):
            changed = await sim.patch(f"{SOBJECTS}/Account/{account}", json={"Name": f"H{n}"})
            assert changed.status_code == 204
        # Sent: 2, 2, 1, 1 (each held behind the next, twice); the flush releases 3 once.
        sent = (await deliveries(sim))[before:]
    assert [d["status"] for d in sent] == [200] * 5
    stored = [await settled(inbox, System.CRM, e) for e in {d["event_id"] for d in sent}]
    first, second, third = sorted(stored, key=lambda s: s.event.occurred_at)
    assert [s.event.payload["record"]["Name"] for s in (first, second, third)] == [
        "H1",
        "H2",
        "H3",
    ]
    assert [s.duplicates for s in (first, second, third)] == [1, 1, 0]
    assert await inbox.duplicates_total() - duplicates_before == 2
    assert await rows_about(engine, account) == 4  # created + three updates
    assert second.status is third.status is WebhookStatus.APPLIED
    # The older event came after the newer one: superseded, or (if both were still
    # waiting when the dispatcher ran) applied before it, never after.
    if first.status is WebhookStatus.APPLIED:
        assert first.applied_at is not None and second.applied_at is not None
        assert first.applied_at <= second.applied_at
    else:
        assert first.status is WebhookStatus.SUPERSEDED


async def test_an_event_older_than_the_applied_one_changes_nothing(
    stack: Stack, inbox: WebhookInbox, hostile: None
) -> None:
    async with simulator(stack, "CRM") as sim:
        account = (await sim.post(f"{SOBJECTS}/Account", json={"Name": "Late 0"})).json()["id"]
        await deliveries(sim)  # the creation's delivery is done
        await sim.post("/_sim/webhooks", json={"out_of_order": True})
        await sim.patch(f"{SOBJECTS}/Account/{account}", json={"Name": "Late 1"})  # held back
        await sim.post("/_sim/webhooks", json={"out_of_order": False})
        seen = len((await sim.get("/_sim/webhooks")).json()["deliveries"])
        await sim.patch(f"{SOBJECTS}/Account/{account}", json={"Name": "Late 2"})
        newest = await next_delivery(sim, seen)  # sent at once
        applied = await settled(inbox, System.CRM, newest["event_id"])
        released = (await deliveries(sim))[seen + 1 :]  # the flush releases the older one
    assert [d["status"] for d in released] == [200]
    superseded = await settled(inbox, System.CRM, released[0]["event_id"])
    assert applied.status is WebhookStatus.APPLIED
    assert superseded.status is WebhookStatus.SUPERSEDED and superseded.applied_at is None
    assert superseded.event.occurred_at < applied.event.occurred_at
    assert superseded.event.payload["record"]["Name"] == "Late 1"


def _signed(body: bytes, secret: str, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def _stripe_event(event_id: str) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "invoice.updated",
            "created": int(time.time()),
            "data": {"object": {"id": f"in_{event_id}", "object": "invoice"}},
        }
    ).encode()


async def test_forged_stale_or_unsigned_deliveries_are_refused_and_not_stored(
    stack: Stack, inbox: WebhookInbox
) -> None:
    secret = stack.settings.billing.webhook_secrets[0]
    event_id = f"evt_forged{uuid.uuid4().hex[:8]}"
    body = _stripe_event(event_id)
    stale = int(time.time()) - 600
    cases: list[tuple[str, dict[str, str]]] = [
        ("NO_MATCH", {"Stripe-Signature": _signed(body, "whsec_attacker")}),
        ("TIMESTAMP_OUT_OF_TOLERANCE", {"Stripe-Signature": _signed(body, secret, stale)}),
        ("MISSING_HEADER", {}),
        # Our own scheme's header does not sign a Billing delivery.
        ("MISSING_HEADER", {"X-Revgraph-Signature": _signed(body, secret)}),
        ("MALFORMED", {"Stripe-Signature": "v1=abc"}),
    ]
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as gateway:
        for reason, headers in cases:
            refused = await gateway.post("/webhooks/billing", content=body, headers=headers)
            assert refused.status_code == 400, refused.text
            error = refused.json()["error"]
            assert error["code"] == "INVALID_SIGNATURE" and error["reason"] == reason
        junk = b'{"hello": "world"}'
        not_an_event = await gateway.post(
            "/webhooks/billing", content=junk, headers={"Stripe-Signature": _signed(junk, secret)}
        )
        assert not_an_event.status_code == 400
        assert not_an_event.json()["error"]["code"] == "INVALID_EVENT"
        huge = await gateway.post("/webhooks/billing", content=b"x" * (4 * 1024 * 1024 + 1))
        assert huge.status_code == 413
        unknown = await gateway.post("/webhooks/hubspot", content=body)
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "UNKNOWN_SOURCE"
        assert await inbox.get(System.BILLING, event_id) is None

        signed = {"Stripe-Signature": _signed(body, secret)}
        first = await gateway.post("/webhooks/billing", content=body, headers=signed)
        again = await gateway.post("/webhooks/billing", content=body, headers=signed)
    assert first.status_code == again.status_code == 200
    assert first.json() == {"received": True, "duplicate": False}
    assert again.json() == {"received": True, "duplicate": True}
    stored = await settled(inbox, System.BILLING, event_id)
    assert stored.duplicates == 1


def test_a_source_without_a_secret_accepts_no_webhooks(stack: Stack) -> None:
    settings = stack.settings.model_copy(
        update={"crm": stack.settings.crm.model_copy(update={"webhook_secrets": []})}
    )
    gateway = start_gateway(settings)
    try:
        refused = httpx.post(
            f"{gateway.urls[GATEWAY]}/webhooks/crm",
            content=b'{"id": "evt_1"}',
            headers={"X-Revgraph-Signature": "t=1,v1=0"},
            timeout=30,
        )
    finally:
        gateway.stop()
    assert refused.status_code == 404
    error = refused.json()["error"]
    assert error["code"] == "WEBHOOKS_NOT_CONFIGURED"
    assert "REVGRAPH_CRM_WEBHOOK_SECRETS" in error["message"]


# -- the dispatcher, on the test's own store ------------------------------------------


def _event(event_id: str, type_: str, at_s: int, subject: str = "in_1") -> WebhookEvent:
    return WebhookEvent(
        source=System.BILLING,
        event_id=event_id,
        type=type_,
        subject=subject,
        occurred_at=datetime(2025, 6, 1, tzinfo=UTC) + timedelta(seconds=at_s),
        payload={"id": event_id},
    )


async def test_the_dispatcher_applies_in_order_through_matching_handlers(
    store_engine: AsyncEngine,
) -> None:
    inbox = WebhookInbox(store_engine)
    dispatcher = WebhookDispatcher(inbox)
    seen: list[tuple[str, str]] = []

    def record(tag: str) -> WebhookHandler:
        async def handle(event: WebhookEvent) -> None:
            seen.append((tag, event.event_id))

        return handle

    dispatcher.register(System.BILLING, "invoice.", record("invoices"))
    dispatcher.register(System.BILLING, "invoice.finalized", record("finalized"))
    dispatcher.register(System.CRM, "", record("crm"))
    # Arrive newest first; both wait, so they apply oldest first.
    await inbox.record(_event("evt_b", "invoice.paid", 2))
    await inbox.record(_event("evt_a", "invoice.finalized", 1))
    await inbox.record(_event("evt_c", "customer.updated", 0, subject="cus_1"))
    assert await dispatcher.drain() == 3
    assert seen == [("invoices", "evt_a"), ("finalized", "evt_a"), ("invoices", "evt_b")]
    for event_id in ("evt_a", "evt_b", "evt_c"):  # no handler wanted evt_c: applied anyway
        stored = await inbox.get(System.BILLING, event_id)
        assert stored is not None and stored.status is WebhookStatus.APPLIED
    assert await dispatcher.drain() == 0


async def test_a_failing_handler_fails_its_event_only(store_engine: AsyncEngine) -> None:
    inbox = WebhookInbox(store_engine)
    dispatcher = WebhookDispatcher(inbox)

    async def post_to_erp(event: WebhookEvent) -> None:
        if event.subject == "in_bad":
            raise RuntimeError("ERP said no")

    dispatcher.register(System.BILLING, "invoice.finalized", post_to_erp)
    await inbox.record(_event("evt_bad", "invoice.finalized", 1, subject="in_bad"))
    await inbox.record(_event("evt_ok", "invoice.finalized", 2, subject="in_ok"))
    assert await dispatcher.drain() == 2
    bad = await inbox.get(System.BILLING, "evt_bad")
    ok = await inbox.get(System.BILLING, "evt_ok")
    assert bad is not None and bad.status is WebhookStatus.FAILED
    assert bad.error is not None and "ERP said no" in bad.error
    assert ok is not None and ok.status is WebhookStatus.APPLIED


async def test_the_background_task_drains_when_woken(store_engine: AsyncEngine) -> None:
    inbox = WebhookInbox(store_engine)
    dispatcher = WebhookDispatcher(inbox, poll_s=60)
    applied = asyncio.Event()

    async def handle(event: WebhookEvent) -> None:
        applied.set()

    dispatcher.register(System.BILLING, "", handle)
    await dispatcher.start()
    try:
        await inbox.record(_event("evt_1", "invoice.paid", 1))
        dispatcher.wake()
        await asyncio.wait_for(applied.wait(), 10)
        await settled(inbox, System.BILLING, "evt_1")
    finally:
        await dispatcher.stop()
    await dispatcher.stop()  # stopping twice is harmless
