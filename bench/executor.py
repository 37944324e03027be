"""Executor benchmark: the gateway's CPU per resolved field against graphql-core's floor.

Measures what executing the QuoteToCash document (``api/examples``) costs the
gateway with the network taken out, and what graphql-core alone needs to execute
the same document into the same answer. Prints one JSON line::

    {"fields": n, "gateway_ms_p50": g, "floor_ms_p50": f,
     "gateway_ns_per_field": gn, "floor_ns_per_field": fn, "ratio": gn / fn,
     "upstream_ms_excluded": u, ...}

How:

1. **The answer.** The four simulators (``customers``, seed 42, no vendor limits,
   no added latency), each in its own process as in ``bench/read_path.py``; the
   billing read model on, as the gateway runs by default (``--no-read-model``:
   off, every read goes to the systems: :func:`live_reads`); the store
   migrated, the crosswalk built, the gateway served on loopback from a
   background thread; one QuoteToCash POSTed with the viewer's API key. Its
   ``data`` is the reference answer. The gateway is then stopped (the
   simulators keep running).
2. **Gateway.** In this process: :class:`api.resources.Resources` opened from the
   same settings, and per run a :class:`resolvers.context.Context` built as
   ``api.graphql_view.GraphQLView.get_context`` builds it (the same clients,
   crosswalk lookup, the viewer's identity and its quota charge), then
   ``await resolvers.schema.schema.execute(...)`` under the request deadline, then
   ``Context.release()``, as ``GraphQLView.execute_single`` does. Every adapter's
   HTTP transport is wrapped by :class:`Replay`: the warm-up runs go to the
   simulators and record each upstream answer (method, URL, body → status,
   headers, raw body); the timed
   runs are answered from that record in memory, with no socket. A timed run
   whose upstream request was not recorded goes to the simulator and is counted
   (``live_upstream_calls``, expected 0). With the read model on, the warm-up
   fills it and the timed runs read Billing's lists from the store (the
   embedded SQLite: real I/O, its thread's CPU included), within its freshness
   bound, as a warm gateway does. The crosswalk cache's TTL is raised for
   the benchmark so the timed runs do not re-read the store. Each run's ``data``
   must equal the reference.

   *Included*: parsing and validating the document and strawberry's extensions
   (document limits, cost budget, trace, error policy), the resolvers,
   DataLoaders and crosswalk cache look-ups, the adapters building their
   requests and the httpx client stack down to the transport, decoding the
   upstream JSON into records, the read model's store queries, and graphql-core's
   execution (strawberry's resolver wrappers, permissions, type checks) of the
   result. *Excluded*: the
   network and the simulators (replayed), the HTTP server, authentication, and
   serializing the response (measured on its own below).
3. **Floor.** graphql-core alone: ``graphql.build_schema`` over the SDL the
   committed ``schema.graphql`` holds (:func:`resolvers.schema.schema_sdl`), the
   document parsed and validated once, then ``graphql.execute_sync`` of it over
   the reference ``data`` (plain dicts and lists) with a field resolver that
   reads the parent dict at the field's response key (``info.path.key``, so
   aliases work; arguments are ignored, the data is already what they asked).
   Its result must equal the reference. It runs at the stack depth where it is
   fastest, calibrated first (:meth:`Floor.note`: CPython 3.11's frame-stack
   chunks made the same execution cost 20 to 56 ms depending on how deep it was
   called); ``floor_depth``, ``floor_cpu_ms_by_depth`` and
   ``floor_page_faults_by_depth`` (best and worst depth) report it, and
   ``*_page_faults_p50`` show whether the timed runs hit that cliff. The timed
   runs alternate in blocks (:data:`BLOCK` gateway runs, then as many floor
   runs), so both are measured
   on the same machine state: a shared VM's speed drifts by a third within a
   minute, which measuring one after the other put into the ratio.

Times are per run: wall (``time.perf_counter``) and CPU (``time.process_time``,
this whole process: the simulators are other processes, and the stopped
gateway's thread is gone). ``*_ns_per_field`` and ``ratio`` are from the CPU p50s;
``fields`` is the number of fields resolved (every key of every object in the
result, which is also the number of calls the floor's resolver gets).
``upstream_ms_excluded`` is what the network and the simulators add: the p50
of the same in-process execution against the live simulators (loopback HTTP,
``latency_ms`` 0) minus the gateway's p50 wall time over the replay.
``json_stdlib_ms`` and ``json_view_ms`` time serializing ``{"data": ...}`` with
strawberry's default encoder (``json.dumps``) and with
``GraphQLView.encode_json``. The process's garbage collection is tuned as
``revgraph serve`` tunes it (:func:`api.runtime.tune_gc`), for both.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import graphql
import httpx
import typer

from api.demo import GATEWAY, migrate, stack_settings, start_gateway
from api.graphiql import example
from api.graphql_view import GraphQLView
from api.jobs import rebuild_crosswalk
from api.resources import Resources
from api.runtime import tune_gc
from api.settings import Settings
from bench.callers import authorized
from bench.read_path import simulator_processes
from domain.access import Identity, Role
from resolvers.context import Context
from resolvers.schema import schema, schema_sdl
from sources.correlation import new_correlation_id, set_correlation_id
from sources.deadline import deadline

OPERATION = "QuoteToCash"
BLOCK = 10
"""Timed runs of the gateway, then of the floor, in turn."""
LONG_TTL_S = 24 * 3600.0
CALIBRATION_DEPTHS = 64
"""Stack depths (in frames, every other one) the floor is tried at: several chunks' worth."""
CALIBRATION_RUNS = 5

T = TypeVar("T")

Answer = tuple[int, list[tuple[str, str]], bytes]
"""A recorded upstream answer: status, headers, raw (still encoded) body."""


@dataclass
class Replay(httpx.AsyncBaseTransport):
    """Records upstream answers while ``replaying`` is off, answers from them when on.

    Keyed by method, URL (with its query) and request body; headers that change
    per request (the correlation id) are not part of the key. The recorded body
    is the raw one, with the answer's own ``Content-Encoding``, so the client
    decodes it as it decoded the live one.
    """

    live: httpx.AsyncBaseTransport
    replaying: bool = False
    answers: dict[tuple[str, str, bytes], Answer] = field(default_factory=dict)
    replayed: int = 0
    live_calls: int = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.method, str(request.url), await request.aread())
        if self.replaying:
            answer = self.answers.get(key)
            if answer is not None:
                self.replayed += 1
                status, headers, body = answer
                return httpx.Response(status, headers=headers, content=body)
        self.live_calls += 1
        response = await self.live.handle_async_request(request)
        try:
            body = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
        headers = response.headers.multi_items()
        if response.status_code < 400:
            self.answers[key] = (response.status_code, headers, body)
        return httpx.Response(response.status_code, headers=headers, content=body)

    async def aclose(self) -> None:
        await self.live.aclose()


def count_fields(value: object) -> int:
    """Fields resolved to produce ``value``: every key of every object, at any depth."""
    if isinstance(value, dict):
        return sum(1 + count_fields(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_fields(v) for v in value)
    return 0


def p50(values: Sequence[float]) -> float:
    return statistics.median(values)


def live_reads(settings: Settings) -> Settings:
    """``settings`` with every read going to the systems, none to a read model.

    A read model answers from the store, which is I/O this benchmark does not
    replay; with it off, every upstream read is an HTTP call :class:`Replay`
    answers from memory. (Settings without read-model switches are returned as
    they are.)
    """
    reads = getattr(settings, "reads", None)
    if reads is None or not hasattr(reads, "billing_model"):
        return settings
    return settings.model_copy(update={"reads": reads.model_copy(update={"billing_model": False})})


def capture(settings: Settings, headers: dict[str, str], query: str) -> dict[str, Any]:
    """The gateway's answer over HTTP: the reference ``data``."""
    gateway = start_gateway(settings)
    try:
        url = f"{gateway.urls[GATEWAY]}/graphql"
        response = httpx.post(url, json={"query": query}, headers=headers, timeout=60)
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise SystemExit(f"query failed: {response.status_code} {body.get('errors')}")
        data: dict[str, Any] = body["data"]
        return data
    finally:
        gateway.stop()


@dataclass
class GatewayTimings:
    wall_ms: list[float]
    cpu_ms: list[float]
    floor_wall_ms: list[float]
    floor_cpu_ms: list[float]
    live_wall_ms: list[float]
    replayed_per_run: int
    live_upstream_calls: int
    faults: list[int]
    """Minor page faults of each timed run."""


async def time_gateway(
    settings: Settings,
    query: str,
    reference: dict[str, Any],
    floor: Floor,
    *,
    runs: int,
    warmup: int,
) -> GatewayTimings:
    resources = await Resources.open(settings)
    transports: list[Replay] = []
    for client in resources.clients.all():
        transport = Replay(client._http._transport)
        client._http._transport = transport
        transports.append(transport)
    # Keep every crosswalk entry cached for the whole benchmark (no store reads).
    resources.crosswalk.ttl_s = LONG_TTL_S
    resources.crosswalk.negative_ttl_s = LONG_TTL_S
    identity = Identity(
        name="bench-viewer", roles=frozenset({Role.VIEWER}), via="api_key", key_id="bench"
    )

    faults: list[int] = []

    async def run() -> tuple[float, float]:
        # As the middleware and GraphQLView.get_context/execute_single do per request.
        set_correlation_id(new_correlation_id())
        context = Context.create(
            resources.clients,
            resources.crosswalk,
            new_correlation_id(),
            identity=identity,
            charge=partial(resources.quotas.charge, identity),
        )
        started_faults = minor_faults()
        wall, cpu = time.perf_counter(), time.process_time()
        with deadline(settings.request_deadline_s):
            result = await schema.execute(query, context_value=context, operation_name=OPERATION)
        context.release()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        faults.append(minor_faults() - started_faults)
        if result.errors or result.data != reference:
            raise SystemExit(f"in-process answer differs: {result.errors}")
        return wall * 1000, cpu * 1000

    try:
        # Live (loopback HTTP to the simulators, recording what they answer).
        live = [(await run())[0] for _ in range(warmup)]
        for transport in transports:
            transport.replaying = True
        for _ in range(warmup):  # warm the replay itself (and record any stragglers)
            await run()
            floor.block(1)
        for depth in range(0, CALIBRATION_DEPTHS, 2):  # see Floor.note
            floor.depth = depth
            floor.note(depth, floor.block(CALIBRATION_RUNS))
        del floor.faults[:], faults[:]
        before = sum(t.live_calls for t in transports), sum(t.replayed for t in transports)
        timings: list[tuple[float, float]] = []
        floors: list[tuple[float, float]] = []
        for block in range(0, runs, BLOCK):
            # In alternating blocks, so both see the same machine (a shared VM's speed
            # drifts) and each runs with its own working set warm, as it would alone.
            size = min(BLOCK, runs - block)
            timings.extend([await run() for _ in range(size)])
            floors.extend(floor.block(size))
        live_calls = sum(t.live_calls for t in transports) - before[0]
        replayed = sum(t.replayed for t in transports) - before[1]
    finally:
        await resources.close()
    return GatewayTimings(
        wall_ms=[w for w, _ in timings],
        cpu_ms=[c for _, c in timings],
        floor_wall_ms=[w for w, _ in floors],
        floor_cpu_ms=[c for _, c in floors],
        live_wall_ms=live[1:] or live,  # the first live run also opens the connections
        replayed_per_run=replayed // runs,
        live_upstream_calls=live_calls,
        faults=faults,
    )


def floor_resolver(source: Any, info: graphql.GraphQLResolveInfo[Any], **_: Any) -> Any:
    return source[info.path.key]


def _at_depth(frames: int, call: Callable[[], T]) -> T:
    """``call()`` made ``frames`` Python frames deeper than this one."""
    if frames <= 0:
        return call()
    return _at_depth(frames - 1, call)


class Floor:
    """graphql-core executing the document over the reference data (see the module)."""

    def __init__(self, query: str, reference: dict[str, Any]) -> None:
        self.schema = graphql.build_schema(schema_sdl())
        self.document = graphql.parse(query)
        errors = graphql.validate(self.schema, self.document)
        if errors:
            raise SystemExit(f"the document does not validate against schema.graphql: {errors}")
        self.reference = reference
        self.calls = 0

        def counting(source: Any, info: graphql.GraphQLResolveInfo[Any], **args: Any) -> Any:
            self.calls += 1
            return floor_resolver(source, info, **args)

        checked = self._execute(counting)
        if checked.errors or checked.data != reference:
            raise SystemExit(f"graphql-core's answer differs: {checked.errors}")
        self.depth = 0
        self.depth_ms: dict[int, float] = {}
        self.depth_faults: dict[int, float] = {}
        self.faults: list[int] = []
        """Minor page faults of each execution (a chunk mapped afresh faults its pages in)."""

    def block(self, runs: int) -> list[tuple[float, float]]:
        """``runs`` executions at :attr:`depth` (see :meth:`note`): wall ms, CPU ms each."""
        return [_at_depth(self.depth, self._run) for _ in range(runs)]

    def note(self, depth: int, runs: list[tuple[float, float]]) -> None:
        """Calibration: the floor's runs at ``depth``; the depth kept is the one with
        the fewest page faults per run (the cliff below, counted rather than timed:
        a shared VM's speed drifts, the fault count does not), then the fastest.

        CPython 3.11 keeps frames on a stack of 16 KiB chunks and gives a chunk back
        to the OS (munmap) as soon as the stack drops below it: a recursion whose
        busiest frames sit on a chunk boundary maps and unmaps memory on nearly
        every call. graphql-core's completion recurses a dozen frames per level of
        the answer, so where the boundaries fall depends on how deep the caller
        already is; at some depths the same execution takes 2-5x as long
        (``strace -c``: ~3 600 mmap/munmap pairs per execution at a bad depth, none
        at a good one). The gateway executes in event-loop task steps, whose
        stacks stay shallow (about 6 pairs per request). So the floor runs at its
        best depth, found by :func:`time_gateway` calling :meth:`block` at each
        depth from the very line it later times it from: a frame more or less
        (even a list comprehension's) moves the boundaries.
        """
        self.depth_ms[depth] = p50([cpu for _, cpu in runs])
        self.depth_faults[depth] = p50(self.faults[-len(runs) :])
        self.depth = min(self.depth_ms, key=lambda d: (self.depth_faults[d], self.depth_ms[d]))

    def _execute(self, resolver: Callable[..., Any]) -> graphql.ExecutionResult:
        return graphql.execute_sync(
            self.schema,
            self.document,
            root_value=self.reference,
            operation_name=OPERATION,
            field_resolver=resolver,
        )

    def _run(self) -> tuple[float, float]:
        faults = minor_faults()
        wall, cpu = time.perf_counter(), time.process_time()
        self._execute(floor_resolver)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        self.faults.append(minor_faults() - faults)
        return wall * 1000, cpu * 1000


def minor_faults() -> int:
    """This process's minor page faults so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def time_json(reference: dict[str, Any], *, runs: int) -> tuple[float, float]:
    """p50 ms of strawberry's default encoder and of the view's, on ``{"data": ...}``."""
    body = {"data": reference}
    view = GraphQLView()
    if json.loads(view.encode_json(body)) != body:
        raise SystemExit("GraphQLView.encode_json changes the response")

    def timed(encode: Callable[[object], object]) -> float:
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            encode(body)
            samples.append((time.perf_counter() - started) * 1000)
        return p50(samples)

    stdlib = timed(partial(json.dumps, separators=(",", ":")))
    return stdlib, timed(view.encode_json)


def main(
    customers: int = 50,
    runs: int = 200,
    warmup: int = 10,
    read_model: bool = typer.Option(
        True, help="Billing's read model on (the default configuration), else live reads."
    ),
) -> None:
    query = example("quote_to_cash")
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator_processes(customers, Path(tmp) / "simulators") as urls,
    ):
        settings = stack_settings(urls, Path(tmp), prefix="bench_executor")
        if not read_model:
            settings = live_reads(settings)
        asyncio.run(migrate(settings))
        settings, callers = authorized(settings)
        asyncio.run(rebuild_crosswalk(settings))
        for url in urls.values():
            httpx.post(f"{url}/_sim/faults", json={"latency_ms": 0}).raise_for_status()
        reference = capture(settings, callers[Role.VIEWER], query)
        # As `revgraph serve` does once the app is built (see api.runtime).
        tune_gc()
        floor = Floor(query, reference)
        gateway = asyncio.run(
            time_gateway(settings, query, reference, floor, runs=runs, warmup=warmup)
        )
    floor_wall, floor_cpu = gateway.floor_wall_ms, gateway.floor_cpu_ms
    json_stdlib, json_view = time_json(reference, runs=max(20, runs // 4))
    fields = count_fields(reference)
    if floor.calls != fields:
        raise SystemExit(f"the floor resolved {floor.calls} fields, the answer has {fields}")
    gateway_ns = p50(gateway.cpu_ms) * 1e6 / fields
    floor_ns = p50(floor_cpu) * 1e6 / fields
    print(
        json.dumps(
            {
                "fields": fields,
                "gateway_ms_p50": round(p50(gateway.wall_ms), 2),
                "floor_ms_p50": round(p50(floor_wall), 2),
                "gateway_cpu_ms_p50": round(p50(gateway.cpu_ms), 2),
                "floor_cpu_ms_p50": round(p50(floor_cpu), 2),
                "gateway_ns_per_field": round(gateway_ns),
                "floor_ns_per_field": round(floor_ns),
                "ratio": round(gateway_ns / floor_ns, 2),
                "floor_depth": floor.depth,
                "floor_cpu_ms_by_depth": [
                    round(min(floor.depth_ms.values()), 2),
                    round(max(floor.depth_ms.values()), 2),
                ],
                "floor_page_faults_by_depth": [
                    round(min(floor.depth_faults.values())),
                    round(max(floor.depth_faults.values())),
                ],
                "floor_page_faults_p50": round(p50(floor.faults)),
                "gateway_page_faults_p50": round(p50(gateway.faults)),
                "upstream_ms_excluded": round(p50(gateway.live_wall_ms) - p50(gateway.wall_ms), 2),
                "live_ms_p50": round(p50(gateway.live_wall_ms), 2),
                "upstream_calls_replayed": gateway.replayed_per_run,
                "live_upstream_calls": gateway.live_upstream_calls,
                "json_stdlib_ms": round(json_stdlib, 2),
                "json_view_ms": round(json_view, 2),
                "read_model": read_model,
                "runs": runs,
                "customers": customers,
            }
        )
    )


if __name__ == "__main__":
    typer.run(main)
