"""Write-path benchmark: ``activateContract`` end to end against simulators with fixed latency.

Starts the four simulators (``--customers``, each in its own process as in
:mod:`bench.read_path`), builds the crosswalk and serves the gateway on loopback.
Then:

1. **Setup** (no added latency): ``--contracts`` customers, each with one
   approved contract (``createCustomer``, ``createContract``, ``submitContract``,
   ``approveContract``, ``--concurrency`` at a time), so each contract can be
   activated exactly once. Every mutation carries its own idempotency key. A
   create refused with ``FLOW_IN_PROGRESS`` is sent again under a new key: every
   create's transaction has the subject ``new:customer`` (``new:contract``)
   until its first step has made the record, so concurrent creates of one kind
   refuse each other (``--explain`` says how many were refused).
2. **Sequential** (``--latency-ms`` on every simulator): ``--warmup``
   activations, then ``--runs`` activations one after another, each timed as one
   HTTP round trip (``p50_ms``/``p95_ms``). Every activation must end
   ``COMPLETED`` (the bench exits non-zero otherwise). The first measured one is
   counted at the simulators (``DELETE``/``GET /_sim/stats``): ``upstream_requests``.
3. **Fit**: ``--fit-runs`` activations with no added latency and as many at twice
   ``--latency-ms``; with the sequential runs, a least-squares line through the
   three medians gives the time each millisecond of upstream latency adds.
4. **Throughput**: the remaining contracts, activated by ``--concurrency``
   clients in a closed loop; ``flows_per_s`` is the activations that completed
   divided by the wall time (each flow runs in the gateway's flow runner, the
   worker, and the mutation waits for it).

It prints one JSON line::

    {"latency_ms": 25, "activations": n, "p50_ms": x, "p95_ms": y,
     "upstream_requests": {"CRM": n, ..., "total": t}, "dependent_calls": d,
     "dependent_calls_fit": f, "chain": ["CONTRACTS", ...],
     "critical_path_ms": d*L, "ratio_p50": x / (d*L), "concurrency": c,
     "flows_per_s": r, "concurrent_p50_ms": z, "failed": 0,
     "limits": false, "client_limits": false, "throttled": 0}

**How the critical path is determined.** ``dependent_calls`` is measured, not
read off the code: the bench serves the gateway in its own process and adds an
observer to each of the gateway's source clients
(:attr:`sources.base.SourceClient.observers`, which every attempt reports to
with its duration), so it knows when each upstream call of an activation
started and ended. The dependent chain is the longest sequence of those calls
in which each started after the one before had ended (the rule
:mod:`resolvers.dataloaders.trace` uses for queries): concurrent calls (a
``gather``) overlap and count once, calls made one after another each count.
With 25 ms on every call the two cases are far apart. Every attempt counts, so
a call the vendor refused (429, ``--limits``) and its retry are two. It is the
median over the sequential runs (it has been the same on each). ``chain`` names the
systems along it, in order; it covers the whole mutation — the lifecycle check
before the flow, the flow's reads and steps, and the contract read again for the
payload. ``critical_path_ms`` is ``dependent_calls * latency_ms``: the least
time any implementation making those dependent calls could take.
``dependent_calls_fit`` checks it from the outside: the slope of the median
activation time against the added latency (ms per ms) is the number of upstream
round trips that sit on the critical path, whatever the gateway does in between.

Runs with ``--no-limits`` by default: the write path's own cost, not the
vendors' throttling. ``--limits`` turns the vendors' limits on in the simulators
(as ``revgraph simulators --limits``; NetSuite's 5 concurrent requests matter
here), and ``--client-limits`` (default: as ``--limits``) paces the gateway's
Billing adapter; ``throttled`` is the requests the simulators refused for a limit
during the measured phases; ``failed`` is the throughput phase's activations
that did not complete (the bench prints the line, then exits non-zero).

``--explain`` prints to stderr, per added latency, the median time and the part
of it spent on the upstream chain; the timeline of one activation's upstream
calls (``*`` on the chain); the requests by route; and for the throughput phase
each system's calls and mean time (including waits for an adapter's connection
slot) and the CPU each process used. Webhooks are not pointed at the gateway.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import typer
from starlette.types import ASGIApp, Receive, Scope, Send

from api.app import create_app
from api.demo import GATEWAY, migrate, stack_settings
from api.jobs import rebuild_crosswalk
from api.lifespan import check_startup
from api.resources import Resources
from api.runtime import tune_gc
from api.settings import Settings
from bench.callers import authorized
from bench.read_path import simulator_processes
from domain.access import Role
from simulators.serving import BackgroundServers
from sources.systems import System

TX_FIELDS = """
  correlationId replayed
  userErrors { field code message }
  transaction { status steps { system action status attempts errorCode errorMessage } }
"""
CONTRACT_FIELDS = "contract { id status version totalValue { amount currency } }"

CREATE_CUSTOMER = f"""
mutation Create($input: CreateCustomerInput!, $key: String) {{
  createCustomer(input: $input, idempotencyKey: $key) {{ {TX_FIELDS} customer {{ id }} }}
}}"""

CREATE_CONTRACT = f"""
mutation CreateContract($input: CreateContractInput!, $key: String) {{
  createContract(input: $input, idempotencyKey: $key) {{ {TX_FIELDS} {CONTRACT_FIELDS} }}
}}"""


def lifecycle(action: str) -> str:
    """``submitContract``, ``approveContract``, ``activateContract``: same arguments."""
    return f"""
mutation {action.title()}($id: ID!, $version: Int!, $key: String) {{
  {action}Contract(id: $id, version: $version, idempotencyKey: $key) {{
    {TX_FIELDS} {CONTRACT_FIELDS}
  }}
}}"""


ACTIVATE = lifecycle("activate")
SETTLE_S = 120.0
"""How long a flow still RUNNING when its mutation answered may take to settle."""


class BenchError(Exception):
    """The stack did not do what the bench needs (a mutation refused or not completed)."""


class FlowInProgress(BenchError):
    """Refused with FLOW_IN_PROGRESS: another flow is unfinished on the same subject."""


# --- observing the gateway's upstream calls ---------------------------------------------


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    system: System
    started: float
    ended: float


@dataclass
class Recorder:
    """Collects every upstream attempt the gateway makes (from the gateway's thread)."""

    calls: list[UpstreamCall] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, system: System, outcome: str, seconds: float) -> None:
        ended = time.perf_counter()
        with self._lock:
            self.calls.append(UpstreamCall(system, ended - seconds, ended))

    def take(self) -> list[UpstreamCall]:
        with self._lock:
            calls, self.calls = self.calls, []
        return calls


def longest_chain(calls: Sequence[UpstreamCall]) -> list[UpstreamCall]:
    """The longest sequence of calls each of which started after the previous one ended."""
    ordered = sorted(calls, key=lambda c: (c.started, c.ended))
    best: list[int] = []
    before: list[int | None] = []
    for i, call in enumerate(ordered):
        length, previous = 1, None
        for j in range(i):
            if ordered[j].ended <= call.started and best[j] + 1 > length:
                length, previous = best[j] + 1, j
        best.append(length)
        before.append(previous)
    if not ordered:
        return []
    at: int | None = max(range(len(ordered)), key=best.__getitem__)
    chain: list[UpstreamCall] = []
    while at is not None:
        chain.append(ordered[at])
        at = before[at]
    return chain[::-1]


@dataclass
class Sample:
    """One activation: its end-to-end time and the upstream calls it made."""

    elapsed_ms: float
    calls: list[UpstreamCall]
    chain: list[UpstreamCall] = field(init=False)

    def __post_init__(self) -> None:
        self.chain = longest_chain(self.calls)

    @property
    def chain_ms(self) -> float:
        return 1000 * sum(c.ended - c.started for c in self.chain)


class CaptureResources:
    """An ASGI wrapper that keeps the gateway's lifespan ``resources`` (its source
    clients) from the first request, so the bench can observe their calls."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.resources: Resources | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.resources is None:
            self.resources = scope.get("state", {}).get("resources")
        await self.app(scope, receive, send)


def start_observed_gateway(settings: Settings) -> tuple[BackgroundServers, CaptureResources]:
    """:func:`api.demo.start_gateway`, keeping hold of the app's resources."""
    asyncio.run(check_startup(settings))
    holder: list[CaptureResources] = []

    async def build(_: Mapping[str, str]) -> Mapping[str, ASGIApp]:
        holder.append(CaptureResources(create_app(settings)))
        return {GATEWAY: holder[0]}

    gateway = BackgroundServers(
        build, {GATEWAY: 0}, host="127.0.0.1", lifespan=True, name="gateway"
    )
    gateway.start()
    return gateway, holder[0]


# --- GraphQL ---------------------------------------------------------------------------


def new_key() -> str:
    return f"bench-{uuid.uuid4()}"


@dataclass
class Gateway:
    client: httpx.AsyncClient
    graphql_url: str
    callers: Mapping[Role, dict[str, str]]
    """Each role's Authorization header: creates and submits as sales_ops, approvals
    as the approver (never the creator), activations as finance."""
    busy_refusals: int = 0
    """Creates refused with FLOW_IN_PROGRESS during the setup (and sent again)."""

    async def mutate(
        self, query: str, variables: Mapping[str, Any], role: Role = Role.SALES_OPS
    ) -> dict[str, Any]:
        """The mutation's payload (its only root field); BenchError on a GraphQL error."""
        response = await self.client.post(
            self.graphql_url,
            json={"query": query, "variables": dict(variables)},
            headers=self.callers[role],
        )
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise BenchError(f"{response.status_code}: {body.get('errors') or body}")
        (payload,) = body["data"].values()
        if errors := payload["userErrors"]:
            busy = all(e["code"] == "FLOW_IN_PROGRESS" for e in errors)
            raise (FlowInProgress if busy else BenchError)(f"refused: {errors}")
        result: dict[str, Any] = payload
        return result

    async def settled(
        self, query: str, variables: Mapping[str, Any], role: Role = Role.SALES_OPS
    ) -> dict[str, Any]:
        """The mutation run to its end: a flow still RUNNING is asked for again with the
        same key (a replay waits for it) until it settles; BenchError unless COMPLETED."""
        payload = await self.mutate(query, variables, role)
        deadline = time.monotonic() + SETTLE_S
        while payload["transaction"]["status"] in ("PENDING", "RUNNING"):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
            payload = await self.mutate(query, variables, role)
        tx = payload["transaction"]
        if tx["status"] != "COMPLETED":
            raise BenchError(
                f"transaction {payload['correlationId']} is {tx['status']}: {tx['steps']}"
            )
        return payload

    async def create(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """A create, sent again under a new key while it is refused with FLOW_IN_PROGRESS.

        Every create's transaction has the subject ``new:customer`` (``new:contract``)
        until its first step has made the record, and a flow unfinished on a subject
        refuses another: concurrent creates of one kind are refused, not queued.
        """
        deadline = time.monotonic() + SETTLE_S
        while True:
            try:
                return await self.settled(query, {**variables, "key": new_key()})
            except FlowInProgress:
                self.busy_refusals += 1
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.01)


async def approved_contract(gateway: Gateway, n: int) -> str:
    """A new customer (in every system) with an approved contract; the contract id."""
    name = f"Bench Write {n} {uuid.uuid4().hex[:6]}"
    customer = await gateway.create(CREATE_CUSTOMER, {"input": {"name": name, "currency": "USD"}})
    contract_input = {
        "customerId": customer["customer"]["id"],
        "startDate": "2026-01-01",
        "termMonths": 12,
        "currency": "USD",
        "lines": [
            {"productId": "PRD-A", "productName": "Platform", "quantity": 2, "unitPrice": "100.00"}
        ],
    }
    created = await gateway.create(CREATE_CONTRACT, {"input": contract_input})
    contract_id: str = created["contract"]["id"]
    for action, role in (("submit", Role.SALES_OPS), ("approve", Role.APPROVER)):
        await gateway.settled(
            lifecycle(action), {"id": contract_id, "version": 1, "key": new_key()}, role
        )
    return contract_id


async def activate(gateway: Gateway, contract_id: str) -> float:
    """One activation, end to end (ms); BenchError unless it completed."""
    started = time.perf_counter()
    payload = await gateway.settled(
        ACTIVATE, {"id": contract_id, "version": 1, "key": new_key()}, Role.FINANCE
    )
    elapsed = (time.perf_counter() - started) * 1000
    steps = [(s["system"], s["action"], s["status"]) for s in payload["transaction"]["steps"]]
    if [s[2] for s in steps] != ["SUCCEEDED"] * len(steps) or not steps:
        raise BenchError(f"activation of {contract_id}: {steps}")
    return elapsed


async def bounded(calls: Iterable[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await call()

    return await asyncio.gather(*(one(call) for call in calls))


# --- simulator control -----------------------------------------------------------------


async def set_latency(client: httpx.AsyncClient, urls: Iterable[str], latency_ms: int) -> None:
    for url in urls:
        response = await client.post(f"{url}/_sim/faults", json={"latency_ms": latency_ms})
        response.raise_for_status()


async def refused(client: httpx.AsyncClient, urls: Iterable[str]) -> int:
    """Requests the simulators refused for a vendor limit, so far (all kinds of limit)."""
    total = 0
    for url in urls:
        limits = (await client.get(f"{url}/_sim/limits")).json()["limits"]
        total += sum(int(limit.get("refused", 0)) for limit in limits.values())
    return total


def percentile(sorted_values: Sequence[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))]


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of ``y`` against ``x``."""
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    num = sum((x - mean_x) * (y - mean_y) for x, y in points)
    den = sum((x - mean_x) ** 2 for x, _ in points)
    return num / den


@dataclass(frozen=True)
class Options:
    contracts: int
    runs: int
    warmup: int
    fit_runs: int
    concurrency: int
    latency_ms: int


async def measure(
    options: Options,
    urls: Mapping[str, str],
    graphql_url: str,
    callers: Mapping[Role, dict[str, str]],
    recorder: Recorder,
    explain: bool,
) -> dict[str, Any]:
    sims = list(urls.values())
    # One connection per concurrent client, kept alive.
    limits = httpx.Limits(max_connections=options.concurrency + 2)
    async with httpx.AsyncClient(timeout=SETTLE_S, limits=limits) as client:
        gateway = Gateway(client, graphql_url, callers)
        await set_latency(client, sims, 0)
        started = time.perf_counter()
        contract_ids: list[str] = await bounded(
            (partial(approved_contract, gateway, n) for n in range(options.contracts)),
            options.concurrency,
        )
        setup_s = time.perf_counter() - started
        pending = iter(contract_ids)

        async def observed() -> Sample:
            recorder.take()
            elapsed = await activate(gateway, next(pending))
            return Sample(elapsed, recorder.take())

        await set_latency(client, sims, options.latency_ms)
        for _ in range(options.warmup):
            await observed()
        refused_before = await refused(client, sims)

        # The first measured activation is also counted at the simulators.
        for url in sims:
            (await client.delete(f"{url}/_sim/stats")).raise_for_status()
        samples = {options.latency_ms: [await observed()]}
        stats = {name: (await client.get(f"{url}/_sim/stats")).json() for name, url in urls.items()}
        samples[options.latency_ms] += [await observed() for _ in range(options.runs - 1)]
        for latency in (0, 2 * options.latency_ms):
            await set_latency(client, sims, latency)
            samples[latency] = [await observed() for _ in range(options.fit_runs)]
        await set_latency(client, sims, options.latency_ms)

        rest = list(pending)
        recorder.take()
        cpu_before = cpu_seconds()
        started = time.perf_counter()
        outcomes: list[float | BaseException] = await bounded(
            (partial(_attempt, gateway, c) for c in rest), options.concurrency
        )
        wall_s = time.perf_counter() - started
        cpu = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_seconds().items()}
        concurrent_calls = recorder.take()
        throttled = await refused(client, sims) - refused_before

    concurrent = sorted(t for t in outcomes if isinstance(t, float))
    failures = [o for o in outcomes if not isinstance(o, float)]
    for failure in failures[:3]:
        print(f"throughput phase: {failure}", file=sys.stderr)
    if explain:
        _explain(samples, stats, setup_s)
        _by_system(concurrent_calls, options.latency_ms, options.concurrency)
        busy = ", ".join(f"{name} {seconds / wall_s:.0%}" for name, seconds in cpu.items())
        print(f"  CPU busy over {wall_s:.1f}s: {busy}", file=sys.stderr)
        print(f"setup creates refused FLOW_IN_PROGRESS: {gateway.busy_refusals}", file=sys.stderr)
    measured = samples[options.latency_ms]
    timings = sorted(s.elapsed_ms for s in measured)
    # The same on every run so far; the median guards against an odd one.
    dependent = round(statistics.median(len(s.chain) for s in measured))
    chain = next(s.chain for s in measured if len(s.chain) == dependent)
    fit = [
        (latency, statistics.median(s.elapsed_ms for s in runs))
        for latency, runs in samples.items()
    ]
    critical = dependent * options.latency_ms
    p50 = statistics.median(timings)
    upstream = {name: int(s["requests"]) for name, s in stats.items()}
    return {
        "latency_ms": options.latency_ms,
        "activations": len(timings),
        "p50_ms": round(p50, 1),
        "p95_ms": round(percentile(timings, 0.95), 1),
        "upstream_requests": {**upstream, "total": sum(upstream.values())},
        "dependent_calls": dependent,
        "dependent_calls_fit": round(slope(fit), 2),
        "chain": [str(call.system) for call in chain],
        "critical_path_ms": critical,
        "ratio_p50": round(p50 / critical, 3) if critical else None,
        "concurrency": options.concurrency,
        "flows_per_s": round(len(concurrent) / wall_s, 2) if wall_s else None,
        "concurrent_p50_ms": round(statistics.median(concurrent), 1) if concurrent else None,
        "failed": len(failures),
        "throttled": throttled,
    }


async def _attempt(gateway: Gateway, contract_id: str) -> float | BaseException:
    """An activation's time, or why it failed (the throughput phase counts failures)."""
    try:
        return await activate(gateway, contract_id)
    except (BenchError, httpx.HTTPError) as error:
        return error


def _explain(
    samples: Mapping[int, Sequence[Sample]], stats: Mapping[str, Any], setup_s: float
) -> None:
    out = sys.stderr
    print(f"setup: {setup_s:.1f}s", file=out)
    for latency, runs in sorted(samples.items()):
        median = statistics.median(s.elapsed_ms for s in runs)
        on_chain = statistics.median(s.chain_ms for s in runs)
        print(
            f"+{latency} ms: median {median:.1f} ms, of which on the upstream chain "
            f"{on_chain:.1f} ms; chain lengths {sorted({len(s.chain) for s in runs})}",
            file=out,
        )
    for latency, runs in sorted(samples.items()):
        if latency:
            _timeline(runs[0], latency)
    for name, s in stats.items():
        print(f"{name}: {json.dumps(s['by_route'])}", file=out)


def cpu_seconds() -> dict[str, float]:
    """CPU time so far of this process (gateway and bench client) and of each simulator
    process (its ``--only`` system); Linux ``/proc`` only, else just this process."""
    found = {"gateway+bench": time.process_time()}
    tick = os.sysconf("SC_CLK_TCK")
    try:
        for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
            for pid in children.read_text().split():
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                name = argv[argv.index(b"--only") + 1].decode() if b"--only" in argv else pid
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                found[name] = (int(stat[11]) + int(stat[12])) / tick
    except (OSError, ValueError, IndexError):
        pass
    return found


def _by_system(calls: Sequence[UpstreamCall], latency: int, concurrency: int) -> None:
    """Per system, in the throughput phase: calls and their mean time (latency, the
    simulator's own time, and any wait for one of the adapter's connection slots)."""
    print(f"throughput phase ({concurrency} clients), upstream attempts:", file=sys.stderr)
    for system in sorted({c.system for c in calls}):
        times = [1000 * (c.ended - c.started) for c in calls if c.system == system]
        print(
            f"  {system!s:<10} {len(times):5d} calls, mean {statistics.fmean(times):6.1f} ms, "
            f"p95 {percentile(sorted(times), 0.95):6.1f} ms (latency {latency} ms)",
            file=sys.stderr,
        )


def _timeline(sample: Sample, latency: int) -> None:
    out = sys.stderr
    t0 = min((c.started for c in sample.calls), default=0.0)
    on_chain = {id(c) for c in sample.chain}
    print(f"one activation at +{latency} ms ({len(sample.calls)} upstream attempts):", file=out)
    for call in sorted(sample.calls, key=lambda c: c.started):
        mark = "*" if id(call) in on_chain else " "
        print(
            f"  {mark} {call.system!s:<10} {1000 * (call.started - t0):7.1f} → "
            f"{1000 * (call.ended - t0):7.1f} ms",
            file=out,
        )


def main(
    contracts: int = typer.Option(100, help="Approved contracts to set up (one activation each)."),
    runs: int = typer.Option(20, help="Sequential activations timed at --latency-ms."),
    warmup: int = typer.Option(2, help="Activations at --latency-ms before timing."),
    fit_runs: int = typer.Option(8, help="Activations at 0 and at 2 x --latency-ms, for the fit."),
    concurrency: int = typer.Option(8, help="Concurrent clients (setup and throughput)."),
    latency_ms: int = typer.Option(25, help="Added to every upstream request."),
    customers: int = typer.Option(50, help="Seeded customers per simulator."),
    limits: bool = typer.Option(False, "--limits/--no-limits", help="Vendor limits on."),
    client_limits: bool | None = typer.Option(
        None, "--client-limits/--no-client-limits", help="Pace the adapters (default: --limits)."
    ),
    explain: bool = typer.Option(False, help="Print the measured chain to stderr."),
) -> None:
    options = Options(contracts, runs, warmup, fit_runs, concurrency, latency_ms)
    needed = warmup + runs + 2 * fit_runs
    if runs < 1 or contracts <= needed:
        raise SystemExit(f"--contracts must exceed --warmup + --runs + 2 x --fit-runs = {needed}")
    paced = limits if client_limits is None else client_limits
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator_processes(customers, Path(tmp) / "simulators", limits=limits) as urls,
    ):
        settings = stack_settings(urls, Path(tmp), prefix="bench", limits=paced)
        asyncio.run(migrate(settings))
        settings, callers = authorized(settings)
        asyncio.run(rebuild_crosswalk(settings))
        gateway, captured = start_observed_gateway(settings)
        tune_gc()  # as `revgraph serve` does once the app is built (see api.runtime)
        try:
            httpx.get(f"{gateway.urls[GATEWAY]}/healthz").raise_for_status()
            if captured.resources is None:
                raise SystemExit("could not reach the gateway's resources")
            recorder = Recorder()
            for source in captured.resources.clients.all():
                source.observers.append(recorder.observe)
            result = asyncio.run(
                measure(
                    options, urls, f"{gateway.urls[GATEWAY]}/graphql", callers, recorder, explain
                )
            )
        except BenchError as error:
            raise SystemExit(f"write path failed: {error}") from error
        finally:
            gateway.stop()
    print(json.dumps({**result, "limits": limits, "client_limits": paced}))
    if result["failed"]:
        raise SystemExit(f"{result['failed']} activation(s) did not complete")


if __name__ == "__main__":
    typer.run(main)
