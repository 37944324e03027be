"""``/healthz`` (the process) and ``/readyz`` (store, cache, every source, the crosswalk)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from api.demo import Stack

DEPENDENCIES = {"store", "cache", "CRM", "CONTRACTS", "BILLING", "ERP", "crosswalk"}


@pytest.fixture
def take_down(stack: Stack) -> Iterator[Callable[[str], None]]:
    """``take_down(system)`` makes a simulator answer 503; all are restored afterwards."""
    downed: list[str] = []

    def down(system: str) -> None:
        url = stack.simulator_urls[system]
        downed.append(url)
        httpx.post(f"{url}/_sim/faults", json={"down": True}).raise_for_status()

    try:
        yield down
    finally:
        for url in downed:
            httpx.delete(f"{url}/_sim/faults")


def test_healthz_answers_with_an_id(stack: Stack) -> None:
    response = httpx.get(f"{stack.gateway_url}/healthz", headers={"X-Correlation-ID": "probe-1"})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["X-Correlation-ID"] == "probe-1"


def test_readyz_is_200_when_everything_answers(stack: Stack) -> None:
    response = httpx.get(f"{stack.gateway_url}/readyz", timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == DEPENDENCIES
    for name, check in body["checks"].items():
        assert check["ok"] is True, name
        assert check["latency_ms"] >= 0
    crosswalk = body["checks"]["crosswalk"]
    assert crosswalk["state"] == "ready" and crosswalk["entries"] == stack.customers
    assert crosswalk["lastRun"] == stack.crosswalk.finished_at.isoformat()
    assert response.headers["X-Correlation-ID"]


def test_readyz_is_503_with_the_failing_source_named(
    stack: Stack, take_down: Callable[[str], None]
) -> None:
    take_down("CRM")
    response = httpx.get(f"{stack.gateway_url}/readyz", timeout=30)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    checks = body["checks"]
    assert checks["CRM"]["ok"] is False
    assert checks["CRM"]["error"].startswith("SourceUnavailable: ")
    assert all(checks[name]["ok"] for name in DEPENDENCIES - {"CRM"})
    assert response.headers["X-Correlation-ID"]


def test_readyz_recovers_when_the_source_is_back(
    stack: Stack, take_down: Callable[[str], None]
) -> None:
    take_down("BILLING")
    take_down("ERP")
    down = httpx.get(f"{stack.gateway_url}/readyz", timeout=30).json()["checks"]
    assert [name for name in sorted(DEPENDENCIES) if not down[name]["ok"]] == ["BILLING", "ERP"]
    for system in ("BILLING", "ERP"):
        httpx.delete(f"{stack.simulator_urls[system]}/_sim/faults")
    assert httpx.get(f"{stack.gateway_url}/readyz", timeout=30).status_code == 200
