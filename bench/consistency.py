"""Consistency benchmark: a full reconciliation sweep, then the consistency view served
from its cache.

Starts the four simulators (``--customers``, each in its own process as in
:mod:`bench.read_path`, vendor limits off) with ``--latency-ms`` added to every
upstream request, migrates a store (SQLite), builds the crosswalk (without the added
latency; the gateway would otherwise build it in the background while the reads
are timed) and then:

1. **Sweep**: ``revgraph reconcile``'s job (:func:`api.jobs.reconcile`, so the bench
   measures what users run) over every customer, timed (``sweep_s``), with the
   simulators' request counters reset before it (``DELETE /_sim/stats``) and read
   after it: ``upstream_requests`` per system (the CRM's count query included) and
   ``requests_per_customer``.
2. **Reads**: a gateway on loopback sharing the sweep's consistency cache (Redis:
   ``REDIS_URL`` or ``--redis-url``, required; a run-scoped key prefix, removed at
   the end) answers ``consistency(status: DRIFT, first: 100)`` and
   ``consistencySummary`` ``--runs`` times each after ``--warmup``, sequentially,
   each timed as one HTTP round trip: ``drift_p50_ms``/``drift_p95_ms`` and
   ``summary_p50_ms``/``summary_p95_ms`` (target p50 ≤ 10 ms). Both come from the
   cache: ``read_upstream_requests`` (requests the simulators saw during the reads)
   must be 0, and the summary must agree with the sweep's.

It prints one JSON line::

    {"customers": 2000, "latency_ms": 25, "page_size": 200, "sweep_s": s,
     "customers_per_s": r, "upstream_requests": {"CRM": n, ..., "total": t},
     "requests_per_customer": t / customers, "checks": c, "unreconciled": u,
     "drift_checks_returned": d, "drift_p50_ms": x, "drift_p95_ms": y,
     "summary_p50_ms": x, "summary_p95_ms": y, "target_p50_ms": 10,
     "read_upstream_requests": 0}

The GraphQL fields must exist (``consistency`` and ``consistencySummary`` on
``Query``); the bench exits non-zero saying so when they do not.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import typer

from api.demo import GATEWAY, migrate, stack_settings, start_gateway
from api.jobs import rebuild_crosswalk, reconcile
from api.runtime import tune_gc
from bench.callers import authorized
from bench.read_path import simulator_processes
from domain.access import Role
from domain.consistency.types import CheckStatus

TARGET_P50_MS = 10.0
DRIFT_QUERY = """
query Drift {
  consistency(status: DRIFT, first: 100) {
    edges {
      node {
        rule subjectKind subjectId status message
        values { system value }
        variance { amount currency }
      }
    }
  }
}
"""
SUMMARY_QUERY = """
query Summary {
  consistencySummary {
    total unreconciled
    byStatus { status count }
    byRule { rule count }
  }
}
"""
QUERY_FIELDS = '{ __type(name: "Query") { fields { name } } }'
NEEDED_FIELDS = ("consistency", "consistencySummary")


def _percentile(sorted_ms: list[float], q: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, round(q * (len(sorted_ms) - 1)))]


def _stats(client: httpx.Client, urls: Mapping[str, str]) -> dict[str, int]:
    counts = {
        name: int(client.get(f"{url}/_sim/stats").json()["requests"]) for name, url in urls.items()
    }
    return counts | {"total": sum(counts.values())}


def _reset_stats(client: httpx.Client, urls: Mapping[str, str]) -> None:
    for url in urls.values():
        client.delete(f"{url}/_sim/stats").raise_for_status()


def _drop_keys(redis_url: str, prefix: str) -> None:
    import redis

    connection = redis.Redis.from_url(redis_url)
    try:
        keys = list(connection.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            connection.unlink(*keys)
    finally:
        connection.close()


def _require_fields(client: httpx.Client, graphql_url: str) -> None:
    response = client.post(graphql_url, json={"query": QUERY_FIELDS})
    body = response.json()
    fields = {f["name"] for f in ((body.get("data") or {}).get("__type") or {}).get("fields", [])}
    missing = [name for name in NEEDED_FIELDS if name not in fields]
    if missing:
        raise SystemExit(
            f"bench/consistency.py: the gateway's schema has no Query.{', Query.'.join(missing)} "
            "yet (the consistency view's GraphQL fields): the read timings cannot be taken."
        )


def _timed(client: httpx.Client, graphql_url: str, query: str) -> Callable[[], tuple[float, Any]]:
    def run() -> tuple[float, Any]:
        started = time.perf_counter()
        response = client.post(graphql_url, json={"query": query})
        elapsed = (time.perf_counter() - started) * 1000
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise SystemExit(f"query failed: {response.status_code} {body.get('errors')}")
        return elapsed, body["data"]

    return run


def main(
    customers: int = typer.Option(2000, min=1, help="CRM customers seeded and swept."),
    latency_ms: int = typer.Option(25, min=0, help="Added to every upstream request."),
    runs: int = typer.Option(200, min=1, help="Timed runs of each query."),
    warmup: int = typer.Option(20, min=0, help="Untimed runs of each query first."),
    page_size: int = typer.Option(200, min=1, max=1000, help="The sweep's page size."),
    redis_url: str | None = typer.Option(
        None, help="Redis shared by the sweep and the gateway (default: REDIS_URL)."
    ),
) -> None:
    redis_url = redis_url or os.environ.get("REDIS_URL")
    if not redis_url:
        raise SystemExit(
            "bench/consistency.py needs Redis (REDIS_URL or --redis-url): the sweep and the "
            "gateway share the consistency cache there."
        )
    prefix = f"bench-consistency-{uuid.uuid4().hex[:8]}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator_processes(customers, Path(tmp) / "simulators", limits=False) as urls,
        httpx.Client(timeout=120) as client,
    ):
        settings = stack_settings(urls, Path(tmp), redis_url=redis_url, prefix=prefix)
        try:
            asyncio.run(migrate(settings))
            settings, callers = authorized(settings)
            client.headers.update(callers[Role.VIEWER])
            # The gateway builds a missing crosswalk in the background when it starts,
            # which would read billing during the timed reads: build it first.
            asyncio.run(rebuild_crosswalk(settings))
            for url in urls.values():
                client.post(f"{url}/_sim/faults", json={"latency_ms": latency_ms})
            _reset_stats(client, urls)
            started = time.perf_counter()
            result = asyncio.run(reconcile(settings, page_size=page_size))
            sweep_s = time.perf_counter() - started
            upstream = _stats(client, urls)
            summary = result.report.summary
            if result.sweep.run.processed != customers:
                raise SystemExit(
                    f"the sweep processed {result.sweep.run.processed} of {customers} customers"
                )

            gateway = start_gateway(settings)
            tune_gc()  # as `revgraph serve` does once the app is built
            graphql_url = f"{gateway.urls[GATEWAY]}/graphql"
            try:
                _require_fields(client, graphql_url)
                drift = _timed(client, graphql_url, DRIFT_QUERY)
                totals = _timed(client, graphql_url, SUMMARY_QUERY)
                for _ in range(warmup):
                    drift()
                    totals()
                _reset_stats(client, urls)
                drift_ms: list[float] = []
                summary_ms: list[float] = []
                drift_data: Any = None
                summary_data: Any = None
                for _ in range(runs):
                    elapsed, drift_data = drift()
                    drift_ms.append(elapsed)
                    elapsed, summary_data = totals()
                    summary_ms.append(elapsed)
                read_upstream = _stats(client, urls)["total"]
            finally:
                gateway.stop()
        finally:
            _drop_keys(redis_url, settings.redis_prefix)

    served = summary_data["consistencySummary"]
    if (served["total"], served["unreconciled"]) != (summary.total, summary.unreconciled):
        raise SystemExit(
            f"consistencySummary {served['total']}/{served['unreconciled']} disagrees with "
            f"the sweep's {summary.total}/{summary.unreconciled}"
        )
    returned = len(drift_data["consistency"]["edges"])
    if returned != min(100, summary.by_status.get(CheckStatus.DRIFT, 0)):
        raise SystemExit(f"consistency(status: DRIFT, first: 100) returned {returned} checks")
    drift_ms.sort()
    summary_ms.sort()
    print(
        json.dumps(
            {
                "customers": customers,
                "latency_ms": latency_ms,
                "page_size": page_size,
                "sweep_s": round(sweep_s, 2),
                "customers_per_s": round(customers / sweep_s, 1),
                "upstream_requests": upstream,
                "requests_per_customer": round(upstream["total"] / customers, 3),
                "checks": summary.total,
                "unreconciled": summary.unreconciled,
                "drift_checks_returned": returned,
                "drift_p50_ms": round(statistics.median(drift_ms), 2),
                "drift_p95_ms": round(_percentile(drift_ms, 0.95), 2),
                "summary_p50_ms": round(statistics.median(summary_ms), 2),
                "summary_p95_ms": round(_percentile(summary_ms, 0.95), 2),
                "target_p50_ms": TARGET_P50_MS,
                "read_upstream_requests": read_upstream,
            }
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    typer.run(main)
