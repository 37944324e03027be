"""The ``revgraph`` command line.

::

    revgraph simulators [--customers 200] [--seed 42] [--base-port 8000] [--host 127.0.0.1]
                        [--data-dir .revgraph/simulators] [--keep] [--schema-prefix revgraph_sim]
    revgraph simulators manifest [--customers 200] [--seed 42]
    revgraph crosswalk rebuild [--max-problems 50]
    revgraph db upgrade
    revgraph demo [--customers 200] [--port 8000]
    revgraph serve [--host 127.0.0.1] [--port 8000]
    revgraph schema export [-o schema.graphql]

Settings (store, sources) come from the environment or a settings file, see
:mod:`api.settings`. ``simulators`` keeps its data in SQLite files under
``--data-dir``, or in Postgres schemas ``<schema-prefix>_<system>`` when
``DATABASE_URL`` is a Postgres URL; the drift manifest goes to
``<data-dir>/drift-manifest.json`` either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from api.app import create_app
from api.demo import start_stack
from api.jobs import rebuild_crosswalk
from api.settings import Settings
from domain.crosswalk import CrosswalkResult
from resolvers.schema import schema_sdl
from simulators.cluster import Cluster
from simulators.registry import DEFAULT_BASE_PORT, SIMULATORS
from simulators.seed import generate
from simulators.serving import run
from sources.errors import SourceError
from store.crosswalk import LinkStatus
from store.migrate import current, upgrade

app = typer.Typer(
    name="revgraph",
    help="One GraphQL gateway over CRM, contracts, billing and ERP systems of record.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
simulators_app = typer.Typer(help="Run the four simulated systems of record.")
crosswalk_app = typer.Typer(help="The crosswalk of canonical customer ids.", no_args_is_help=True)
db_app = typer.Typer(help="The gateway's SQL store.", no_args_is_help=True)
schema_app = typer.Typer(help="The GraphQL schema.", no_args_is_help=True)
app.add_typer(simulators_app, name="simulators")
app.add_typer(crosswalk_app, name="crosswalk")
app.add_typer(db_app, name="db")
app.add_typer(schema_app, name="schema")

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)

MANIFEST_FILE = "drift-manifest.json"
CustomersOpt = Annotated[int, typer.Option(min=0, help="How many CRM customers to seed.")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the deterministic data.")]


# --- simulators ----------------------------------------------------------------


@simulators_app.callback(invoke_without_command=True)
def simulators(
    ctx: typer.Context,
    customers: CustomersOpt = 200,
    seed: SeedOpt = 42,
    base_port: Annotated[
        int, typer.Option(help="Simulators listen on base+1 .. base+4.")
    ] = DEFAULT_BASE_PORT,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    data_dir: Annotated[Path, typer.Option(help="Where data and manifest live.")] = Path(
        ".revgraph/simulators"
    ),
    keep: Annotated[
        bool, typer.Option(help="Serve the data stored by an earlier run instead of reseeding.")
    ] = False,
    schema_prefix: Annotated[
        str, typer.Option(help="Postgres only: schemas are <prefix>_<system>.")
    ] = "revgraph_sim",
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="Serve just this system (repeatable): CRM, CONTRACTS, BILLING, ERP. "
            "Run one process per system to give each its own CPU, as real systems have.",
        ),
    ] = None,
) -> None:
    """Seed (unless --keep) and serve the simulators (all four by default) until Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    names = tuple(n.upper() for n in only) if only else tuple(SIMULATORS)
    unknown = [n for n in names if n not in SIMULATORS]
    if unknown:
        known = ", ".join(SIMULATORS)
        errors.print(f"[red]No such system:[/] {', '.join(unknown)} (one of {known})")
        raise typer.Exit(2)
    settings = Settings()
    cluster = Cluster(
        data_dir=data_dir,
        database_url=settings.database_url if settings.is_postgres else None,
        schema_prefix=schema_prefix,
        names=names,
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
    except OSError as exc:
        errors.print(f"[red]Cannot serve the simulators:[/] {exc}")
        raise typer.Exit(1) from None
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
    """Print the drift manifest of the data ``--customers N --seed S`` generates."""
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
    max_problems: Annotated[int, typer.Option(min=0, help="List at most this many problems.")] = 50,
) -> None:
    """Link every CRM account to its billing and ERP customers and store the crosswalk."""
    settings = Settings()
    try:
        result = asyncio.run(_rebuild(settings))
    except SourceError as exc:
        errors.print(
            f"[red]Cannot read {exc.system}[/] at {settings.source(exc.system).url}: {exc.message}"
        )
        raise typer.Exit(1) from None
    except (SQLAlchemyError, OSError) as exc:
        errors.print(f"[red]Cannot use the store[/] {_safe_url(settings.database_url)}: {exc}")
        raise typer.Exit(1) from None
    _print_result(result, max_problems)


async def _rebuild(settings: Settings) -> CrosswalkResult:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        tasks: dict[str, Any] = {}

        def on_progress(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = progress.add_task(_STEP_LABELS.get(step, step), total=None)
            progress.update(tasks[step], completed=done, total=total or None)

        return await rebuild_crosswalk(settings, on_progress)


def _print_result(result: CrosswalkResult, max_problems: int) -> None:
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


# --- db ------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the store's migrations (idempotent)."""
    settings = Settings()
    try:
        asyncio.run(upgrade(settings.database_url, settings.store_schema))
        revision = asyncio.run(current(settings.database_url, settings.store_schema))
    except (SQLAlchemyError, OSError) as exc:
        errors.print(f"[red]Cannot migrate[/] {_safe_url(settings.database_url)}: {exc}")
        raise typer.Exit(1) from None
    where = _safe_url(settings.database_url)
    if settings.store_schema:
        where += f" (schema {settings.store_schema})"
    console.print(f"Store at revision {revision}: {where}")


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


# --- gateway -------------------------------------------------------------------


@app.command()
def demo(
    customers: CustomersOpt = 200,
    seed: SeedOpt = 42,
    port: Annotated[int, typer.Option(help="Gateway port.")] = 8000,
    base_port: Annotated[
        int, typer.Option(help="Simulators listen on base+1 .. base+4.")
    ] = DEFAULT_BASE_PORT,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its data.")] = Path(
        ".revgraph/demo"
    ),
) -> None:
    """Seeded simulators, crosswalk and gateway in one process (SQLite, in-process cache)."""
    with console.status(f"Seeding {customers} customers and starting the simulators..."):
        try:
            stack = start_stack(
                customers=customers,
                seed=seed,
                data_dir=data_dir,
                base_port=base_port,
                gateway_port=port,
                host=host,
            )
        except (OSError, RuntimeError, SourceError) as exc:
            errors.print(f"[red]Cannot start the demo:[/] {exc}")
            raise typer.Exit(1) from None
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
    query = (
        "{ customers(first: 3) { edges { node { name"
        " contracts(first: 5) { edges { node { number stage } } } } } } }"
    )
    console.print("Try it:", soft_wrap=True)
    console.print(
        f"  curl -s {stack.graphql_url} -H 'content-type: application/json' "
        f"-d '{json.dumps({'query': query})}'",
        soft_wrap=True,
        markup=False,
    )
    console.print("Press Ctrl-C to stop.")
    stop = _wait_for_signal()
    stack.stop()
    console.print(f"Demo stopped ({stop}).")


def _wait_for_signal() -> str:
    """Block until SIGINT or SIGTERM; returns the signal's name."""
    stop = threading.Event()
    received: list[str] = []

    def handler(signum: int, frame: object) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    stop.wait()
    return received[0]


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """The gateway alone; sources and store come from the environment / settings file."""
    uvicorn.run(create_app(Settings()), host=host, port=port, log_level="info")


@schema_app.command("export")
def schema_export(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """The GraphQL schema (SDL) as the code defines it."""
    sdl = schema_sdl()
    if output is None:
        console.print(sdl, markup=False, highlight=False, end="")
    else:
        output.write_text(sdl)
        console.print(f"Wrote {output}")


if __name__ == "__main__":
    app()
