"""The Contracts simulator over real HTTP: lifecycle rules, computed values, amendments."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from simulators.storage import Document
from tests.conftest import StartSimulators
from tests.simulators.test_crm import parent_id, sf_id

API = "/services/data/v60.0"
TOKEN = "demo-contracts-token"
AMEND = "/services/apexrest/rg/v1/contracts/{}/amend"
ACCOUNTS = 50
CONTRACTS = 2 * ACCOUNTS
OTHER_STATUSES = ("Draft", "InApproval", "Terminated")


def contract_id(n: int) -> str:
    return sf_id("800", n)


def line_id(n: int, k: int) -> str:
    return sf_id("811", n * 10 + k)


def money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))


def lines_for(n: int, version: int, frequency: str) -> list[Document]:
    seats = {
        "Product2Id": "01tTS0000000001AAA",
        "ProductName__c": "Seats",
        "Quantity": n % 5 + version,
        "UnitPrice": 12.35,
    }
    support = {
        "Product2Id": "01tTS0000000002AAA",
        "ProductName__c": "Support",
        "Quantity": 1,
        "UnitPrice": 99.99,
    }
    return [
        {
            "Id": line_id(n, 2 * version + k),
            "ContractId": contract_id(n),
            **line,
            "BillingFrequency__c": frequency,
            "Version__c": version,
        }
        for k, line in enumerate((seats, support))
    ]


def total(lines: list[Document], term: int, frequency: str) -> Decimal:
    periods = Decimal(term) / 12 if frequency == "Annual" else Decimal(term)
    return sum(
        (Decimal(str(x["Quantity"])) * Decimal(str(x["UnitPrice"])) * periods for x in lines),
        Decimal(0),
    )


def contract_records() -> dict[str, list[tuple[str, Document]]]:
    """Two contracts per account (odd n Activated, even n Draft/InApproval/Terminated),
    two lines per version; every 10th Activated contract already amended to version 2."""
    contracts: list[tuple[str, Document]] = []
    lines: list[tuple[str, Document]] = []
    versions: list[tuple[str, Document]] = []
    for n in range(1, CONTRACTS + 1):
        frequency = "Annual" if n % 3 == 0 else "Monthly"
        term = 24 if n % 4 == 1 else 12
        status = "Activated" if n % 2 else OTHER_STATUSES[(n // 2) % 3]
        version = 2 if status == "Activated" and n % 20 == 1 else 1
        history = [lines_for(n, v, frequency) for v in range(1, version + 1)]
        for version_lines in history:
            lines.extend((x["Id"], x) for x in version_lines)
        value = money(total(history[-1], term, frequency))
        contracts.append(
            (
                contract_id(n),
                {
                    "Id": contract_id(n),
                    "ContractNumber": f"C-{1000 + n}",
                    "AccountId": parent_id((n - 1) // 2 + 1),
                    "Status": status,
                    "StartDate": "2026-01-01",
                    "EndDate": "2027-12-31" if term == 24 else "2026-12-31",
                    "ContractTerm": term,
                    "CurrencyIsoCode": "USD",
                    "Version__c": version,
                    "BillingFrequency__c": frequency,
                    "TotalValue__c": value,
                    "ActivatedDate": "2026-01-01T09:00:00.000+0000" if status != "Draft" else None,
                    "TerminatedDate__c": "2026-06-30" if status == "Terminated" else None,
                    "RenewalOf__c": None,
                    "CreatedDate": "2025-12-15T09:00:00.000+0000",
                    "LastModifiedDate": "2026-01-01T09:00:00.000+0000",
                },
            )
        )
        if status in ("Activated", "Terminated"):
            for v in range(1, version + 1):
                vid = sf_id("a0V", n * 10 + v)
                versions.append(
                    (
                        vid,
                        {
                            "Id": vid,
                            "Contract__c": contract_id(n),
                            "Version__c": v,
                            "EffectiveDate__c": "2026-01-01" if v == 1 else "2026-04-01",
                            "Reason__c": "Initial" if v == 1 else "Upsell",
                            "TotalValue__c": money(total(history[v - 1], term, frequency)),
                            "CreatedDate": "2026-01-01T09:00:00.000+0000",
                        },
                    )
                )
    return {"Contract": contracts, "ContractLineItem": lines, "ContractVersion__c": versions}


@pytest.fixture(scope="module")
def contracts_url(start_simulators: StartSimulators) -> str:
    return start_simulators(("CONTRACTS",), {"CONTRACTS": contract_records()})["CONTRACTS"]


@pytest.fixture
def http(contracts_url: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=contracts_url, headers=headers) as client:
        yield client


def error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, list) and len(body) == 1, body
    first: dict[str, Any] = body[0]
    return first


def get(http: httpx.Client, sobject: str, record_id: str) -> dict[str, Any]:
    response = http.get(f"{API}/sobjects/{sobject}/{record_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def patch(http: httpx.Client, record_id: str, **fields: Any) -> httpx.Response:
    return http.patch(f"{API}/sobjects/Contract/{record_id}", json=fields)


def query(http: httpx.Client, soql: str) -> list[dict[str, Any]]:
    response = http.get(f"{API}/query", params={"q": soql})
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records


def test_other_orgs_token_is_rejected(contracts_url: str) -> None:
    response = httpx.get(
        f"{contracts_url}{API}/sobjects/Contract/{contract_id(1)}",
        headers={"Authorization": "Bearer demo-crm-token"},
    )
    assert response.status_code == 401 and error(response)["errorCode"] == "INVALID_SESSION_ID"


def test_soql_over_contracts_lines_and_versions(http: httpx.Client) -> None:
    accounts = ",".join(f"'{parent_id(a)}'" for a in (1, 2))
    records = query(
        http,
        f"SELECT Id, ContractNumber, Status FROM Contract WHERE AccountId IN ({accounts}) "
        "AND Status IN ('Activated', 'InApproval') ORDER BY ContractNumber DESC",
    )
    assert [r["ContractNumber"] for r in records] == ["C-1003", "C-1002", "C-1001"]
    lines = query(
        http,
        f"SELECT Id, Quantity, UnitPrice FROM ContractLineItem WHERE ContractId = "
        f"'{contract_id(21)}' AND Version__c = 2",
    )
    assert [(x["Quantity"], x["UnitPrice"]) for x in lines] == [(3, 12.35), (1, 99.99)]
    amended = query(http, "SELECT Contract__c FROM ContractVersion__c WHERE Version__c > 1")
    assert sorted(r["Contract__c"] for r in amended) == [
        contract_id(n) for n in (1, 21, 41, 61, 81)
    ]


def test_created_contract_gets_number_end_date_and_line_totals(http: httpx.Client) -> None:
    created = http.post(
        f"{API}/sobjects/Contract",
        json={
            "AccountId": parent_id(3),
            "StartDate": "2026-02-28",
            "ContractTerm": 12,
            "BillingFrequency__c": "Annual",
            "CurrencyIsoCode": "EUR",
        },
    )
    assert created.status_code == 201, created.text
    new_id = created.json()["id"]
    assert new_id.startswith("800")
    contract = get(http, "Contract", new_id)
    assert contract["ContractNumber"] == f"C-{1000 + CONTRACTS + 1}"
    assert contract["Status"] == "Draft" and contract["Version__c"] == 1
    assert contract["EndDate"] == "2027-02-27" and contract["TotalValue__c"] == 0
    line = http.post(
        f"{API}/sobjects/ContractLineItem",
        json={
            "ContractId": new_id,
            "Product2Id": "01tTS0000000001AAA",
            "ProductName__c": "Seats",
            "Quantity": 3,
            "UnitPrice": 1200.10,
        },
    )
    assert line.status_code == 201, line.text
    stored_line = get(http, "ContractLineItem", line.json()["id"])
    assert stored_line["Version__c"] == 1 and stored_line["BillingFrequency__c"] == "Annual"
    assert get(http, "Contract", new_id)["TotalValue__c"] == 3600.30
    assert patch(http, new_id, ContractTerm=24).status_code == 204
    assert get(http, "Contract", new_id)["EndDate"] == "2028-02-27"
    assert get(http, "Contract", new_id)["TotalValue__c"] == 7200.60


def test_status_transitions_are_validated(http: httpx.Client) -> None:
    new_id = http.post(
        f"{API}/sobjects/Contract",
        json={"AccountId": parent_id(4), "StartDate": "2026-01-01", "ContractTerm": 12},
    ).json()["id"]
    skipped = patch(http, new_id, Status="Activated")
    assert skipped.status_code == 400
    assert error(skipped) == {
        "message": "Status: a Draft contract cannot become Activated",
        "errorCode": "FIELD_INTEGRITY_EXCEPTION",
        "fields": ["Status"],
    }
    assert patch(http, new_id, Status="InApproval").status_code == 204
    assert patch(http, new_id, Status="Draft").status_code == 204
    assert patch(http, new_id, Status="InApproval").status_code == 204
    assert patch(http, new_id, Status="Activated").status_code == 204
    assert patch(http, new_id, Status="Activated").status_code == 204  # no change: accepted
    activated = get(http, "Contract", new_id)
    assert activated["ActivatedDate"] is not None
    versions = query(
        http, f"SELECT Version__c, Reason__c FROM ContractVersion__c WHERE Contract__c = '{new_id}'"
    )
    assert [(v["Version__c"], v["Reason__c"]) for v in versions] == [(1, "Initial")]
    for status in ("Draft", "InApproval", "Bogus"):
        refused = patch(http, new_id, Status=status)
        assert refused.status_code == 400, status
    assert patch(http, new_id, Status="Terminated").status_code == 204
    terminated = get(http, "Contract", new_id)
    assert terminated["Status"] == "Terminated" and terminated["TerminatedDate__c"] is not None
    assert error(patch(http, new_id, Status="Activated"))["errorCode"] == (
        "FIELD_INTEGRITY_EXCEPTION"
    )


def test_activated_terms_and_lines_are_locked(http: httpx.Client) -> None:
    locked = patch(http, contract_id(3), ContractTerm=36)
    assert locked.status_code == 400
    assert error(locked)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert error(locked)["fields"] == ["ContractTerm"]
    line = http.post(
        f"{API}/sobjects/ContractLineItem",
        json={"ContractId": contract_id(3), "Product2Id": "x", "Quantity": 1, "UnitPrice": 1},
    )
    assert error(line)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    edit = http.patch(f"{API}/sobjects/ContractLineItem/{line_id(3, 2)}", json={"Quantity": 9})
    assert error(edit)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert patch(http, contract_id(3), TerminatedDate__c="2026-09-30").status_code == 204


def test_create_rules(http: httpx.Client) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        (
            "Contract",
            {"AccountId": parent_id(1), "Status": "Activated"},
            "FIELD_INTEGRITY_EXCEPTION",
        ),
        (
            "Contract",
            {"AccountId": parent_id(1), "TotalValue__c": 5},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
        ),
        ("Contract", {"StartDate": "2026-01-01"}, "REQUIRED_FIELD_MISSING"),
        ("Contract", {"AccountId": parent_id(1), "StartDate": "01/02/2026"}, "JSON_PARSER_ERROR"),
        (
            "Contract",
            {"AccountId": parent_id(1), "RenewalOf__c": sf_id("800", 999)},
            "INVALID_CROSS_REFERENCE_KEY",
        ),
        ("ContractVersion__c", {"Contract__c": contract_id(1)}, "INVALID_TYPE_FOR_OPERATION"),
    ]
    for sobject, body, code in cases:
        response = http.post(f"{API}/sobjects/{sobject}", json=body)
        assert response.status_code == 400, body
        assert error(response)["errorCode"] == code, body


def test_amendment_bumps_version_writes_lines_history_and_total(http: httpx.Client) -> None:
    target = contract_id(11)  # Activated, Monthly, 12 months, version 1
    response = http.post(
        AMEND.format(target),
        json={
            "reason": "Upsell",
            "effectiveDate": "2026-05-01",
            "expectedVersion": 1,
            "lines": [
                {
                    "Product2Id": "01tTS0000000001AAA",
                    "ProductName__c": "Seats",
                    "Quantity": 10,
                    "UnitPrice": 12.35,
                },
                {
                    "Product2Id": "01tTS0000000003AAA",
                    "ProductName__c": "Analytics",
                    "Quantity": 2,
                    "UnitPrice": 45.5,
                },
            ],
        },
    )
    assert response.status_code == 200, response.text
    contract = response.json()
    assert contract["attributes"]["type"] == "Contract"
    assert contract["Version__c"] == 2
    assert contract["TotalValue__c"] == 2574.00  # (10 x 12.35 + 2 x 45.50) x 12
    assert get(http, "Contract", target)["TotalValue__c"] == 2574.00
    lines = query(
        http,
        f"SELECT ProductName__c, Version__c, BillingFrequency__c FROM ContractLineItem "
        f"WHERE ContractId = '{target}' ORDER BY Version__c, ProductName__c",
    )
    assert [(x["ProductName__c"], x["Version__c"]) for x in lines] == [
        ("Seats", 1),
        ("Support", 1),
        ("Analytics", 2),
        ("Seats", 2),
    ]
    assert {x["BillingFrequency__c"] for x in lines} == {"Monthly"}
    history = query(
        http,
        "SELECT Version__c, Reason__c, EffectiveDate__c, TotalValue__c FROM ContractVersion__c "
        f"WHERE Contract__c = '{target}' ORDER BY Version__c",
    )
    assert [(v["Version__c"], v["Reason__c"], v["EffectiveDate__c"]) for v in history] == [
        (1, "Initial", "2026-01-01"),
        (2, "Upsell", "2026-05-01"),
    ]
    assert history[1]["TotalValue__c"] == 2574.00
    stale = http.post(
        AMEND.format(target),
        json={
            "reason": "Upsell",
            "effectiveDate": "2026-06-01",
            "expectedVersion": 1,
            "lines": [
                {"Product2Id": "p", "ProductName__c": "Seats", "Quantity": 1, "UnitPrice": 1}
            ],
        },
    )
    assert stale.status_code == 409 and error(stale)["errorCode"] == "VERSION_CONFLICT"
    assert get(http, "Contract", target)["Version__c"] == 2


def test_amendment_refusals(http: httpx.Client) -> None:
    line = {"Product2Id": "p", "ProductName__c": "Seats", "Quantity": 1, "UnitPrice": 1}
    good = {"reason": "Downsell", "effectiveDate": "2026-03-01", "lines": [line]}
    draft = http.post(AMEND.format(contract_id(2)), json=good)  # InApproval
    assert draft.status_code == 400 and error(draft)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    missing = http.post(AMEND.format(sf_id("800", 4242)), json=good)
    assert missing.status_code == 404 and error(missing)["errorCode"] == "NOT_FOUND"
    outside = http.post(AMEND.format(contract_id(7)), json={**good, "effectiveDate": "2028-01-01"})
    assert error(outside)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    invalid: list[tuple[dict[str, Any], str]] = [
        ({**good, "reason": ""}, "reason"),
        ({**good, "effectiveDate": "2026-13-01"}, "effectiveDate"),
        ({**good, "lines": []}, "lines"),
        ({**good, "lines": [{**line, "Quantity": 0}]}, "lines[0].Quantity"),
        ({**good, "lines": [{**line, "UnitPrice": "1"}]}, "lines[0].UnitPrice"),
        ({**good, "lines": [line, {**line, "Discount": 5}]}, "lines[1].Discount"),
        ({**good, "expectedVersion": "1"}, "expectedVersion"),
    ]
    for body, field in invalid:
        response = http.post(AMEND.format(contract_id(7)), json=body)
        assert response.status_code == 400, body
        assert error(response)["errorCode"] == "INVALID_INPUT" and error(response)["fields"] == [
            field
        ]
    assert get(http, "Contract", contract_id(7))["Version__c"] == 1


def test_relationships_describe_and_deletes(http: httpx.Client) -> None:
    original = contract_id(1)
    renewal = http.post(
        f"{API}/sobjects/Contract",
        json={
            "AccountId": parent_id(1),
            "Status": "Draft",
            "RenewalOf__c": original,
        },
    ).json()["id"]
    rows = query(
        http,
        "SELECT Id, RenewalOf__r.ContractNumber, RenewalOf__r.Status FROM "
        f"Contract WHERE RenewalOf__r.Id = '{original}'",
    )
    assert [r["Id"] for r in rows] == [renewal]
    assert rows[0]["RenewalOf__r"]["ContractNumber"] == "C-1001"
    lines = query(
        http,
        "SELECT Contract.ContractNumber FROM ContractLineItem "
        f"WHERE ContractId = '{original}' LIMIT 1",
    )
    assert lines[0]["Contract"]["ContractNumber"] == "C-1001"
    versions = http.get(f"{API}/sobjects/ContractVersion__c/describe").json()
    assert versions["deletable"] is False and versions["createable"] is False
    fields = {f["name"]: f for f in versions["fields"]}
    assert fields["Contract__c"]["relationshipName"] == "Contract__r"
    assert http.get(f"{API}/sobjects/Contract/describe").json()["childRelationships"]
    activated = http.delete(f"{API}/sobjects/Contract/{original}")
    assert activated.status_code == 400 and error(activated)["errorCode"] == "DELETE_FAILED"
    assert http.delete(f"{API}/sobjects/Contract/{renewal}").status_code == 204
