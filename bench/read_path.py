"""Read-path benchmark: the QuoteToCash query against simulators with fixed latency.

Starts the four simulators (200 customers), each in its own process as separate
systems would be, with ``latency_ms`` added to every upstream request; builds the
crosswalk; serves the gateway on loopback; runs QuoteToCash sequentially after
a warm-up and prints one JSON line::

    {"upstream_requests": {"CRM": n, ...}, "hops": h, "critical_path_ms": h*L,
     "p50_ms": x, "p95_ms": y, "ratio_p50": x / (h*L), "limits": true,
     "throttled": t}

With ``--limits`` (the default) the simulators enforce their vendors' limits at
the vendors' defaults (Stripe 25 requests/s per endpoint and test-mode account,
NetSuite 5 concurrent requests, Salesforce's daily allocation: ``revgraph
simulators --limits``); ``throttled`` is how many requests they refused (the
sum of the ``refused`` counters of ``GET /_sim/limits``) during the measured
runs. ``--client-limits`` (the default with ``--limits``) paces the gateway's
Billing adapter as the demo does (``REVGRAPH_BILLING_RATE_LIMIT_PER_S=20``);
without it the gateway meets the limits with 429s and ``Retry-After`` alone.

``hops`` is the number of sequential cross-system levels the query needs:
CRM customers → CRM parents ∥ contracts → billing ∥ ERP schedules → ERP postings.
``upstream_requests`` counts one query, read from the simulators' ``/_sim/stats``.

With ``--read-model`` (the default) Billing's lists come from the billing read
model: the warm-up fills it, so the measured runs are its steady state; then
``--cold-runs`` runs each start on an emptied read model (every list read live
within the rate limiter): ``cold_p50_ms`` and ``cold_throttled`` (refusals
during them). Any error or non-200 answer ends the benchmark, so a 429 never
reaches the client unnoticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import typer

from api.demo import GATEWAY, migrate, stack_settings, start_gateway
from api.graphiql import example
from api.jobs import rebuild_crosswalk
from api.runtime import tune_gc
from api.settings import Settings
from bench.callers import authorized
from domain.access import Role
from simulators.registry import SIMULATORS
from simulators.serving import free_port_block
from store.billing_objects import BillingObjects
from store.database import create_engine

HOPS = 4


@contextlib.contextmanager
def simulator_processes(
    customers: int, data_dir: Path, *, limits: bool = False
) -> Iterator[dict[str, str]]:
    """One ``revgraph simulators --only X`` process per system (SQLite); yields URLs.

    Separate processes, as separate systems would be: in one process, the
    billing fan-out and the ERP's queries would queue behind each other.
    """
    base = free_port_block()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "api.cli",
                "simulators",
                "--only",
                name,
                "--customers",
                str(customers),
                "--base-port",
                str(base),
                "--data-dir",
                str(data_dir / name.lower()),
                "--limits" if limits else "--no-limits",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        for name in SIMULATORS
    ]
    urls = {name: f"http://127.0.0.1:{spec.port(base)}" for name, spec in SIMULATORS.items()}
    try:
        deadline = time.monotonic() + 180
        while not _all_answer(urls.values()):
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                raise RuntimeError("the simulators did not start")
            time.sleep(0.2)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


def _all_answer(urls: Iterable[str]) -> bool:
    try:
        return all(httpx.get(f"{url}/_sim/stats").is_success for url in urls)
    except httpx.TransportError:
        return False


def refused(client: httpx.Client, urls: Iterable[str]) -> int:
    """Requests the simulators refused for a vendor limit, so far (all kinds of limit)."""
    total = 0
    for url in urls:
        for limit in client.get(f"{url}/_sim/limits").json()["limits"].values():
            total += int(limit.get("refused", 0))
    return total


async def _empty_read_model(settings: Settings) -> None:
    engine = create_engine(settings.database_url, schema=settings.store_schema)
    try:
        await BillingObjects(engine).clear()
    finally:
        await engine.dispose()


def main(
    customers: int = 200,
    latency_ms: int = 25,
    runs: int = 40,
    warmup: int = 5,
    read_model: bool = typer.Option(
        True, "--read-model/--no-read-model", help="Billing's lists from the read model."
    ),
    cold_runs: int = typer.Option(5, help="Runs on an emptied read model (with --read-model)."),
    limits: bool = typer.Option(True, "--limits/--no-limits", help="Vendor limits on."),
    client_limits: bool | None = typer.Option(
        None, "--client-limits/--no-client-limits", help="Pace the adapters (default: --limits)."
    ),
) -> None:
    paced = limits if client_limits is None else client_limits
    query = example("quote_to_cash")
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator_processes(customers, Path(tmp) / "simulators", limits=limits) as urls,
    ):
        settings = stack_settings(
            urls, Path(tmp), prefix="bench", limits=paced, billing_read_model=read_model
        )
        asyncio.run(migrate(settings))
        settings, callers = authorized(settings)
        asyncio.run(rebuild_crosswalk(settings))
        gateway = start_gateway(settings)
        # As `revgraph serve` does once the app is built (see api.runtime).
        tune_gc()
        graphql_url = f"{gateway.urls[GATEWAY]}/graphql"
        try:
            with httpx.Client(timeout=60, headers=callers[Role.VIEWER]) as client:
                for url in urls.values():
                    client.post(f"{url}/_sim/faults", json={"latency_ms": latency_ms})

                def run() -> float:
                    started = time.perf_counter()
                    response = client.post(graphql_url, json={"query": query})
                    elapsed = (time.perf_counter() - started) * 1000
                    body = response.json()
                    if response.status_code != 200 or body.get("errors"):
                        errors = body.get("errors")
                        raise SystemExit(f"query failed: {response.status_code} {errors}")
                    return elapsed

                for _ in range(warmup):
                    run()
                for url in urls.values():
                    client.delete(f"{url}/_sim/stats")
                refused_before = refused(client, urls.values())
                run()
                counts = {
                    name: client.get(f"{url}/_sim/stats").json()["requests"]
                    for name, url in urls.items()
                }
                timings = sorted(run() for _ in range(runs))
                throttled = refused(client, urls.values()) - refused_before
                cold: dict[str, Any] = {}
                if read_model and cold_runs > 0:
                    refused_before = refused(client, urls.values())
                    cold_timings = []
                    for _ in range(cold_runs):
                        asyncio.run(_empty_read_model(settings))
                        cold_timings.append(run())
                    cold = {
                        "cold_p50_ms": round(statistics.median(cold_timings), 1),
                        "cold_throttled": refused(client, urls.values()) - refused_before,
                        "cold_runs": cold_runs,
                    }
        finally:
            gateway.stop()
    critical = HOPS * latency_ms
    p50 = statistics.median(timings)
    p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
    print(
        json.dumps(
            {
                "upstream_requests": counts,
                "hops": HOPS,
                "critical_path_ms": critical,
                "p50_ms": round(p50, 1),
                "p95_ms": round(p95, 1),
                "ratio_p50": round(p50 / critical, 3) if critical else None,
                "limits": limits,
                "client_limits": paced,
                "throttled": throttled,
                "read_model": read_model,
                **cold,
            }
        )
    )


if __name__ == "__main__":
    typer.run(main)
