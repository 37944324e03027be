"""Crosswalk: the pure linking rules, the builder's plumbing, and a rebuild over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from domain.crosswalk import AmbiguousLink, CrosswalkBuilder, link
from domain.crosswalk_types import LinkStatus
from simulators.seed import generate
from sources.base import SourceConfig
from sources.billing.client import BillingClient
from sources.crm.client import CrmClient
from sources.erp.client import ErpClient
from sources.errors import SourceUnavailable
from sources.systems import System
from store.crosswalk import CrosswalkRepository
from tests.conftest import StartSimulators


@dataclass(frozen=True)
class Acct:
    id: str
    name: str


@dataclass(frozen=True)
class Cus:
    id: str
    crm_account_id: str | None


@dataclass(frozen=True)
class Erp:
    id: str
    external_id: str | None


NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def test_link_classifies_every_account() -> None:
    accounts = [Acct(f"a{i}", f"Name {i}") for i in range(6)]
    billing = [
        Cus("cus_0", "a0"),
        Cus("cus_1", "a1"),
        Cus("cus_3", "a3"),
        Cus("cus_4b", "a4"),
        Cus("cus_4a", "a4"),  # a4 claimed twice
        Cus("cus_5", "a5"),
        Cus("cus_0", "a0"),  # the same record listed twice (overlapping pages)
        Cus("cus_orphan", "nobody"),
        Cus("cus_unstamped", None),
    ]
    erp = [
        Erp("10", "a0"),
        Erp("12", "a2"),
        Erp("13", "a3"),
        Erp("14", "a4"),
        Erp("15", "a5"),
        Erp("15b", "a5"),  # a5 claimed twice in the ERP
        Erp("99", None),
    ]
    entries, report = link(accounts, billing, erp, now=NOW)
    by_id = {e.canonical_id: e for e in entries}
    assert [e.canonical_id for e in entries] == [a.id for a in accounts]

    assert by_id["a0"].status is LinkStatus.LINKED
    assert (by_id["a0"].billing_customer_id, by_id["a0"].erp_customer_id) == ("cus_0", "10")
    assert by_id["a0"].problems == () and by_id["a0"].updated_at == NOW
    assert by_id["a1"].status is LinkStatus.INCOMPLETE
    assert [p.code for p in by_id["a1"].problems] == ["MISSING_ERP"]
    assert by_id["a2"].status is LinkStatus.INCOMPLETE
    assert [p.code for p in by_id["a2"].problems] == ["MISSING_BILLING"]
    assert by_id["a3"].status is LinkStatus.LINKED
    a4 = by_id["a4"]
    assert a4.status is LinkStatus.AMBIGUOUS and a4.billing_customer_id is None
    assert a4.erp_customer_id == "14"
    assert a4.problems[0].code == "AMBIGUOUS_BILLING"
    assert a4.problems[0].candidates == ("cus_4a", "cus_4b")
    assert by_id["a5"].status is LinkStatus.AMBIGUOUS and by_id["a5"].erp_customer_id is None

    assert report.missing_billing == ("a2",)
    assert report.missing_erp == ("a1",)
    assert report.ambiguous == (
        AmbiguousLink("a4", System.BILLING, ("cus_4a", "cus_4b")),
        AmbiguousLink("a5", System.ERP, ("15", "15b")),
    )
    assert report.orphan_billing == ("cus_orphan", "cus_unstamped")
    assert report.orphan_erp == ("99",)
    assert report.orphans == 3
    assert report.counts == {
        LinkStatus.LINKED: 2,
        LinkStatus.INCOMPLETE: 2,
        LinkStatus.AMBIGUOUS: 2,
    }


def test_ambiguity_wins_over_a_missing_counterpart() -> None:
    entries, _ = link([Acct("a", "A")], [Cus("c1", "a"), Cus("c2", "a")], [])
    assert entries[0].status is LinkStatus.AMBIGUOUS
    assert {p.code for p in entries[0].problems} == {"AMBIGUOUS_BILLING", "MISSING_ERP"}


def test_an_account_listed_twice_is_one_entry() -> None:
    entries, report = link([Acct("a", "A"), Acct("a", "A")], [Cus("c", "a")], [Erp("1", "a")])
    assert len(entries) == 1 and report.counts[LinkStatus.LINKED] == 1


class FakeSource:
    def __init__(self, records: Sequence[object], *, fail: bool = False) -> None:
        self.records = records
        self.fail = fail
        self.cancelled = False

    async def _read(self) -> Sequence[object]:
        try:
            await asyncio.sleep(0.01 if self.fail else 0.2)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        if self.fail:
            raise SourceUnavailable(System.ERP, "connection refused")
        return self.records

    async def all_accounts(self) -> Sequence[object]:
        return await self._read()

    async def all_customers(self) -> Sequence[object]:
        return await self._read()


async def test_builder_reads_concurrently_reports_progress_and_stores(
    crosswalk_repo: CrosswalkRepository,
) -> None:
    crm = FakeSource([Acct("a", "A"), Acct("b", "B")])
    billing = FakeSource([Cus("c", "a"), Cus("d", "b")])
    erp = FakeSource([Erp("1", "a")])
    events: list[tuple[str, int, int]] = []
    builder = CrosswalkBuilder(crm, billing, erp, crosswalk_repo)  # type: ignore[arg-type]
    started = asyncio.get_running_loop().time()
    result = await builder.rebuild(lambda step, done, total: events.append((step, done, total)))
    # Three 0.2 s reads in well under 0.6 s: they ran concurrently.
    assert asyncio.get_running_loop().time() - started < 0.5
    assert [e for e in events if e[0] in ("crm", "billing", "erp") and e[2]] == [
        ("crm", 2, 2),
        ("billing", 2, 2),
        ("erp", 1, 1),
    ]
    assert events[-3:] == [("link", 2, 2), ("store", 0, 2), ("store", 2, 2)]
    assert result.report.counts[LinkStatus.LINKED] == 1
    stored = await crosswalk_repo.get("b")
    assert stored is not None and stored.status is LinkStatus.INCOMPLETE
    run = await crosswalk_repo.last_run()
    assert run is not None and (run.linked, run.incomplete, run.ambiguous) == (1, 1, 0)


async def test_a_failing_source_cancels_the_others_and_keeps_the_stored_crosswalk(
    crosswalk_repo: CrosswalkRepository,
) -> None:
    good = CrosswalkBuilder(
        FakeSource([Acct("a", "A")]),  # type: ignore[arg-type]
        FakeSource([Cus("c", "a")]),  # type: ignore[arg-type]
        FakeSource([Erp("1", "a")]),  # type: ignore[arg-type]
        crosswalk_repo,
    )
    await good.rebuild()
    crm, billing = FakeSource([Acct("x", "X")]), FakeSource([])
    bad = CrosswalkBuilder(crm, billing, FakeSource([], fail=True), crosswalk_repo)  # type: ignore[arg-type]
    with pytest.raises(SourceUnavailable):
        await bad.rebuild()
    assert crm.cancelled and billing.cancelled
    assert (await crosswalk_repo.get("a")) is not None and (await crosswalk_repo.get("x")) is None


async def test_rebuild_through_the_real_adapters_finds_exactly_the_planted_drift(
    start_simulators: StartSimulators, crosswalk_repo: CrosswalkRepository
) -> None:
    data = generate(customers=40, seed=5)
    urls = start_simulators(("CRM", "CONTRACTS", "BILLING", "ERP"), data.records)
    drift = data.manifest["drift"]
    crm = CrmClient(SourceConfig(System.CRM, urls["CRM"], "demo-crm-token"))
    billing = BillingClient(SourceConfig(System.BILLING, urls["BILLING"], "sk_test_demo"))
    erp = ErpClient(SourceConfig(System.ERP, urls["ERP"], "demo-erp-token"))
    try:
        result = await CrosswalkBuilder(crm, billing, erp, crosswalk_repo).rebuild()
    finally:
        for client in (crm, billing, erp):
            await client.aclose()

    without_erp = {d["crm_id"]: d for d in drift["billing_customer_without_erp"]}
    duplicated = {d["crm_id"]: d for d in drift["duplicate_billing_customer"]}
    assert without_erp and duplicated
    assert len(result.entries) == 40
    for entry in result.entries:
        if entry.canonical_id in without_erp:
            assert entry.status is LinkStatus.INCOMPLETE
            assert [p.code for p in entry.problems] == ["MISSING_ERP"]
            assert (
                entry.billing_customer_id == without_erp[entry.canonical_id]["billing_customer_id"]
            )
        elif entry.canonical_id in duplicated:
            assert entry.status is LinkStatus.AMBIGUOUS
            assert entry.problems[0].candidates == tuple(
                sorted(duplicated[entry.canonical_id]["billing_customer_ids"])
            )
        else:
            assert entry.status is LinkStatus.LINKED, entry
    assert result.report.orphans == 0
    # Renamed customers link by id; the entry carries the CRM's (new) name.
    renamed = drift["renamed_in_crm"][0]
    stored = await crosswalk_repo.get(renamed["crm_id"])
    assert stored is not None and stored.name == renamed["crm_name"]
    assert stored.billing_customer_id == renamed["billing_customer_id"]
    assert stored.erp_customer_id == renamed["erp_customer_id"]
    assert await crosswalk_repo.counts() == {
        LinkStatus.LINKED: 40 - len(without_erp) - len(duplicated),
        LinkStatus.INCOMPLETE: len(without_erp),
        LinkStatus.AMBIGUOUS: len(duplicated),
    }
