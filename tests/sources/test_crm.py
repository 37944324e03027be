"""The CRM adapter against the CRM simulator over real loopback HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from domain.records import Customer
from resolvers.errors import source_error_code
from sources.base import SourceConfig
from sources.breaker import NO_BREAKER
from sources.correlation import set_correlation_id
from sources.crm import CrmClient
from sources.errors import (
    SourceAuthError,
    SourceNotFound,
    SourceQuotaExhausted,
    SourceRequestError,
    SourceResponseError,
    SourceServerError,
    SourceThrottled,
    SourceTimeout,
    SourceUnavailable,
)
from sources.salesforce.client import COMPOSITE_CHUNK
from sources.salesforce.soql import escape, in_list, like_prefix, literal
from sources.systems import System
from tests.conftest import StartSimulators
from tests.simulators.test_crm import (
    CHILDREN,
    PARENTS,
    SPECIAL_NAME,
    account_records,
    child_id,
    parent_id,
    sf_id,
)

API = "/services/data/v60.0"
TOKEN = "demo-crm-token"
RECORDS = {record_id: doc for record_id, doc in account_records()}


def config(url: str, **overrides: Any) -> SourceConfig:
    settings: dict[str, Any] = {
        "timeout_s": 2.0,
        "max_retries": 2,
        "retry_backoff_s": 0.001,
        # These tests count retries: no breaker or budget in the way (tested on their own).
        "breaker": NO_BREAKER,
        "retry_budget_burst": 1000.0,
    }
    settings.update(overrides)
    return SourceConfig(System.CRM, url, settings.pop("token", TOKEN), **settings)


def ordered(docs: list[dict[str, Any]]) -> list[str]:
    """Ids in (Name, Id) order, names compared case-insensitively as SOQL does."""
    return [d["Id"] for d in sorted(docs, key=lambda d: (d["Name"].casefold(), d["Id"]))]


@pytest.fixture(scope="module")
def crm_url(start_simulators: StartSimulators) -> str:
    return start_simulators(("CRM",), {"CRM": {"Account": account_records()}})["CRM"]


@pytest.fixture
async def sim(crm_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The simulator's control API, with faults and stats reset around each test."""
    async with httpx.AsyncClient(base_url=crm_url) as control:
        await control.delete("/_sim/faults")
        await control.delete("/_sim/stats")
        yield control
        await control.delete("/_sim/faults")


@pytest.fixture
async def crm(crm_url: str) -> AsyncIterator[CrmClient]:
    async with CrmClient(config(crm_url)) as client:
        yield client


@pytest.fixture
async def paged(crm_url: str) -> AsyncIterator[CrmClient]:
    """A client asking for 200-record query pages, so 451 accounts take 3 pages."""
    async with CrmClient(config(crm_url), query_batch_size=200) as client:
        yield client


async def stats(sim: httpx.AsyncClient) -> dict[str, Any]:
    body: dict[str, Any] = (await sim.get("/_sim/stats")).json()
    return body


# -- reads ---------------------------------------------------------------------------


async def test_get_account_returns_the_domain_customer(crm: CrmClient) -> None:
    account = await crm.get_account(child_id(3, 2))
    assert account == Customer(
        id=child_id(3, 2),
        name="Umbrella Holdings 003 Unit 2",
        parent_id=parent_id(3),
        currency="GBP",
        segment="SMB",
        billing_email="billing5@example.com",
        type="Customer",
        industry="Software",
        created_at=datetime(2026, 1, 6, 12, tzinfo=UTC),
        updated_at=datetime(2026, 1, 6, 12, tzinfo=UTC),
    )
    assert account.created_at is not None and account.created_at.tzinfo is UTC


async def test_missing_account_is_not_found_with_vendor_code(
    crm: CrmClient, sim: httpx.AsyncClient
) -> None:
    with pytest.raises(SourceNotFound) as caught:
        await crm.get_account(sf_id("001", 424242))
    assert caught.value.vendor_code == "NOT_FOUND" and caught.value.status == 404
    assert caught.value.system == System.CRM
    assert "does not exist" in caught.value.message
    with pytest.raises(SourceNotFound):
        await crm.get_account("../query?q=SELECT")
    assert (await stats(sim))["requests"] == 1  # the malformed id never left the adapter


async def test_accounts_by_ids_is_one_composite_request_for_50(
    crm: CrmClient, sim: httpx.AsyncClient
) -> None:
    wanted = [parent_id(p) for p in range(1, 26)] + [child_id(p, 1) for p in range(1, 25)]
    unknown = sf_id("001", 888888)
    asked = [*wanted, unknown, wanted[0], wanted[7], "not-an-id"]
    found = await crm.accounts_by_ids(asked)
    assert set(found) == set(wanted) and len(wanted) == 49
    assert all(found[i].name == RECORDS[i]["Name"] for i in wanted)
    assert (await stats(sim))["by_route"] == {f"GET {API}/composite/sobjects/{{sobject}}": 1}


async def test_accounts_by_ids_chunks_large_batches(crm: CrmClient, sim: httpx.AsyncClient) -> None:
    everyone = list(RECORDS)
    found = await crm.accounts_by_ids(everyone)
    assert list(found) == everyone
    requests = (await stats(sim))["requests"]
    assert requests == -(-len(everyone) // COMPOSITE_CHUNK) == 3
    assert await crm.accounts_by_ids([]) == {}
    assert (await stats(sim))["requests"] == requests


async def test_children_by_parent_ids_one_query_every_key(
    crm: CrmClient, sim: httpx.AsyncClient
) -> None:
    parents = [parent_id(p) for p in range(1, PARENTS + 1)]
    leaf, unknown = child_id(1, 1), sf_id("001", 777777)
    children = await crm.children_by_parent_ids([*parents, leaf, unknown, "bogus", parents[0]])
    assert list(children) == [*parents, leaf, unknown, "bogus"]
    assert children[leaf] == [] and children[unknown] == [] and children["bogus"] == []
    for p in range(1, PARENTS + 1):
        kids = children[parent_id(p)]
        assert [k.id for k in kids] == [child_id(p, c) for c in range(1, CHILDREN + 1)]
        assert all(k.parent_id == parent_id(p) for k in kids)
    assert (await stats(sim))["by_route"] == {f"GET {API}/query": 1}


async def test_all_accounts_follows_next_records_url(
    paged: CrmClient, sim: httpx.AsyncClient
) -> None:
    accounts = await paged.all_accounts()
    assert [a.id for a in accounts] == sorted(RECORDS)
    assert (await stats(sim))["by_route"] == {
        f"GET {API}/query": 1,
        f"GET {API}/query/{{locator}}": 2,
    }


async def test_query_returns_raw_records_of_every_page(paged: CrmClient) -> None:
    rows = await paged.query("SELECT Id, Name FROM Account WHERE ParentId != null")
    assert len(rows) == PARENTS * CHILDREN
    assert rows[0]["attributes"]["type"] == "Account" and set(rows[0]) == {
        "attributes",
        "Id",
        "Name",
    }


# -- search ----------------------------------------------------------------------------


async def test_search_filters_combine_and_order_by_name_then_id(crm: CrmClient) -> None:
    acme = await crm.search_accounts(name_prefix="acme h")
    expected = [d for d in RECORDS.values() if d["Name"].lower().startswith("acme h")]
    assert [a.id for a in acme] == ordered(expected) and len(acme) == 45
    euro_mid = await crm.search_accounts(currency="EUR", segment="Mid-Market", limit=7)
    expected = [
        d
        for d in RECORDS.values()
        if d["CurrencyIsoCode"] == "EUR" and d["Segment__c"] == "Mid-Market"
    ]
    assert [a.id for a in euro_mid] == ordered(expected)[:7]
    kids = await crm.search_accounts(parent_id=parent_id(7))
    assert [a.id for a in kids] == [child_id(7, c) for c in range(1, CHILDREN + 1)]
    assert await crm.search_accounts(parent_id="nope") == []


async def test_search_keyset_cursor_walks_everything_once(
    crm: CrmClient, sim: httpx.AsyncClient
) -> None:
    seen: list[str] = []
    cursor: tuple[str, str] | None = None
    while True:
        page = await crm.search_accounts(limit=100, after_name_id=cursor)
        seen.extend(a.id for a in page)
        if len(page) < 100:
            break
        cursor = (page[-1].name, page[-1].id)
    assert seen == ordered(list(RECORDS.values()))
    assert (await stats(sim))["requests"] == 5


async def test_search_values_cannot_inject_soql(crm: CrmClient) -> None:
    assert await crm.search_accounts(name_prefix="x' OR Name LIKE '%") == []
    assert await crm.search_accounts(name_prefix="%") == []
    assert await crm.search_accounts(currency="USD' OR CurrencyIsoCode != 'x") == []
    special = await crm.search_accounts(name_prefix="o'brien \\ sons 50%")
    assert [a.name for a in special] == [SPECIAL_NAME]
    # With `_` escaped it is not a wildcard: "5_" does not match "50".
    assert await crm.search_accounts(name_prefix="O'Brien \\ Sons 5_") == []
    named = await crm.search_accounts(after_name_id=(SPECIAL_NAME, sf_id("001", 9998)))
    assert [a.name for a in named][:1] == [SPECIAL_NAME]


def test_soql_literals_escape_everything_that_could_end_a_string() -> None:
    assert escape("a'b\\c\"d\ne") == "a\\'b\\\\c\\\"d\\ne"
    assert like_prefix("50%_x'") == "'50\\%\\_x\\'%'"
    assert in_list(["a'", None, True]) == "('a\\'',null,TRUE)"
    assert literal(datetime(2026, 1, 31, 13, 0, tzinfo=UTC)) == "2026-01-31T13:00:00Z"


# -- errors, retries, timeouts -----------------------------------------------------------


async def test_query_errors_are_request_errors_with_vendor_codes(
    crm: CrmClient, sim: httpx.AsyncClient
) -> None:
    with pytest.raises(SourceRequestError) as caught:
        await crm.query("SELECT Id, Bogus__c FROM Account")
    assert caught.value.vendor_code == "INVALID_FIELD" and caught.value.status == 400
    assert "Bogus__c" in caught.value.message
    with pytest.raises(SourceRequestError) as caught:
        await crm.query("SELECT Id FROM Account WHERE")
    assert caught.value.vendor_code == "MALFORMED_QUERY"
    assert (await stats(sim))["requests"] == 2  # permanent errors are not retried


async def test_bad_token_is_an_auth_error(crm_url: str) -> None:
    async with CrmClient(config(crm_url, token="expired")) as client:
        with pytest.raises(SourceAuthError) as caught:
            await client.get_account(parent_id(1))
    assert caught.value.vendor_code == "INVALID_SESSION_ID" and caught.value.status == 401


async def test_5xx_are_retried_until_they_succeed(crm_url: str, sim: httpx.AsyncClient) -> None:
    await sim.post("/_sim/faults", json={"error_rate": 0.5})
    async with CrmClient(config(crm_url, max_retries=12)) as client:
        for p in range(1, 9):
            assert (await client.get_account(parent_id(p))).id == parent_id(p)
        sent = client.health.requests
    requests = (await stats(sim))["requests"]
    assert requests == sent and requests > 8  # some attempts failed and were retried


async def test_persistent_5xx_raise_after_max_retries_plus_one(
    crm_url: str, sim: httpx.AsyncClient
) -> None:
    await sim.post("/_sim/faults", json={"error_rate": 1.0})
    async with CrmClient(config(crm_url, max_retries=2)) as client:
        with pytest.raises(SourceServerError) as caught:
            await client.accounts_by_ids([parent_id(1)])
        assert caught.value.vendor_code == "UNKNOWN_EXCEPTION" and caught.value.status == 500
        assert (await stats(sim))["requests"] == 3
        with pytest.raises(SourceServerError):
            await client.create_account({"Name": "Never"})
        assert (await stats(sim))["requests"] == 4  # a create is not retried
        await sim.post("/_sim/faults", json={"error_rate": 0, "down": True})
        with pytest.raises(SourceUnavailable) as down:
            await client.get_account(parent_id(1))
        assert down.value.vendor_code == "SERVER_UNAVAILABLE" and down.value.retryable


async def test_latency_beyond_the_timeout_raises_source_timeout(
    crm_url: str, sim: httpx.AsyncClient
) -> None:
    await sim.post("/_sim/faults", json={"latency_ms": 300})
    async with CrmClient(config(crm_url, timeout_s=0.1, max_retries=1)) as client:
        with pytest.raises(SourceTimeout) as caught:
            await client.get_account(parent_id(1))
    assert caught.value.retryable
    assert (await stats(sim))["requests"] == 2
    await asyncio.sleep(0.3)  # let the abandoned requests finish before the servers stop


async def test_correlation_id_goes_with_every_request_and_page(
    paged: CrmClient, sim: httpx.AsyncClient
) -> None:
    await sim.delete("/_sim/requests")
    set_correlation_id("corr-crm-42")
    await paged.get_account(parent_id(1))
    await paged.all_accounts()
    log = (await sim.get("/_sim/requests")).json()["requests"]
    assert len(log) == 4
    assert {entry["headers"]["x-correlation-id"] for entry in log} == {"corr-crm-42"}
    assert log[1]["headers"]["sforce-query-options"] == "batchSize=200"


# -- writes (last: they change the data the tests above count) ---------------------------


async def test_create_and_update_round_trip(crm: CrmClient) -> None:
    new_id = await crm.create_account(
        {
            "Name": "Newco",
            "ParentId": parent_id(5),
            "CurrencyIsoCode": "EUR",
            "Billing_Email__c": "ap@newco.example",
        }
    )
    created = await crm.get_account(new_id)
    assert (created.name, created.parent_id, created.currency) == ("Newco", parent_id(5), "EUR")
    assert created.created_at is not None
    await crm.update_account(new_id, {"Name": "Newco Ltd", "Segment__c": "SMB"})
    updated = await crm.get_account(new_id)
    assert (updated.name, updated.segment) == ("Newco Ltd", "SMB")
    assert updated.updated_at is not None and updated.updated_at >= (
        created.updated_at or updated.updated_at
    )
    children = await crm.children_by_parent_ids([parent_id(5)])
    assert new_id in [c.id for c in children[parent_id(5)]]


async def test_write_errors_carry_vendor_code_and_fields(crm: CrmClient) -> None:
    with pytest.raises(SourceRequestError) as caught:
        await crm.update_account(parent_id(2), {"Nope__c": 1})
    assert caught.value.vendor_code == "INVALID_FIELD" and "(fields: Nope__c)" in str(caught.value)
    with pytest.raises(SourceRequestError) as caught:
        await crm.update_account(parent_id(2), {"ParentId": child_id(2, 3)})
    assert caught.value.vendor_code == "FIELD_INTEGRITY_EXCEPTION"
    with pytest.raises(SourceRequestError) as caught:
        await crm.create_account({"Industry": "Retail"})
    assert caught.value.vendor_code == "REQUIRED_FIELD_MISSING"
    with pytest.raises(SourceNotFound):
        await crm.update_account(sf_id("001", 99999), {"Name": "x"})


# -- what the simulator cannot produce ---------------------------------------------------


def mock_client(handler: Any, **overrides: Any) -> CrmClient:
    return CrmClient(
        config("https://acme.my.salesforce.com", **overrides),
        transport=httpx.MockTransport(handler),
    )


async def test_proxy_html_502_is_a_retryable_server_error() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(502, text="<html><h1>502 Bad Gateway</h1></html>")

    async with mock_client(handler) as client:
        with pytest.raises(SourceServerError) as caught:
            await client.get_account(parent_id(1))
    assert caught.value.status == 502 and caught.value.vendor_code is None
    assert "502 Bad Gateway" in caught.value.message
    assert len(calls) == 3


async def test_request_limit_403_is_throttled_not_an_auth_error_and_not_retried() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        body = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
        return httpx.Response(403, json=body)

    async with mock_client(handler) as client:
        with pytest.raises(SourceQuotaExhausted) as caught:
            await client.get_account(parent_id(1))
        assert client.health.throttled == 1
    # The daily allocation does not come back within a request: asked once.
    assert len(calls) == 1
    assert isinstance(caught.value, SourceThrottled) and not caught.value.retryable
    assert caught.value.vendor_code == "REQUEST_LIMIT_EXCEEDED"
    assert source_error_code(caught.value) == "SOURCE_THROTTLED"


async def test_malformed_success_answers_are_source_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/composite/sobjects/Account"):
            return httpx.Response(200, json=[None])  # one answer for two ids
        if request.url.path.endswith("/query"):
            return httpx.Response(
                200,
                json={
                    "totalSize": 3,
                    "done": False,
                    "records": [],
                    "nextRecordsUrl": "https://evil.example/services/data/v60.0/query/x-1",
                },
            )
        return httpx.Response(200, text="<html>maintenance</html>")

    async with mock_client(handler) as client:
        with pytest.raises(SourceServerError) as caught:  # not JSON: maybe a proxy's blip
            await client.get_account(parent_id(1))
        assert caught.value.vendor_code == "INVALID_RESPONSE"
        with pytest.raises(SourceResponseError):  # JSON, but not the promised shape
            await client.accounts_by_ids([parent_id(1), parent_id(2)])
        with pytest.raises(SourceResponseError) as shape:
            await client.all_accounts()
        assert "nextRecordsUrl" in shape.value.message
        # One request each: a 200 with a broken body is not retried.
        assert client.health.requests == 3


async def test_a_record_that_does_not_match_the_wire_model_is_a_source_error() -> None:
    """An Account without Name (a vendor change, a broken proxy) names the CRM."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"Id": parent_id(1), "CurrencyIsoCode": "USD"})

    async with mock_client(handler) as client:
        with pytest.raises(SourceResponseError) as caught:
            await client.get_account(parent_id(1))
    error = caught.value
    assert error.system is System.CRM and not error.retryable
    assert source_error_code(error) == "SOURCE_ERROR"
    assert "Account" in error.message and "Name" in error.message
    assert client.health.requests == 1


async def test_a_patch_is_never_retried() -> None:
    methods: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        methods.append(request.method)
        return httpx.Response(503, json=[{"errorCode": "SERVER_UNAVAILABLE", "message": "x"}])

    async with mock_client(handler) as client:
        with pytest.raises(SourceUnavailable):
            await client.update_account(parent_id(1), {"Name": "Renamed"})
        with pytest.raises(SourceUnavailable):
            await client.get_account(parent_id(1))
    assert methods == ["PATCH", "GET", "GET", "GET"]  # reads retried, the PATCH not
