"""The NetSuite adapter's writes for the flows, against the ERP simulator over loopback.

Revenue schedules (activation, amendment, termination), AR postings and revenue
recognition. Every operation is run twice and the records are counted with
SuiteQL: a repeat never creates a second record, and (counted from the
simulator's ``/_sim/stats``) a repeat of a completed operation writes nothing.
Each result is read back through the read methods the graph uses
(``schedules_by_contract_ids``, ``schedule_lines_by_schedule_ids``,
``postings_by_invoice_ids``), so the read side sees one current schedule.

The simulator is shared by the module: each test works on its own contracts,
invoices and periods (2030 and later are used by recognition tests only).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest

from domain.money import CurrencyMismatch, Money
from domain.records import Invoice, InvoiceStatus, RevenueSchedule
from domain.revenue_schedule import ScheduleError, spread
from sources.erp import ErpClient
from sources.erp.client import schedule_external_id
from sources.errors import SourceConflict, SourceNotFound
from tests.simulators.test_erp import contract_id, erp_records
from tests.sources.test_erp import _config

LINES = 12  # the seeded schedules: 2026-01 .. 2026-12, 10.25 each, the first 6 recognized
WRITE_VERBS = ("PUT ", "PATCH ", "DELETE ", "POST /services/rest/record/")


@pytest.fixture(scope="module")
def erp_url(start_simulators: Callable[..., dict[str, str]]) -> str:
    """Customers 1..8 (odd USD, even EUR); contracts 1..8 each with a seeded v1 schedule."""
    records = erp_records(8, versions=1, lines_per_schedule=LINES)
    return start_simulators(("ERP",), {"ERP": records})["ERP"]


@pytest.fixture(scope="module")
async def sim(erp_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=erp_url) as client:
        yield client


@pytest.fixture
async def erp(erp_url: str, sim: httpx.AsyncClient) -> AsyncIterator[ErpClient]:
    await sim.delete("/_sim/faults")
    await sim.delete("/_sim/stats")
    client = ErpClient(_config(erp_url))
    yield client
    await client.aclose()


async def writes(sim: httpx.AsyncClient) -> int:
    """Record writes the simulator received since the last reset (then reset)."""
    by_route: dict[str, int] = (await sim.get("/_sim/stats")).json()["by_route"]
    await sim.delete("/_sim/stats")
    return sum(n for route, n in by_route.items() if route.startswith(WRITE_VERBS))


async def count(erp: ErpClient, table: str, where: str) -> int:
    rows = await erp.suiteql(f"SELECT COUNT(*) AS n FROM {table} WHERE {where}")
    return int(rows[0]["n"])


async def schedules_of(erp: ErpClient, contract: str) -> list[RevenueSchedule]:
    return (await erp.schedules_by_contract_ids([contract]))[contract]


async def line_view(erp: ErpClient, schedule_id: str) -> list[tuple[str, Decimal, bool]]:
    """``(period, amount, recognized)`` of each line, as the read side sees them."""
    lines = (await erp.schedule_lines_by_schedule_ids([schedule_id]))[schedule_id]
    return [(line.period, line.amount, line.recognized) for line in lines]


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def seeded(periods: range) -> list[tuple[str, Decimal, bool]]:
    """The seeded lines of 2026 for the given months (1-based)."""
    return [(f"2026-{m:02d}", Decimal("10.25"), m <= LINES // 2) for m in periods]


# --- activation -----------------------------------------------------------------------


async def test_upsert_schedule_twice_creates_one_schedule(
    erp: ErpClient, sim: httpx.AsyncClient
) -> None:
    contract = "800NEW0000000000001"
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    lines = spread(usd("1000.00"), start, end)
    first = await erp.upsert_schedule(
        contract, 1, customer_id="1", currency="USD", lines=lines, start=start, end=end
    )
    assert await writes(sim) == 1 + LINES  # the header, then one PUT per period
    again = await erp.upsert_schedule(
        contract, 1, customer_id="1", currency="USD", lines=lines, start=start, end=end
    )
    assert again == first
    assert await writes(sim) == 1  # the header upsert; every line already right
    where = f"custrecord_rg_contract = '{contract}'"
    assert await count(erp, "customrecord_rg_revsched", where) == 1
    assert (
        await count(erp, "customrecord_rg_revsched_line", f"custrecord_rg_schedule = {first}")
        == LINES
    )

    [schedule] = await schedules_of(erp, contract)
    assert schedule.id == first
    assert schedule.external_id == f"{contract}:v1" == schedule_external_id(contract, 1)
    assert (schedule.contract_version, schedule.customer_id) == (1, "1")
    assert (schedule.start, schedule.end) == (start, end)
    assert schedule.total == usd("1000.00")
    assert schedule.recognized == usd("0") and schedule.deferred == usd("1000.00")
    view = await line_view(erp, first)
    assert [p for p, _, _ in view] == [f"2026-{m:02d}" for m in range(1, 13)]
    assert [a for _, a, _ in view] == [Decimal("83.33")] * 11 + [Decimal("83.37")]
    assert await erp.current_schedule(contract) == schedule


async def test_upsert_schedule_in_yen_sums_exactly(erp: ErpClient) -> None:
    contract = "800NEW0000000000002"
    start, end = date(2026, 2, 15), date(2027, 2, 14)
    lines = spread(Money.of(1_000_000, "JPY"), start, end)
    schedule_id = await erp.upsert_schedule(
        contract, 1, customer_id="2", currency="jpy", lines=lines, start=start, end=end
    )
    [schedule] = await schedules_of(erp, contract)
    assert schedule.total == Money.of(1_000_000, "JPY") and schedule.currency == "JPY"
    amounts = [a for _, a, _ in await line_view(erp, schedule_id)]
    assert len(amounts) == 13  # a half February at each end
    assert sum(amounts) == 1_000_000
    assert all(a == a.to_integral_value() for a in amounts)


async def test_upsert_schedule_repairs_a_partial_first_attempt(
    erp: ErpClient, sim: httpx.AsyncClient
) -> None:
    contract = "800NEW0000000000003"
    start, end = date(2026, 1, 1), date(2026, 6, 30)
    lines = spread(usd("600.00"), start, end)
    schedule_id = await erp.upsert_schedule(
        contract, 1, customer_id="3", currency="USD", lines=lines, start=start, end=end
    )
    # As if the first attempt died half way: two lines missing, one wrong, one extra.
    view = (await erp.schedule_lines_by_schedule_ids([schedule_id]))[schedule_id]
    await erp.delete_record("customrecord_rg_revsched_line", view[1].id)
    await erp.delete_record("customrecord_rg_revsched_line", view[4].id)
    await erp.update_record(
        "customrecord_rg_revsched_line", view[2].id, {"custrecord_rg_amount": 1}
    )
    await erp.create_record(
        "customrecord_rg_revsched_line",
        {
            "custrecord_rg_schedule": {"id": schedule_id},
            "custrecord_rg_period": "2026-07",
            "custrecord_rg_amount": 5,
        },
    )
    await sim.delete("/_sim/stats")
    again = await erp.upsert_schedule(
        contract, 1, customer_id="3", currency="USD", lines=lines, start=start, end=end
    )
    assert again == schedule_id
    assert await writes(sim) == 1 + 2 + 1 + 1  # header, 2 missing, 1 wrong, 1 extra
    assert [(p, a) for p, a, _ in await line_view(erp, schedule_id)] == [
        (f"2026-{m:02d}", Decimal(100)) for m in range(1, 7)
    ]
    # the deleted record was gone already: a repeated delete counts as done
    await erp.delete_record("customrecord_rg_revsched_line", view[1].id)


async def test_upsert_schedule_refuses_another_version(erp: ErpClient) -> None:
    seeded_contract = contract_id(1)  # has a schedule at v1
    lines = spread(usd("10.00"), date(2026, 1, 1), date(2026, 1, 31))
    with pytest.raises(SourceConflict, match="version 1"):
        await erp.upsert_schedule(
            seeded_contract,
            2,
            customer_id="1",
            currency="USD",
            lines=lines,
            start=date(2026, 1, 1),
            end=date(2026, 1, 31),
        )
    with pytest.raises(CurrencyMismatch):
        await erp.upsert_schedule(
            "800NEW0000000000004",
            1,
            customer_id="1",
            currency="EUR",
            lines=lines,
            start=date(2026, 1, 1),
            end=date(2026, 1, 31),
        )
    assert await schedules_of(erp, "800NEW0000000000004") == []


# --- amendment ------------------------------------------------------------------------


async def test_revise_schedule_keeps_recognized_lines_and_moves_the_version(
    erp: ErpClient, sim: httpx.AsyncClient
) -> None:
    contract = contract_id(3)  # seeded v1: 12 x 10.25 USD, Jan-Jun recognized, no line eids
    [before] = await schedules_of(erp, contract)
    schedule_id = await erp.revise_schedule(
        contract, 2, total=usd("200.00"), effective=date(2026, 9, 15), end=date(2026, 12, 31)
    )
    assert schedule_id == before.id  # revised in place
    # Jan-Jun recognized and Jul-Aug (before the effective month) keep 10.25;
    # Sep-Dec share 200 - 82 = 118.
    assert await line_view(erp, schedule_id) == [
        *seeded(range(1, 9)),
        *[(f"2026-{m:02d}", Decimal("29.50"), False) for m in range(9, 13)],
    ]
    assert await writes(sim) == 4 + 1  # four amounts changed, then the header

    [after] = await schedules_of(erp, contract)  # one schedule: the current version
    assert after.id == schedule_id
    assert after.contract_version == 2
    assert after.external_id == f"{contract}:v2"
    assert after.total == usd("200.00")
    assert after.recognized == usd("61.50")
    assert after.deferred == usd("138.50")
    assert after.start == before.start and after.end == date(2026, 12, 31)
    assert (await erp.get_schedule(f"eid:{contract}:v2")).id == schedule_id
    with pytest.raises(SourceNotFound):
        await erp.get_schedule(f"eid:{contract}:v1")

    # Again: the header says v2, so it is done — no write, still one schedule.
    assert (
        await erp.revise_schedule(
            contract, 2, total=usd("200.00"), effective=date(2026, 9, 15), end=date(2026, 12, 31)
        )
        == schedule_id
    )
    assert await writes(sim) == 0
    where = f"custrecord_rg_contract = '{contract}'"
    assert await count(erp, "customrecord_rg_revsched", where) == 1
    assert (
        await count(erp, "customrecord_rg_revsched_line", f"custrecord_rg_schedule = {schedule_id}")
        == LINES
    )


async def test_revise_schedule_extends_the_term_and_resumes_after_a_crash(
    erp: ErpClient, sim: httpx.AsyncClient
) -> None:
    contract = contract_id(5)

    async def revise() -> str:
        return await erp.revise_schedule(
            contract, 2, total=usd("300.00"), effective=date(2026, 7, 1), end=date(2027, 3, 31)
        )

    schedule_id = await revise()
    expected = [
        *seeded(range(1, 7)),
        # 300 - 61.50 recognized over Jul 2026 .. Mar 2027 (9 months)
        *[(f"2026-{m:02d}", Decimal("26.50"), False) for m in range(7, 13)],
        *[(f"2027-{m:02d}", Decimal("26.50"), False) for m in range(1, 4)],
    ]
    assert await line_view(erp, schedule_id) == expected
    await sim.delete("/_sim/stats")

    # As if the step died before its last write (the header, still at v1) after
    # only some lines were written: one new line missing, one amount not changed.
    await erp.update_record(
        "customrecord_rg_revsched",
        schedule_id,
        {"externalId": f"{contract}:v1", "custrecord_rg_contract_version": 1},
    )
    lines = (await erp.schedule_lines_by_schedule_ids([schedule_id]))[schedule_id]
    by_period = {line.period: line for line in lines}
    await erp.delete_record("customrecord_rg_revsched_line", by_period["2027-02"].id)
    await erp.update_record(
        "customrecord_rg_revsched_line", by_period["2026-08"].id, {"custrecord_rg_amount": 10.25}
    )
    await sim.delete("/_sim/stats")
    assert await revise() == schedule_id
    assert await writes(sim) == 1 + 1 + 1  # the missing line, the stale amount, the header
    assert await line_view(erp, schedule_id) == expected
    [schedule] = await schedules_of(erp, contract)
    assert (schedule.contract_version, schedule.total) == (2, usd("300.00"))
    assert (
        await count(erp, "customrecord_rg_revsched_line", f"custrecord_rg_schedule = {schedule_id}")
        == 15
    )


async def test_revise_schedule_refuses_what_it_cannot_do(erp: ErpClient) -> None:
    with pytest.raises(SourceNotFound, match="no revenue schedule"):
        await erp.revise_schedule(
            "800NONE", 2, total=usd("1"), effective=date(2026, 1, 1), end=date(2026, 2, 1)
        )
    contract = contract_id(7)
    await erp.revise_schedule(
        contract, 3, total=usd("123.00"), effective=date(2026, 8, 1), end=date(2026, 12, 31)
    )
    with pytest.raises(SourceConflict, match="past amendment version 2"):
        await erp.revise_schedule(
            contract, 2, total=usd("1"), effective=date(2026, 8, 1), end=date(2026, 12, 31)
        )
    # Jan-Jun are recognized: an amendment effective in March that ends in June
    # has no open month to put the rest in.
    with pytest.raises(ScheduleError, match="every period"):
        await erp.revise_schedule(
            contract, 4, total=usd("999.00"), effective=date(2026, 3, 1), end=date(2026, 6, 30)
        )
    [schedule] = await schedules_of(erp, contract)
    assert schedule.contract_version == 3  # nothing was written by the refusals


# --- termination ----------------------------------------------------------------------


async def test_truncate_schedule_removes_later_unrecognized_periods(
    erp: ErpClient, sim: httpx.AsyncClient
) -> None:
    contract = contract_id(2)  # EUR
    schedule_id = await erp.truncate_schedule(contract, date(2026, 8, 20))
    assert await line_view(erp, schedule_id) == seeded(range(1, 9))
    assert await writes(sim) == 4 + 1  # Sep-Dec deleted, the header
    [schedule] = await schedules_of(erp, contract)
    assert schedule.contract_version == 1  # a termination does not make a version
    assert schedule.total == Money.of("82.00", "EUR")
    assert schedule.recognized == Money.of("61.50", "EUR")
    assert schedule.end == date(2026, 8, 20)

    assert await erp.truncate_schedule(contract, date(2026, 8, 20)) == schedule_id
    assert await writes(sim) == 0
    assert (
        await count(erp, "customrecord_rg_revsched_line", f"custrecord_rg_schedule = {schedule_id}")
        == 8
    )


async def test_truncate_schedule_never_removes_recognized_periods(erp: ErpClient) -> None:
    contract = contract_id(4)
    schedule_id = await erp.truncate_schedule(contract, date(2026, 3, 31))
    # Apr-Jun are recognized: they stay; Jul-Dec go.
    assert await line_view(erp, schedule_id) == seeded(range(1, 7))
    [schedule] = await schedules_of(erp, contract)
    assert schedule.total == Money.of("61.50", "EUR") and schedule.deferred == Money.of(0, "EUR")
    assert schedule.end == date(2026, 3, 31)
    with pytest.raises(SourceNotFound):
        await erp.truncate_schedule("800NONE", date(2026, 3, 31))


# --- AR postings ----------------------------------------------------------------------


def invoice(status: InvoiceStatus, *, remaining: str) -> Invoice:
    total = usd("1234.50")
    return Invoice(
        id="in_WRITE000001",
        customer_id="cus_W1",
        status=status,
        currency="USD",
        subtotal=total,
        total=total,
        amount_due=total,
        amount_paid=total - usd(remaining),
        amount_remaining=usd(remaining),
        created_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC),
        number="RG-W-0001",
        due_date=date(2026, 3, 31),
        finalized_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
    )


async def test_upsert_posting_twice_creates_one_posting(erp: ErpClient) -> None:
    open_invoice = invoice(InvoiceStatus.OPEN, remaining="1234.50")
    first = await erp.upsert_posting(open_invoice, customer_id="5")
    assert await erp.upsert_posting(open_invoice, customer_id="5") == first
    where = "type = 'CustInvc' AND externalid = 'in_WRITE000001'"
    assert await count(erp, "transaction", where) == 1
    posting = (await erp.postings_by_invoice_ids(["in_WRITE000001"]))["in_WRITE000001"]
    assert posting.id == first
    assert (posting.customer_id, posting.number) == ("5", "RG-W-0001")
    assert posting.total == usd("1234.50") and posting.amount_remaining == usd("1234.50")
    assert posting.posted_on == date(2026, 3, 2)  # the day it was finalized
    assert posting.status == "Open"

    # Paid later: the same record is brought up to date.
    assert await erp.upsert_posting(
        invoice(InvoiceStatus.PAID, remaining="0"), customer_id="5"
    ) == (first)
    assert await count(erp, "transaction", where) == 1
    posting = (await erp.postings_by_invoice_ids(["in_WRITE000001"]))["in_WRITE000001"]
    assert posting.status == "Paid In Full" and posting.amount_remaining == usd("0")
    assert [p.id for p in (await erp.postings_by_customer_ids(["5"]))["5"]] == [first]

    with pytest.raises(ValueError, match="only final invoices post"):
        await erp.upsert_posting(invoice(InvoiceStatus.DRAFT, remaining="0"), customer_id="5")


# --- revenue recognition --------------------------------------------------------------


async def test_recognize_period_books_once(erp: ErpClient, sim: httpx.AsyncClient) -> None:
    contract = "800NEW0000000000010"
    start, end = date(2030, 1, 1), date(2030, 12, 31)
    schedule_id = await erp.upsert_schedule(
        contract,
        1,
        customer_id="1",
        currency="USD",
        lines=spread(usd("1200.00"), start, end),
        start=start,
        end=end,
    )
    await sim.delete("/_sim/stats")
    [done] = await erp.recognize_period("2030-01")
    assert await writes(sim) == 2  # the journal entry, then the line's flag
    assert (done.schedule_id, done.period, done.amount, done.newly) == (
        schedule_id,
        "2030-01",
        usd("100.00"),
        True,
    )
    assert done.journal_entry_id is not None
    # Again: the same line and entry, not new, nothing written.
    [again] = await erp.recognize_period("2030-01")
    assert again == replace(done, newly=False)
    assert await writes(sim) == 0
    assert await count(erp, "journalentry", f"externalid = 'revrec:{schedule_id}:2030-01'") == 1

    entry = await erp.get_journal_entry(done.journal_entry_id)
    assert entry.external_id == f"revrec:{schedule_id}:2030-01"
    assert entry.posted_on == date(2030, 1, 31) and entry.currency == "USD"
    assert [(x.account_id, x.debit, x.credit) for x in entry.lines] == [
        ("2400", usd("100.00"), None),
        ("4000", None, usd("100.00")),
    ]
    [schedule] = await schedules_of(erp, contract)
    assert schedule.recognized == usd("100.00") and schedule.deferred == usd("1100.00")
    assert (await line_view(erp, schedule_id))[0] == ("2030-01", Decimal(100), True)

    # One schedule at a time: the same answer, marked as not new, nothing written.
    assert await erp.recognize_schedule_period(schedule_id, "2030-01") == again
    assert await writes(sim) == 0
    feb = await erp.recognize_schedule_period(schedule_id, "2030-02")
    assert feb is not None and feb.newly and feb.amount == usd("100.00")
    assert await erp.recognize_schedule_period(schedule_id, "2031-01") is None
    assert await count(erp, "journalentry", f"externalid LIKE 'revrec:{schedule_id}:%'") == 2
    with pytest.raises(ValueError, match="not a period"):
        await erp.recognize_period("2030-13")
    with pytest.raises(SourceNotFound):
        await erp.recognize_schedule_period("999999", "2030-01")


async def test_recognition_after_an_amendment_books_the_revised_amount(
    erp: ErpClient,
) -> None:
    contract = "800NEW0000000000011"
    start, end = date(2031, 1, 1), date(2031, 4, 30)
    schedule_id = await erp.upsert_schedule(
        contract,
        1,
        customer_id="2",
        currency="EUR",
        lines=spread(Money.of(400, "EUR"), start, end),
        start=start,
        end=end,
    )
    [jan] = await erp.recognize_period("2031-01")
    await erp.revise_schedule(
        contract, 2, total=Money.of(100, "EUR"), effective=date(2031, 2, 1), end=end
    )
    # 100 - 100 recognized leaves 0 for Feb-Apr: recognized without a journal entry.
    [feb] = await erp.recognize_period("2031-02")
    assert (feb.amount, feb.journal_entry_id) == (Money.of(0, "EUR"), None)
    [schedule] = await schedules_of(erp, contract)
    assert schedule.contract_version == 2
    assert schedule.recognized == Money.of(100, "EUR") and schedule.deferred == Money.of(0, "EUR")
    assert jan.schedule_id == feb.schedule_id == schedule_id


async def test_recognize_period_skips_superseded_schedules(erp: ErpClient) -> None:
    """Data written by something else (two version records of one contract): only
    the current version — what readers show — is recognized."""
    contract = "800NEW0000000000012"
    ids = []
    for version in (1, 2):
        ids.append(
            await erp.upsert_record(
                "customrecord_rg_revsched",
                f"{contract}:v{version}",
                {
                    "custrecord_rg_contract": contract,
                    "custrecord_rg_contract_version": version,
                    "custrecord_rg_customer": {"id": "1"},
                    "custrecord_rg_total": 10 * version,
                    "currency": {"refName": "USD"},
                },
            )
        )
        await erp.create_record(
            "customrecord_rg_revsched_line",
            {
                "custrecord_rg_schedule": {"id": ids[-1]},
                "custrecord_rg_period": "2032-01",
                "custrecord_rg_amount": 10 * version,
            },
        )
    [done] = await erp.recognize_period("2032-01")
    assert (done.schedule_id, done.amount) == (ids[1], usd("20.00"))
    assert await erp.recognize_period("2032-01") == [replace(done, newly=False)]
    old, current = await schedules_of(erp, contract)
    assert (old.recognized, current.recognized) == (usd("0"), usd("20.00"))


async def test_recognizing_a_reduction_books_it_the_other_way(erp: ErpClient) -> None:
    contract = "800NEW0000000000013"
    start, end = date(2033, 1, 1), date(2033, 3, 31)
    schedule_id = await erp.upsert_schedule(
        contract,
        1,
        customer_id="1",
        currency="USD",
        lines=spread(usd("300.00"), start, end),
        start=start,
        end=end,
    )
    await erp.recognize_period("2033-01")
    # Cut to 50 after 100 was recognized: Feb and Mar carry -25 each.
    await erp.revise_schedule(contract, 2, total=usd("50.00"), effective=date(2033, 2, 1), end=end)
    assert [a for _, a, _ in await line_view(erp, schedule_id)] == [100, -25, -25]
    [feb] = await erp.recognize_period("2033-02")
    assert feb.amount == usd("-25.00") and feb.journal_entry_id is not None
    entry = await erp.get_journal_entry(feb.journal_entry_id)
    assert [(x.account_id, x.debit, x.credit) for x in entry.lines] == [
        ("4000", usd("25.00"), None),
        ("2400", None, usd("25.00")),
    ]
    [schedule] = await schedules_of(erp, contract)
    assert schedule.recognized == usd("75.00") and schedule.deferred == usd("-25.00")


async def test_recognize_period_reports_lines_recognized_before(erp: ErpClient) -> None:
    """The seeded lines of 2026-01 were recognized without a journal entry (by
    something else): reported, not booked again."""
    found = await erp.recognize_period("2026-01")
    mine = [r for r in found if r.schedule_id in {"1", "6", "8"}]  # schedules left as seeded
    assert len(mine) == 3
    assert all(not r.newly and r.journal_entry_id is None for r in mine)
    assert {r.amount.amount for r in mine} == {Decimal("10.25")}
