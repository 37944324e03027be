"""Durable flows across processes: a gateway killed mid-step, two gateways racing."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.demo import Stack
from tests.processes import gateway_process, settings_env
from tests.resolvers.test_mutations import (
    approved,
    lifecycle,
    schedules_for,
    subscriptions_for,
)

TRANSACTION = """
query Tx($id: String!) {
  transaction(correlationId: $id) { status steps { system action status attempts } }
}"""


@pytest.fixture
def stack(writes_stack: Stack) -> Stack:
    """This module writes: it gets a stack of its own (see tests/conftest.py)."""
    return writes_stack


def transaction(url: str, correlation_id: str) -> dict[str, Any] | None:
    body = httpx.post(
        url, json={"query": TRANSACTION, "variables": {"id": correlation_id}}, timeout=30
    ).json()
    tx: dict[str, Any] | None = body["data"]["transaction"]
    return tx


def correlation_of(stack: Stack, kind: str, subject: str) -> str | None:
    body = httpx.post(
        stack.graphql_url,
        json={
            "query": """query Txs($kind: TransactionKind) {
              transactions(kind: $kind, first: 50) { edges { node { correlationId subject } } }
            }""",
            "variables": {"kind": kind},
        },
        timeout=30,
    ).json()
    for edge in body["data"]["transactions"]["edges"]:
        if edge["node"]["subject"] == subject:
            cid: str = edge["node"]["correlationId"]
            return cid
    return None


def wait_for(predicate: Any, timeout_s: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise TimeoutError(what)


def test_a_gateway_killed_mid_step_has_its_flow_finished_once(
    stack: Stack, tmp_path: Path, fault: Any
) -> None:
    from tests.resolvers.test_quote_to_cash import raw_id

    contract_id, customer = approved(stack)
    env = settings_env(stack.settings, lease_s=2, poll_s=0.5, wait_s=30)
    fault("ERP", latency_ms=3000)  # the ERP step is in flight long enough to kill it
    with gateway_process(env, tmp_path / "victim.log") as victim:
        request = threading.Thread(
            target=lambda: _quietly(
                victim.graphql_url,
                lifecycle("activate"),
                {"id": contract_id, "version": 1, "key": f"k-{uuid.uuid4()}"},
            ),
            daemon=True,
        )
        request.start()
        subject = raw_id(contract_id)
        cid = wait_for(
            lambda: correlation_of(stack, "ACTIVATE_CONTRACT", subject), what="the flow started"
        )

        def erp_in_flight() -> bool:
            tx = transaction(stack.graphql_url, cid)
            steps = tx["steps"] if tx else []
            return any(s["system"] == "ERP" and s["status"] == "RUNNING" for s in steps)

        wait_for(erp_in_flight, what="the ERP step in flight")
        victim.kill()
    httpx.delete(f"{stack.simulator_urls['ERP']}/_sim/faults")
    # Another replica (a fresh process) takes the abandoned flow over once the lease is out.
    with gateway_process(env, tmp_path / "rescuer.log") as rescuer:
        done = wait_for(
            lambda: (
                (tx := transaction(rescuer.graphql_url, cid)) and tx["status"] == "COMPLETED" and tx
            ),
            what="the flow completed",
        )
    billing, erp = done["steps"]
    assert billing["attempts"] == 1  # finished before the kill: not run again
    assert erp["attempts"] == 2  # in flight at the kill: run again, once
    assert len(subscriptions_for(stack, contract_id, customer)) == 1
    assert len(schedules_for(stack, contract_id)) == 1


def _quietly(url: str, query: str, variables: dict[str, Any]) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the process is killed under it
        httpx.post(url, json={"query": query, "variables": variables}, timeout=60)


def test_fifty_concurrent_identical_activations_make_one_of_everything(stack: Stack) -> None:
    contract_id, customer = approved(stack)
    k = f"k-{uuid.uuid4()}"
    results: list[dict[str, Any]] = []

    def call() -> None:
        body = httpx.post(
            stack.graphql_url,
            json={
                "query": lifecycle("activate"),
                "variables": {"id": contract_id, "version": 1, "key": k},
            },
            timeout=60,
        ).json()
        results.append(body["data"]["activateContract"])

    threads = [threading.Thread(target=call) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 50
    assert len({r["correlationId"] for r in results}) == 1
    assert sum(not r["replayed"] for r in results) == 1
    assert all(r["userErrors"] == [] for r in results)
    assert len(subscriptions_for(stack, contract_id, customer)) == 1
    assert len(schedules_for(stack, contract_id)) == 1


def test_activations_split_across_two_gateways_make_one_of_everything(
    stack: Stack, tmp_path: Path, postgres_url: str | None
) -> None:
    if postgres_url is None:
        pytest.skip("two gateway processes share Postgres, not an embedded SQLite file")
    contract_id, customer = approved(stack)
    k = f"k-{uuid.uuid4()}"
    env = settings_env(stack.settings)
    results: list[dict[str, Any]] = []
    with gateway_process(env, tmp_path / "other.log") as other:

        def call(url: str) -> None:
            body = httpx.post(
                url,
                json={
                    "query": lifecycle("activate"),
                    "variables": {"id": contract_id, "version": 1, "key": k},
                },
                timeout=60,
            ).json()
            results.append(body["data"]["activateContract"])

        threads = [
            threading.Thread(target=call, args=(url,))
            for url in [stack.graphql_url, other.graphql_url] * 25
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len({r["correlationId"] for r in results}) == 1
    assert sum(not r["replayed"] for r in results) == 1
    assert len(subscriptions_for(stack, contract_id, customer)) == 1
    assert len(schedules_for(stack, contract_id)) == 1
