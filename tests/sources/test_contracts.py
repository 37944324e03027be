"""The Contracts adapter against the Contracts simulator over real loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from domain.money import Money
from domain.records import Contract, ContractStatus
from sources.base import SourceConfig
from sources.breaker import NO_BREAKER
from sources.contracts import ContractsClient
from sources.errors import (
    SourceConflict,
    SourceNotFound,
    SourceRequestError,
    SourceResponseError,
    SourceServerError,
)
from sources.systems import System
from tests.conftest import StartSimulators
from tests.simulators.test_contracts import (
    ACCOUNTS,
    CONTRACTS,
    contract_id,
    contract_records,
    line_id,
)
from tests.simulators.test_crm import parent_id, sf_id

API = "/services/data/v60.0"
TOKEN = "demo-contracts-token"


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
    return SourceConfig(System.CONTRACTS, url, TOKEN, **settings)


@pytest.fixture(scope="module")
def contracts_url(start_simulators: StartSimulators) -> str:
    return start_simulators(("CONTRACTS",), {"CONTRACTS": contract_records()})["CONTRACTS"]


@pytest.fixture
async def sim(contracts_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=contracts_url) as control:
        await control.delete("/_sim/faults")
        await control.delete("/_sim/stats")
        yield control
        await control.delete("/_sim/faults")


@pytest.fixture
async def client(contracts_url: str) -> AsyncIterator[ContractsClient]:
    async with ContractsClient(config(contracts_url)) as contracts:
        yield contracts


async def requests_by_route(sim: httpx.AsyncClient) -> dict[str, int]:
    by_route: dict[str, int] = (await sim.get("/_sim/stats")).json()["by_route"]
    return by_route


async def test_get_contract_reads_money_as_exact_decimals(client: ContractsClient) -> None:
    contract = await client.get_contract(contract_id(21))  # amended, Annual, 24 months
    assert contract == Contract(
        id=contract_id(21),
        number="C-1021",
        account_id=parent_id(11),
        status=ContractStatus.ACTIVATED,
        start_date=date(2026, 1, 1),
        end_date=date(2027, 12, 31),
        term_months=24,
        currency="USD",
        version=2,
        billing_frequency="Annual",
        total_value=Money(Decimal("274.08"), "USD"),  # (3 x 12.35 + 99.99) x 2 years
        activated_at=datetime(2026, 1, 1, 9, tzinfo=UTC),
        terminated_on=None,
        renewal_of=None,
        updated_at=datetime(2026, 1, 1, 9, tzinfo=UTC),
    )
    assert isinstance(contract.total_value.amount, Decimal)
    with pytest.raises(SourceNotFound) as caught:
        await client.get_contract(sf_id("800", 5555))
    assert caught.value.vendor_code == "NOT_FOUND"


async def test_contracts_by_ids_one_request_for_50(
    client: ContractsClient, sim: httpx.AsyncClient
) -> None:
    ids = [contract_id(n) for n in range(1, 50)] + [sf_id("800", 9999)]
    found = await client.contracts_by_ids(ids)
    assert list(found) == ids[:-1]
    assert found[contract_id(4)].status == "Terminated"
    assert found[contract_id(4)].terminated_on == date(2026, 6, 30)
    assert await requests_by_route(sim) == {f"GET {API}/composite/sobjects/{{sobject}}": 1}


async def test_contracts_by_account_ids_one_query_for_50_accounts(
    client: ContractsClient, sim: httpx.AsyncClient
) -> None:
    accounts = [parent_id(a) for a in range(1, ACCOUNTS + 1)]
    unknown = sf_id("001", 987654)
    by_account = await client.contracts_by_account_ids([*accounts, unknown])
    assert list(by_account) == [*accounts, unknown] and by_account[unknown] == []
    for a, account in enumerate(accounts, start=1):
        assert [c.number for c in by_account[account]] == [
            f"C-{1000 + 2 * a - 1}",
            f"C-{1000 + 2 * a}",
        ]
    assert await requests_by_route(sim) == {f"GET {API}/query": 1}


async def test_contracts_by_account_ids_filters_statuses(
    client: ContractsClient, sim: httpx.AsyncClient
) -> None:
    accounts = [parent_id(a) for a in range(1, 11)]
    live = await client.contracts_by_account_ids(accounts, statuses=["Activated", "InApproval"])
    statuses = {c.status for contracts in live.values() for c in contracts}
    assert statuses == {"Activated", "InApproval"}
    assert sum(len(c) for c in live.values()) == 10 + 4  # every odd one, and 4 of the even
    nothing = await client.contracts_by_account_ids(accounts, statuses=[])
    assert nothing == {a: [] for a in accounts}
    assert sum((await requests_by_route(sim)).values()) == 1


async def test_lines_and_versions_by_contract_ids(
    client: ContractsClient, sim: httpx.AsyncClient
) -> None:
    wanted = [contract_id(21), contract_id(2), sf_id("800", 4444)]
    lines = await client.lines_by_contract_ids(wanted)
    assert [(x.id, x.version) for x in lines[contract_id(21)]] == [
        (line_id(21, 2), 1),
        (line_id(21, 3), 1),
        (line_id(21, 4), 2),
        (line_id(21, 5), 2),
    ]
    seats = lines[contract_id(21)][2]
    assert (seats.product_name, seats.quantity, seats.unit_price) == ("Seats", 3, Decimal("12.35"))
    assert len(lines[contract_id(2)]) == 2 and lines[sf_id("800", 4444)] == []
    versions = await client.versions_by_contract_ids(wanted)
    history = versions[contract_id(21)]
    assert [(v.version, v.reason, v.effective_date) for v in history] == [
        (1, "Initial", date(2026, 1, 1)),
        (2, "Upsell", date(2026, 4, 1)),
    ]
    assert [v.total_value for v in history] == [Decimal("249.38"), Decimal("274.08")]
    assert versions[contract_id(2)] == []  # not activated yet: no history
    assert await requests_by_route(sim) == {f"GET {API}/query": 2}


async def test_all_contracts_and_raw_query(client: ContractsClient) -> None:
    everything = await client.all_contracts()
    assert [c.number for c in everything] == [f"C-{1000 + n}" for n in range(1, CONTRACTS + 1)]
    rows = await client.query("SELECT Id, TotalValue__c FROM Contract WHERE Version__c = 2")
    assert len(rows) == 5 and all(isinstance(r["TotalValue__c"], Decimal) for r in rows)
    with pytest.raises(SourceRequestError) as caught:
        await client.query("SELECT Id FROM Contract WHERE Status =")
    assert caught.value.vendor_code == "MALFORMED_QUERY"


async def test_persistent_5xx_on_queries_after_retries(
    client: ContractsClient, sim: httpx.AsyncClient
) -> None:
    await sim.post("/_sim/faults", json={"error_rate": 1.0})
    with pytest.raises(SourceServerError) as caught:
        await client.contracts_by_account_ids([parent_id(1)])
    assert caught.value.vendor_code == "UNKNOWN_EXCEPTION"
    assert await requests_by_route(sim) == {f"GET {API}/query": 3}


async def test_lifecycle_through_status_updates(client: ContractsClient) -> None:
    new_id = await client.create_contract(
        {
            "AccountId": parent_id(9),
            "StartDate": date(2026, 3, 1),
            "ContractTerm": 12,
            "BillingFrequency__c": "Monthly",
        }
    )
    draft = await client.get_contract(new_id)
    assert (draft.status, draft.version, draft.number) == ("Draft", 1, f"C-{1000 + CONTRACTS + 1}")
    assert draft.end_date == date(2027, 2, 28)
    with pytest.raises(SourceRequestError) as caught:
        await client.update_contract(new_id, {"Status": "Activated"})
    assert caught.value.vendor_code == "FIELD_INTEGRITY_EXCEPTION"
    await client.update_contract(new_id, {"Status": "InApproval"})
    await client.update_contract(new_id, {"Status": "Activated"})
    await client.update_contract(new_id, {"Status": "Activated"})  # setting it again is harmless
    activated = await client.get_contract(new_id)
    assert activated.status is ContractStatus.ACTIVATED and activated.activated_at is not None
    versions = await client.versions_by_contract_ids([new_id])
    assert [(v.version, v.reason) for v in versions[new_id]] == [(1, "Initial")]
    with pytest.raises(SourceNotFound):
        await client.update_contract(sf_id("800", 31337), {"Status": "Activated"})


async def test_amendment_bumps_version_and_total(client: ContractsClient) -> None:
    target = contract_id(19)  # Activated, Monthly, 12 months, version 1
    amended = await client.amend_contract(
        target,
        reason="Upsell",
        effective_date=date(2026, 7, 1),
        lines=[
            {
                "Product2Id": "01tTS0000000001AAA",
                "ProductName__c": "Seats",
                "Quantity": 4,
                "UnitPrice": Decimal("12.35"),
            }
        ],
        expected_version=1,
    )
    assert amended.version == 2 and amended.total_value == Money(Decimal("592.80"), "USD")
    assert (await client.get_contract(target)).version == 2
    lines = (await client.lines_by_contract_ids([target]))[target]
    assert [(x.version, x.quantity) for x in lines if x.version == 2] == [(2, 4)]
    versions = (await client.versions_by_contract_ids([target]))[target]
    assert [(v.version, v.reason, v.total_value) for v in versions][-1] == (
        2,
        "Upsell",
        Decimal("592.80"),
    )
    with pytest.raises(SourceConflict) as conflict:
        await client.amend_contract(
            target,
            reason="Upsell",
            effective_date=date(2026, 7, 1),
            lines=[
                {
                    "Product2Id": "p",
                    "ProductName__c": "Seats",
                    "Quantity": 4,
                    "UnitPrice": Decimal("12.35"),
                }
            ],
            expected_version=1,
        )
    assert conflict.value.vendor_code == "VERSION_CONFLICT"


async def test_amendment_refusals(client: ContractsClient) -> None:
    line = {"Product2Id": "p", "ProductName__c": "Seats", "Quantity": 1, "UnitPrice": 1}
    with pytest.raises(SourceRequestError) as caught:
        await client.amend_contract(
            contract_id(6), reason="Upsell", effective_date=date(2026, 2, 1), lines=[line]
        )
    assert caught.value.vendor_code == "FIELD_INTEGRITY_EXCEPTION"
    with pytest.raises(SourceNotFound):
        await client.amend_contract(
            sf_id("800", 4040), reason="Upsell", effective_date=date(2026, 2, 1), lines=[line]
        )
    with pytest.raises(SourceNotFound):
        await client.amend_contract(
            "../../x", reason="Upsell", effective_date=date(2026, 2, 1), lines=[line]
        )
    with pytest.raises(SourceRequestError) as caught:
        await client.amend_contract(
            contract_id(23), reason="Upsell", effective_date=date(2026, 2, 1), lines=[]
        )
    assert caught.value.vendor_code == "INVALID_INPUT" and "(fields: lines)" in str(caught.value)


async def test_an_unknown_status_is_a_source_error_naming_the_system() -> None:
    """A status the domain does not know (a new picklist value) is not silently kept."""
    record = {
        "Id": contract_id(1), "ContractNumber": "C-1001", "AccountId": parent_id(1),
        "Status": "Suspended", "CurrencyIsoCode": "USD", "TotalValue__c": 10,
    }  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/query"):
            return httpx.Response(200, json={"done": True, "records": [{"Id": 7}]})
        return httpx.Response(200, json=record)

    config = SourceConfig(System.CONTRACTS, "https://contracts.test", TOKEN, max_retries=0)
    async with ContractsClient(config, transport=httpx.MockTransport(handler)) as mock:
        with pytest.raises(SourceResponseError) as status:
            await mock.get_contract(contract_id(1))
        with pytest.raises(SourceResponseError) as shape:
            await mock.lines_by_contract_ids([contract_id(1)])
    assert status.value.system is System.CONTRACTS and "Suspended" in status.value.message
    assert "ContractLineItem" in shape.value.message
