"""The gateway's consistency keeper: the view fills itself at start when asked to."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from api.demo import GATEWAY, Stack, migrate, stack_settings, start_gateway
from domain.access import Role
from tests.resolvers.test_consistency import planted


def test_a_gateway_started_with_sweep_on_start_opens_with_the_view_filled(
    stack: Stack, tmp_path: Path, redis_prefix: str
) -> None:
    settings = stack_settings(
        stack.simulator_urls,
        tmp_path,
        prefix=f"{redis_prefix.rstrip(':')}_keeper",
        breakers=False,
        anonymous_role=Role.ADMIN,
        caller_limits=False,
    )
    consistency = settings.consistency.model_copy(update={"sweep_on_start": True})
    settings = settings.model_copy(update={"consistency": consistency})
    asyncio.run(migrate(settings))
    gateway = start_gateway(settings)
    try:
        url = f"{gateway.urls[GATEWAY]}/graphql"
        query = "query S { consistencySummary { customers unreconciled } }"
        deadline = time.monotonic() + 60
        while True:
            summary = httpx.post(url, json={"query": query}, timeout=30).json()["data"][
                "consistencySummary"
            ]
            if summary["customers"] == stack.customers:
                break
            assert time.monotonic() < deadline, summary
            time.sleep(0.2)
        assert summary["unreconciled"] == len(planted(stack.manifest))
    finally:
        gateway.stop()


def test_a_gateway_with_a_sweep_interval_sweeps_periodically(
    stack: Stack, tmp_path: Path, redis_prefix: str
) -> None:
    settings = stack_settings(
        stack.simulator_urls,
        tmp_path,
        prefix=f"{redis_prefix.rstrip(':')}_periodic",
        breakers=False,
        anonymous_role=Role.ADMIN,
        caller_limits=False,
    )
    consistency = settings.consistency.model_copy(update={"sweep_every_s": 0.5})
    settings = settings.model_copy(update={"consistency": consistency})
    asyncio.run(migrate(settings))
    gateway = start_gateway(settings)
    try:
        url = f"{gateway.urls[GATEWAY]}/graphql"
        query = "query R { reconciliationRun { id status } }"
        deadline = time.monotonic() + 60
        while True:
            run = httpx.post(url, json={"query": query}, timeout=30).json()["data"][
                "reconciliationRun"
            ]
            if run and run["id"] >= 2 and run["status"] == "COMPLETED":
                break
            assert time.monotonic() < deadline, run
            time.sleep(0.2)
    finally:
        gateway.stop()
