"""``revgraph reconcile``: a sweep over the seeded stack reports exactly the planted drift,
an interrupted sweep continues with ``--resume``, a running one is not doubled.

The sweeps read the session's seeded ``stack`` simulators (reads only) and write
their verdicts and runs to a store of their own (a fresh SQLite file or Postgres
schema, a fresh Redis prefix), never to the stack's gateway.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from api.cli import app
from api.demo import Stack
from domain.consistency.types import CheckStatus, RuleName
from store.database import create_engine
from store.reconciliation import ReconciliationRun, ReconciliationRuns, RunStatus
from tests.conftest import STACK_CUSTOMERS
from tests.processes import settings_env

ROOT = Path(__file__).resolve().parents[2]
SHOWN = ("DRIFT", "MISSING", "UNKNOWN", "PENDING")


@pytest.fixture
def env(
    stack: Stack, tmp_path: Path, postgres_url: str | None, run_id: str
) -> Iterator[dict[str, str]]:
    """The stack's sources, with a migrated store and a Redis prefix of this test's own."""
    tag = f"{random.randrange(16**8):08x}"
    env = settings_env(stack.settings)
    env.pop("REVGRAPH_DB_SCHEMA", None)
    env["REVGRAPH_REDIS_PREFIX"] = f"revgraph:{run_id}:reconcile-{tag}:"
    schema: str | None = None
    if postgres_url is None:
        env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/store.sqlite3"
    else:
        schema = f"{run_id}_reconcile_{tag}"
        env |= {"DATABASE_URL": postgres_url, "REVGRAPH_DB_SCHEMA": schema}
    result = CliRunner().invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    yield env
    if schema is not None:
        asyncio.run(_drop_schema(env["DATABASE_URL"], schema))


async def _drop_schema(url: str, schema: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await engine.dispose()


def planted(manifest: dict[str, Any]) -> tuple[Counter[RuleName], Counter[CheckStatus]]:
    """The non-consistent checks the manifest's drift must produce, per rule and per
    status (the table in :mod:`domain.consistency.evaluate`)."""
    drift = manifest["drift"]
    found: Counter[tuple[RuleName, CheckStatus]] = Counter()
    R, S = RuleName, CheckStatus
    found[(R.CONTRACT_VERSION, S.DRIFT)] += len(drift["amendment_not_in_erp"])
    found[(R.INVOICE_POSTING, S.MISSING)] += len(drift["invoices_not_posted"])
    found[(R.CUSTOMER_ATTRIBUTES, S.DRIFT)] += len(drift["renamed_in_crm"])
    for item in drift["billing_customer_without_erp"]:
        found[(R.CUSTOMER_LINKS, S.MISSING)] += 1
        contracts = {e.rsplit(":v", 1)[0] for e in item["missing_erp_schedules"]}
        found[(R.CONTRACT_ACTIVATION, S.MISSING)] += len(contracts)
        found[(R.INVOICE_POSTING, S.MISSING)] += len(item["missing_erp_postings"])
    found[(R.CONTRACT_VALUE, S.DRIFT)] += len(drift["value_variance"])
    found[(R.CUSTOMER_LINKS, S.DRIFT)] += len(drift["duplicate_billing_customer"])
    by_rule: Counter[RuleName] = Counter()
    by_status: Counter[CheckStatus] = Counter()
    for (rule, status), n in found.items():
        by_rule[rule] += n
        by_status[status] += n
    return by_rule, by_status


def rule_table(output: str) -> dict[str, tuple[int, ...]]:
    """Rule → (unreconciled, DRIFT, MISSING, UNKNOWN, PENDING, all checks) as printed."""
    table: dict[str, tuple[int, ...]] = {}
    for rule in RuleName:
        found = re.search(re.escape(rule.value) + r"\W+" + r"\W+".join([r"(\d+)"] * 6), output)
        assert found, f"no row for {rule.value} in:\n{output}"
        table[rule.value] = tuple(int(g) for g in found.groups())
    return table


def status_table(output: str) -> dict[str, int]:
    table: dict[str, int] = {}
    for status in CheckStatus:
        found = re.search(rf"\b{status.value}\W+(\d+)\W*$", output, re.MULTILINE)
        assert found, f"no row for {status.value} in:\n{output}"
        table[status.value] = int(found.group(1))
    return table


def expected_rules(manifest: dict[str, Any]) -> dict[str, int]:
    by_rule, _ = planted(manifest)
    return {rule.value: by_rule[rule] for rule in RuleName}


def test_reconcile_reports_exactly_the_planted_drift(stack: Stack, env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["reconcile", "--page-size", "25"], env=env)
    assert result.exit_code == 0, result.output
    output = result.output
    assert f"COMPLETED: {STACK_CUSTOMERS} customers" in output
    rules = rule_table(output)
    assert {rule: row[0] for rule, row in rules.items()} == expected_rules(stack.manifest)
    assert all(row[3] == row[4] == 0 for row in rules.values())  # nothing UNKNOWN or PENDING
    _, by_status = planted(stack.manifest)
    statuses = status_table(output)
    assert {s: statuses[s] for s in SHOWN} == {s: by_status[CheckStatus(s)] for s in SHOWN}
    total = sum(statuses.values())
    assert re.search(rf"\btotal\W+{total}\b", output)
    assert f"Unreconciled: {sum(by_status.values())} of {total} checks" in output
    assert f"over {STACK_CUSTOMERS} customers" in output
    assert "Variance (unreconciled, absolute):" in output
    assert "Oldest unresolved: 20" in output
    # A second sweep replaces the first: the same numbers, nothing gone.
    again = CliRunner().invoke(app, ["reconcile"], env=env)
    assert again.exit_code == 0, again.output
    assert "(0 gone since the last sweep)" in again.output
    assert rule_table(again.output) == rules


async def _runs(env: dict[str, str], action: str) -> ReconciliationRun | None:
    engine = create_engine(env["DATABASE_URL"], schema=env.get("REVGRAPH_DB_SCHEMA"))
    try:
        runs = ReconciliationRuns(engine)
        if action == "start":
            return await runs.start(total=STACK_CUSTOMERS)
        return await runs.latest()
    finally:
        await engine.dispose()


def test_reconcile_refuses_while_a_run_is_in_progress_and_resume_takes_it_over(
    stack: Stack, env: dict[str, str]
) -> None:
    running = asyncio.run(_runs(env, "start"))
    assert running is not None
    refused = CliRunner().invoke(app, ["reconcile"], env=env)
    assert refused.exit_code == 1
    assert f"run {running.id} is in progress" in refused.output
    assert "--resume" in refused.output
    assert "Traceback" not in refused.output
    assert asyncio.run(_runs(env, "latest")) == running  # nothing started

    taken = CliRunner().invoke(app, ["reconcile", "--resume"], env=env)
    assert taken.exit_code == 0, taken.output
    assert f"Taking over run {running.id}" in taken.output
    assert f"Run {running.id} COMPLETED: {STACK_CUSTOMERS} customers (resumed" in taken.output
    assert {r: row[0] for r, row in rule_table(taken.output).items()} == expected_rules(
        stack.manifest
    )


def test_an_interrupted_reconcile_continues_with_resume(stack: Stack, env: dict[str, str]) -> None:
    # A real Ctrl-C: the process is interrupted after its first page of 10 customers
    # (paced at 2 pages a second, so it is still sweeping), and says how to go on.
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "reconcile", "--page-size", "10", "--pages-per-s", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            run = asyncio.run(_runs(env, "latest"))
            if run is not None and run.processed > 0:
                break
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the sweep made no progress"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    interrupted = asyncio.run(_runs(env, "latest"))
    assert interrupted is not None
    assert process.returncode == 130, err.decode()
    message = " ".join(err.decode().split())
    assert f"Interrupted. Run {interrupted.id} stopped" in message
    assert "revgraph reconcile --resume" in message
    assert interrupted.status is RunStatus.INTERRUPTED
    assert 0 < interrupted.processed < STACK_CUSTOMERS
    assert interrupted.last_account_id is not None

    # Without --resume a new run would start; the hint names the interrupted one.
    resumed = CliRunner().invoke(app, ["reconcile", "--resume", "--page-size", "10"], env=env)
    assert resumed.exit_code == 0, resumed.output
    output = resumed.output
    assert f"Resuming run {interrupted.id} (interrupted) after {interrupted.processed}" in output
    assert f"Run {interrupted.id} COMPLETED: {STACK_CUSTOMERS} customers (resumed" in output
    finished = asyncio.run(_runs(env, "latest"))
    assert finished is not None and finished.id == interrupted.id
    assert finished.status is RunStatus.COMPLETED and finished.processed == STACK_CUSTOMERS
    # The run's counts cover every customer, before and after the interruption.
    _, by_status = planted(stack.manifest)
    assert {s: finished.counts.get(s, 0) for s in SHOWN} == {
        s: by_status[CheckStatus(s)] for s in SHOWN
    }
    if os.environ.get("REDIS_URL"):
        # Shared store: the verdicts written before the interruption are still there.
        assert {r: row[0] for r, row in rule_table(output).items()} == expected_rules(
            stack.manifest
        )
    else:
        assert "This process swept only the customers after the checkpoint" in output


def test_reconcile_needs_a_migrated_store(stack: Stack, tmp_path: Path) -> None:
    env = settings_env(stack.settings)
    env.pop("REVGRAPH_DB_SCHEMA", None)
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/empty.sqlite3"
    result = CliRunner().invoke(app, ["reconcile"], env=env)
    assert result.exit_code == 1
    assert "Cannot reconcile" in result.output and "revgraph db upgrade" in result.output
    result = CliRunner().invoke(app, ["reconcile"], env=env | {"REVGRAPH_CRM_TOKEN": ""})
    assert result.exit_code == 1
    assert "REVGRAPH_CRM_TOKEN is not set" in result.output
