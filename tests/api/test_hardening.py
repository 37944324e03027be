"""The gateway against hostile requests, end to end: refused before any upstream call.

Each case was measured against the demo before the limits existed (issue 7):
a fragment chain held the event loop 12 s, 5 000 ids in a variable sent 5 000
requests to Billing, 30 aliases made 236 upstream calls, a 70 000-character
``namePrefix`` answered INTERNAL_SERVER_ERROR. Upstream calls are counted from
the simulators' ``/_sim/stats``.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.demo import Stack
from api.graphiql import example
from api.runtime import GC_THRESHOLDS, MemoryTrimmer, tune_gc
from resolvers.limits import Limits
from store.cache import MemoryCache
from tests.resolvers.test_limits import fragment_chain, thirty_aliases


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
        yield client


def reset_stats(stack: Stack) -> None:
    for url in stack.simulator_urls.values():
        httpx.delete(f"{url}/_sim/stats")


def upstream_requests(stack: Stack) -> dict[str, int]:
    return {
        name: httpx.get(f"{url}/_sim/stats").json()["requests"]
        for name, url in stack.simulator_urls.items()
    }


def refused(http: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> Any:
    """The single error of a request that was refused before execution."""
    response = http.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "data" not in body, body
    (error,) = body["errors"]
    return error


def invoice_id(n: int) -> str:
    return base64.b64encode(f"Invoice:in_{n:06d}".encode()).decode()


async def test_a_fragment_chain_is_refused_and_healthz_answers_meanwhile(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as client:
        chain, health = await asyncio.gather(
            client.post("/graphql", json={"query": fragment_chain(21)}),
            client.get("/healthz"),
        )
    assert health.status_code == 200
    (error,) = chain.json()["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_five_thousand_ids_are_refused_without_upstream_calls(
    stack: Stack, http: httpx.Client
) -> None:
    reset_stats(stack)
    error = refused(
        http,
        "query Many($ids: [ID!]!) { nodes(ids: $ids) { id ... on Invoice { number } } }",
        {"ids": [invoice_id(n) for n in range(5_000)]},
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "ids", "limit": 100}
    assert "5000" in error["message"]
    assert sum(upstream_requests(stack).values()) == 0


def test_thirty_aliases_are_over_the_budget_before_any_upstream_call(
    stack: Stack, http: httpx.Client
) -> None:
    reset_stats(stack)
    error = refused(http, thirty_aliases())
    extensions = error["extensions"]
    assert extensions["code"] == "COST_LIMIT_EXCEEDED"
    assert extensions["cost"] > extensions["limit"] == Limits().max_cost
    assert sum(upstream_requests(stack).values()) == 0


def test_a_long_name_prefix_is_bad_user_input_naming_the_argument(http: httpx.Client) -> None:
    query = "query P($p: String) { customers(namePrefix: $p) { edges { node { id } } } }"
    error = refused(http, query, {"p": "x" * 70_000})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argument"] == "namePrefix"
    assert error["extensions"]["limit"] == Limits().max_string_length
    assert "namePrefix" in error["message"]


def test_a_megabyte_of_comments_is_refused_before_parsing(http: httpx.Client) -> None:
    query = "# " + "comment " * 125_000 + "\n{ __typename }"
    error = refused(http, query)
    assert error["extensions"] == {
        "code": "DOCUMENT_TOO_LARGE",
        "limit": Limits().max_document_chars,
    }


def test_quote_to_cash_reports_its_cost(http: httpx.Client) -> None:
    response = http.post("/graphql", json={"query": example("quote_to_cash")})
    body = response.json()
    assert "errors" not in body, body.get("errors")
    cost = body["extensions"]["cost"]
    assert cost["limit"] == Limits().max_cost
    assert 0 < cost["requested"] <= cost["limit"] // 2


def test_a_refusal_counts_as_a_request_error_under_graphql_response_json(
    http: httpx.Client,
) -> None:
    response = http.post(
        "/graphql",
        json={"query": thirty_aliases()},
        headers={"accept": "application/graphql-response+json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"


def test_the_memory_trimmer_collects_once_a_burst_is_over() -> None:
    trimmer = MemoryTrimmer(0.05)
    trimmer.start()
    try:
        for _ in range(5):  # a burst: enough container allocations for young collections
            junk: list[list[int]] = [[] for _ in range(100_000)]
            del junk
            time.sleep(0.01)
        deadline = time.monotonic() + 30
        while trimmer.trims == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert trimmer.trims >= 1
    finally:
        trimmer.stop()
        trimmer.join()


def test_gc_keeps_a_cadence_that_reaches_the_oldest_generation() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        young, middle, old = GC_THRESHOLDS
        # A full collection at most every ~100k container allocations (see api/runtime.py).
        assert young * middle * old <= 100_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


async def test_the_memory_cache_is_bounded_in_bytes() -> None:
    cache = MemoryCache(max_entries=100, max_bytes=1_000)
    await cache.set_many({f"k{i}": b"x" * 300 for i in range(3)}, ttl_s=60)
    assert set(await cache.get_many(["k0", "k1", "k2"])) == {"k0", "k1", "k2"}
    await cache.set_many({"k3": b"y" * 300}, ttl_s=60)  # over 1 000 bytes: the oldest goes
    assert set(await cache.get_many(["k0", "k1", "k2", "k3"])) == {"k1", "k2", "k3"}
    await cache.set_many({"k1": b"z" * 10}, ttl_s=60)  # a smaller value frees room
    await cache.set_many({"k4": b"w" * 300}, ttl_s=60)
    assert set(await cache.get_many(["k1", "k2", "k3", "k4"])) == {"k1", "k2", "k3", "k4"}
