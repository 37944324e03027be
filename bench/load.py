"""Load benchmark: concurrent QuoteToCash against the demo stack, and the gateway's memory.

Starts the four simulators (each in its own process, SQLite), builds the
crosswalk, and runs the gateway as a subprocess (``revgraph serve``) so that the
resident memory measured is the gateway's alone (``VmRSS`` of its pid). After a
short warm-up it runs ``concurrency`` clients in a closed loop for
``duration`` seconds, then leaves the gateway idle for ``idle`` seconds, and
prints one JSON line::

    {"concurrency": 20, "duration_s": 60, "requests": n, "rps": r,
     "p50_ms": x, "p95_ms": y, "p99_ms": z, "errors": e, "billing_rps": b,
     "rss_mb": {"start": warm, "peak": p, "end_of_load": l, "idle": i}, "idle_s": 60}

``--limits`` turns the vendors' limits on in the simulators and paces the
gateway's Billing adapter as the demo does; ``billing_rps`` is the Billing
requests per second during the load (Stripe allows 25). Everything listens on
loopback only. Extra environment for the gateway (for
instance ``MALLOC_ARENA_MAX``) is taken from the bench's own environment.
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import typer

from api.demo import migrate, stack_settings
from api.graphiql import example
from api.jobs import rebuild_crosswalk
from api.settings import Settings
from bench.callers import authorized
from bench.read_path import simulator_processes
from domain.access import Role
from simulators.serving import free_port_block

HOST = "127.0.0.1"


def rss_mb(pid: int) -> float:
    """Resident set size of process ``pid`` in MiB (``VmRSS`` in /proc)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def gateway_env(settings: Settings) -> dict[str, str]:
    """The environment that makes ``revgraph serve`` use ``settings``' sources and store."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DATABASE_URL"] = settings.database_url
    for name in ("crm", "contracts", "billing", "erp"):
        env[f"REVGRAPH_{name.upper()}_URL"] = getattr(settings, name).url
        env[f"REVGRAPH_{name.upper()}_TOKEN"] = getattr(settings, name).token
        env[f"REVGRAPH_{name.upper()}_RATE_LIMIT_PER_S"] = str(
            getattr(settings, name).rate_limit_per_s
        )
    env["REVGRAPH_AUTH_KEY_RATE_PER_S"] = str(settings.auth.key_rate_per_s)
    env["REVGRAPH_AUTH_KEY_COST_PER_MIN"] = str(settings.auth.key_cost_per_min)
    return env


@contextlib.contextmanager
def gateway_process(settings: Settings) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``revgraph serve`` on a free loopback port; yields the process and its URL."""
    port = free_port_block(1)
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--host", HOST, "--port", str(port)],
        env=gateway_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            try:
                if httpx.get(f"{url}/healthz").is_success:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield process, url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))]


async def run_load(
    url: str,
    pid: int,
    query: str,
    concurrency: int,
    duration_s: float,
    headers: dict[str, str],
) -> dict[str, Any]:
    """``concurrency`` closed-loop clients for ``duration_s``; latencies, errors, peak RSS."""
    timings: list[float] = []
    errors = 0
    peak = rss_mb(pid)
    stop_at = time.monotonic() + duration_s
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, timeout=60, limits=limits, headers=headers
    ) as client:

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                try:
                    response = await client.post("/graphql", json={"query": query})
                    failed = response.status_code != 200 or bool(response.json().get("errors"))
                except httpx.HTTPError:
                    failed = True
                timings.append((time.perf_counter() - started) * 1000)
                errors += failed

        async def sample() -> None:
            nonlocal peak
            while time.monotonic() < stop_at:
                peak = max(peak, rss_mb(pid))
                await asyncio.sleep(0.25)

        started = time.monotonic()
        await asyncio.gather(sample(), *(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    timings.sort()
    return {
        "requests": len(timings),
        "rps": round(len(timings) / elapsed, 1),
        "p50_ms": round(statistics.median(timings), 1) if timings else 0.0,
        "p95_ms": round(percentile(timings, 0.95), 1),
        "p99_ms": round(percentile(timings, 0.99), 1),
        "errors": errors,
        "peak": max(peak, rss_mb(pid)),
    }


def main(
    concurrency: int = typer.Option(20, help="Concurrent clients."),
    duration: float = typer.Option(60.0, help="Seconds of load."),
    idle: float = typer.Option(60.0, help="Seconds of idle after the load before the last RSS."),
    first: int = typer.Option(10, help="Customers per QuoteToCash page."),
    customers: int = typer.Option(200, help="Customers seeded in the simulators."),
    warmup: int = typer.Option(5, help="Sequential requests before the warm baseline."),
    limits: bool = typer.Option(False, "--limits/--no-limits", help="Vendor limits on."),
) -> None:
    query = example("quote_to_cash").replace("customers(first: 50)", f"customers(first: {first})")
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator_processes(customers, Path(tmp) / "simulators", limits=limits) as urls,
    ):
        settings = stack_settings(urls, Path(tmp), prefix="load", limits=limits)
        asyncio.run(migrate(settings))
        settings, callers = authorized(settings)
        asyncio.run(rebuild_crosswalk(settings))
        with gateway_process(settings) as (process, url):
            with httpx.Client(base_url=url, timeout=60, headers=callers[Role.VIEWER]) as client:
                for _ in range(warmup):
                    body = client.post("/graphql", json={"query": query}).json()
                    if body.get("errors"):
                        raise SystemExit(f"warm-up query failed: {body['errors']}")
            time.sleep(2)
            start = rss_mb(process.pid)
            billing_url = f"{urls['BILLING']}/_sim/stats"
            billing_before = httpx.get(billing_url).json()["requests"]
            load = asyncio.run(
                run_load(url, process.pid, query, concurrency, duration, callers[Role.VIEWER])
            )
            billing_rps = (httpx.get(billing_url).json()["requests"] - billing_before) / duration
            end_of_load = rss_mb(process.pid)
            time.sleep(idle)
            after_idle = rss_mb(process.pid)
    peak = load.pop("peak")
    print(
        json.dumps(
            {
                "concurrency": concurrency,
                "duration_s": duration,
                "limits": limits,
                **load,
                "billing_rps": round(billing_rps, 2),
                "rss_mb": {
                    "start": round(start, 1),
                    "peak": round(peak, 1),
                    "end_of_load": round(end_of_load, 1),
                    "idle": round(after_idle, 1),
                },
                "idle_s": idle,
            }
        )
    )


if __name__ == "__main__":
    typer.run(main)
