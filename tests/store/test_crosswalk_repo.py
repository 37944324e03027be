"""The crosswalk repository against a migrated store (SQLite or a Postgres schema)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.crosswalk_types import CrosswalkEntry, CrosswalkRun, LinkProblem, LinkStatus
from store.crosswalk import CrosswalkRepository


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


async def test_replace_all_and_lookups(crosswalk_repo: CrosswalkRepository) -> None:
    entries = [linked(n) for n in range(5)] + [AMBIGUOUS, INCOMPLETE]
    started = datetime(2026, 11, 1, 12, tzinfo=UTC)
    run_id = await crosswalk_repo.replace_all(
        entries, CrosswalkRun(started, started + timedelta(seconds=3), 5, 1, 1, 2)
    )
    assert run_id is not None
    got = await crosswalk_repo.get("001B00001")
    assert got is not None
    assert got.status is LinkStatus.AMBIGUOUS and got.billing_customer_id is None
    assert got.problems == AMBIGUOUS.problems
    assert got.updated_at is not None and got.updated_at.tzinfo is not None
    by_billing, by_erp = (
        await crosswalk_repo.by_billing_id("cus_3"),
        await crosswalk_repo.by_erp_id("1002"),
    )
    assert by_billing is not None and by_billing.canonical_id == "001A00003"
    assert by_erp is not None and by_erp.canonical_id == "001A00002"
    assert (
        await crosswalk_repo.by_erp_id("404") is None and await crosswalk_repo.get("nope") is None
    )
    assert await crosswalk_repo.counts() == {
        LinkStatus.LINKED: 5,
        LinkStatus.INCOMPLETE: 1,
        LinkStatus.AMBIGUOUS: 1,
    }
    last = await crosswalk_repo.last_run()
    assert last is not None and last.id == run_id
    assert (last.linked, last.incomplete, last.ambiguous, last.orphans) == (5, 1, 1, 2)

    # A second rebuild replaces the first entirely.
    await crosswalk_repo.replace_all([linked(7)])
    assert await crosswalk_repo.get("001A00001") is None
    assert await crosswalk_repo.counts() == {
        LinkStatus.LINKED: 1,
        LinkStatus.INCOMPLETE: 0,
        LinkStatus.AMBIGUOUS: 0,
    }


async def test_many_and_paging_over_batches(crosswalk_repo: CrosswalkRepository) -> None:
    entries = [linked(n) for n in range(2500)] + [AMBIGUOUS, INCOMPLETE]
    await crosswalk_repo.replace_all(entries)
    wanted = [e.canonical_id for e in entries[::2]] + ["missing", entries[0].canonical_id]
    found = await crosswalk_repo.many(wanted)
    assert set(found) == {e.canonical_id for e in entries[::2]}
    seen: list[str] = []
    after: str | None = None
    while True:
        page = await crosswalk_repo.list(limit=700, after=after)
        seen += [e.canonical_id for e in page.entries]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == sorted(e.canonical_id for e in entries)
    problems = await crosswalk_repo.list(status=LinkStatus.INCOMPLETE)
    assert [e.canonical_id for e in problems.entries] == ["001B00002"]
    assert problems.next_after is None


async def test_upsert_inserts_and_updates(crosswalk_repo: CrosswalkRepository) -> None:
    await crosswalk_repo.replace_all([linked(1), INCOMPLETE])
    fixed = CrosswalkEntry(
        canonical_id=INCOMPLETE.canonical_id,
        crm_id=INCOMPLETE.crm_id,
        name="No ERP GmbH (renamed)",
        status=LinkStatus.LINKED,
        billing_customer_id="cus_z",
        erp_customer_id="4242",
    )
    await crosswalk_repo.upsert([fixed, linked(2)])
    got = await crosswalk_repo.get(INCOMPLETE.canonical_id)
    assert got is not None
    assert (got.status, got.erp_customer_id, got.name, got.problems) == (
        LinkStatus.LINKED,
        "4242",
        "No ERP GmbH (renamed)",
        (),
    )
    assert (await crosswalk_repo.counts())[LinkStatus.LINKED] == 3
    await crosswalk_repo.upsert([])
