"""The consistency cache, in-process and (with REDIS_URL) on Redis: same behaviour."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.consistency.types import (
    Check,
    CheckStatus,
    Repair,
    RuleName,
    SubjectKind,
    SystemValue,
)
from domain.exception_items import ExceptionQueue
from domain.money import Money
from sources.systems import System
from store.consistency import (
    ConsistencyStore,
    MemoryConsistencyStore,
    RedisConsistencyStore,
    decode_check,
    dump_check,
    encode_check,
    load_check,
)

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
REDIS_URL = os.environ.get("REDIS_URL")

C, K, INV = SubjectKind.CUSTOMER, SubjectKind.CONTRACT, SubjectKind.INVOICE
OK, DRIFT, MISSING, UNKNOWN, PENDING = (
    CheckStatus.CONSISTENT,
    CheckStatus.DRIFT,
    CheckStatus.MISSING,
    CheckStatus.UNKNOWN,
    CheckStatus.PENDING,
)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def check(
    customer: str,
    kind: SubjectKind,
    subject: str,
    rule: RuleName,
    status: CheckStatus = OK,
    *,
    variance: Money | None = None,
    systems: tuple[System, ...] = (System.CRM, System.BILLING),
    queue: ExceptionQueue | None = None,
) -> Check:
    if queue is None and status is not OK:
        queue = ExceptionQueue.SALES_OPS
    return Check(
        rule=rule,
        subject_kind=kind,
        subject_id=subject,
        customer_id=customer,
        status=status,
        message=f"{rule} on {subject}: {status}",
        systems=systems,
        variance=variance,
        queue=queue,
    )


def links(customer: str, status: CheckStatus = OK) -> Check:
    return check(customer, C, customer, RuleName.CUSTOMER_LINKS, status)


def value(customer: str, contract: str, status: CheckStatus = OK, amount: str = "0") -> Check:
    return check(
        customer,
        K,
        contract,
        RuleName.CONTRACT_VALUE,
        status,
        variance=Money(Decimal(amount), "USD") if status is not OK else None,
        systems=(System.CONTRACTS, System.BILLING),
        queue=ExceptionQueue.FINANCE_OPS if status is not OK else None,
    )


def posting(customer: str, invoice: str, status: CheckStatus = OK) -> Check:
    return check(
        customer,
        INV,
        invoice,
        RuleName.INVOICE_POSTING,
        status,
        systems=(System.BILLING, System.ERP),
        queue=ExceptionQueue.FINANCE_OPS if status is not OK else None,
    )


Factory = Callable[[], ConsistencyStore]


@pytest.fixture(params=["memory", "redis"])
async def open_store(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Factory]:
    """Opens stores on one shared namespace: a fresh Redis prefix per test (every
    store opened sees the same data, as two processes would), or one in-process store."""
    opened: list[ConsistencyStore] = []
    if request.param == "redis":
        if not REDIS_URL:
            pytest.skip("REDIS_URL not set")
        prefix = f"{redis_prefix}{uuid.uuid4().hex[:8]}:"

        def factory() -> ConsistencyStore:
            assert REDIS_URL is not None
            store = RedisConsistencyStore(REDIS_URL, prefix)
            opened.append(store)
            return store
    else:
        memory = MemoryConsistencyStore()

        def factory() -> ConsistencyStore:
            opened.append(memory)
            return memory

    yield factory
    for store in {id(s): s for s in opened}.values():
        await store.aclose()


@pytest.fixture
def store(open_store: Factory) -> ConsistencyStore:
    return open_store()


# --- serialization --------------------------------------------------------------------


def test_checks_round_trip_exactly_with_money_as_decimal_strings() -> None:
    full = Check(
        rule=RuleName.CONTRACT_VALUE,
        subject_kind=K,
        subject_id="800A",
        customer_id="001A",
        status=DRIFT,
        message="contract value differs",
        systems=(System.CONTRACTS, System.BILLING, System.ERP),
        values=(
            SystemValue(System.CONTRACTS, "1200.50", Money(Decimal("1200.50"), "USD"), "800A"),
            SystemValue(System.BILLING, "1200.5", Money(Decimal("1200.5"), "USD"), "sub_1"),
            SystemValue(System.ERP, "0.001", Money(Decimal("0.001"), "KWD"), None, True, "total"),
            SystemValue(System.CRM, None, None, None, readable=False),
        ),
        variance=Money(Decimal("-0.00"), "USD"),
        queue=ExceptionQueue.FINANCE_OPS,
        repair=Repair("AMEND_CONTRACT", "amend billing", correlation_id="corr-1"),
    )
    bare = links("001A")
    for original in (full, bare):
        assert load_check(dump_check(original)) == original
        assert decode_check(encode_check(original)) == original
    data = dump_check(full)
    # Every field is serialized (a field added to the vocabulary must be added here).
    assert set(data) == {f.name for f in fields(Check)}
    assert set(data["values"][0]) == {f.name for f in fields(SystemValue)}
    assert set(data["repair"]) == {f.name for f in fields(Repair)}
    assert data["variance"] == {"amount": "-0.00", "currency": "USD"}
    assert data["values"][0]["money"] == {"amount": "1200.50", "currency": "USD"}
    # Scale is kept, not just the value.
    loaded = load_check(data)
    assert loaded.values[0].money is not None
    assert str(loaded.values[0].money.amount) == "1200.50"
    assert loaded.values[2].money is not None
    assert str(loaded.values[2].money.amount) == "0.001"


# --- per subject ----------------------------------------------------------------------


async def test_a_customer_recompute_replaces_all_its_subjects(store: ConsistencyStore) -> None:
    first = await store.replace_customer(
        "001A",
        [links("001A"), value("001A", "800A", DRIFT, "10"), posting("001A", "in_1")],
        computed_at=at(0),
        subjects=[(K, "800B")],
    )
    assert first.written
    customer = await store.subject(C, "001A")
    assert customer is not None and customer.from_cache
    assert [c.check for c in customer.checks] == [links("001A")]
    assert customer.computed_at == at(0)
    contract = await store.subject(K, "800A")
    assert contract is not None and contract.customer_id == "001A"
    assert contract.status is DRIFT
    # A subject no rule reported on is still known, with no checks.
    quiet = await store.subject(K, "800B")
    assert quiet is not None and quiet.checks == ()
    assert await store.owner_of(INV, "in_1") == "001A"

    # The next computation no longer has the invoice nor 800B: both are gone.
    await store.replace_customer(
        "001A", [links("001A", MISSING), value("001A", "800A")], computed_at=at(1)
    )
    assert await store.subject(INV, "in_1") is None
    assert await store.subject(K, "800B") is None
    assert await store.owner_of(INV, "in_1") is None
    contract = await store.subject(K, "800A")
    assert contract is not None and contract.status is OK and contract.computed_at == at(1)
    page = await store.list()
    assert {(i.check.subject_id, i.check.status) for i in page.items} == {
        ("001A", MISSING),
        ("800A", OK),
    }
    assert (await store.list(status=DRIFT)).items == ()
    assert [i.check.subject_id for i in (await store.list(status=MISSING)).items] == ["001A"]


async def test_an_older_computation_never_overwrites_a_newer_one(store: ConsistencyStore) -> None:
    await store.replace_customer("001A", [links("001A", DRIFT)], computed_at=at(5))
    late = await store.replace_customer("001A", [links("001A")], computed_at=at(4))
    assert not late.written
    report = await store.subject(C, "001A")
    assert report is not None and report.status is DRIFT and report.computed_at == at(5)
    same = await store.replace_customer("001A", [links("001A")], computed_at=at(5))
    assert same.written


async def test_first_seen_survives_recomputes_and_drops_and_resets_when_consistent(
    store: ConsistencyStore,
) -> None:
    await store.replace_customer("001A", [links("001A", DRIFT)], computed_at=at(0))
    await store.replace_customer("001A", [links("001A", UNKNOWN)], computed_at=at(10))
    result = await store.replace_customer("001A", [links("001A", DRIFT)], computed_at=at(20))
    assert result.checks[0].first_seen == at(0)
    await store.drop_customer("001A", at=at(21))
    again = await store.replace_customer("001A", [links("001A", DRIFT)], computed_at=at(22))
    assert again.checks[0].first_seen == at(0)
    summary = await store.summary()
    assert summary.oldest_unresolved == at(0)

    fixed = await store.replace_customer("001A", [links("001A")], computed_at=at(30))
    assert fixed.checks[0].first_seen is None
    assert (await store.summary()).oldest_unresolved is None
    broken = await store.replace_customer("001A", [links("001A", DRIFT)], computed_at=at(40))
    assert broken.checks[0].first_seen == at(40)


async def test_a_dropped_customer_reads_as_a_miss_and_refuses_older_computations(
    store: ConsistencyStore,
) -> None:
    await store.replace_customer(
        "001A", [links("001A", DRIFT), value("001A", "800A", DRIFT, "5")], computed_at=at(0)
    )
    assert await store.drop_customer("001A", at=at(3))
    assert not await store.drop_customer("001A", at=at(2))  # already dropped since
    assert await store.subject(C, "001A") is None
    assert await store.subject(K, "800A") is None
    assert await store.owner_of(K, "800A") == "001A"  # still known whose it is
    assert (await store.list()).items == ()
    summary = await store.summary()
    assert summary.total == 0 and summary.variance == () and summary.customers == 1
    # A computation that started before the drop read the old state: refused.
    stale = await store.replace_customer("001A", [links("001A")], computed_at=at(2))
    assert not stale.written
    assert await store.subject(C, "001A") is None
    assert (await store.replace_customer("001A", [links("001A")], computed_at=at(3))).written
    assert await store.subject(C, "001A") is not None


async def test_a_contract_that_moved_customers_stays_with_its_new_customer(
    store: ConsistencyStore,
) -> None:
    await store.replace_customer(
        "001A", [links("001A"), value("001A", "800X", DRIFT, "1")], computed_at=at(0)
    )
    await store.replace_customer("001B", [links("001B"), value("001B", "800X")], computed_at=at(1))
    assert await store.owner_of(K, "800X") == "001B"
    # 001A's next computation no longer has it: 001B's verdict stays.
    await store.replace_customer("001A", [links("001A")], computed_at=at(2))
    report = await store.subject(K, "800X")
    assert report is not None and report.customer_id == "001B" and report.status is OK
    assert (await store.list(rule=RuleName.CONTRACT_VALUE)).total_count == 1
    assert (await store.list(status=DRIFT)).items == ()
    await store.remove_customer("001A")
    assert await store.owner_of(K, "800X") == "001B"
    assert (await store.list(rule=RuleName.CONTRACT_VALUE)).total_count == 1


# --- listing ---------------------------------------------------------------------------


async def _fill(store: ConsistencyStore) -> None:
    await store.replace_customer(
        "001A",
        [
            links("001A", DRIFT),
            value("001A", "800A", DRIFT, "10.10"),
            value("001A", "800B"),
            posting("001A", "in_1", MISSING),
        ],
        computed_at=at(0),
    )
    await store.replace_customer(
        "001B",
        [
            links("001B"),
            value("001B", "800C", PENDING, "2.5"),
            posting("001B", "in_2"),
            posting("001B", "in_3", UNKNOWN),
        ],
        computed_at=at(1),
    )


async def test_list_filters_by_status_rule_system_and_queue(store: ConsistencyStore) -> None:
    await _fill(store)

    async def ids(**filters: object) -> list[str]:
        page = await store.list(first=100, **filters)  # type: ignore[arg-type]
        return [i.check.subject_id for i in page.items]

    assert await ids(status=DRIFT) == ["800A", "001A"]
    assert await ids(rule=RuleName.INVOICE_POSTING) == ["in_1", "in_2", "in_3"]
    assert await ids(system=System.ERP) == ["in_1", "in_2", "in_3"]
    assert await ids(system=System.CRM) == ["001A", "001B"]
    assert await ids(queue=ExceptionQueue.FINANCE_OPS) == ["800A", "800C", "in_1", "in_3"]
    assert await ids(queue=ExceptionQueue.FINANCE_OPS, rule=RuleName.CONTRACT_VALUE) == [
        "800A",
        "800C",
    ]
    assert await ids(status=MISSING, system=System.ERP, rule=RuleName.INVOICE_POSTING) == ["in_1"]
    assert await ids(status=MISSING, system=System.CRM) == []
    assert (await store.list(status=DRIFT)).total_count == 2
    assert (await store.list(status=DRIFT, system=System.CRM)).total_count is None
    page = await store.list(rule=RuleName.CONTRACT_VALUE, first=1)
    assert page.computed_at == at(0) and page.from_cache


async def test_keyset_pages_are_stable_while_checks_come_and_go(store: ConsistencyStore) -> None:
    await _fill(store)
    everything = [(i.check.subject_id, i.check.rule) for i in (await store.list()).items]
    assert len(everything) == 8
    first = await store.list(first=3)
    assert first.has_next_page and first.total_count == 8
    assert [(i.check.subject_id, i.check.rule) for i in first.items] == everything[:3]
    # Meanwhile 001B loses in_2 (not yet listed) and 001C arrives (before the cursor).
    await store.replace_customer(
        "001B",
        [links("001B"), value("001B", "800C", PENDING, "2.5"), posting("001B", "in_3", UNKNOWN)],
        computed_at=at(2),
    )
    await store.replace_customer("001C", [value("001C", "800000")], computed_at=at(2))
    rest: list[tuple[str, RuleName]] = []
    after = first.end_cursor
    while True:
        page = await store.list(first=3, after=after)
        rest += [(i.check.subject_id, i.check.rule) for i in page.items]
        after = page.end_cursor
        if not page.has_next_page:
            break
    assert rest == [e for e in everything[3:] if e[0] != "in_2"]
    with pytest.raises(ValueError):
        await store.list(after="not a cursor")
    with pytest.raises(ValueError):
        await store.list(first=0)


async def test_summary_counts_variance_and_freshness(store: ConsistencyStore) -> None:
    empty = await store.summary()
    assert empty.total == 0 and empty.computed_at is None and empty.oldest_unresolved is None
    await _fill(store)
    await store.replace_customer(
        "001D",
        [
            check(
                "001D",
                K,
                "800D",
                RuleName.CONTRACT_VALUE,
                DRIFT,
                variance=Money(Decimal("-0.005"), "KWD"),
            ),
            check(
                "001D",
                K,
                "800D",
                RuleName.REVENUE_ROLLFORWARD,
                DRIFT,
                variance=Money(Decimal("0.101"), "USD"),
            ),
        ],
        computed_at=at(3),
    )
    summary = await store.summary()
    assert summary.total == 10
    assert summary.by_status == {OK: 3, DRIFT: 4, MISSING: 1, PENDING: 1, UNKNOWN: 1}
    assert summary.unreconciled == 7
    assert summary.by_rule[RuleName.CONTRACT_VALUE] == 4
    assert summary.by_rule[RuleName.INVOICE_POSTING] == 3
    assert summary.by_rule[RuleName.CUSTOMER_ATTRIBUTES] == 0
    assert summary.variance == (
        Money(Decimal("0.005"), "KWD"),
        Money(Decimal("12.701"), "USD"),
    )
    assert [str(m.amount) for m in summary.variance] == ["0.005", "12.701"]
    assert summary.oldest_unresolved == at(0)
    assert summary.customers == 3
    assert summary.computed_at == at(0) and summary.from_cache


async def test_remove_stale_forgets_customers_not_recomputed_since(
    store: ConsistencyStore,
) -> None:
    await _fill(store)
    await store.replace_customer("001C", [links("001C", DRIFT)], computed_at=at(10))
    removed = await store.remove_stale(before=at(5))
    assert sorted(removed) == ["001A", "001B"]
    assert await store.subject(C, "001A") is None
    assert await store.owner_of(INV, "in_1") is None
    summary = await store.summary()
    assert summary.total == 1 and summary.customers == 1
    assert summary.oldest_unresolved == at(10)
    # A customer back after removal starts a new unresolved episode.
    back = await store.replace_customer("001A", [links("001A", DRIFT)], computed_at=at(11))
    assert back.checks[0].first_seen == at(11)


async def test_concurrent_recomputes_of_one_customer_leave_the_newest(
    store: ConsistencyStore,
) -> None:
    statuses = [OK, DRIFT, MISSING, UNKNOWN, PENDING] * 4

    async def write(n: int) -> None:
        contracts = [value("001A", f"800{n}-{i}", statuses[n], "1") for i in range(n % 3)]
        await store.replace_customer(
            "001A", [links("001A", statuses[n]), *contracts], computed_at=at(n)
        )

    await asyncio.gather(*(write(n) for n in range(len(statuses))))
    newest = len(statuses) - 1
    report = await store.subject(C, "001A")
    assert report is not None and report.computed_at == at(newest)
    assert report.status is statuses[newest]
    summary = await store.summary()
    assert summary.total == 1 + newest % 3
    assert summary.by_status[statuses[newest]] == summary.total


async def test_naive_times_are_refused(store: ConsistencyStore) -> None:
    with pytest.raises(ValueError):
        await store.replace_customer("001A", [], computed_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        await store.replace_customer("001A", [links("001B")], computed_at=at(0))


async def test_two_processes_on_one_redis_prefix_share_verdicts(open_store: Factory) -> None:
    one, two = open_store(), open_store()
    await one.replace_customer("001A", [links("001A", DRIFT)], computed_at=at(0))
    seen = await two.subject(C, "001A")
    assert seen is not None and seen.status is DRIFT
    await two.replace_customer("001A", [links("001A")], computed_at=at(1))
    again = await one.subject(C, "001A")
    assert again is not None and again.status is OK
    assert (await one.summary()).by_status[OK] == 1
