"""The ``revgraph`` CLI: manifest, crosswalk rebuild, db upgrade, and serving simulators."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from api import cli
from api.cli import app
from api.demo import Stack
from resolvers.schema import schema_sdl
from simulators.registry import DEFAULT_BASE_PORT
from simulators.seed import generate
from simulators.serving import free_port_block
from sources.base import SourceConfig
from sources.billing.client import BillingClient
from sources.contracts.client import ContractsClient
from sources.crm.client import CrmClient
from sources.erp.client import ErpClient
from sources.systems import System
from store.crosswalk import CrosswalkRepository, LinkStatus
from store.database import create_engine
from tests.conftest import STACK_CUSTOMERS, StartSimulators
from tests.resolvers.test_consistency import planted

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {
    "CRM": "demo-crm-token",
    "CONTRACTS": "demo-contracts-token",
    "BILLING": "sk_test_demo",
    "ERP": "demo-erp-token",
}


@pytest.fixture
def store_env(tmp_path: Path, postgres_url: str | None, run_id: str) -> Iterator[dict[str, str]]:
    """Settings for a fresh store: a SQLite file, or a run-scoped Postgres schema."""
    if postgres_url is None:
        yield {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/store.sqlite3"}
        return
    schema = f"{run_id}_cli_{random.randrange(16**8):08x}"
    yield {"DATABASE_URL": postgres_url, "REVGRAPH_DB_SCHEMA": schema}
    asyncio.run(_drop_schemas(postgres_url, schema))


async def _drop_schemas(url: str, prefix: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            rows = await conn.execute(
                text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"), {"p": f"{prefix}%"}
            )
            for (name,) in rows.all():
                await conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    finally:
        await engine.dispose()


def _sources_env(urls: dict[str, str]) -> dict[str, str]:
    """URL and credential of each simulator in ``urls``, as ``revgraph`` reads them."""
    env = {f"REVGRAPH_{name}_URL": url for name, url in urls.items()}
    return env | {f"REVGRAPH_{name}_TOKEN": token for name, token in TOKENS.items()}


def _upgrade(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output


def test_manifest_prints_the_seed_manifest() -> None:
    result = CliRunner().invoke(app, ["simulators", "manifest", "--customers", "20", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == generate(20, 3).manifest


def test_db_upgrade(store_env: dict[str, str]) -> None:
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(app, ["db", "upgrade"], env=store_env)
        assert result.exit_code == 0, result.output
        assert "revision 0010_read_model_changes" in result.output


def test_crosswalk_rebuild_reports_the_planted_problems(
    start_simulators: StartSimulators, store_env: dict[str, str]
) -> None:
    data = generate(40, 9)
    urls = start_simulators(("CRM", "BILLING", "ERP"), data.records)
    env = {**store_env, **_sources_env(urls)}
    _upgrade(env)
    result = CliRunner().invoke(app, ["crosswalk", "rebuild"], env=env)
    assert result.exit_code == 0, result.output
    drift = data.manifest["drift"]
    missing = [d["crm_id"] for d in drift["billing_customer_without_erp"]]
    duplicated = [d["crm_id"] for d in drift["duplicate_billing_customer"]]
    linked = 40 - len(missing) - len(duplicated)
    lines = result.output.splitlines()
    table = {m[1]: int(m[2]) for m in (re.search(r"(\w+)\W+(\d+)\W*$", x) for x in lines) if m}
    assert (table["LINKED"], table["INCOMPLETE"], table["AMBIGUOUS"], table["orphans"]) == (
        linked,
        len(missing),
        len(duplicated),
        0,
    )
    for crm_id in missing:
        assert any("INCOMPLETE" in line and crm_id in line for line in lines)
    for item in drift["duplicate_billing_customer"]:
        line = next(line for line in lines if item["crm_id"] in line)
        assert "AMBIGUOUS" in line and all(c in line for c in item["billing_customer_ids"])

    async def stored() -> dict[LinkStatus, int]:
        engine = create_engine(env["DATABASE_URL"], schema=env.get("REVGRAPH_DB_SCHEMA"))
        try:
            return await CrosswalkRepository(engine).counts()
        finally:
            await engine.dispose()

    assert asyncio.run(stored()) == {
        LinkStatus.LINKED: linked,
        LinkStatus.INCOMPLETE: len(missing),
        LinkStatus.AMBIGUOUS: len(duplicated),
    }


def test_crosswalk_rebuild_with_an_unreachable_source_exits_1(
    start_simulators: StartSimulators, store_env: dict[str, str]
) -> None:
    urls = start_simulators(("CRM", "BILLING"), generate(5, 1).records)
    env = {
        **store_env,
        **_sources_env(urls),
        "REVGRAPH_ERP_URL": f"http://127.0.0.1:{_closed_port()}",
        "REVGRAPH_ERP_MAX_RETRIES": "0",
    }
    _upgrade(env)
    result = CliRunner().invoke(app, ["crosswalk", "rebuild"], env=env)
    assert result.exit_code == 1
    assert "Cannot read ERP" in result.output
    assert "Traceback" not in result.output


def test_crosswalk_rebuild_with_a_wrong_token_names_its_variable(
    start_simulators: StartSimulators, store_env: dict[str, str]
) -> None:
    urls = start_simulators(("CRM", "BILLING", "ERP"), generate(5, 1).records)
    env = {**store_env, **_sources_env(urls), "REVGRAPH_BILLING_TOKEN": "sk_test_wrong"}
    _upgrade(env)
    result = CliRunner().invoke(app, ["crosswalk", "rebuild"], env=env)
    assert result.exit_code == 1
    assert "Cannot read BILLING" in result.output
    assert "REVGRAPH_BILLING_TOKEN" in result.output
    assert "Traceback" not in result.output


def test_crosswalk_rebuild_needs_a_migrated_store_and_every_token(
    store_env: dict[str, str],
) -> None:
    env = {**store_env, **_sources_env({})}
    result = CliRunner().invoke(app, ["crosswalk", "rebuild"], env=env)
    assert result.exit_code == 1
    assert "revgraph db upgrade" in result.output
    _upgrade(env)
    result = CliRunner().invoke(app, ["crosswalk", "rebuild"], env=env | {"REVGRAPH_ERP_TOKEN": ""})
    assert result.exit_code == 1
    assert "REVGRAPH_ERP_TOKEN is not set" in result.output


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _probe(urls: dict[str, str]) -> dict[str, int]:
    """Read every simulator through its adapter (so with its credential)."""

    def config(system: System) -> SourceConfig:
        return SourceConfig(system, urls[system.value], TOKENS[system.value], max_retries=0)

    crm = CrmClient(config(System.CRM))
    contracts = ContractsClient(config(System.CONTRACTS))
    billing = BillingClient(config(System.BILLING))
    erp = ErpClient(config(System.ERP))
    try:
        accounts = await crm.all_accounts()
        by_account = await contracts.contracts_by_account_ids([a.id for a in accounts])
        return {
            "CRM": len(accounts),
            "CONTRACTS": sum(len(c) for c in by_account.values()),
            "BILLING": len(await billing.all_customers()),
            "ERP": len(await erp.all_customers()),
        }
    finally:
        for client in (crm, contracts, billing, erp):
            await client.aclose()


def test_simulators_command_serves_all_four(
    tmp_path: Path, run_id: str, postgres_url: str | None
) -> None:
    base = free_port_block()
    urls = {name: f"http://127.0.0.1:{base + i}" for i, name in enumerate(TOKENS, start=1)}
    data_dir = tmp_path / "sims"
    command = [
        sys.executable, "-m", "api.cli", "simulators", "--base-port", str(base),
        "--customers", "20", "--data-dir", str(data_dir), "--schema-prefix", f"{run_id}_clisim",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{urls['ERP']}/_sim/stats", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read() if process.stdout else ""
                    pytest.fail(f"simulators did not come up:\n{output}")
                time.sleep(0.2)
        expected = generate(20, 42)
        counts = asyncio.run(_probe(urls))
        assert counts == {
            "CRM": 20,
            "CONTRACTS": expected.manifest["counts"]["CONTRACTS"]["Contract"],
            "BILLING": expected.manifest["counts"]["BILLING"]["customer"],
            "ERP": expected.manifest["counts"]["ERP"]["customer"],
        }
        for name, url in urls.items():
            denied = httpx.get(f"{url}/anything", headers={"Authorization": "Bearer wrong"})
            assert denied.status_code == 401, name
        manifest = json.loads((data_dir / "drift-manifest.json").read_text())
        assert manifest == expected.manifest
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        if postgres_url is not None:
            asyncio.run(_drop_schemas(postgres_url, f"{run_id}_clisim"))
    assert process.returncode == 0, output
    assert "Simulators stopped." in output
    for name, url in urls.items():
        assert url in output and TOKENS[name] in output
    assert "drift-manifest.json" in output


def _wait_until_up(url: str, process: subprocess.Popen[str], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            httpx.get(url, timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read() if process.stdout else ""
                pytest.fail(f"{url} did not come up:\n{output}")
            time.sleep(0.2)


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


def test_demo_serves_quote_to_cash_end_to_end(tmp_path: Path) -> None:
    base = port = free_port_block()  # gateway on base, simulators on base+1..base+4
    command = [
        sys.executable, "-m", "api.cli", "demo", "--customers", "20", "--base-port", str(base),
        "--port", str(port), "--data-dir", str(tmp_path / "demo"),
    ]  # fmt: skip
    # The demo is the embedded stack whatever the environment says.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    process = subprocess.Popen(
        command, cwd=ROOT, env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
        url = f"http://127.0.0.1:{port}/graphql"
        query = (ROOT / "api" / "examples" / "quote_to_cash.graphql").read_text()
        assert httpx.post(url, json={"query": query}, timeout=60).status_code == 401
        keys_file = tmp_path / "demo" / "demo-keys.json"
        _wait_until_up(f"http://127.0.0.1:{port}/readyz", process)
        for _ in range(100):  # written once everything is up, after the summary tables
            if keys_file.exists() and keys_file.read_text():
                break
            time.sleep(0.1)
        keys = json.loads(keys_file.read_text())
        viewer = {"Authorization": f"Bearer {keys['viewer']}"}
        body = httpx.post(url, json={"query": query}, headers=viewer, timeout=60).json()
        assert "errors" not in body
        customers = body["data"]["customers"]["edges"]
        assert len(customers) == 20
        assert any(c["node"]["contracts"]["edges"] for c in customers)
        page = httpx.get(f"http://127.0.0.1:{port}/graphql", headers={"Accept": "text/html"})
        assert "QuoteToCash" in page.text and "ConsistencyDashboard" in page.text
        # The demo sweeps at start: the Consistency tab opens on exactly the planted
        # drift, which the demo also writes down.
        manifest = json.loads((tmp_path / "demo" / "drift-manifest.json").read_text())
        summary = _wait_for_summary(url, 20, viewer)
        assert summary["unreconciled"] == len(planted(manifest))
        # The viewer's key reads but does not write, and shows no e-mails.
        write = 'mutation W { createCustomer(input: {name: "N", currency: "USD"}) { replayed } }'
        refused = httpx.post(url, json={"query": write}, headers=viewer, timeout=30).json()
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        emails = "query E { customers(first: 5) { edges { node { billingEmail } } } }"
        seen = httpx.post(url, json={"query": emails}, headers=viewer, timeout=30).json()
        assert all(e["node"]["billingEmail"] is None for e in seen["data"]["customers"]["edges"])
    finally:
        output = _stop(process)
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{port}/graphql" in output
    assert "drift-manifest.json" in output
    assert "Demo stopped" in output
    # Each role's key is printed whole, ready to copy into a header.
    for role, key in keys.items():
        assert f"{role:<10} Authorization: Bearer {key}" in output


def _wait_for_summary(url: str, customers: int, headers: dict[str, str]) -> dict[str, Any]:
    query = "query S { consistencySummary { customers unreconciled } }"
    deadline = time.monotonic() + 60
    while True:
        answer = httpx.post(url, json={"query": query}, headers=headers, timeout=30)
        summary: dict[str, Any] = answer.json()["data"]["consistencySummary"]
        if summary["customers"] == customers:
            return summary
        assert time.monotonic() < deadline, summary
        time.sleep(0.2)


def test_serve_runs_the_gateway_on_configured_sources(
    stack: Stack, store_env: dict[str, str]
) -> None:
    port = free_port_block(1)
    env = {**os.environ, **store_env, **_sources_env(stack.simulator_urls), "PYTHONUNBUFFERED": "1"}
    env.pop("REDIS_URL", None)
    _upgrade(env)
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
        # A new store: the gateway builds the crosswalk itself, and is ready once built.
        # Every caller needs a key: an operator makes one with the CLI.
        made = CliRunner().invoke(
            app, ["keys", "create", "--name", "ops", "--role", "admin"], env=env
        )
        assert made.exit_code == 0, made.output
        admin = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
        ready = _wait_until_ready(f"http://127.0.0.1:{port}/readyz", admin)
        assert ready["checks"]["crosswalk"]["entries"] == STACK_CUSTOMERS
        query = {"query": "{ customers(first: 2) { edges { node { name } } } }"}
        url = f"http://127.0.0.1:{port}/graphql"
        assert httpx.post(url, json=query, timeout=30).status_code == 401
        body = httpx.post(url, json=query, headers=admin, timeout=30).json()
        assert len(body["data"]["customers"]["edges"]) == 2
    finally:
        output = _stop(process)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit says why.
    assert "Application shutdown complete" in output
    assert process.returncode in (0, -signal.SIGTERM), output
    # The first-start build logs its progress.
    assert "crosswalk: empty store, building it in the background" in output
    assert f"crosswalk: {STACK_CUSTOMERS} CRM accounts read" in output
    assert "crosswalk: built in" in output


def _wait_until_ready(url: str, headers: dict[str, str], timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        response = httpx.get(url, headers=headers, timeout=10)
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        if time.monotonic() > deadline:
            pytest.fail(f"{url} did not become ready: {response.text}")
        time.sleep(0.2)


def test_serve_refuses_a_source_without_credentials(store_env: dict[str, str]) -> None:
    env = {**store_env, **_sources_env({}), "REVGRAPH_BILLING_TOKEN": ""}
    _upgrade(env)
    result = CliRunner().invoke(app, ["serve", "--port", str(free_port_block(1))], env=env)
    assert result.exit_code == 1
    assert "REVGRAPH_BILLING_TOKEN is not set" in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_a_store_that_is_not_migrated(store_env: dict[str, str]) -> None:
    env = {**store_env, **_sources_env({})}
    result = CliRunner().invoke(app, ["serve", "--port", str(free_port_block(1))], env=env)
    assert result.exit_code == 1
    assert "run `revgraph db upgrade` first" in result.output
    assert "Traceback" not in result.output


def test_serve_names_a_busy_port(store_env: dict[str, str]) -> None:
    env = {**store_env, **_sources_env({})}
    _upgrade(env)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "--port", str(port)], env=env)
    assert result.exit_code == 1
    assert f"gateway: port {port} is in use (try --port)" in result.output


@pytest.mark.parametrize(("busy_offset", "component", "option"), [
    (0, "gateway", "--port"),
    (3, "BILLING simulator", "--base-port"),
])  # fmt: skip
def test_demo_names_the_component_whose_port_is_busy(
    tmp_path: Path, busy_offset: int, component: str, option: str
) -> None:
    base = free_port_block()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", base + busy_offset))
        busy.listen()
        result = CliRunner().invoke(
            app,
            ["demo", "--customers", "3", "--base-port", str(base), "--port", str(base),
             "--data-dir", str(tmp_path / "demo")],
            env={"DATABASE_URL": None, "REDIS_URL": None},
        )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert f"{component}: port {base + busy_offset} is in use (try {option})" in result.output
    assert "simulators failed to start" not in result.output


def test_simulators_name_the_one_whose_port_is_busy(tmp_path: Path) -> None:
    base = free_port_block()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", base + 4))
        busy.listen()
        result = CliRunner().invoke(
            app,
            ["simulators", "--customers", "2", "--base-port", str(base),
             "--data-dir", str(tmp_path / "sims")],
            env={"DATABASE_URL": None},
        )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert f"ERP simulator: port {base + 4} is in use (try --base-port)" in result.output


def test_help_is_fast_and_loads_neither_the_schema_nor_the_simulators() -> None:
    check = (
        "import sys; sys.argv = ['revgraph', '--help']\n"
        "from api.cli import app\n"
        "try:\n    app()\nexcept SystemExit as exit:\n    code = exit.code\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in\n"
        "         ('simulators', 'resolvers', 'strawberry', 'uvicorn', 'sqlalchemy')]\n"
        "print('HEAVY', heavy, code)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    assert "Commands:" in ran.stdout and "serve" in ran.stdout
    assert ran.stdout.strip().splitlines()[-1] == "HEAVY [] 0"
    # And the installed console script answers.
    script = Path(sys.executable).with_name("revgraph")
    ran = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and "serve" in ran.stdout, ran.stderr


def test_cli_default_base_port_is_the_simulators() -> None:
    assert cli.DEFAULT_BASE_PORT == DEFAULT_BASE_PORT


@pytest.mark.parametrize(
    "command",
    [[], ["simulators"], ["simulators", "manifest"], ["demo"], ["serve"], ["crosswalk", "rebuild"],
     ["db", "upgrade"], ["schema", "export"]],
)  # fmt: skip
def test_help_is_plain_text(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert not re.search(r"<(int|bool|str|path|float|list)[^>]*>", result.output), result.output
    assert "``" not in result.output and "╭" not in result.output
    assert "--help" in result.output


def test_schema_export_writes_the_sdl_the_code_defines(tmp_path: Path) -> None:
    target = tmp_path / "schema.graphql"
    result = CliRunner().invoke(app, ["schema", "export", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text() == schema_sdl()
    printed = CliRunner().invoke(app, ["schema", "export"])
    assert printed.exit_code == 0
    assert "type Query" in printed.output and "type Customer implements Node" in printed.output


def test_documents_hash_prints_each_documents_id(tmp_path: Path) -> None:
    from api.documents import document_id

    a, b = "query A { __typename }\n", "query B { __typename }\n"
    (tmp_path / "a.graphql").write_text(a)
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "b.graphql").write_text(b)
    result = CliRunner().invoke(app, ["documents", "hash", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [
        f"{document_id(a)}  {tmp_path / 'a.graphql'}",
        f"{document_id(b)}  {tmp_path / 'nested' / 'b.graphql'}",
    ]
    missing = CliRunner().invoke(app, ["documents", "hash", str(tmp_path / "nope")])
    assert missing.exit_code == 1
    assert "is not a directory" in missing.output
