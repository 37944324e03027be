"""The audit log: append, list, and a hash chain that shows tampering (both backends)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.audit import REDACTED, redact
from store.audit import GENESIS_HASH, AuditEntry, AuditLog, record_hash
from store.idempotency import IdempotencyRepository


def entry(n: int, actor: str = "ana", subject: str | None = "C-1") -> AuditEntry:
    return AuditEntry(
        actor=actor,
        role="admin",
        mutation="submitContract",
        subject=subject,
        input={"n": n, "amount": "10.00", "nested": {"b": [1, 2], "a": None}},
        outcome="ACCEPTED",
        correlation_id=f"tx_{n}",
    )


async def test_append_chains_records_and_verify_passes(store_engine: AsyncEngine) -> None:
    log = AuditLog(store_engine)
    assert (await log.verify()).ok and (await log.verify()).checked == 0
    first = await log.append(entry(1))
    second = await log.append(entry(2))
    assert (first.id, second.id) == (1, 2)
    assert first.prev_hash == GENESIS_HASH and second.prev_hash == first.hash
    assert first.hash == record_hash(
        id=1,
        at=first.at,
        actor="ana",
        role="admin",
        mutation="submitContract",
        subject="C-1",
        input={"nested": {"a": None, "b": [1, 2]}, "amount": "10.00", "n": 1},
        outcome="ACCEPTED",
        correlation_id="tx_1",
        prev_hash=GENESIS_HASH,
    )
    result = await log.verify()
    assert (result.ok, result.checked, result.first_bad_id) == (True, 2, None)
    (stored,) = (await log.list(first=1, after=2)).records
    assert stored == first


async def test_list_filters_and_pages_newest_first(store_engine: AsyncEngine) -> None:
    log = AuditLog(store_engine)
    old = datetime(2026, 1, 1, tzinfo=UTC)
    await log.append(AuditEntry(actor="bo", mutation="createCustomer", outcome="ACCEPTED", at=old))
    for n in range(5):
        await log.append(entry(n, actor="ana", subject="C-1" if n % 2 else "C-2"))
    page = await log.list(first=2)
    assert [r.id for r in page.records] == [6, 5] and page.next_after == 5
    page = await log.list(first=2, after=page.next_after)
    assert [r.id for r in page.records] == [4, 3] and page.next_after == 3
    page = await log.list(first=2, after=page.next_after)
    assert [r.id for r in page.records] == [2, 1] and page.next_after is None
    assert [r.id for r in (await log.list(actor="bo")).records] == [1]
    assert [r.id for r in (await log.list(subject="C-1")).records] == [5, 3]
    since = old + timedelta(days=1)
    assert [r.id for r in (await log.list(since=since)).records] == [6, 5, 4, 3, 2]
    assert (await log.list(actor="ana", subject="C-2")).records[0].id == 6


async def test_a_changed_row_is_named(store_engine: AsyncEngine) -> None:
    log = AuditLog(store_engine)
    for n in range(4):
        await log.append(entry(n))
    async with store_engine.begin() as conn:
        await conn.execute(text("""UPDATE audit_log SET input = '{"n": 99}' WHERE id = 3"""))
    result = await log.verify()
    assert (result.ok, result.first_bad_id, result.reason) == (False, 3, "hash mismatch")


async def test_a_changed_outcome_is_named(store_engine: AsyncEngine) -> None:
    log = AuditLog(store_engine)
    for n in range(3):
        await log.append(entry(n))
    async with store_engine.begin() as conn:
        await conn.execute(text("UPDATE audit_log SET outcome = 'REFUSED' WHERE id = 2"))
    result = await log.verify()
    assert (result.ok, result.first_bad_id, result.reason) == (False, 2, "hash mismatch")


async def test_a_deleted_row_breaks_the_link(store_engine: AsyncEngine) -> None:
    log = AuditLog(store_engine)
    for n in range(5):
        await log.append(entry(n))
    async with store_engine.begin() as conn:
        await conn.execute(text("DELETE FROM audit_log WHERE id = 3"))
    result = await log.verify()
    assert (result.ok, result.first_bad_id, result.reason) == (False, 4, "broken link")


async def test_a_deleted_last_row_is_missing(store_engine: AsyncEngine) -> None:
    log = AuditLog(store_engine)
    for n in range(3):
        await log.append(entry(n))
    async with store_engine.begin() as conn:
        await conn.execute(text("DELETE FROM audit_log WHERE id = 3"))
    result = await log.verify()
    assert (result.ok, result.first_bad_id, result.reason) == (False, 3, "missing id")


async def test_appended_with_the_key_or_not_at_all(store_engine: AsyncEngine) -> None:
    keys = IdempotencyRepository(store_engine)
    await keys.claim("k1", "op", "h")
    assert await keys.complete("k1", {"ok": 1}, audit=entry(1))
    await keys.claim("k2", "op", "h")
    assert await keys.release("k2", audit=entry(2))
    records = (await keys.audit_log.list()).records
    assert [r.correlation_id for r in records] == ["tx_2", "tx_1"]
    # A transaction that fails after the append leaves neither the key nor the record.
    await keys.claim("k3", "op", "h")
    with pytest.raises(RuntimeError):
        async with store_engine.begin() as conn:
            await keys.audit_log.append(entry(3), conn)
            raise RuntimeError("boom")
    assert len((await keys.audit_log.list()).records) == 2
    appended = await keys.audit_log.append(entry(4))
    assert appended.id == 3 and (await keys.audit_log.verify()).ok


def test_redaction_of_emails_and_secrets() -> None:
    assert redact(
        {
            "name": "Acme",
            "billing_email": "ap@acme.test",
            "billingEmail": None,
            "contact": "write to ops@acme.test",
            "lines": [{"api_token": "t0k", "note": "x@y.io"}, {"qty": 2}],
            "nested": {"Password": "pw", "clientSecret": "s", "plain": "keep"},
        }
    ) == {
        "name": "Acme",
        "billing_email": REDACTED,
        "billingEmail": None,
        "contact": REDACTED,
        "lines": [{"api_token": REDACTED, "note": REDACTED}, {"qty": 2}],
        "nested": {"Password": REDACTED, "clientSecret": REDACTED, "plain": "keep"},
    }


async def test_two_processes_appending_keep_one_chain(
    store_engine: AsyncEngine, second_engine: AsyncEngine
) -> None:
    logs = (AuditLog(store_engine), AuditLog(second_engine))

    async def append(n: int) -> int:
        return (await logs[n % 2].append(entry(n))).id

    ids = await asyncio.gather(*(append(n) for n in range(40)))
    assert sorted(ids) == list(range(1, 41))
    result = await logs[0].verify()
    assert (result.ok, result.checked) == (True, 40)
