"""The crosswalk repository against a migrated store (SQLite or a Postgres schema)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from store.crosswalk import (
    CrosswalkEntry,
    CrosswalkRepository,
    CrosswalkRun,
    LinkProblem,
    LinkStatus,
)
from store.database import create_engine
from store.migrate import upgrade


@pytest.fixture
async def repo(
    tmp_path: Path, postgres_url: str | None, run_id: str
) -> AsyncIterator[CrosswalkRepository]:
    if postgres_url is None:
        url, schema = f"sqlite+aiosqlite:///{tmp_path}/store.sqlite3", None
    else:
        url, schema = postgres_url, f"{run_id}_cw_{uuid.uuid4().hex[:8]}"
    await upgrade(url, schema)
    engine = create_engine(url, schema=schema)
    yield CrosswalkRepository(engine)
    if schema is not None:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await engine.dispose()


def linked(n: int) -> CrosswalkEntry:
    return CrosswalkEntry(
        canonical_id=f"001A{n:05d}",
        crm_id=f"001A{n:05d}",
        name=f"Customer {n}",
        status=LinkStatus.LINKED,
        billing_customer_id=f"cus_{n}",
        erp_customer_id=str(1000 + n),
    )


AMBIGUOUS = CrosswalkEntry(
    canonical_id="001B00001",
    crm_id="001B00001",
    name="Twice Billed Ltd",
    status=LinkStatus.AMBIGUOUS,
    erp_customer_id="9001",
    problems=(
        LinkProblem("AMBIGUOUS_BILLING", "BILLING", "2 billing customers", ("cus_x", "cus_y")),
    ),
)
INCOMPLETE = CrosswalkEntry(
    canonical_id="001B00002",
    crm_id="001B00002",
    name="No ERP GmbH",
    status=LinkStatus.INCOMPLETE,
    billing_customer_id="cus_z",
    problems=(LinkProblem("MISSING_ERP", "ERP", "no ERP customer"),),
)


async def test_replace_all_and_lookups(repo: CrosswalkRepository) -> None:
    entries = [linked(n) for n in range(5)] + [AMBIGUOUS, INCOMPLETE]
    started = datetime(2026, 11, 1, 12, tzinfo=UTC)
    run_id = await repo.replace_all(
        entries, CrosswalkRun(started, started + timedelta(seconds=3), 5, 1, 1, 2)
    )
    assert run_id is not None
    got = await repo.get("001B00001")
    assert got is not None
    assert got.status is LinkStatus.AMBIGUOUS and got.billing_customer_id is None
    assert got.problems == AMBIGUOUS.problems
    assert got.updated_at is not None and got.updated_at.tzinfo is not None
    by_billing, by_erp = await repo.by_billing_id("cus_3"), await repo.by_erp_id("1002")
    assert by_billing is not None and by_billing.canonical_id == "001A00003"
    assert by_erp is not None and by_erp.canonical_id == "001A00002"
    assert await repo.by_erp_id("404") is None and await repo.get("nope") is None
    assert await repo.counts() == {
        LinkStatus.LINKED: 5,
        LinkStatus.INCOMPLETE: 1,
        LinkStatus.AMBIGUOUS: 1,
    }
    last = await repo.last_run()
    assert last is not None and last.id == run_id
    assert (last.linked, last.incomplete, last.ambiguous, last.orphans) == (5, 1, 1, 2)

    # A second rebuild replaces the first entirely.
    await repo.replace_all([linked(7)])
    assert await repo.get("001A00001") is None
    assert await repo.counts() == {
        LinkStatus.LINKED: 1,
        LinkStatus.INCOMPLETE: 0,
        LinkStatus.AMBIGUOUS: 0,
    }


async def test_many_and_paging_over_batches(repo: CrosswalkRepository) -> None:
    entries = [linked(n) for n in range(2500)] + [AMBIGUOUS, INCOMPLETE]
    await repo.replace_all(entries)
    wanted = [e.canonical_id for e in entries[::2]] + ["missing", entries[0].canonical_id]
    found = await repo.many(wanted)
    assert set(found) == {e.canonical_id for e in entries[::2]}
    seen: list[str] = []
    after: str | None = None
    while True:
        page = await repo.list(limit=700, after=after)
        seen += [e.canonical_id for e in page.entries]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == sorted(e.canonical_id for e in entries)
    problems = await repo.list(status=LinkStatus.INCOMPLETE)
    assert [e.canonical_id for e in problems.entries] == ["001B00002"]
    assert problems.next_after is None


async def test_upsert_inserts_and_updates(repo: CrosswalkRepository) -> None:
    await repo.replace_all([linked(1), INCOMPLETE])
    fixed = CrosswalkEntry(
        canonical_id=INCOMPLETE.canonical_id,
        crm_id=INCOMPLETE.crm_id,
        name="No ERP GmbH (renamed)",
        status=LinkStatus.LINKED,
        billing_customer_id="cus_z",
        erp_customer_id="4242",
    )
    await repo.upsert([fixed, linked(2)])
    got = await repo.get(INCOMPLETE.canonical_id)
    assert got is not None
    assert (got.status, got.erp_customer_id, got.name, got.problems) == (
        LinkStatus.LINKED,
        "4242",
        "No ERP GmbH (renamed)",
        (),
    )
    assert (await repo.counts())[LinkStatus.LINKED] == 3
    await repo.upsert([])
