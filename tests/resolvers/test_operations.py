"""Transactions, exception items and flow metrics through the gateway, from its own store.

The rows are written into the session stack's store with the repositories. The
store is shared with other tests, so every row here carries this module's own
subject and correlation ids (and old start times, so it never sorts above a
real flow another test started), and none is left runnable for a flow worker:
each is finished or parked.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from api.demo import Stack
from domain.exception_items import ExceptionItem as ExceptionItemRecord
from domain.exception_items import ExceptionQueue
from domain.transactions import StepAction, StepStatus, TransactionKind, TransactionStatus
from resolvers.pagination import encode_cursor
from sources.systems import System
from store.database import create_engine
from store.exceptions import ExceptionRepository
from store.journal import JournalRepository

T0 = datetime(2001, 1, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def tick(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass(frozen=True)
class Seeded:
    subject: str
    """A synthetic subject only this module's transactions have."""
    approve: str
    activate: str
    post: str
    contract_id: str
    """A real contract of the stack (its global id), with two transactions of ours."""
    timeline: tuple[str, str]
    """Its transactions of ours, newest first."""
    finance: ExceptionItemRecord
    platform: ExceptionItemRecord


async def gql(stack: Stack, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(
            stack.graphql_url, json={"query": query, "variables": variables or {}}
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body["errors"]
    found: dict[str, Any] = body["data"]
    return found


def raw(global_id: str) -> tuple[str, str]:
    type_name, _, key = base64.b64decode(global_id).decode().partition(":")
    return type_name, key


async def a_contract(stack: Stack) -> str:
    body = await gql(
        stack,
        "{ customers(first: 10) { edges { node { contracts(first: 1)"
        " { edges { node { id } } } } } } }",
    )
    for edge in data(body)["customers"]["edges"]:
        for contract in edge["node"]["contracts"]["edges"]:
            found: str = contract["node"]["id"]
            return found
    raise AssertionError("the stack has no contract")


@pytest.fixture(scope="module")
async def seeded(stack: Stack) -> AsyncIterator[Seeded]:
    tag = uuid.uuid4().hex[:10]
    engine = create_engine(stack.settings.database_url, schema=stack.settings.store_schema)
    clock = Clock(T0)
    journal = JournalRepository(engine, clock=clock)
    exceptions = ExceptionRepository(engine, clock=clock)
    subject = f"800T{tag}"
    approve, activate, post = f"{tag}-approve", f"{tag}-activate", f"{tag}-post"

    async def call(cid: str, n: int, system: System, action: StepAction, ms: int) -> None:
        await journal.step_started(cid, n, system, action)
        clock.tick(milliseconds=ms)
        await journal.step_finished(cid, n, StepStatus.SUCCEEDED, created_id=f"{system}-{tag}")

    await journal.begin(approve, TransactionKind.APPROVE_CONTRACT, subject)
    await call(approve, 1, System.CONTRACTS, StepAction.APPROVE_CONTRACT, 120)
    await journal.finish(approve, TransactionStatus.COMPLETED)

    clock.now = T0 + timedelta(hours=1)
    plan = [
        (System.CONTRACTS, StepAction.ACTIVATE_CONTRACT),
        (System.BILLING, StepAction.CREATE_SUBSCRIPTION),
        (System.ERP, StepAction.CREATE_REVENUE_SCHEDULE),
    ]
    await journal.begin(activate, TransactionKind.ACTIVATE_CONTRACT, subject, plan=plan)
    await call(activate, 1, System.CONTRACTS, StepAction.ACTIVATE_CONTRACT, 150)
    await call(activate, 2, System.BILLING, StepAction.CREATE_SUBSCRIPTION, 250)
    # The ERP call started in 2001 and never finished: far past its SLO.
    await journal.step_started(activate, 3, System.ERP, StepAction.CREATE_REVENUE_SCHEDULE)
    platform = await exceptions.open(
        queue=ExceptionQueue.PLATFORM,
        reason="ERP timed out",
        subject=subject,
        correlation_id=activate,
        step_no=3,
        system=System.ERP,
        action=StepAction.CREATE_REVENUE_SCHEDULE,
        error_code="SOURCE_TIMEOUT",
        error="no answer within 10s",
    )
    # Parked for an operator, its ERP call still marked running (its worker died).
    await journal.finish(activate, TransactionStatus.NEEDS_ATTENTION)

    clock.now = T0 + timedelta(hours=2)
    await journal.begin(post, TransactionKind.POST_INVOICE, subject)
    await journal.step_started(post, 1, System.ERP, StepAction.POST_INVOICE)
    clock.tick(milliseconds=80)
    await journal.step_finished(
        post, 1, StepStatus.FAILED, error_code="VALIDATION", error_message="period closed"
    )
    await journal.finish(post, TransactionStatus.FAILED)
    finance = await exceptions.open(
        queue=ExceptionQueue.FINANCE_OPS,
        reason="posting refused",
        subject=subject,
        correlation_id=post,
        step_no=1,
        system=System.ERP,
        action=StepAction.POST_INVOICE,
        error_code="VALIDATION",
        error="period closed",
    )

    contract_id = await a_contract(stack)
    _, contract_key = raw(contract_id)
    timeline = (f"{tag}-amend", f"{tag}-activate-contract")
    for n, cid in enumerate(reversed(timeline)):
        clock.now = T0 + timedelta(days=n)
        kind = TransactionKind.ACTIVATE_CONTRACT if n == 0 else TransactionKind.AMEND_CONTRACT
        await journal.begin(cid, kind, contract_key)
        await journal.finish(cid, TransactionStatus.COMPLETED)
    await engine.dispose()
    yield Seeded(subject, approve, activate, post, contract_id, timeline, finance, platform)


TX_FIELDS = """
    id correlationId kind subject status startedAt completedAt currentSystem delayed
    steps { stepNo system action status attempts startedAt finishedAt latencyMs
            errorCode errorMessage createdId delayed }
    openExceptions { id queue status }
"""


async def test_a_transaction_with_its_steps(stack: Stack, seeded: Seeded) -> None:
    body = await gql(
        stack,
        f"query($c: String!) {{ transaction(correlationId: $c) {{ {TX_FIELDS} }} }}",
        {"c": seeded.activate},
    )
    tx = data(body)["transaction"]
    assert raw(tx["id"]) == ("Transaction", seeded.activate)
    assert (tx["kind"], tx["status"], tx["subject"]) == (
        "ACTIVATE_CONTRACT",
        "NEEDS_ATTENTION",
        seeded.subject,
    )
    assert tx["startedAt"] == "2001-01-01T10:00:00+00:00" and tx["completedAt"] is None
    # BILLING holds the current state: the ERP step has not succeeded.
    assert tx["currentSystem"] == "BILLING" and tx["delayed"] is True
    steps = tx["steps"]
    assert [(s["stepNo"], s["system"], s["action"], s["status"]) for s in steps] == [
        (1, "CONTRACTS", "ACTIVATE_CONTRACT", "SUCCEEDED"),
        (2, "BILLING", "CREATE_SUBSCRIPTION", "SUCCEEDED"),
        (3, "ERP", "CREATE_REVENUE_SCHEDULE", "RUNNING"),
    ]
    assert [s["latencyMs"] for s in steps] == [150, 250, None]
    assert [s["attempts"] for s in steps] == [1, 1, 1]
    assert [s["delayed"] for s in steps] == [False, False, True]
    assert steps[1]["createdId"] and steps[1]["createdId"].startswith("BILLING-")
    assert steps[0]["finishedAt"] == "2001-01-01T10:00:00.150000+00:00"
    assert [raw(e["id"])[1] for e in tx["openExceptions"]] == [str(seeded.platform.id)]

    failed = data(
        await gql(
            stack,
            "query($c: String!) { transaction(correlationId: $c) { status completedAt"
            " steps { status errorCode errorMessage latencyMs } } }",
            {"c": seeded.post},
        )
    )["transaction"]
    assert failed["status"] == "FAILED" and failed["completedAt"]
    assert failed["steps"] == [
        {
            "status": "FAILED",
            "errorCode": "VALIDATION",
            "errorMessage": "period closed",
            "latencyMs": 80,
        }
    ]
    missing = await gql(stack, '{ transaction(correlationId: "no-such-flow") { id } }')
    assert data(missing)["transaction"] is None


LIST = """
query($subject: String, $status: TransactionStatus, $kind: TransactionKind, $system: System,
      $since: DateTime, $first: Int, $after: String) {
  transactions(subject: $subject, status: $status, kind: $kind, system: $system,
               since: $since, first: $first, after: $after) {
    edges { cursor node { correlationId } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def listed(stack: Stack, **variables: Any) -> tuple[list[str], dict[str, Any]]:
    found = data(await gql(stack, LIST, variables))["transactions"]
    return [e["node"]["correlationId"] for e in found["edges"]], found["pageInfo"]


async def test_transactions_filters(stack: Stack, seeded: Seeded) -> None:
    s = seeded
    every, _ = await listed(stack, subject=s.subject)
    assert every == [s.post, s.activate, s.approve]  # newest first
    assert (await listed(stack, subject=s.subject, status="COMPLETED"))[0] == [s.approve]
    parked = await listed(stack, subject=s.subject, status="NEEDS_ATTENTION")
    assert parked[0] == [s.activate]
    assert (await listed(stack, subject=s.subject, status="RUNNING"))[0] == []
    assert (await listed(stack, subject=s.subject, kind="POST_INVOICE"))[0] == [s.post]
    assert (await listed(stack, subject=s.subject, system="ERP"))[0] == [s.post, s.activate]
    assert (await listed(stack, subject=s.subject, system="BILLING"))[0] == [s.activate]
    assert (await listed(stack, subject=s.subject, system="CRM"))[0] == []
    since = "2001-01-01T09:30:00Z"
    assert (await listed(stack, subject=s.subject, since=since))[0] == [s.post, s.activate]
    both = await listed(stack, subject=s.subject, since=since, kind="ACTIVATE_CONTRACT")
    assert both[0] == [s.activate]
    # Without a subject the kind filter still applies to every transaction.
    kinds = data(
        await gql(
            stack, "{ transactions(kind: POST_INVOICE, first: 100) { edges { node { kind } } } }"
        )
    )["transactions"]["edges"]
    assert kinds and {e["node"]["kind"] for e in kinds} == {"POST_INVOICE"}


async def test_transactions_pages(stack: Stack, seeded: Seeded) -> None:
    s = seeded
    page, info = await listed(stack, subject=s.subject, first=1)
    assert page == [s.post]
    assert info["hasNextPage"] is True and info["hasPreviousPage"] is False
    assert info["startCursor"] == info["endCursor"]
    page, info = await listed(stack, subject=s.subject, first=1, after=info["endCursor"])
    assert page == [s.activate] and info["hasNextPage"] is True
    assert info["hasPreviousPage"] is True
    page, info = await listed(stack, subject=s.subject, first=5, after=info["endCursor"])
    assert page == [s.approve] and info["hasNextPage"] is False


EXCEPTIONS = """
query($queue: ExceptionQueue, $status: ExceptionStatus, $first: Int, $after: String) {
  exceptions(queue: $queue, status: $status, first: $first, after: $after) {
    edges { cursor node {
      id queue status reason attempts subject correlationId stepNo system action
      errorCode lastError createdAt updatedAt resolvedAt resolutionNote resolvedBy
      transaction { correlationId status }
    } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""


async def test_exceptions_by_queue_and_status_and_pages(stack: Stack, seeded: Seeded) -> None:
    s = seeded
    finance = data(
        await gql(stack, EXCEPTIONS, {"queue": "FINANCE_OPS", "status": "OPEN", "first": 100})
    )["exceptions"]
    mine = [e["node"] for e in finance["edges"] if e["node"]["subject"] == s.subject]
    assert len(mine) == 1
    item = mine[0]
    assert raw(item["id"]) == ("ExceptionItem", str(s.finance.id))
    assert (item["queue"], item["status"], item["reason"], item["attempts"]) == (
        "FINANCE_OPS",
        "OPEN",
        "posting refused",
        1,
    )
    assert (item["correlationId"], item["stepNo"], item["system"], item["action"]) == (
        s.post,
        1,
        "ERP",
        "POST_INVOICE",
    )
    assert (item["errorCode"], item["lastError"], item["resolvedAt"]) == (
        "VALIDATION",
        "period closed",
        None,
    )
    assert item["transaction"] == {"correlationId": s.post, "status": "FAILED"}
    assert all(e["node"]["queue"] == "FINANCE_OPS" for e in finance["edges"])
    resolved = data(await gql(stack, EXCEPTIONS, {"status": "RESOLVED", "first": 100}))
    assert all(e["node"]["subject"] != s.subject for e in resolved["exceptions"]["edges"])

    # Every item, one per page, newest (highest id) first.
    ids: list[str] = []
    after = None
    while True:
        page = data(await gql(stack, EXCEPTIONS, {"first": 1, "after": after}))["exceptions"]
        ids += [raw(e["node"]["id"])[1] for e in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"] or len(ids) > 200:
            break
        after = page["pageInfo"]["endCursor"]
    assert [int(i) for i in ids] == sorted((int(i) for i in ids), reverse=True)
    assert ids.index(str(s.finance.id)) < ids.index(str(s.platform.id))


async def test_node_ids_of_transactions_and_exception_items(stack: Stack, seeded: Seeded) -> None:
    transaction_id = base64.b64encode(f"Transaction:{seeded.approve}".encode()).decode()
    item_id = base64.b64encode(f"ExceptionItem:{seeded.platform.id}".encode()).decode()
    absent = [
        base64.b64encode(b"Transaction:no-such-flow").decode(),
        base64.b64encode(b"ExceptionItem:999999999").decode(),
        base64.b64encode(b"ExceptionItem:not-a-number").decode(),
    ]
    body = await gql(
        stack,
        "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id"
        " ... on Transaction { correlationId status }"
        " ... on ExceptionItem { queue correlationId } } }",
        {"ids": [transaction_id, item_id, *absent]},
    )
    nodes = data(body)["nodes"]
    assert nodes[0] == {
        "__typename": "Transaction",
        "id": transaction_id,
        "correlationId": seeded.approve,
        "status": "COMPLETED",
    }
    assert nodes[1] == {
        "__typename": "ExceptionItem",
        "id": item_id,
        "queue": "PLATFORM",
        "correlationId": seeded.activate,
    }
    assert nodes[2:] == [None, None, None]
    one = await gql(
        stack,
        "query($id: ID!) { node(id: $id) { id ... on Transaction { kind } } }",
        {"id": transaction_id},
    )
    assert data(one)["node"] == {"id": transaction_id, "kind": "APPROVE_CONTRACT"}


async def test_a_contracts_timeline(stack: Stack, seeded: Seeded) -> None:
    query = """
    query($id: ID!, $first: Int, $after: String) { node(id: $id) { ... on Contract {
      timeline(first: $first, after: $after) {
        edges { node { correlationId subject kind } } pageInfo { hasNextPage endCursor }
      } } } }
    """
    body = await gql(stack, query, {"id": seeded.contract_id, "first": 100})
    timeline = data(body)["node"]["timeline"]
    ids = [e["node"]["correlationId"] for e in timeline["edges"]]
    ours = [i for i in ids if i in seeded.timeline]
    assert ours == list(seeded.timeline)  # newest first
    _, key = raw(seeded.contract_id)
    assert {e["node"]["subject"] for e in timeline["edges"]} == {key}
    # Paged like any connection.
    first = data(await gql(stack, query, {"id": seeded.contract_id, "first": 1}))
    page = first["node"]["timeline"]
    assert len(page["edges"]) == 1 and page["pageInfo"]["hasNextPage"] is True


FLOW_METRICS = """
query($since: DateTime) { flowMetrics(since: $since) {
  since computedAt duplicatesPrevented idempotentReplays webhookDuplicates
  stepLatency { system steps avgMs maxMs p50Ms p95Ms }
  activationCycle { count p50Seconds avgSeconds maxSeconds }
  postingsCompleted postingsFailed postingSuccessRate
  openExceptions { queue open }
} }
"""


async def test_flow_metrics(stack: Stack, seeded: Seeded) -> None:
    everything = data(await gql(stack, FLOW_METRICS))["flowMetrics"]
    assert everything["since"] is None
    assert [s["system"] for s in everything["stepLatency"]] == [
        "CRM",
        "CONTRACTS",
        "BILLING",
        "ERP",
    ]
    billing = next(s for s in everything["stepLatency"] if s["system"] == "BILLING")
    assert billing["steps"] >= 1 and billing["maxMs"] >= 250
    assert everything["postingsFailed"] >= 1
    assert 0 <= everything["postingSuccessRate"] < 1
    assert everything["duplicatesPrevented"] == (
        everything["idempotentReplays"] + everything["webhookDuplicates"]
    )
    queues = {q["queue"]: q["open"] for q in everything["openExceptions"]}
    assert set(queues) == {"FINANCE_OPS", "SALES_OPS", "PLATFORM"}
    assert queues["FINANCE_OPS"] >= 1 and queues["PLATFORM"] >= 1

    # Nothing has happened since a date in the future, but open items are open now.
    future = data(await gql(stack, FLOW_METRICS, {"since": "2100-01-01T00:00:00Z"}))
    later = future["flowMetrics"]
    assert later["since"] == "2100-01-01T00:00:00+00:00"
    assert all(s["steps"] == 0 and s["p50Ms"] is None for s in later["stepLatency"])
    assert later["activationCycle"] == {
        "count": 0,
        "p50Seconds": None,
        "avgSeconds": None,
        "maxSeconds": None,
    }
    assert (later["postingsCompleted"], later["postingsFailed"]) == (0, 0)
    assert later["postingSuccessRate"] is None
    assert {q["queue"]: q["open"] for q in later["openExceptions"]} == queues


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ transactions(first: 0) { edges { cursor } } }", {}, "BAD_USER_INPUT"),
        ("{ transactions(first: -1) { edges { cursor } } }", {}, "BAD_USER_INPUT"),
        ("{ transactions(first: 101) { edges { cursor } } }", {}, "PAGE_SIZE_EXCEEDED"),
        ('{ transactions(after: "garbage") { edges { cursor } } }', {}, "BAD_USER_INPUT"),
        (
            "query($a: String) { transactions(after: $a) { edges { cursor } } }",
            {"a": encode_cursor("transaction", "not-a-position")},
            "BAD_USER_INPUT",
        ),
        (
            "query($a: String) { transactions(after: $a) { edges { cursor } } }",
            {"a": encode_cursor("exception", "12")},
            "BAD_USER_INPUT",
        ),
        (
            '{ transactions(since: "2001-01-01T00:00:00") { edges { cursor } } }',
            {},
            "BAD_USER_INPUT",
        ),
        ("{ exceptions(first: 0) { edges { cursor } } }", {}, "BAD_USER_INPUT"),
        ('{ exceptions(after: "garbage") { edges { cursor } } }', {}, "BAD_USER_INPUT"),
        (
            "query($a: String) { exceptions(after: $a) { edges { cursor } } }",
            {"a": encode_cursor("exception", "x1")},
            "BAD_USER_INPUT",
        ),
        ('{ flowMetrics(since: "2001-01-01T00:00:00") { since } }', {}, "BAD_USER_INPUT"),
    ],
)
async def test_bad_input_is_a_typed_error(
    stack: Stack, query: str, variables: dict[str, Any], code: str
) -> None:
    body = await gql(stack, query, variables)
    assert body["errors"][0]["extensions"]["code"] == code, body
    assert body["data"] is not None  # the field is null, the response is not


async def test_bad_input_on_a_timeline_nulls_the_timeline_only(
    stack: Stack, seeded: Seeded
) -> None:
    body = await gql(
        stack,
        "query($id: ID!) { node(id: $id) { id ... on Contract { timeline(first: 0)"
        " { edges { cursor } } } } }",
        {"id": seeded.contract_id},
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["data"]["node"] == {"id": seeded.contract_id, "timeline": None}


async def test_metrics_endpoint_exports_the_flow_metrics(stack: Stack, seeded: Seeded) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(f"{stack.gateway_url}/metrics")
    assert response.status_code == 200
    for name in (
        "revgraph_step_latency_seconds",
        "revgraph_step_latency_samples",
        "revgraph_duplicates_prevented_total",
        "revgraph_activation_cycle_seconds",
        "revgraph_activation_cycle_avg_seconds",
        "revgraph_activations_measured",
        "revgraph_posting_success_ratio",
        "revgraph_open_exceptions",
        "revgraph_flow_metrics_refreshed_timestamp_seconds",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in response.text, name
    # The store was read: every queue has a sample.
    for queue in ExceptionQueue:
        assert f'revgraph_open_exceptions{{queue="{queue}"}}' in response.text
