"""Every mutation call is audited: accepted, refused, replayed, key reused; and verified."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from api.cli import app
from api.demo import Stack
from store.audit import AuditEntry, AuditLog
from store.database import create_engine
from store.migrate import upgrade
from tests.processes import settings_env
from tests.resolvers.test_mutations import create_customer, draft, key, lifecycle, move
from tests.resolvers.test_quote_to_cash import post, raw_id


@pytest.fixture
def stack(writes_stack: Stack) -> Stack:
    """This module writes: it gets a stack of its own (see tests/conftest.py)."""
    return writes_stack


AUDIT_LOG = """
query Audit($subject: String, $first: Int, $after: String) {
  auditLog(subject: $subject, first: $first, after: $after) {
    edges { cursor node {
      id at actor role mutation subject input outcome correlationId hash prevHash
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def audit_log(stack: Stack, **variables: Any) -> dict[str, Any]:
    body = post(stack, AUDIT_LOG, variables)
    assert "errors" not in body, body
    log: dict[str, Any] = body["data"]["auditLog"]
    return log


def records(stack: Stack, **variables: Any) -> list[dict[str, Any]]:
    return [edge["node"] for edge in audit_log(stack, **variables)["edges"]]


def test_accepted_refused_replayed_and_reused_calls_are_audited(stack: Stack) -> None:
    contract_id = draft(stack)
    subject = raw_id(contract_id)
    refused = post(stack, lifecycle("suspend"), {"id": contract_id, "version": 1, "key": key()})
    codes = [e["code"] for e in refused["data"]["suspendContract"]["userErrors"]]
    assert codes == ["ILLEGAL_TRANSITION"]
    k = key()
    accepted = move(stack, "submit", contract_id, 1, k)
    assert accepted["userErrors"] == [] and not accepted["replayed"]
    replayed = move(stack, "submit", contract_id, 1, k)
    assert replayed["replayed"]
    reused = move(stack, "submit", contract_id, 2, k)
    assert [e["code"] for e in reused["userErrors"]] == ["IDEMPOTENCY_KEY_REUSED"]

    found = records(stack, subject=subject)
    assert [(r["mutation"], r["outcome"], r["correlationId"]) for r in found] == [
        ("submitContract", "REFUSED:IDEMPOTENCY_KEY_REUSED", None),
        ("submitContract", "REPLAYED", accepted["correlationId"]),
        ("submitContract", "ACCEPTED", accepted["correlationId"]),
        ("suspendContract", "REFUSED:ILLEGAL_TRANSITION", None),
    ]
    assert {(r["actor"], r["role"], r["subject"]) for r in found} == {
        ("anonymous", "admin", subject)
    }
    assert json.loads(found[0]["input"]) == {"contract_id": subject, "version": 2}
    assert all(len(r["hash"]) == 64 and len(r["prevHash"]) == 64 for r in found)
    # Paging walks the same records.
    first = audit_log(stack, subject=subject, first=2)
    assert first["pageInfo"]["hasNextPage"]
    rest = records(stack, subject=subject, first=2, after=first["pageInfo"]["endCursor"])
    assert [r["id"] for r in rest] == [r["id"] for r in found[2:]]


def test_emails_are_redacted(stack: Stack) -> None:
    payload = create_customer(stack, "Audited Ltd", billingEmail="ap@audited.example")
    cid = payload["correlationId"]
    (record,) = [r for r in records(stack, first=50) if r["correlationId"] == cid]
    assert record["mutation"] == "createCustomer" and record["outcome"] == "ACCEPTED"
    assert json.loads(record["input"]) == {
        "name": "Audited Ltd",
        "currency": "USD",
        "billing_email": "[redacted]",
    }
    assert "@" not in record["input"]


def test_audit_log_has_no_mutation(stack: Stack) -> None:
    body = post(stack, "query Types { __schema { mutationType { fields { name } } } }")
    names = {f["name"] for f in body["data"]["__schema"]["mutationType"]["fields"]}
    assert not {n for n in names if "audit" in n.lower()}


def test_revgraph_audit_verify_on_the_stack(stack: Stack) -> None:
    create_customer(stack, "Verified Ltd")
    result = CliRunner().invoke(app, ["audit", "verify"], env=settings_env(stack.settings))
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("records, chain intact")
    assert int(result.output.split()[0]) >= 1


@pytest.fixture
def own_store(tmp_path: Path, postgres_url: str | None, run_id: str) -> dict[str, str]:
    if postgres_url is None:
        return {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/audit.sqlite3"}
    return {
        "DATABASE_URL": postgres_url,
        "REVGRAPH_DB_SCHEMA": f"{run_id}_audit_{uuid.uuid4().hex[:8]}",
    }


def test_revgraph_audit_verify_names_a_tampered_record(own_store: dict[str, str]) -> None:
    url, schema = own_store["DATABASE_URL"], own_store.get("REVGRAPH_DB_SCHEMA")

    async def tamper() -> None:
        await upgrade(url, schema)
        engine = create_engine(url, schema=schema)
        try:
            log = AuditLog(engine)
            for n in range(3):
                await log.append(
                    AuditEntry(actor="ana", mutation="m", outcome="ACCEPTED", input={"n": n})
                )
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 2"))
        finally:
            await engine.dispose()

    asyncio.run(tamper())
    env = {"REVGRAPH_DB_SCHEMA": "", **own_store}
    result = CliRunner().invoke(app, ["audit", "verify"], env=env)
    assert result.exit_code == 1, result.output
    assert "record 2: hash mismatch" in result.output


def test_revgraph_audit_verify_wants_a_migrated_store(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/empty.sqlite3"}
    result = CliRunner().invoke(app, ["audit", "verify"], env=env)
    assert result.exit_code == 1
    assert "revgraph db upgrade" in result.output
