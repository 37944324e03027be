"""The demo's setup under the vendors' limits: complete answers, and no 429 reaches a client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from api.demo import Stack
from domain.access import Role
from tests.conftest import own_stack
from tests.resolvers.test_quote_to_cash import QUOTE_TO_CASH


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = own_stack(
        tmp_path_factory,
        "limited",
        customers=24,  # ~50 Billing calls a query: twice what Stripe allows a second
        seed=3,
        limits=True,
        anonymous_role=Role.VIEWER,  # explicitly: this test is about the vendors' limits
    )
    yield stack
    stack.stop()


def test_simulators_enforce_the_vendor_limits(limited: Stack) -> None:
    for name, url in limited.simulator_urls.items():
        assert httpx.get(f"{url}/_sim/limits").json()["enabled"] is True, name


def test_quote_to_cash_is_complete_with_limits_on(limited: Stack) -> None:
    for _ in range(2):
        body = httpx.post(limited.graphql_url, json={"query": QUOTE_TO_CASH}, timeout=60).json()
        assert "errors" not in body, body.get("errors")
    customers = body["data"]["customers"]["edges"]
    assert len(customers) == 24
    contracts = [c["node"] for e in customers for c in e["node"]["contracts"]["edges"]]
    live = [c for c in contracts if c["status"] == "Activated"]
    assert live and all(c["subscription"] for c in live)
    # The gateway paced itself: the vendors refused nothing.
    refused = {
        name: sum(
            limit.get("refused", 0)
            for limit in httpx.get(f"{url}/_sim/limits").json()["limits"].values()
        )
        for name, url in limited.simulator_urls.items()
    }
    assert refused == dict.fromkeys(limited.simulator_urls, 0)
