"""The NetSuite adapter against the ERP simulator over loopback HTTP.

Request counts come from the simulator's ``/_sim/stats``, so they are what the
ERP actually received (retries included). ``httpx.MockTransport`` is used only
for answers the simulator never gives (a 204 without ``Location``, a non-JSON
error, an empty page that claims more).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from domain.money import Money
from domain.records import ErpCustomer
from sources.base import SourceConfig
from sources.breaker import NO_BREAKER
from sources.erp import ErpClient
from sources.erp.client import IN_CHUNK
from sources.errors import (
    PermanentSourceError,
    SourceAuthError,
    SourceConflict,
    SourceError,
    SourceNotFound,
    SourceRequestError,
    SourceResponseError,
    SourceServerError,
    SourceThrottled,
    SourceTimeout,
    SourceUnavailable,
)
from sources.systems import System
from tests.simulators.test_erp import contract_id, crm_account_id, erp_records, invoice_id

TOKEN = "demo-erp-token"
SUITEQL_ROUTE = "POST /services/rest/query/v1/suiteql"

CUSTOMERS = 50
INVOICES_PER_CUSTOMER = 6
VERSIONS = 2
LINES_PER_SCHEDULE = 25


@pytest.fixture(scope="module")
def erp_url(start_simulators: Callable[..., dict[str, str]]) -> str:
    """50 customers, 300 invoices, 50 contracts with 2 schedule versions each, 2 500 lines."""
    records = erp_records(
        CUSTOMERS,
        invoices_per_customer=INVOICES_PER_CUSTOMER,
        versions=VERSIONS,
        lines_per_schedule=LINES_PER_SCHEDULE,
    )
    return start_simulators(("ERP",), {"ERP": records})["ERP"]


@pytest.fixture(scope="module")
async def sim(erp_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The simulator's control API (faults, stats)."""
    async with httpx.AsyncClient(base_url=erp_url) as client:
        yield client


@pytest.fixture
async def erp(erp_url: str, sim: httpx.AsyncClient) -> AsyncIterator[ErpClient]:
    await sim.delete("/_sim/faults")
    await sim.delete("/_sim/stats")
    client = ErpClient(_config(erp_url))
    yield client
    await client.aclose()
    await sim.delete("/_sim/faults")


def _config(url: str, **overrides: Any) -> SourceConfig:
    settings: dict[str, Any] = {
        "timeout_s": 2.0,
        "max_retries": 2,
        "retry_backoff_s": 0.001,
        # These tests count retries: no breaker or budget in the way (tested on their own).
        "breaker": NO_BREAKER,
        "retry_budget_burst": 1000.0,
    }
    settings.update(overrides)
    return SourceConfig(System.ERP, url, TOKEN, **settings)


async def requests_to(sim: httpx.AsyncClient, route: str) -> int:
    by_route: dict[str, int] = (await sim.get("/_sim/stats")).json()["by_route"]
    return by_route.get(route, 0)


# --- SuiteQL and paging ----------------------------------------------------------


async def test_suiteql_collects_every_page(erp: ErpClient, sim: httpx.AsyncClient) -> None:
    q = "SELECT id, custrecord_rg_amount FROM customrecord_rg_revsched_line"
    rows = await erp.suiteql(q)
    assert [int(r["id"]) for r in rows] == list(range(1, 2501))
    assert "links" not in rows[0]
    # Real SuiteQL sends every value as a string (the models parse them exactly).
    assert isinstance(rows[0]["custrecord_rg_amount"], str)
    assert await requests_to(sim, SUITEQL_ROUTE) == 3  # 1000 + 1000 + 500
    await sim.delete("/_sim/stats")
    assert len(await erp.suiteql(q, page_size=300)) == 2500
    assert await requests_to(sim, SUITEQL_ROUTE) == 9  # ceil(2500 / 300)
    with pytest.raises(ValueError, match="page_size"):
        await erp.suiteql(q, page_size=1001)


async def test_suiteql_pages_are_fetched_as_iterated(
    erp: ErpClient, sim: httpx.AsyncClient
) -> None:
    sizes = []
    async for page in erp.suiteql_pages(
        "SELECT id FROM transaction WHERE type = 'CustInvc'", page_size=100
    ).pages():
        sizes.append(len(page))
        if len(sizes) == 2:
            break
    assert sizes == [100, 100]
    assert await requests_to(sim, SUITEQL_ROUTE) == 2


async def test_suiteql_syntax_error_is_a_request_error_with_the_vendors_detail(
    erp: ErpClient, sim: httpx.AsyncClient
) -> None:
    with pytest.raises(SourceRequestError) as caught:
        await erp.suiteql("SELECT id FRM customer")
    error = caught.value
    assert (error.status, error.vendor_code, error.system) == (400, "INVALID_PARAMETER", System.ERP)
    assert error.message.startswith("Invalid search query.")
    assert "Unexpected 'customer'" in error.message
    assert await requests_to(sim, SUITEQL_ROUTE) == 1  # a 400 is never retried


async def test_suiteql_is_retried_on_5xx_and_503(erp: ErpClient, sim: httpx.AsyncClient) -> None:
    await sim.post("/_sim/faults", json={"error_rate": 1.0})
    with pytest.raises(SourceServerError) as caught:
        await erp.suiteql("SELECT id FROM customer")
    assert caught.value.vendor_code == "UNEXPECTED_ERROR" and caught.value.retryable
    assert await requests_to(sim, SUITEQL_ROUTE) == 3  # 1 + max_retries
    await sim.post("/_sim/faults", json={"error_rate": 0, "down": True})
    await sim.delete("/_sim/stats")
    with pytest.raises(SourceUnavailable) as unavailable:
        await erp.get_record("customer", "1")
    assert unavailable.value.vendor_code == "SERVICE_UNAVAILABLE"
    assert await requests_to(sim, "GET /services/rest/record/v1/{record_type}/{record_id}") == 3
    await sim.delete("/_sim/faults")
    assert len(await erp.suiteql("SELECT id FROM customer")) == CUSTOMERS
    assert erp.health.errors == 6 and erp.health.last_ok_at is not None


async def test_timeout_on_injected_latency(erp_url: str, sim: httpx.AsyncClient) -> None:
    await sim.post("/_sim/faults", json={"latency_ms": 400})
    await sim.delete("/_sim/stats")
    try:
        async with ErpClient(_config(erp_url, timeout_s=0.1, max_retries=1)) as slow:
            with pytest.raises(SourceTimeout) as caught:
                await slow.suiteql("SELECT id FROM customer")
    finally:
        await sim.delete("/_sim/faults")
    assert caught.value.retryable and "0.1s" in caught.value.message
    assert await requests_to(sim, SUITEQL_ROUTE) == 2  # timed out, retried once, timed out


# --- records ---------------------------------------------------------------


async def test_get_record_by_id_and_external_id(erp: ErpClient) -> None:
    by_id = await erp.get_record("customer", "10")
    by_eid = await erp.get_record("customer", f"eid:{crm_account_id(10)}")
    assert by_id == by_eid and "links" not in by_id
    assert by_id["parent"]["id"] == "1"  # a reference, with its links and refName
    schedule = await erp.get_record("customrecord_rg_revsched", f"eid:{contract_id(5)}:v2")
    assert schedule["custrecord_rg_contract_version"] == 2


async def test_errors_are_classified_with_vendor_code_and_detail(erp: ErpClient) -> None:
    with pytest.raises(SourceNotFound) as missing:
        await erp.get_record("customer", "eid:nobody")
    assert (missing.value.status, missing.value.vendor_code) == (404, "NONEXISTENT_ID")
    assert "does not exist" in missing.value.message
    with pytest.raises(SourceConflict) as dup:
        await erp.create_record("customer", {"companyName": "X", "externalId": crm_account_id(1)})
    assert (dup.value.status, dup.value.vendor_code) == (400, "DUP_RCRD")
    with pytest.raises(SourceRequestError) as invalid:
        await erp.create_record("customer", {"companyName": 42})
    assert invalid.value.vendor_code == "INVALID_VALUE" and "companyName" in invalid.value.message
    with pytest.raises(SourceRequestError) as bad_type:
        await erp.get_record("salesorder", "1")
    assert bad_type.value.vendor_code == "INVALID_RCRD_TYPE"


async def test_wrong_token_is_an_auth_error(erp_url: str) -> None:
    config = SourceConfig(System.ERP, erp_url, "wrong-token")
    async with ErpClient(config) as client:
        with pytest.raises(SourceAuthError) as caught:
            await client.suiteql("SELECT id FROM customer")
    assert (caught.value.status, caught.value.vendor_code) == (401, "INVALID_LOGIN")
    assert caught.value.message.startswith("Invalid login attempt.")


async def test_create_returns_the_new_id_and_is_not_retried(
    erp: ErpClient, sim: httpx.AsyncClient
) -> None:
    new_id = await erp.create_record(
        "customer",
        {"companyName": "Adapter Co", "externalId": "crm-adapter", "currency": {"refName": "GBP"}},
    )
    record = await erp.get_record("customer", new_id)
    assert record["externalId"] == "crm-adapter" and record["currency"]["refName"] == "GBP"
    assert int(new_id) > CUSTOMERS
    await sim.post("/_sim/faults", json={"error_rate": 1.0})
    await sim.delete("/_sim/stats")
    with pytest.raises(SourceServerError):
        await erp.create_record("customer", {"companyName": "Never"})
    assert await requests_to(sim, "POST /services/rest/record/v1/{record_type}") == 1


async def test_upsert_is_idempotent_and_retried(erp: ErpClient, sim: httpx.AsyncClient) -> None:
    customer = await erp.create_record("customer", {"companyName": "Upsert Co"})
    posting = {
        "entity": {"id": customer},
        "tranId": "RG-777777",
        "currency": {"refName": "EUR"},
        "total": Decimal("1234.56"),
        "amountRemaining": Decimal("1234.56"),
        "tranDate": "2026-03-01",
        "status": {"refName": "Open"},
    }
    first = await erp.upsert_record("invoice", "in_adapter_1", posting)
    second = await erp.upsert_record(
        "invoice", "in_adapter_1", {**posting, "total": Decimal("1000")}
    )
    assert first == second
    count = await erp.suiteql(
        "SELECT COUNT(*) AS n FROM transaction "
        "WHERE type = 'CustInvc' AND externalid = 'in_adapter_1'"
    )
    assert count == [{"n": "1"}]  # SuiteQL sends every value as a string
    posted = await erp.postings_by_invoice_ids(["in_adapter_1"])
    assert posted["in_adapter_1"].total == Money(Decimal("1000"), "EUR")
    assert posted["in_adapter_1"].amount_remaining == Money(Decimal("1234.56"), "EUR")
    await sim.post("/_sim/faults", json={"error_rate": 1.0})
    await sim.delete("/_sim/stats")
    with pytest.raises(SourceServerError):
        await erp.upsert_record("invoice", "in_adapter_1", posting)
    assert await requests_to(sim, "PUT /services/rest/record/v1/{record_type}/{record_id}") == 3


async def test_update_record_patches_fields(erp: ErpClient, sim: httpx.AsyncClient) -> None:
    await erp.update_record("customer", f"eid:{crm_account_id(6)}", {"email": "billing@six.test"})
    customers = await erp.customers_by_external_ids([crm_account_id(6)])
    assert customers[crm_account_id(6)].email == "billing@six.test"
    assert customers[crm_account_id(6)].name == "Customer 6"
    with pytest.raises(SourceNotFound):
        await erp.update_record("customer", "999999", {"email": "x@example.com"})
    await sim.post("/_sim/faults", json={"error_rate": 1.0})
    await sim.delete("/_sim/stats")
    with pytest.raises(SourceServerError):
        await erp.update_record("customer", "6", {"email": "x@example.com"})
    assert await requests_to(sim, "PATCH /services/rest/record/v1/{record_type}/{record_id}") == 1


async def test_recognizing_a_line_moves_the_schedule_totals(erp: ErpClient) -> None:
    contract = contract_id(12)
    (schedule, *_) = (await erp.schedules_by_contract_ids([contract]))[contract]
    lines = (await erp.schedule_lines_by_schedule_ids([schedule.id]))[schedule.id]
    pending = next(line for line in lines if not line.recognized)
    await erp.update_record(
        "customrecord_rg_revsched_line", pending.id, {"custrecord_rg_recognized": True}
    )
    (after, *_) = (await erp.schedules_by_contract_ids([contract]))[contract]
    assert schedule.recognized and schedule.deferred and schedule.currency
    moved = Money.exact(pending.amount, schedule.currency)
    assert after.recognized == schedule.recognized + moved
    assert after.deferred == schedule.deferred - moved


# --- batch reads: one request per (source, hop) ----------------------------------


async def test_batch_reads_for_50_customers_cost_one_request_each(
    erp: ErpClient, sim: httpx.AsyncClient
) -> None:
    """The request counts reported to the lead for 50 customers' worth of ids."""
    crm_ids = [crm_account_id(i) for i in range(1, CUSTOMERS + 1)]
    erp_ids = [str(i) for i in range(1, CUSTOMERS + 1)]
    contracts = [contract_id(i) for i in range(1, CUSTOMERS + 1)]
    invoices = [invoice_id(i, k) for i in range(1, CUSTOMERS + 1) for k in range(1, 7)]
    counts: dict[str, int] = {}

    async def measure(name: str, call: Any) -> Any:
        await sim.delete("/_sim/stats")
        result = await call
        counts[name] = await requests_to(sim, SUITEQL_ROUTE)
        return result

    by_crm = await measure("customers_by_external_ids", erp.customers_by_external_ids(crm_ids))
    by_id = await measure("customers_by_ids", erp.customers_by_ids(erp_ids))
    postings = await measure(
        "postings_by_invoice_ids", erp.postings_by_invoice_ids([*invoices, "in_never_posted"])
    )
    per_customer = await measure("postings_by_customer_ids", erp.postings_by_customer_ids(erp_ids))
    schedules = await measure("schedules_by_contract_ids", erp.schedules_by_contract_ids(contracts))
    schedule_ids = [s.id for versions in schedules.values() for s in versions]
    lines = await measure(
        "schedule_lines_by_schedule_ids", erp.schedule_lines_by_schedule_ids(schedule_ids)
    )
    print("ERP SuiteQL requests for 50 customers:", json.dumps(counts))
    assert counts == {
        "customers_by_external_ids": 1,
        "customers_by_ids": 1,
        "postings_by_invoice_ids": 1,  # 300 invoice ids
        "postings_by_customer_ids": 1,  # 300 postings
        "schedules_by_contract_ids": 1,  # 100 schedules
        "schedule_lines_by_schedule_ids": 3,  # 2 500 lines: three 1000-row pages
    }
    assert set(by_crm) == set(crm_ids)
    assert set(by_id) == set(erp_ids) and by_crm[crm_account_id(3)] == by_id["3"]
    assert len(postings) == 300 and "in_never_posted" not in postings
    assert all(len(p) == INVOICES_PER_CUSTOMER for p in per_customer.values())
    assert [s.contract_version for s in schedules[contract_id(20)]] == [1, 2]
    assert len(lines) == 100 and all(len(v) == LINES_PER_SCHEDULE for v in lines.values())
    periods = [line.period for line in lines[schedules[contract_id(20)][0].id]]
    assert periods == sorted(periods)


async def test_batches_are_chunked_at_the_in_list_limit(
    erp: ErpClient, sim: httpx.AsyncClient
) -> None:
    wanted = [crm_account_id(i) for i in range(1, 1501)]  # 50 exist, 1 450 do not
    found = await erp.customers_by_external_ids([*wanted, *wanted[:10]])  # duplicates folded
    assert len(found) == CUSTOMERS
    assert await requests_to(sim, SUITEQL_ROUTE) == 2 == -(-1500 // IN_CHUNK)


async def test_every_requested_id_is_a_key_and_empty_batches_cost_nothing(
    erp: ErpClient, sim: httpx.AsyncClient
) -> None:
    schedules = await erp.schedules_by_contract_ids(["800NOPE", contract_id(1)])
    assert schedules["800NOPE"] == [] and len(schedules[contract_id(1)]) == VERSIONS
    lines = await erp.schedule_lines_by_schedule_ids(["999999"])
    assert lines == {"999999": []}
    per_customer = await erp.postings_by_customer_ids(["999999"])
    assert per_customer == {"999999": []}
    await sim.delete("/_sim/stats")
    assert await erp.customers_by_ids([]) == {}
    assert await erp.postings_by_invoice_ids([]) == {}
    assert await requests_to(sim, SUITEQL_ROUTE) == 0


async def test_ids_are_quoted_so_they_cannot_change_the_query(erp: ErpClient) -> None:
    assert await erp.customers_by_external_ids(["x' OR externalid IS NOT NULL OR 'a'='b"]) == {}
    assert await erp.customers_by_ids(["1') OR (id > '0"]) == {}


async def test_all_customers(erp: ErpClient) -> None:
    customers = await erp.all_customers()
    assert [c.id for c in customers][:3] == ["1", "2", "3"]
    assert len({c.id for c in customers}) == len(customers) >= CUSTOMERS


# --- models ----------------------------------------------------------------


async def test_records_and_rows_read_alike(erp: ErpClient) -> None:
    """A REST record (camelCase, references as objects) and a SuiteQL row (lower case,
    references as ids) of one record give the same domain record."""
    assert await erp.get_customer("10") == (await erp.customers_by_ids(["10"]))["10"]
    assert await erp.get_posting("8") == (await erp.postings_by_ids(["8"]))["8"]
    assert await erp.get_schedule("3") == (await erp.schedules_by_ids(["3"]))["3"]
    line = await erp.get_schedule_line("30")
    assert line in (await erp.schedule_lines_by_schedule_ids([line.schedule_id]))[line.schedule_id]

    customer = (await erp.customers_by_ids(["14"]))["14"]
    assert customer == ErpCustomer(
        id="14",
        external_id=crm_account_id(14),
        entity_id="CUST-00014",
        name="Customer 14",
        email="ap14@example.com",
        currency="EUR",
        parent_id=None,
        inactive=True,
    )
    posting = (await erp.postings_by_invoice_ids([invoice_id(2, 2)]))[invoice_id(2, 2)]
    assert posting.total == Money(Decimal("200.10"), "EUR")
    assert posting.amount_remaining == Money.zero("EUR")
    assert (posting.customer_id, posting.currency, posting.status) == ("2", "EUR", "Paid In Full")
    assert posting.posted_on == date(2026, 2, 1) and posting.number == "RG-000008"
    schedule = await erp.get_schedule("3")
    # Customer 2's version 1: 25 lines of 10.25, the first 12 recognized.
    assert schedule.currency is not None
    assert (schedule.total, schedule.recognized) == (
        Money.exact(Decimal("256.25"), schedule.currency),
        Money.exact(Decimal("123"), schedule.currency),
    )
    assert schedule.deferred == Money.exact(Decimal("133.25"), schedule.currency)
    assert (schedule.start, schedule.end) == (date(2026, 1, 1), date(2027, 12, 31))


async def test_real_suiteql_dialect_without_the_simulators_compatibility(
    erp: ErpClient, sim: httpx.AsyncClient
) -> None:
    """With ``legacy_list_names`` off the simulator answers list values as ids, as
    NetSuite does; the adapter asks for display names with ``BUILTIN.DF`` and reads
    invoices from ``transaction``, so it reads the same records either way."""
    crm_ids = [crm_account_id(i) for i in (2, 14)]
    invoices = [invoice_id(2, k) for k in range(1, INVOICES_PER_CUSTOMER + 1)]

    async def read() -> tuple[Any, ...]:
        return (
            await erp.customers_by_external_ids(crm_ids),
            await erp.customers_by_ids(["2", "14"]),
            await erp.postings_by_invoice_ids(invoices),
            await erp.postings_by_customer_ids(["2"]),
            await erp.schedules_by_contract_ids([contract_id(2)]),
            await erp.schedules_by_ids(["3"]),
        )

    before = await read()
    await sim.post("/_sim/suiteql", json={"legacy_list_names": False})
    try:
        raw = await erp.suiteql("SELECT currency FROM customer WHERE id = '14'")
        assert raw == [{"currency": "4"}]  # an id: only BUILTIN.DF gives "EUR"
        after = await read()
    finally:
        await sim.post("/_sim/suiteql", json={"legacy_list_names": True})
    assert after == before
    customers, _, postings, per_customer, schedules, by_id = after
    assert customers[crm_account_id(14)].currency == "EUR"
    posting = postings[invoice_id(2, 2)]
    assert (posting.currency, posting.status) == ("EUR", "Paid In Full")
    assert posting.total == Money(Decimal("200.10"), "EUR")
    assert [p.posted_on for p in per_customer["2"]] == sorted(
        p.posted_on for p in per_customer["2"] if p.posted_on
    )
    assert all(s.currency == "EUR" for s in schedules[contract_id(2)])
    assert by_id["3"].currency == "EUR"


async def test_queries_are_real_suiteql() -> None:
    """Invoices from ``transaction`` by type, named columns, list values by BUILTIN.DF;
    every value a string (amounts exact, dates ``M/D/YYYY``, ids as references)."""
    queries: list[str] = []
    row = {
        "id": "8", "externalid": "in_x", "tranid": "RG-000008", "entity": "2",
        "currency": "EUR", "total": "1234567890.12", "amountremaining": "0.1",
        "trandate": "12/31/2026", "status": "Open",
    }  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        queries.append(json.loads(request.content)["q"])
        items = [row] if " FROM transaction " in queries[-1] else []
        return httpx.Response(200, json={"items": items, "hasMore": False})

    async with _mock_client(handler) as client:
        posting = (await client.postings_by_invoice_ids(["in_x"]))["in_x"]
        await client.customers_by_ids(["2"])
        await client.schedules_by_contract_ids(["800X"])
    assert queries[0] == (
        "SELECT id, externalid, tranid, entity, BUILTIN.DF(currency) AS currency, "
        "foreigntotal AS total, foreignamountremaining AS amountremaining, trandate, "
        "BUILTIN.DF(status) AS status FROM transaction "
        "WHERE type = 'CustInvc' AND externalid IN ('in_x')"
    )
    assert "BUILTIN.DF(currency) AS currency" in queries[1] and " FROM customer " in queries[1]
    assert "BUILTIN.DF(currency) AS currency" in queries[2]
    assert " FROM customrecord_rg_revsched " in queries[2]
    assert "*" not in "".join(queries)
    assert posting.total == Money(Decimal("1234567890.12"), "EUR")
    assert posting.amount_remaining == Money(Decimal("0.10"), "EUR")
    assert (posting.customer_id, posting.posted_on) == ("2", date(2026, 12, 31))


async def test_netsuite_habits_are_read() -> None:
    """Floats, ``'T'``/``'F'``, ``M/D/YYYY`` dates, references and sublists."""
    bodies: dict[str, Any] = {
        "/services/rest/record/v1/customer/5": {
            "id": "5", "parent": {"id": "1", "refName": "Parent Co"},
            "currency": {"id": "1", "refName": "usd"}, "isInactive": False,
            "links": [{"rel": "self", "href": "x"}],
        },
        "/services/rest/record/v1/journalentry/9": {
            "id": "9", "externalId": "je-9", "tranDate": "2026-01-31T00:00:00Z",
            "currency": {"refName": "USD"},
            "line": {"items": [{"account": {"id": "2400"}, "debit": 10.5, "credit": None},
                               {"account": {"id": "4000"}, "credit": 10.50}]},
        },
    }  # fmt: skip
    rows = [
        {"id": 7, "custrecord_rg_schedule": "3", "custrecord_rg_period": "2026-01",
         "custrecord_rg_amount": 0.1, "custrecord_rg_recognized": "F"},
        {"id": "1", "trandate": "1/31/2026", "entity": "2"},
    ]  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/suiteql"):
            table = json.loads(request.content)["q"].split(" FROM ")[1].split()[0]
            row = rows[0] if table == "customrecord_rg_revsched_line" else rows[1]
            return httpx.Response(200, json={"items": [row], "hasMore": False})
        return httpx.Response(200, json=bodies[request.url.path])

    async with _mock_client(handler) as client:
        [line] = (await client.schedule_lines_by_schedule_ids(["3"]))["3"]
        posting = (await client.postings_by_customer_ids(["2"]))["2"][0]
        customer = await client.get_customer("5")
        entry = await client.get_journal_entry("9")
    assert line.id == "7" and line.amount == Decimal("0.1") and line.recognized is False
    assert posting.posted_on == date(2026, 1, 31)
    assert posting.total is None  # no currency: an amount would be a guess
    assert (customer.parent_id, customer.currency, customer.inactive) == ("1", "USD", False)
    assert entry.posted_on == date(2026, 1, 31) and entry.currency == "USD"
    assert [(x.account_id, x.debit, x.credit) for x in entry.lines] == [
        ("2400", Money(Decimal("10.50"), "USD"), None),
        ("4000", None, Money(Decimal("10.50"), "USD")),
    ]


async def test_a_row_that_does_not_match_the_wire_model_is_a_source_error() -> None:
    """A schedule row without its contract (or an answer that is not a page) names the ERP."""

    def handler(request: httpx.Request) -> httpx.Response:
        q = json.loads(request.content)["q"]
        if "customrecord_rg_revsched " in q + " ":
            return httpx.Response(200, json={"items": [{"id": "1"}], "hasMore": False})
        return httpx.Response(200, json={"items": "nothing", "hasMore": False})

    async with _mock_client(handler, max_retries=0) as client:
        with pytest.raises(SourceResponseError) as row:
            await client.schedules_by_ids(["1"])
        with pytest.raises(SourceResponseError) as page:
            await client.customers_by_ids(["1"])
    assert row.value.system is System.ERP and "revenue schedule" in row.value.message
    assert "custrecord_rg_contract" in row.value.message
    assert page.value.system is System.ERP and "items" in page.value.message


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "NONEXISTENT_ID", SourceNotFound),
        (404, "SOMETHING_ELSE", SourceNotFound),
        (401, "INVALID_LOGIN", SourceAuthError),
        (400, "DUP_RCRD", SourceConflict),
        (400, "RCRD_HAS_BEEN_CHANGED", SourceConflict),
        (400, "INVALID_VALUE", SourceRequestError),
        (429, "SSS_REQUEST_LIMIT_EXCEEDED", SourceThrottled),
        (429, "CONCURRENCY_LIMIT_EXCEEDED", SourceThrottled),
        (500, "UNEXPECTED_ERROR", SourceServerError),
        (503, "SERVICE_UNAVAILABLE", SourceUnavailable),
    ],
)
async def test_error_table_then_status(status: int, code: str, expected: type[SourceError]) -> None:
    body = {"status": status, "o:errorDetails": [{"detail": "said", "o:errorCode": code}]}
    async with _mock_client(
        lambda request: httpx.Response(status, json=body), max_retries=0
    ) as client:
        with pytest.raises(SourceError) as caught:
            await client.get_record("customer", "1")
    assert type(caught.value) is expected
    assert (caught.value.vendor_code, caught.value.message) == (code, "said")


# --- edge cases the simulator never produces ------------------------------------


def _mock_client(handler: Callable[[httpx.Request], httpx.Response], **overrides: Any) -> ErpClient:
    config = _config("https://erp.test", **overrides)
    return ErpClient(config, transport=httpx.MockTransport(handler))


async def test_204_without_location() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.method == "GET":
            return httpx.Response(200, json={"links": [], "id": "77", "externalId": "eid-77"})
        return httpx.Response(204)

    async with _mock_client(handler) as client:
        with pytest.raises(PermanentSourceError, match="no Location") as caught:
            await client.create_record("customer", {"companyName": "X"})
        assert not caught.value.retryable
        # With an external id the new record can still be found.
        assert await client.create_record("customer", {"externalId": "eid-77"}) == "77"
        assert await client.upsert_record("customer", "eid-77", {"companyName": "X"}) == "77"
    assert seen == [
        "POST /services/rest/record/v1/customer",
        "POST /services/rest/record/v1/customer",
        "GET /services/rest/record/v1/customer/eid:eid-77",
        "PUT /services/rest/record/v1/customer/eid:eid-77",
        "GET /services/rest/record/v1/customer/eid:eid-77",
    ]


async def test_errors_without_netsuite_body_fall_back_to_the_status() -> None:
    answers = iter(
        [
            httpx.Response(502, text="<html>Bad gateway</html>"),
            httpx.Response(429, json={"title": "Too Many Requests"}),
            httpx.Response(403, json={"o:errorDetails": []}),
            httpx.Response(200, text="not json"),
        ]
    )

    async with _mock_client(
        lambda request: next(answers), max_retries=0, max_throttle_retries=0
    ) as client:
        with pytest.raises(SourceServerError, match="Bad gateway") as bad_gateway:
            await client.get_record("customer", "1")
        assert bad_gateway.value.vendor_code is None
        with pytest.raises(SourceThrottled) as throttled:
            await client.get_record("customer", "1")
        assert throttled.value.status == 429 and throttled.value.retryable
        with pytest.raises(SourceAuthError):
            await client.get_record("customer", "1")
        with pytest.raises(SourceServerError, match="invalid JSON"):
            await client.suiteql("SELECT id FROM customer")


async def test_an_empty_page_that_claims_more_ends_the_query() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url.params))
        assert request.headers["Prefer"] == "transient"
        assert json.loads(request.content) == {"q": "SELECT id FROM customer"}
        if request.url.params["offset"] == "0":
            items = [{"links": [], "id": "1"}, {"links": [], "id": "2"}]
            return httpx.Response(200, json={"items": items, "hasMore": True})
        return httpx.Response(200, json={"items": [], "hasMore": True})

    async with _mock_client(handler) as client:
        rows = await client.suiteql("SELECT id FROM customer", page_size=2)
    assert rows == [{"id": "1"}, {"id": "2"}]
    assert calls == ["limit=2&offset=0", "limit=2&offset=2"]
