"""Read-path benchmark: the QuoteToCash query against simulators with fixed latency.

Starts the four simulators (200 customers) with ``latency_ms`` on every upstream
request, the gateway on loopback, runs QuoteToCash sequentially after a warm-up
and prints one JSON line::

    {"upstream_requests": {"CRM": n, ...}, "hops": h, "critical_path_ms": h*L,
     "p50_ms": x, "p95_ms": y, "ratio_p50": x / (h*L)}

``hops`` is the number of sequential cross-system levels the query needs:
CRM customers → CRM parents ∥ contracts → billing ∥ ERP schedules → ERP postings.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import typer

from api.demo import start_stack
from api.graphiql import example
from simulators.registry import SIMULATORS

HOPS = 4


def main(
    customers: int = 200,
    latency_ms: int = 25,
    runs: int = 40,
    warmup: int = 5,
) -> None:
    query = example("quote_to_cash")
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(customers=customers, seed=42, data_dir=Path(tmp))
        try:
            with httpx.Client(timeout=60) as client:
                for url in stack.simulator_urls.values():
                    client.post(f"{url}/_sim/faults", json={"latency_ms": latency_ms})

                def run() -> float:
                    started = time.perf_counter()
                    response = client.post(stack.graphql_url, json={"query": query})
                    elapsed = (time.perf_counter() - started) * 1000
                    body = response.json()
                    if response.status_code != 200 or body.get("errors"):
                        errors = body.get("errors")
                        raise SystemExit(f"query failed: {response.status_code} {errors}")
                    return elapsed

                for _ in range(warmup):
                    run()
                for url in stack.simulator_urls.values():
                    client.delete(f"{url}/_sim/stats")
                run()
                counts = {
                    name: client.get(f"{url}/_sim/stats").json()["requests"]
                    for name, url in stack.simulator_urls.items()
                }
                timings = sorted(run() for _ in range(runs))
        finally:
            stack.stop()
    critical = HOPS * latency_ms
    p50 = statistics.median(timings)
    p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
    print(
        json.dumps(
            {
                "upstream_requests": {name: counts[name] for name in SIMULATORS},
                "hops": HOPS,
                "critical_path_ms": critical,
                "p50_ms": round(p50, 1),
                "p95_ms": round(p95, 1),
                "ratio_p50": round(p50 / critical, 3),
            }
        )
    )


if __name__ == "__main__":
    typer.run(main)
