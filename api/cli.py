"""The ``revgraph`` command line.

::

    revgraph simulators [--customers 200] [--seed 42] [--base-port 8000] [--host 127.0.0.1]
                        [--data-dir .revgraph/simulators] [--keep] [--schema-prefix revgraph_sim]
    revgraph simulators manifest [--customers 200] [--seed 42]
    revgraph crosswalk rebuild [--max-problems 50]
    revgraph reconcile [--resume] [--page-size N] [--pages-per-s X]
    revgraph db upgrade
    revgraph demo [--customers 200] [--port 8000] [--base-port 8000]
    revgraph serve [--host 127.0.0.1] [--port 8000]
    revgraph schema export [-o schema.graphql]
    revgraph schema check --against FILE|REF [--changelog CHANGELOG.md]

Settings (store, sources) come from the environment or a settings file, see
:mod:`api.settings`. ``simulators`` keeps its data in SQLite files under
``--data-dir``, or in Postgres schemas ``<schema-prefix>_<system>`` when
``DATABASE_URL`` is a Postgres URL; the drift manifest goes to
``<data-dir>/drift-manifest.json`` either way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.audit_cli import audit_app
from api.keys_cli import keys_app

# Only typer at import time: `revgraph --help` must not load the schema, the
# simulators or the servers. Every command imports what it needs when it runs.
if TYPE_CHECKING:
    from rich.console import Console

    from api.jobs import Reconciliation
    from api.settings import Settings
    from domain.crosswalk import CrosswalkResult
    from simulators.cluster import Cluster
    from store.reconciliation import ReconciliationRun

DEFAULT_BASE_PORT = 8000
"""The simulators' base port (``simulators.registry.DEFAULT_BASE_PORT``, spelled out
so that the help does not import the simulators; a test checks they agree)."""

# Plain help (no rich panels): options read "--port PORT  Port to listen on.", with no
# type labels such as <int> or <bool> next to every option.
_TYPER: dict[str, Any] = {"rich_markup_mode": None, "add_completion": False}

app = typer.Typer(
    name="revgraph",
    help="One GraphQL gateway over CRM, contracts, billing and ERP systems of record.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    **_TYPER,
)
simulators_app = typer.Typer(help="Run the four simulated systems of record.", **_TYPER)
crosswalk_app = typer.Typer(
    help="The crosswalk of canonical customer ids.", no_args_is_help=True, **_TYPER
)
db_app = typer.Typer(help="The gateway's SQL store.", no_args_is_help=True, **_TYPER)
schema_app = typer.Typer(help="The GraphQL schema.", no_args_is_help=True, **_TYPER)
documents_app = typer.Typer(
    help="Trusted documents (persisted queries).", no_args_is_help=True, **_TYPER
)
app.add_typer(simulators_app, name="simulators")
app.add_typer(crosswalk_app, name="crosswalk")
app.add_typer(db_app, name="db")
app.add_typer(schema_app, name="schema")
app.add_typer(documents_app, name="documents")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")

MANIFEST_FILE = "drift-manifest.json"
KEYS_FILE = "demo-keys.json"
"""The demo's API keys by role (only the owner may read it)."""
CustomersOpt = Annotated[
    int, typer.Option(min=0, metavar="N", help="How many CRM customers to seed.")
]
SeedOpt = Annotated[int, typer.Option(metavar="SEED", help="Seed of the deterministic data.")]
LimitsOpt = Annotated[
    bool,
    typer.Option(
        help="Enforce the vendors' limits in the simulators (Stripe's rate limits, "
        "NetSuite's concurrency, Salesforce's daily allocation); see /_sim/limits."
    ),
]
HostOpt = Annotated[str, typer.Option(metavar="HOST", help="Interface to listen on.")]
BasePortOpt = Annotated[
    int, typer.Option(metavar="PORT", help="Simulators listen on base+1 .. base+4.")
]


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


class _Out:
    """stdout and stderr consoles, made on first use (rich is not needed for --help)."""

    _out: Console | None = None
    _err: Console | None = None

    @property
    def out(self) -> Console:
        if self._out is None:
            self._out = _console()
        return self._out

    @property
    def err(self) -> Console:
        if self._err is None:
            self._err = _console(stderr=True)
        return self._err


_io = _Out()


def _fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` (rich markup) on stderr; the caller raises what this returns."""
    _io.err.print(message, soft_wrap=True)
    return typer.Exit(code)


# --- simulators ----------------------------------------------------------------


@simulators_app.callback(invoke_without_command=True)
def simulators(
    ctx: typer.Context,
    customers: CustomersOpt = 200,
    seed: SeedOpt = 42,
    base_port: BasePortOpt = DEFAULT_BASE_PORT,
    host: HostOpt = "127.0.0.1",
    data_dir: Annotated[
        Path, typer.Option(metavar="DIR", help="Where data and manifest live.")
    ] = Path(".revgraph/simulators"),
    keep: Annotated[
        bool, typer.Option(help="Serve the data stored by an earlier run instead of reseeding.")
    ] = False,
    schema_prefix: Annotated[
        str, typer.Option(metavar="PREFIX", help="Postgres only: schemas are PREFIX_<system>.")
    ] = "revgraph_sim",
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            metavar="SYSTEM",
            help="Serve just this system (repeatable): CRM, CONTRACTS, BILLING, ERP. "
            "Run one process per system to give each its own CPU, as real systems have.",
        ),
    ] = None,
    limits: LimitsOpt = True,
) -> None:
    """Seed (unless --keep) and serve the simulators (all four by default) until Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    from api.demo import port_in_use_message
    from api.settings import Settings
    from simulators.cluster import Cluster
    from simulators.registry import SIMULATORS
    from simulators.seed import generate
    from simulators.serving import PortInUse, run

    console = _io.out
    names = tuple(n.upper() for n in only) if only else tuple(SIMULATORS)
    unknown = [n for n in names if n not in SIMULATORS]
    if unknown:
        known = ", ".join(SIMULATORS)
        raise _fail(f"[red]No such system:[/] {', '.join(unknown)} (one of {known})", 2)
    settings = Settings()
    cluster = Cluster(
        data_dir=data_dir,
        database_url=settings.database_url if settings.is_postgres else None,
        schema_prefix=schema_prefix,
        names=names,
        limits_enabled=limits,
    )
    manifest_path = data_dir / MANIFEST_FILE
    records: Any = None
    if keep and manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        console.print(f"Keeping the stored data (seeded with {_seed_line(manifest)}).")
    else:
        with console.status(f"Seeding {customers} customers (seed {seed})..."):
            data = generate(customers, seed)
        records, manifest = data.records, data.manifest
        data_dir.mkdir(parents=True, exist_ok=True)
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")

    def ready(urls: Mapping[str, str]) -> None:
        table = Table(title="Revgraph simulators")
        table.add_column("System")
        table.add_column("URL")
        table.add_column("Credential (Authorization header)", no_wrap=True)
        for name, url in urls.items():
            table.add_row(name, url, f"Bearer {SIMULATORS[name].token}")
        console.print(table)
        where = f"Postgres schemas {schema_prefix}_*" if settings.is_postgres else str(data_dir)
        # soft_wrap: paths and ids stay on one line, whole (copy-paste, grep).
        console.print(f"Data: {where}", soft_wrap=True)
        console.print(f"Drift manifest: {manifest_path}", soft_wrap=True)
        console.print(_drift_summary(manifest), soft_wrap=True)
        console.print("Press Ctrl-C to stop.")

    try:
        run(_serve(cluster, records, base_port=base_port, host=host, ready=ready))
    except PortInUse as exc:
        raise _fail(f"[red]Cannot serve the simulators:[/] {port_in_use_message(exc)}") from None
    except OSError as exc:
        raise _fail(f"[red]Cannot serve the simulators:[/] {exc}") from None
    console.print("Simulators stopped.")


async def _serve(
    cluster: Cluster,
    records: Any,
    *,
    base_port: int,
    host: str,
    ready: Any,
) -> None:
    """Serve until SIGINT/SIGTERM, then shut the servers and stores down cleanly."""
    import asyncio
    import contextlib
    import signal

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = asyncio.create_task(
        cluster.serve(records, base_port=base_port, host=host, reset=False, ready=ready)
    )
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({server, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if server in done:
            server.result()  # a failure to start (port in use ...) surfaces here
    finally:
        for task in (server, stopper):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(server, stopper, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _seed_line(manifest: Mapping[str, Any]) -> str:
    return f"--customers {manifest.get('customers')} --seed {manifest.get('seed')}"


def _drift_summary(manifest: Mapping[str, Any]) -> str:
    drift = manifest.get("drift", {})
    parts = ", ".join(f"{kind} {len(items)}" for kind, items in drift.items())
    return f"Planted drift ({_seed_line(manifest)}): {parts}"


@simulators_app.command("manifest")
def simulators_manifest(customers: CustomersOpt = 200, seed: SeedOpt = 42) -> None:
    """Print the drift manifest of the data '--customers N --seed S' generates."""
    from simulators.seed import generate

    typer.echo(json.dumps(generate(customers, seed).manifest, indent=2))


# --- crosswalk -----------------------------------------------------------------

_STEP_LABELS = {
    "crm": "CRM accounts",
    "billing": "Billing customers",
    "erp": "ERP customers",
    "link": "Linking",
    "store": "Storing",
}


@crosswalk_app.command("rebuild")
def crosswalk_rebuild(
    max_problems: Annotated[
        int, typer.Option(min=0, metavar="N", help="List at most this many problems.")
    ] = 50,
) -> None:
    """Link every CRM account to its billing and ERP customers and store the crosswalk.

    Running gateways drop their cached entries (announced over Redis, or seen in
    the store).
    """
    import asyncio

    from sqlalchemy.exc import SQLAlchemyError

    from api.lifespan import StartupError, check_startup, safe_url
    from api.settings import Settings
    from sources.errors import SourceError
    from sources.systems import System

    settings = Settings()
    try:
        asyncio.run(check_startup(settings, (System.CRM, System.BILLING, System.ERP)))
        result = asyncio.run(_rebuild(settings))
    except StartupError as exc:
        raise _fail(f"[red]Cannot rebuild the crosswalk:[/] {_escape(str(exc))}") from None
    except SourceError as exc:
        # The adapters' message names the credential's variable on an auth failure.
        url = settings.source(exc.system).url
        raise _fail(f"[red]Cannot read {exc.system}[/] at {url}: {_escape(exc.message)}") from None
    except (SQLAlchemyError, OSError) as exc:
        where = safe_url(settings.database_url)
        raise _fail(f"[red]Cannot use the store[/] {where}: {_escape(str(exc))}") from None
    _print_result(result, max_problems)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


async def _rebuild(settings: Settings) -> CrosswalkResult:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from api.jobs import rebuild_crosswalk

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_io.out,
    ) as progress:
        tasks: dict[str, Any] = {}

        def on_progress(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = progress.add_task(_STEP_LABELS.get(step, step), total=None)
            progress.update(tasks[step], completed=done, total=total or None)

        return await rebuild_crosswalk(settings, on_progress)


def _print_result(result: CrosswalkResult, max_problems: int) -> None:
    from rich.table import Table

    from domain.crosswalk_types import LinkStatus

    console = _io.out
    report = result.report
    counts = Table(title="Crosswalk")
    counts.add_column("Status")
    counts.add_column("Customers", justify="right")
    for status in LinkStatus:
        counts.add_row(status.value, str(report.counts[status]))
    counts.add_row("orphans", str(report.orphans))
    console.print(counts)
    problems = [e for e in result.entries if e.status is not LinkStatus.LINKED]
    lines = [
        f"{e.status.value:<10} {e.canonical_id}  {e.name}: "
        + "; ".join(
            p.message + (f" ({', '.join(p.candidates)})" if p.candidates else "")
            for p in e.problems
        )
        for e in problems
    ]
    lines += [
        f"{'ORPHAN':<10} billing customer {i}: names no CRM account" for i in report.orphan_billing
    ]
    lines += [f"{'ORPHAN':<10} ERP customer {i}: names no CRM account" for i in report.orphan_erp]
    if not lines:
        console.print("Every customer is linked.")
        return
    console.print(f"Problems ({len(lines)}):")
    for line in lines[:max_problems]:
        console.print(f"  {line}", markup=False, soft_wrap=True)
    if len(lines) > max_problems:
        console.print(f"  ... and {len(lines) - max_problems} more")


# --- reconcile -----------------------------------------------------------------


@app.command()
def reconcile(
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue the latest interrupted or abandoned run from its checkpoint "
            "(or take over a running one) instead of starting a new one.",
        ),
    ] = False,
    page_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=1000,
            metavar="N",
            help="Customers read per page (default REVGRAPH_CONSISTENCY_PAGE_SIZE, 200).",
        ),
    ] = None,
    pages_per_s: Annotated[
        float | None,
        typer.Option(
            min=0.001,
            metavar="X",
            help="At most this many pages a second (default "
            "REVGRAPH_CONSISTENCY_SWEEP_PAGES_PER_S: as fast as the adapters allow).",
        ),
    ] = None,
) -> None:
    """Recompute every customer's consistency checks and print the summary.

    The verdicts go to the consistency store the gateways read (Redis, when
    REDIS_URL is set); the run is recorded in the store with a checkpoint after
    every page, so an interrupted sweep (Ctrl-C) continues with --resume. Refuses
    to start while another sweep is making progress.
    """
    import asyncio

    from redis.exceptions import RedisError
    from sqlalchemy.exc import SQLAlchemyError

    from api.lifespan import StartupError, check_startup, safe_url
    from api.settings import Settings
    from domain.consistency.sweep import SweepRunning
    from sources.errors import SourceError

    settings = Settings()
    runs: list[ReconciliationRun] = []
    try:
        asyncio.run(check_startup(settings))
        result = asyncio.run(_reconcile(settings, resume, page_size, pages_per_s, runs.append))
    except KeyboardInterrupt:
        which = f"Run {runs[-1].id}" if runs else "The run"
        raise _fail(
            f"[yellow]Interrupted.[/] {which} stopped after its last complete page: "
            "`revgraph reconcile --resume` continues it.",
            130,
        ) from None
    except StartupError as exc:
        raise _fail(f"[red]Cannot reconcile:[/] {_escape(str(exc))}") from None
    except SweepRunning as exc:
        run = exc.run
        if run is None:
            raise _fail("[red]Cannot reconcile:[/] another sweep is running.") from None
        done = f"{run.processed}/{run.total}" if run.total is not None else str(run.processed)
        raise _fail(
            f"[red]Cannot reconcile:[/] run {run.id} is in progress (started "
            f"{_when(run.started_at)}, {done} customers, last progress "
            f"{_when(run.updated_at)}). Wait for it to finish, or take it over with "
            "--resume if its process is gone."
        ) from None
    except SourceError as exc:
        url = settings.source(exc.system).url
        raise _fail(f"[red]Cannot read {exc.system}[/] at {url}: {_escape(exc.message)}") from None
    except RedisError as exc:
        where = safe_url(settings.redis_url or "")
        raise _fail(f"[red]Cannot use Redis[/] {where}: {_escape(str(exc))}") from None
    except (SQLAlchemyError, OSError) as exc:
        where = safe_url(settings.database_url)
        raise _fail(f"[red]Cannot use the store[/] {where}: {_escape(str(exc))}") from None
    _print_reconciliation(result)


def _when(moment: Any) -> str:
    """An instant as ``2026-12-01 12:00:00Z (3 min ago)``."""
    from datetime import UTC, datetime

    seconds = max(0, int((datetime.now(UTC) - moment).total_seconds()))
    ago = f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z ({ago})"


async def _reconcile(
    settings: Settings,
    resume: bool,
    page_size: int | None,
    pages_per_s: float | None,
    started: Callable[[ReconciliationRun], None],
) -> Reconciliation:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from api.jobs import reconcile

    console = _io.out
    with Progress(
        SpinnerColumn(),
        TextColumn("Customers"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unreconciled]} unreconciled"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("sweep", total=None, unreconciled=0)

        def on_progress(processed: int, total: int | None, counts: Mapping[str, int]) -> None:
            unreconciled = sum(n for status, n in counts.items() if status != "CONSISTENT")
            progress.update(task, completed=processed, total=total, unreconciled=unreconciled)

        def notify(message: str) -> None:
            progress.console.print(message, soft_wrap=True, markup=False)

        return await reconcile(
            settings,
            resume=resume,
            page_size=page_size,
            pages_per_s=pages_per_s,
            progress=on_progress,
            notify=notify,
            started=started,
        )


def _print_reconciliation(result: Reconciliation) -> None:
    from rich.table import Table

    from domain.consistency.types import CheckStatus, RuleName

    console = _io.out
    run = result.sweep.run
    summary = result.report.summary
    how = "resumed, " if result.sweep.resumed else ""
    removed = len(result.sweep.removed)
    console.print(
        f"Run {run.id} {run.status.value}: {run.processed} customers ({how}"
        f"{removed} gone since the last sweep), started {_when(run.started_at)}.",
        soft_wrap=True,
    )
    statuses = Table(title="Checks by status")
    statuses.add_column("Status")
    statuses.add_column("Checks", justify="right")
    for status in CheckStatus:
        statuses.add_row(status.value, str(summary.by_status.get(status, 0)))
    statuses.add_row("total", str(summary.total))
    console.print(statuses)
    unreconciled = result.report.unreconciled
    # Fits 80 columns: rule names must never be cut.
    rules = Table(title="Unreconciled checks by rule", show_edge=False)
    rules.add_column("Rule", no_wrap=True)
    rules.add_column("Total", justify="right")
    shown = (CheckStatus.DRIFT, CheckStatus.MISSING, CheckStatus.UNKNOWN, CheckStatus.PENDING)
    for status in shown:
        rules.add_column(status.value, justify="right")
    rules.add_column("Of checks", justify="right")
    for rule in RuleName:
        counts = unreconciled[rule]
        rules.add_row(
            rule.value,
            str(summary.unreconciled_by_rule.get(rule, 0)),
            *(str(counts[status]) for status in shown),
            str(summary.by_rule.get(rule, 0)),
        )
    console.print(rules)
    variance = ", ".join(f"{m.amount} {m.currency}" for m in summary.variance) or "none"
    oldest = _when(summary.oldest_unresolved) if summary.oldest_unresolved else "none"
    console.print(
        f"Unreconciled: {summary.unreconciled} of {summary.total} checks "
        f"over {summary.customers} customers.",
        soft_wrap=True,
    )
    console.print(f"Variance (unreconciled, absolute): {variance}", soft_wrap=True)
    console.print(f"Oldest unresolved: {oldest}", soft_wrap=True)
    if not result.shared:
        note = (
            "The consistency store is in-process (no REDIS_URL): these verdicts are not "
            "shared with the gateways and end with this command."
        )
        if result.sweep.resumed:
            run_counts = ", ".join(f"{k} {v}" for k, v in sorted(run.counts.items()))
            note += (
                " This process swept only the customers after the checkpoint, so the "
                f"tables cover them alone; the run's checks over all customers: {run_counts}."
            )
        console.print(f"[yellow]Note:[/] {note}", soft_wrap=True)


# --- db ------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the store's migrations (idempotent). Gateways never migrate on their own."""
    import asyncio

    from sqlalchemy.exc import SQLAlchemyError

    from api.lifespan import safe_url
    from api.settings import Settings
    from store.migrate import current, upgrade

    settings = Settings()
    try:
        asyncio.run(upgrade(settings.database_url, settings.store_schema))
        revision = asyncio.run(current(settings.database_url, settings.store_schema))
    except (SQLAlchemyError, OSError) as exc:
        where = safe_url(settings.database_url)
        raise _fail(f"[red]Cannot migrate[/] {where}: {_escape(str(exc))}") from None
    where = safe_url(settings.database_url)
    if settings.store_schema:
        where += f" (schema {settings.store_schema})"
    _io.out.print(f"Store at revision {revision}: {where}", soft_wrap=True)


# --- gateway -------------------------------------------------------------------


@app.command()
def demo(
    customers: CustomersOpt = 200,
    seed: SeedOpt = 42,
    port: Annotated[int, typer.Option(metavar="PORT", help="Gateway port.")] = 8000,
    base_port: BasePortOpt = DEFAULT_BASE_PORT,
    host: HostOpt = "127.0.0.1",
    data_dir: Annotated[
        Path, typer.Option(metavar="DIR", help="Where the demo keeps its data.")
    ] = Path(".revgraph/demo"),
    limits: LimitsOpt = True,
) -> None:
    """Simulators, store, crosswalk and gateway, all in one process.

    Seeds the simulators, migrates the store (SQLite), builds the crosswalk and
    serves the gateway (in-process cache, the simulators' demo credentials).
    """
    from rich.table import Table

    from api.demo import port_in_use_message, start_stack
    from api.lifespan import StartupError
    from api.runtime import tune_gc
    from domain.access import Role
    from domain.crosswalk_types import LinkStatus
    from simulators.serving import PortInUse
    from sources.errors import SourceError

    console = _io.out
    with console.status(f"Seeding {customers} customers and starting the simulators..."):
        try:
            stack = start_stack(
                customers=customers,
                seed=seed,
                data_dir=data_dir,
                base_port=base_port,
                gateway_port=port,
                host=host,
                limits=limits,
                sweep_on_start=True,  # the Consistency tab opens with the planted drift
                demo_keys=True,  # every caller needs a key: one per role, printed below
            )
        except PortInUse as exc:
            raise _fail(f"[red]Cannot start the demo:[/] {port_in_use_message(exc)}") from None
        except (OSError, RuntimeError, SourceError, StartupError) as exc:
            raise _fail(f"[red]Cannot start the demo:[/] {_escape(str(exc))}") from None
    tune_gc()  # everything is loaded: take it out of the collector's scans
    table = Table(title="Revgraph demo")
    table.add_column("Service")
    table.add_column("URL", no_wrap=True)
    table.add_row("GraphiQL", stack.graphql_url)
    for name, url in stack.simulator_urls.items():
        table.add_row(f"{name} simulator", url)
    console.print(table)
    counts = stack.crosswalk.report.counts
    console.print(
        f"Crosswalk: {counts[LinkStatus.LINKED]} linked,"
        f" {counts[LinkStatus.INCOMPLETE]} incomplete,"
        f" {counts[LinkStatus.AMBIGUOUS]} ambiguous (the planted drift)."
    )
    manifest_path = data_dir / MANIFEST_FILE
    manifest_path.write_text(json.dumps(stack.manifest, indent=2))
    console.print(
        f"Planted drift: {manifest_path} (GraphiQL's Consistency tab shows what the "
        "reconciliation found; Writes shows the mutations).",
        soft_wrap=True,
    )
    keys_path = data_dir / KEYS_FILE
    keys_path.write_text(json.dumps({role.value: key for role, key in stack.keys.items()}))
    keys_path.chmod(0o600)
    # One line per key, never wrapped or cut, so each can be copied whole.
    console.print(f"API keys (new each start; also in {keys_path}):", soft_wrap=True)
    for role, key in stack.keys.items():
        console.print(
            f"  {role.value:<10} Authorization: Bearer {key}", soft_wrap=True, markup=False
        )
    console.print(
        "GraphiQL's tabs start with the viewer's key (reads, no e-mails); put another "
        "role's key in the Headers pane to write.",
        soft_wrap=True,
    )
    query = (
        "{ customers(first: 3) { edges { node { name"
        " contracts(first: 5) { edges { node { number stage } } } } } } }"
    )
    console.print("Try it:", soft_wrap=True)
    viewer = stack.keys[Role.VIEWER]
    console.print(
        f"  curl -s {stack.graphql_url} -H 'content-type: application/json' "
        f"-H 'authorization: Bearer {viewer}' -d '{json.dumps({'query': query})}'",
        soft_wrap=True,
        markup=False,
    )
    console.print("Press Ctrl-C to stop.")
    stop = _wait_for_signal()
    stack.stop()
    console.print(f"Demo stopped ({stop}).")


def _wait_for_signal() -> str:
    """Block until SIGINT or SIGTERM; returns the signal's name."""
    import signal
    import threading

    stop = threading.Event()
    received: list[str] = []

    def handler(signum: int, frame: object) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    stop.wait()
    return received[0]


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, plus the gateway's own loggers (``revgraph.*``) at INFO."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["revgraph"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


@app.command()
def serve(
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port to listen on.")] = 8000,
) -> None:
    """The gateway alone, configured by the environment / settings file.

    Every source needs its credential (REVGRAPH_<SYSTEM>_TOKEN) and the store
    must be migrated (revgraph db upgrade); otherwise it exits saying which.
    """
    import asyncio
    import errno
    import socket

    import uvicorn

    from api.app import create_app
    from api.lifespan import StartupError, check_startup
    from api.runtime import tune_gc
    from api.settings import Settings

    settings = Settings()
    try:
        # The app's lifespan checks the same; here it ends the process with a message.
        asyncio.run(check_startup(settings))
    except StartupError as exc:
        raise _fail(f"[red]Cannot start the gateway:[/] {_escape(str(exc))}") from None
    try:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        busy = exc.errno == errno.EADDRINUSE
        reason = f"port {port} is in use (try --port)" if busy else _escape(str(exc))
        raise _fail(f"[red]Cannot start the gateway:[/] gateway: {reason}") from None
    gateway = create_app(settings)
    tune_gc()  # the app is built: what it allocated stays out of later collections
    uvicorn.run(gateway, host=host, port=port, loop="uvloop", log_config=_log_config())


@app.command()
def worker() -> None:
    """Run durable flows only: resume the flows of replicas that died (no HTTP).

    Configured like ``serve`` (environment / settings file); ``serve`` runs the
    same worker inside the gateway unless REVGRAPH_FLOWS_WORKER=false.
    """
    import asyncio

    from api.lifespan import StartupError
    from api.settings import Settings
    from api.worker import run_worker

    try:
        asyncio.run(run_worker(Settings()))
    except StartupError as exc:
        raise _fail(f"[red]Cannot start the worker:[/] {_escape(str(exc))}") from None


@documents_app.command("hash")
def documents_hash(
    directory: Annotated[Path, typer.Argument(help="A directory of .graphql operations.")],
) -> None:
    """Print each trusted document's id (what clients send as documentId)."""
    from api.documents import DocumentError, document_files, document_id

    try:
        files = document_files(directory)
    except DocumentError as exc:
        raise _fail(f"[red]Cannot hash the documents:[/] {_escape(str(exc))}") from None
    for path in files:
        _io.out.print(
            f"{document_id(path.read_text(encoding='utf-8'))}  {path}", markup=False, soft_wrap=True
        )


@schema_app.command("export")
def schema_export(
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", metavar="FILE", help="Write here instead of stdout."),
    ] = None,
) -> None:
    """The GraphQL schema (SDL) as the code defines it."""
    from resolvers.schema import schema_sdl

    sdl = schema_sdl()
    if output is None:
        _io.out.print(sdl, markup=False, highlight=False, end="")
    else:
        output.write_text(sdl)
        _io.out.print(f"Wrote {output}")


@schema_app.command("check")
def schema_check(
    against: Annotated[
        str,
        typer.Option(
            "--against",
            metavar="FILE|REF",
            help="The old schema: an SDL file, or a git revision whose schema.graphql "
            "is read (git show REF:schema.graphql).",
        ),
    ],
    changelog: Annotated[
        Path,
        typer.Option(
            metavar="FILE",
            help="The changelog whose '## Unreleased' section must record each breaking "
            "change in a '- **BREAKING:**' bullet naming it in backticks, with a reason.",
        ),
    ] = Path("CHANGELOG.md"),
) -> None:
    """Compare the code's schema with an older one: breaking and dangerous changes.

    Exits 1 on a breaking change the changelog does not record (dangerous changes
    never fail), 2 when the old schema or the changelog cannot be read.
    """
    from api.schema_check import (
        SchemaSourceError,
        check_schema,
        failure_message,
        load_old_schema,
        report_lines,
    )
    from resolvers.schema import schema_sdl

    name = str(changelog)
    try:
        old = load_old_schema(against)
        notes = changelog.read_text() if changelog.is_file() else ""
        report = check_schema(old.sdl, schema_sdl(), notes, old_label=old.label)
    except SchemaSourceError as exc:
        raise _fail(f"[red]Cannot check the schema:[/] {_escape(str(exc))}", 2) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"[red]Cannot read {_escape(name)}:[/] {_escape(str(exc))}", 2) from None

    def say(line: str) -> None:
        _io.out.print(line, markup=False, soft_wrap=True)

    say(f"Comparing the code's schema with {old.label}.")
    for line in report_lines(report, name):
        say(line)
    if report.breaking and not changelog.is_file():
        say(f"{name} does not exist: it records nothing.")
    if not report.ok:
        raise _fail(f"[red]Schema check failed:[/] {_escape(failure_message(report, name))}")
    if report.breaking:
        say(f"OK: every breaking change is recorded in {name}.")
    else:
        say(f"OK: no breaking changes against {old.label}.")


if __name__ == "__main__":
    app()
