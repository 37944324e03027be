"""The NetSuite-shaped ERP simulator over real loopback HTTP: records, SuiteQL, errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from simulators.config import SimulatorConfig
from simulators.erp.app import create_app
from simulators.openapi import build, dumps
from simulators.storage import DocumentStore

OPENAPI_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
TOKEN = "demo-erp-token"
SUITEQL = "/services/rest/query/v1/suiteql"
RECORD = "/services/rest/record/v1"

ErpRecords = dict[str, list[tuple[str, dict[str, Any]]]]


def erp_records(
    customers: int,
    *,
    invoices_per_customer: int = 0,
    versions: int = 0,
    lines_per_schedule: int = 0,
) -> ErpRecords:
    """ERP documents in the SHAPES.md shapes (also used by the adapter tests).

    Customer ``i`` has id ``str(i)`` and externalId ``crm_account_id(i)``; its
    invoices have externalIds ``invoice_id(i, k)``; its contract ``contract_id(i)``
    has one schedule per version, whose first half of lines is recognized.
    """
    records: ErpRecords = {
        "customer": [],
        "invoice": [],
        "customrecord_rg_revsched": [],
        "customrecord_rg_revsched_line": [],
    }
    invoice_no = schedule_no = line_no = 0
    for i in range(1, customers + 1):
        currency = {"id": "1", "refName": "USD"} if i % 2 else {"id": "4", "refName": "EUR"}
        records["customer"].append(
            (
                str(i),
                {
                    "id": str(i),
                    "externalId": crm_account_id(i),
                    "entityId": f"CUST-{i:05d}",
                    "companyName": f"Customer {i}",
                    "email": None if i % 3 == 0 else f"ap{i}@example.com",
                    "currency": currency,
                    "parent": {"id": "1"} if i > 1 and i % 10 == 0 else None,
                    "isInactive": i % 7 == 0,
                    "dateCreated": "2026-01-01T00:00:00Z",
                    "lastModifiedDate": "2026-01-02T00:00:00Z",
                },
            )
        )
        for k in range(1, invoices_per_customer + 1):
            invoice_no += 1
            total = Decimal(100 * k) + Decimal("0.10")
            paid = k % 2 == 0
            records["invoice"].append(
                (
                    str(invoice_no),
                    {
                        "id": str(invoice_no),
                        "externalId": invoice_id(i, k),
                        "tranId": f"RG-{invoice_no:06d}",
                        "entity": {"id": str(i)},
                        "currency": {"refName": currency["refName"]},
                        "total": float(total),
                        "amountRemaining": 0 if paid else float(total),
                        "tranDate": f"2026-{k:02d}-01" if k <= 12 else "2026-12-31",
                        "dueDate": None,
                        "status": {"id": "B", "refName": "Paid In Full"}
                        if paid
                        else {"id": "A", "refName": "Open"},
                        "memo": None,
                        "lastModifiedDate": "2026-02-01T00:00:00Z",
                    },
                )
            )
        for version in range(1, versions + 1):
            schedule_no += 1
            schedule_id = str(schedule_no)
            amount = Decimal(10 * version) + Decimal("0.25")
            recognized = lines_per_schedule // 2
            records["customrecord_rg_revsched"].append(
                (
                    schedule_id,
                    {
                        "id": schedule_id,
                        "externalId": f"{contract_id(i)}:v{version}",
                        "custrecord_rg_contract": contract_id(i),
                        "custrecord_rg_contract_version": version,
                        "custrecord_rg_customer": {"id": str(i)},
                        "custrecord_rg_total": float(amount * lines_per_schedule),
                        "custrecord_rg_recognized_total": float(amount * recognized),
                        "currency": {"refName": currency["refName"]},
                        "custrecord_rg_start": "2026-01-01",
                        "custrecord_rg_end": "2027-12-31",
                    },
                )
            )
            for n in range(lines_per_schedule):
                line_no += 1
                records["customrecord_rg_revsched_line"].append(
                    (
                        str(line_no),
                        {
                            "id": str(line_no),
                            "custrecord_rg_schedule": {"id": schedule_id},
                            "custrecord_rg_period": f"{2026 + n // 12}-{n % 12 + 1:02d}",
                            "custrecord_rg_amount": float(amount),
                            "custrecord_rg_recognized": n < recognized,
                        },
                    )
                )
    return records


def crm_account_id(i: int) -> str:
    return f"001RG{i:013d}"


def contract_id(i: int) -> str:
    return f"800RG{i:013d}"


def invoice_id(i: int, k: int) -> str:
    return f"in_RG{i:05d}x{k:03d}"


Client = Callable[[], httpx.Client]


def _client(url: str) -> httpx.Client:
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {TOKEN}", "Prefer": "transient"}
    )


@pytest.fixture(scope="module")
def erp(start_simulators: Callable[..., dict[str, str]]) -> Iterator[httpx.Client]:
    """A read-only ERP: 50 customers, 300 invoices, 100 schedules, 2 500 lines."""
    records = erp_records(50, invoices_per_customer=6, versions=2, lines_per_schedule=25)
    url = start_simulators(("ERP",), {"ERP": records})["ERP"]
    with _client(url) as client:
        yield client


@pytest.fixture(scope="module")
def erp_rw(start_simulators: Callable[..., dict[str, str]]) -> Iterator[httpx.Client]:
    """An ERP for tests that write: 3 customers, nothing else."""
    url = start_simulators(("ERP",), {"ERP": erp_records(3)})["ERP"]
    with _client(url) as client:
        yield client


def suiteql(client: httpx.Client, q: str, **params: int) -> httpx.Response:
    return client.post(SUITEQL, params=params, json={"q": q})


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    assert set(body) == {"type", "title", "status", "o:errorDetails"}
    assert body["status"] == response.status_code
    assert body["type"].startswith("https://www.rfc-editor.org/rfc/rfc9110.html#section-")
    detail = body["o:errorDetails"][0]
    return response.status_code, detail["o:errorCode"], detail["detail"]


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


# --- auth and faults ---------------------------------------------------------


def test_missing_or_wrong_token_gets_netsuites_401_body(erp: httpx.Client) -> None:
    expected = {
        "type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2",
        "title": "Unauthorized",
        "status": 401,
        "o:errorDetails": [
            {
                "detail": "Invalid login attempt. For more details, see the Login Audit Trail "
                "in the NetSuite UI at Setup > Users/Roles > User Management > View Login "
                "Audit Trail.",
                "o:errorCode": "INVALID_LOGIN",
            }
        ],
    }
    wrong = erp.get(f"{RECORD}/customer/1", headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()) == (401, expected)
    with httpx.Client(base_url=str(erp.base_url)) as anonymous:
        missing = anonymous.post(SUITEQL, json={"q": "SELECT id FROM customer"})
    assert (missing.status_code, missing.json()) == (401, expected)


def test_injected_faults_answer_with_netsuite_bodies(erp: httpx.Client) -> None:
    try:
        erp.post("/_sim/faults", json={"error_rate": 1.0})
        assert error_of(erp.get(f"{RECORD}/customer/1"))[:2] == (500, "UNEXPECTED_ERROR")
        erp.post("/_sim/faults", json={"error_rate": 0, "down": True})
        assert error_of(erp.get(f"{RECORD}/customer/1"))[:2] == (503, "SERVICE_UNAVAILABLE")
    finally:
        erp.delete("/_sim/faults")
    assert erp.get(f"{RECORD}/customer/1").status_code == 200


# --- reading records ---------------------------------------------------------


def test_get_by_internal_id_and_by_external_id(erp: httpx.Client) -> None:
    by_id = erp.get(f"{RECORD}/customer/7")
    assert by_id.status_code == 200
    body = by_id.json()
    assert body["links"] == [
        {"rel": "self", "href": str(erp.base_url).rstrip("/") + f"{RECORD}/customer/7"}
    ]
    assert by_id.headers["content-type"].startswith("application/vnd.oracle.resource+json")
    base = str(erp.base_url).rstrip("/") + RECORD
    assert body["id"] == "7" and body["externalId"] == crm_account_id(7)
    assert body["currency"] == {
        "links": [{"rel": "self", "href": f"{base}/currency/1"}], "id": "1", "refName": "USD",
    }  # fmt: skip
    assert body["isInactive"] is True
    assert "parent" not in body  # null fields are left out
    by_eid = erp.get(f"{RECORD}/customer/eid:{crm_account_id(7)}").json()
    assert by_eid == body
    schedule = erp.get(f"{RECORD}/customrecord_rg_revsched/eid:{contract_id(3)}:v2").json()
    assert schedule["custrecord_rg_contract_version"] == 2
    assert schedule["custrecord_rg_customer"] == {
        "links": [{"rel": "self", "href": f"{base}/customer/3"}], "id": "3",
        "refName": "Customer 3",
    }  # fmt: skip
    invoice = erp.get(f"{RECORD}/invoice/2").json()
    assert invoice["status"] == {"id": "B", "refName": "Paid In Full"}  # a list, not a record


def test_fields_parameter_narrows_the_record(erp: httpx.Client) -> None:
    body = erp.get(f"{RECORD}/invoice/2", params={"fields": "externalId,total"}).json()
    assert set(body) == {"links", "id", "externalId", "total"}
    assert dec(body["total"]) == Decimal("200.10")
    bad = erp.get(f"{RECORD}/invoice/2", params={"fields": "nope"})
    assert error_of(bad)[:2] == (400, "USER_ERROR")


def test_unknown_record_and_unknown_type(erp: httpx.Client) -> None:
    status, code, detail = error_of(erp.get(f"{RECORD}/customer/999999"))
    assert (status, code) == (404, "NONEXISTENT_ID") and "does not exist" in detail
    assert error_of(erp.get(f"{RECORD}/customer/eid:nobody"))[:2] == (404, "NONEXISTENT_ID")
    status, code, detail = error_of(erp.get(f"{RECORD}/salesorder/1"))
    assert (status, code) == (400, "INVALID_RCRD_TYPE") and "salesorder" in detail


def test_collection_lists_ids_with_filter_and_paging(erp: httpx.Client) -> None:
    first = erp.get(f"{RECORD}/customer", params={"limit": 20}).json()
    assert (first["count"], first["hasMore"], first["totalResults"]) == (20, True, 50)
    assert first["items"][0]["id"] == "1"
    assert first["items"][0]["links"][0]["href"].endswith(f"{RECORD}/customer/1")
    last = erp.get(f"{RECORD}/customer", params={"limit": 20, "offset": 40}).json()
    assert [i["id"] for i in last["items"]] == [str(n) for n in range(41, 51)]
    assert last["hasMore"] is False
    q = f'externalId ANY_OF ["{crm_account_id(2)}", "{crm_account_id(4)}"] OR isInactive IS true'
    found = erp.get(f"{RECORD}/customer", params={"q": q}).json()
    assert [i["id"] for i in found["items"]] == ["2", "4", "7", "14", "21", "28", "35", "42", "49"]
    q = 'companyName START_WITH "Customer 1" AND email EMPTY'
    found = erp.get(f"{RECORD}/customer", params={"q": q}).json()
    assert [i["id"] for i in found["items"]] == ["12", "15", "18"]
    bad = erp.get(f"{RECORD}/customer", params={"q": "companyName SOUNDS_LIKE x"})
    assert error_of(bad)[:2] == (400, "INVALID_PARAMETER")


# --- SuiteQL -----------------------------------------------------------------


def test_suiteql_pages_through_2500_rows(erp: httpx.Client) -> None:
    q = "SELECT id, custrecord_rg_schedule FROM customrecord_rg_revsched_line"
    pages = [suiteql(erp, q, limit=1000, offset=offset).json() for offset in (0, 1000, 2000)]
    assert [(p["count"], p["hasMore"], p["offset"]) for p in pages] == [
        (1000, True, 0),
        (1000, True, 1000),
        (500, False, 2000),
    ]
    assert {p["totalResults"] for p in pages} == {2500}
    ids = [int(item["id"]) for page in pages for item in page["items"]]
    assert ids == list(range(1, 2501))
    rels = [{link["rel"] for link in p["links"]} for p in pages]
    assert rels == [
        {"first", "next", "last", "self"},
        {"previous", "first", "next", "last", "self"},
        {"previous", "first", "last", "self"},
    ]
    # Following "next" gives the next page.
    next_href = next(link["href"] for link in pages[0]["links"] if link["rel"] == "next")
    followed = erp.post(next_href, json={"q": q}).json()
    assert followed["items"] == pages[1]["items"]
    # The default limit is 1000.
    assert suiteql(erp, q).json()["count"] == 1000


def test_suiteql_paging_rules(erp: httpx.Client) -> None:
    q = "SELECT id FROM customer"
    status, code, detail = error_of(suiteql(erp, q, limit=10, offset=15))
    assert (status, code) == (400, "INVALID_PARAMETER") and "multiple of the limit" in detail
    assert error_of(suiteql(erp, q, limit=1001))[:2] == (400, "INVALID_PARAMETER")
    assert error_of(suiteql(erp, q, limit=0))[:2] == (400, "INVALID_PARAMETER")
    beyond = suiteql(erp, q, limit=10, offset=100).json()
    assert (beyond["count"], beyond["hasMore"], beyond["totalResults"]) == (0, False, 50)


def test_suiteql_requires_prefer_transient_and_a_query(erp: httpx.Client) -> None:
    response = erp.post(SUITEQL, json={"q": "SELECT id FROM customer"}, headers={"Prefer": ""})
    status, code, detail = error_of(response)
    assert (status, code) == (400, "INVALID_PARAMETER") and "Prefer: transient" in detail
    assert error_of(erp.post(SUITEQL, json={"query": "x"}))[:2] == (400, "INVALID_PARAMETER")
    assert error_of(erp.post(SUITEQL, content=b"{"))[:2] == (400, "USER_ERROR")


@pytest.mark.parametrize(
    ("q", "problem"),
    [
        ("SELECT id FRM customer", "Unexpected 'customer' at position 14"),
        ("SELECT id FROM salesorder", "Record 'salesorder' was not found"),
        ("SELECT bogus FROM customer", "Field 'bogus' for record 'customer' was not found"),
        ("SELECT id FROM customer GROUP BY id", "'GROUP' is not supported"),
    ],
)
def test_suiteql_errors_name_the_problem(erp: httpx.Client, q: str, problem: str) -> None:
    status, code, detail = error_of(suiteql(erp, q))
    assert (status, code) == (400, "INVALID_PARAMETER")
    assert detail.startswith("Invalid search query.")
    assert problem in detail


def test_suiteql_row_shape_follows_netsuite(erp: httpx.Client) -> None:
    response = suiteql(erp, "SELECT * FROM customer WHERE id IN (3, 10) ORDER BY id")
    assert response.headers["content-type"].startswith("application/vnd.oracle.resource+json")
    rows = response.json()["items"]
    assert rows[0] == {
        "links": [],
        "id": "3",
        "externalid": crm_account_id(3),
        "entityid": "CUST-00003",
        "companyname": "Customer 3",
        "currency": "USD",  # the legacy_list_names compatibility (on by default)
        "isinactive": "F",
        "datecreated": "1/1/2026",  # the account's date format
        "lastmodifieddate": "1/2/2026",
    }  # email and parent are NULL: absent, as NetSuite leaves them out
    assert rows[1]["parent"] == "1" and rows[1]["currency"] == "EUR"
    schedule = suiteql(erp, "SELECT * FROM customrecord_rg_revsched WHERE id = 2").json()
    row = schedule["items"][0]
    assert row["custrecord_rg_contract_version"] == "2" and row["custrecord_rg_total"] == "506.25"
    assert row["custrecord_rg_start"] == "1/1/2026" and row["custrecord_rg_end"] == "12/31/2027"
    # The legacy ``invoice`` table answers as it always did: JSON numbers, ISO dates.
    invoice = suiteql(erp, f"SELECT * FROM invoice WHERE externalid = '{invoice_id(2, 2)}'")
    item = invoice.json()["items"][0]
    assert item["entity"] == "2" and item["status"] == "Paid In Full"
    assert dec(item["total"]) == Decimal("200.10") and item["amountremaining"] == 0
    line = suiteql(erp, "SELECT * FROM customrecord_rg_revsched_line WHERE id = 1").json()
    assert line["items"][0]["custrecord_rg_schedule"] == "1"
    assert line["items"][0]["custrecord_rg_recognized"] == "T"


def test_suiteql_filters_and_orders(erp: httpx.Client) -> None:
    q = (
        "SELECT s.id, s.custrecord_rg_contract_version AS v FROM customrecord_rg_revsched s "
        f"WHERE s.custrecord_rg_contract IN ('{contract_id(4)}', '{contract_id(9)}') "
        "ORDER BY v DESC, id"
    )
    assert [(r["id"], r["v"]) for r in suiteql(erp, q).json()["items"]] == [
        ("8", "2"), ("18", "2"), ("7", "1"), ("17", "1"),
    ]  # fmt: skip
    q = (
        "SELECT COUNT(*) AS n FROM invoice WHERE status = 'Open' AND total > 200 "
        "AND currency = 'EUR'"
    )
    # EUR customers are the even ones (25); open invoices k=3,5 have total > 200.
    assert suiteql(erp, q).json()["items"] == [{"links": [], "n": 50}]
    q = "SELECT id FROM customer WHERE email IS NULL AND NOT (isinactive = 'T') ORDER BY id"
    assert [r["id"] for r in suiteql(erp, q).json()["items"]][:4] == ["3", "6", "9", "12"]


def rows(client: httpx.Client, q: str) -> list[dict[str, Any]]:
    response = suiteql(client, q)
    assert response.status_code == 200, response.text
    return [{k: v for k, v in item.items() if k != "links"} for item in response.json()["items"]]


def test_transaction_table_speaks_the_real_dialect(erp: httpx.Client) -> None:
    q = (
        "SELECT id, tranid, type, entity, currency, BUILTIN.DF(currency) AS currencyname, "
        "foreigntotal, foreignamountremaining, trandate, status, BUILTIN.DF(status) AS state, "
        f"externalid FROM transaction WHERE type = 'CustInvc' AND externalid = '{invoice_id(2, 2)}'"
    )
    assert rows(erp, q) == [{
        "id": "8", "tranid": "RG-000008", "type": "CustInvc", "entity": "2",
        "currency": "4", "currencyname": "EUR", "foreigntotal": "200.1",
        "foreignamountremaining": "0", "trandate": "2/1/2026", "status": "B",
        "state": "Paid In Full", "externalid": invoice_id(2, 2),
    }]  # fmt: skip
    # The same invoice through the legacy alias, as the current adapter reads it.
    legacy = rows(erp, "SELECT total, trandate, status FROM invoice WHERE id = 8")
    assert legacy == [{"total": 200.1, "trandate": "2026-02-01", "status": "Paid In Full"}]
    # Dates compare as dates, written in the account's format or ISO.
    q = "SELECT COUNT(*) AS n FROM transaction WHERE trandate >= '6/1/2026' AND entity = 1"
    assert rows(erp, q) == [{"n": "1"}]
    q = "SELECT COUNT(*) AS n FROM transaction WHERE trandate BETWEEN '2026-02-01' AND '3/1/2026'"
    assert rows(erp, q) == [{"n": "100"}]
    assert rows(erp, "SELECT COUNT(*) AS n FROM transaction WHERE type = 'Journal'") == [{"n": "0"}]


def test_builtin_df_and_joins(erp: httpx.Client) -> None:
    q = (
        "SELECT t.id, t.tranid, BUILTIN.DF(t.entity) AS customer, c.externalid AS account "
        "FROM transaction t INNER JOIN customer c ON c.id = t.entity "
        f"WHERE c.externalid IN ('{crm_account_id(3)}', '{crm_account_id(4)}') "
        "AND BUILTIN.DF(t.status) = 'Open' ORDER BY t.id DESC"
    )
    found = rows(erp, q)
    assert [r["id"] for r in found] == ["23", "21", "19", "17", "15", "13"]
    assert found[0] == {
        "id": "23", "tranid": "RG-000023", "customer": "Customer 4",
        "account": crm_account_id(4),
    }  # fmt: skip
    q = (
        "SELECT s.id AS schedule, l.id AS line, l.custrecord_rg_amount AS amount "
        "FROM customrecord_rg_revsched s "
        "JOIN customrecord_rg_revsched_line l ON l.custrecord_rg_schedule = s.id "
        f"WHERE s.custrecord_rg_contract = '{contract_id(2)}' AND l.custrecord_rg_recognized = 'T' "
        "ORDER BY s.id, l.custrecord_rg_period"
    )
    lines = rows(erp, q)
    assert len(lines) == 24 and lines[0] == {"schedule": "3", "line": "51", "amount": "10.25"}
    # LEFT JOIN keeps the customers without a parent; a shared column name needs a qualifier.
    q = (
        "SELECT c.id, p.companyname AS parentname FROM customer c "
        "LEFT OUTER JOIN customer p ON c.parent = p.id WHERE c.id IN (9, 10) ORDER BY c.id"
    )
    assert rows(erp, q) == [{"id": "9"}, {"id": "10", "parentname": "Customer 1"}]
    ambiguous = suiteql(erp, "SELECT id FROM customer c JOIN transaction t ON t.entity = c.id")
    assert "ambiguously" in error_of(ambiguous)[2]
    not_equal = suiteql(erp, "SELECT c.id FROM customer c JOIN transaction t ON t.entity > c.id")
    assert "column equality" in error_of(not_equal)[2]
    other = suiteql(erp, "SELECT BUILTIN.CF(id) FROM customer")
    assert "BUILTIN.CF is not supported" in error_of(other)[2]


def test_list_values_as_ids_and_the_date_format_are_settings(erp: httpx.Client) -> None:
    assert erp.get("/_sim/suiteql").json() == {
        "date_format": "M/D/YYYY", "legacy_list_names": True,
    }  # fmt: skip
    try:
        changed = erp.post(
            "/_sim/suiteql", json={"legacy_list_names": False, "date_format": "DD/MM/YYYY"}
        )
        assert changed.json() == {"date_format": "DD/MM/YYYY", "legacy_list_names": False}
        q = "SELECT currency, BUILTIN.DF(currency) AS name, datecreated FROM customer WHERE id = 2"
        assert rows(erp, q) == [{"currency": "4", "name": "EUR", "datecreated": "01/01/2026"}]
        q = "SELECT COUNT(*) AS n FROM transaction WHERE currency = 4 AND trandate < '01/03/2026'"
        assert rows(erp, q) == [{"n": "50"}]
        # The legacy alias is not affected.
        assert rows(erp, "SELECT currency FROM invoice WHERE id = 8") == [{"currency": "EUR"}]
        bad = erp.post("/_sim/suiteql", json={"date_format": "YY/M/D"})
        assert bad.status_code == 400
    finally:
        erp.post("/_sim/suiteql", json={"legacy_list_names": True, "date_format": "M/D/YYYY"})


def test_metadata_catalog(erp: httpx.Client) -> None:
    listed = erp.get(f"{RECORD}/metadata-catalog")
    assert listed.status_code == 200
    names = [item["name"] for item in listed.json()["items"]]
    assert names == [
        "customer", "invoice", "journalentry", "customrecord_rg_revsched",
        "customrecord_rg_revsched_line",
    ]  # fmt: skip
    links = listed.json()["items"][0]["links"]
    assert {link["mediaType"] for link in links} == {
        "application/json", "application/swagger+json", "application/schema+json",
    }  # fmt: skip
    some = erp.get(f"{RECORD}/metadata-catalog", params={"select": "invoice"}).json()
    assert [item["name"] for item in some["items"]] == ["invoice"]
    schema = erp.get(
        f"{RECORD}/metadata-catalog/invoice", headers={"Accept": "application/schema+json"}
    )
    assert schema.headers["content-type"].startswith("application/schema+json")
    body = schema.json()
    assert body["type"] == "object" and body["required"] == ["entity"]
    assert body["properties"]["total"]["type"] == "number"
    assert body["properties"]["entity"]["x-ns-recordType"] == "customer"
    assert body["properties"]["status"]["properties"]["id"]["enum"] == ["A", "B", "V"]
    assert body["properties"]["lastModifiedDate"]["readOnly"] is True
    swagger = erp.get(
        f"{RECORD}/metadata-catalog/customer", headers={"Accept": "application/swagger+json"}
    ).json()
    assert swagger["openapi"].startswith("3.") and f"{RECORD}/customer/{{id}}" in swagger["paths"]
    unknown = erp.get(f"{RECORD}/metadata-catalog/salesorder")
    assert error_of(unknown)[:2] == (400, "INVALID_RCRD_TYPE")


# --- writing records ---------------------------------------------------------


def created_id(response: httpx.Response, record_type: str) -> str:
    assert response.status_code == 204, response.text
    assert response.content == b""
    location = response.headers["Location"]
    prefix = f"{RECORD}/{record_type}/"
    assert prefix in location
    return location.rsplit("/", 1)[-1]


def test_create_answers_204_with_location_and_sequential_ids(erp_rw: httpx.Client) -> None:
    first = created_id(
        erp_rw.post(f"{RECORD}/customer", json={"companyName": "New A", "externalId": "crmA"}),
        "customer",
    )
    second = created_id(
        erp_rw.post(
            f"{RECORD}/customer",
            json={
                "companyName": "New B",
                "currency": {"refName": "EUR"},
                "parent": {"externalId": "crmA"},
            },
        ),
        "customer",
    )
    assert int(second) == int(first) + 1 and int(first) > 3
    body = erp_rw.get(f"{RECORD}/customer/{second}").json()
    assert (body["currency"]["id"], body["currency"]["refName"]) == ("4", "EUR")
    assert body["parent"]["id"] == first and body["parent"]["refName"] == "New A"
    assert body["parent"]["links"][0]["href"].endswith(f"{RECORD}/customer/{first}")
    assert body["isInactive"] is False
    assert body["dateCreated"].endswith("Z") and "externalId" not in body


def test_duplicate_external_id_is_dup_rcrd(erp_rw: httpx.Client) -> None:
    body = {"companyName": "Dup", "externalId": crm_account_id(1)}
    status, code, detail = error_of(erp_rw.post(f"{RECORD}/customer", json=body))
    assert (status, code) == (400, "DUP_RCRD") and crm_account_id(1) in detail
    # Changing another record's externalId to a taken one is refused too.
    patch = erp_rw.patch(f"{RECORD}/customer/2", json={"externalId": crm_account_id(1)})
    assert error_of(patch)[:2] == (400, "DUP_RCRD")


def test_put_eid_upserts_create_then_replace(erp_rw: httpx.Client) -> None:
    url = f"{RECORD}/invoice/eid:in_upsert_1"
    body = {
        "entity": {"id": "2"},
        "tranId": "RG-9",
        "total": "99.95",
        "currency": {"refName": "USD"},
        "memo": "first",
    }
    first = created_id(erp_rw.put(url, json=body), "invoice")
    replaced = {**body, "total": 120.5}
    del replaced["memo"]
    second = created_id(erp_rw.put(url, json=replaced), "invoice")
    assert first == second
    again = created_id(erp_rw.put(url, json=replaced), "invoice")
    assert again == first
    record = erp_rw.get(url).json()
    assert record["externalId"] == "in_upsert_1" and dec(record["total"]) == Decimal("120.5")
    assert "memo" not in record  # a PUT replaces: fields not sent are cleared
    count = suiteql(erp_rw, "SELECT COUNT(*) FROM invoice WHERE externalid = 'in_upsert_1'")
    assert count.json()["items"][0]["expr1"] == 1
    mismatch = erp_rw.put(url, json={**body, "externalId": "other"})
    assert error_of(mismatch)[:2] == (400, "USER_ERROR")
    by_internal_id = erp_rw.put(f"{RECORD}/invoice/{first}", json=body)
    assert error_of(by_internal_id)[:2] == (400, "USER_ERROR")


def test_patch_changes_only_the_given_fields(erp_rw: httpx.Client) -> None:
    response = erp_rw.patch(f"{RECORD}/customer/3", json={"email": "new@example.com"})
    assert response.status_code == 204
    body = erp_rw.get(f"{RECORD}/customer/3").json()
    assert body["email"] == "new@example.com" and body["companyName"] == "Customer 3"
    assert body["lastModifiedDate"] != "2026-01-02T00:00:00Z"
    assert body["dateCreated"] == "2026-01-01T00:00:00Z"
    missing = erp_rw.patch(f"{RECORD}/customer/424242", json={"email": "x@example.com"})
    assert error_of(missing)[:2] == (404, "NONEXISTENT_ID")
    cleared = erp_rw.patch(f"{RECORD}/customer/3", json={"companyName": None})
    assert error_of(cleared)[:2] == (400, "USER_ERROR")


@pytest.mark.parametrize(
    ("record_type", "body", "code", "problem"),
    [
        ("customer", {"companyName": "X", "nickname": "x"}, "USER_ERROR", "'nickname'"),
        ("customer", {"email": "x@example.com"}, "USER_ERROR", "Please enter value(s)"),
        ("customer", {"companyName": "X", "id": "77"}, "USER_ERROR", "'id'"),
        ("customer", {"companyName": 5}, "INVALID_VALUE", "companyName"),
        ("customer", {"companyName": "X", "isInactive": "yes"}, "INVALID_VALUE", "isInactive"),
        ("customer", {"companyName": "X", "currency": {"refName": "XXX"}}, "INVALID_KEY_OR_REF",
         "currency"),
        ("customer", {"companyName": "X", "parent": {"id": "9999"}}, "INVALID_KEY_OR_REF",
         "parent"),
        ("customer", {"companyName": "X", "parent": "1"}, "INVALID_VALUE", "parent"),
        ("invoice", {"entity": {"id": "1"}, "total": "ten"}, "INVALID_VALUE", "total"),
        ("invoice", {"entity": {"id": "1"}, "tranDate": "31/01/2026"}, "INVALID_VALUE",
         "tranDate"),
        ("customrecord_rg_revsched", {"custrecord_rg_contract": "800X",
         "custrecord_rg_contract_version": 1, "custrecord_rg_recognized_total": 5},
         "USER_ERROR", "read-only"),
        ("customrecord_rg_revsched", {"custrecord_rg_contract": "800X",
         "custrecord_rg_contract_version": 1.5}, "INVALID_VALUE", "integer"),
        ("journalentry", {"line": {"items": [{"account": {"id": "4000"}, "debit": 10}]}},
         "USER_ERROR", "not in balance"),
        ("journalentry", {"line": [{"account": {"id": "4000"}}]}, "INVALID_VALUE", "line"),
        ("customer", [1, 2], "USER_ERROR", "JSON object"),
    ],
)  # fmt: skip
def test_invalid_bodies_are_refused(
    erp_rw: httpx.Client, record_type: str, body: Any, code: str, problem: str
) -> None:
    status, got_code, detail = error_of(erp_rw.post(f"{RECORD}/{record_type}", json=body))
    assert (status, got_code) == (400, code)
    assert problem in detail


def test_journal_entry_with_lines(erp_rw: httpx.Client) -> None:
    body = {
        "externalId": "je-1",
        "tranDate": "2026-01-31",
        "memo": "Revenue recognition 2026-01",
        "currency": {"refName": "USD"},
        "line": {
            "items": [
                {"account": {"id": "2400"}, "debit": 100.5, "memo": "Deferred revenue"},
                {"account": {"id": "4000"}, "credit": "100.50"},
            ]
        },
    }
    je_id = created_id(erp_rw.post(f"{RECORD}/journalentry", json=body), "journalentry")
    record = erp_rw.get(f"{RECORD}/journalentry/{je_id}").json()
    account = {"rel": "self", "href": str(erp_rw.base_url).rstrip("/") + f"{RECORD}/account/4000"}
    assert record["line"]["items"][1] == {
        "account": {"links": [account], "id": "4000"}, "credit": 100.5,
    }  # fmt: skip
    row = suiteql(erp_rw, "SELECT * FROM journalentry WHERE externalid = 'je-1'").json()
    assert row["items"][0]["currency"] == "USD" and "line" not in row["items"][0]


def schedule_state(client: httpx.Client, schedule_id: str) -> tuple[Decimal, Decimal]:
    """The recognized total as the record says and as SuiteQL says."""
    record = client.get(f"{RECORD}/customrecord_rg_revsched/{schedule_id}").json()
    q = (
        "SELECT custrecord_rg_recognized_total AS r FROM customrecord_rg_revsched "
        f"WHERE id = {schedule_id}"
    )
    row = suiteql(client, q).json()["items"][0]
    return dec(record["custrecord_rg_recognized_total"]), dec(row["r"])


def test_recognized_total_follows_the_lines(erp_rw: httpx.Client) -> None:
    schedules = []
    for version in (1, 2):
        body = {
            "externalId": f"800RT:v{version}",
            "custrecord_rg_contract": "800RT",
            "custrecord_rg_contract_version": version,
            "custrecord_rg_customer": {"id": "1"},
            "custrecord_rg_total": 300.3,
            "currency": {"refName": "USD"},
        }
        schedules.append(
            created_id(
                erp_rw.post(f"{RECORD}/customrecord_rg_revsched", json=body),
                "customrecord_rg_revsched",
            )
        )
    a, b = schedules
    assert schedule_state(erp_rw, a) == (Decimal(0), Decimal(0))

    def add_line(period: str, amount: float, recognized: bool) -> str:
        body = {
            "custrecord_rg_schedule": {"id": a},
            "custrecord_rg_period": period,
            "custrecord_rg_amount": amount,
            "custrecord_rg_recognized": recognized,
        }
        response = erp_rw.post(f"{RECORD}/customrecord_rg_revsched_line", json=body)
        return created_id(response, "customrecord_rg_revsched_line")

    jan = add_line("2026-01", 100.1, True)
    feb = add_line("2026-02", 100.1, True)
    mar = add_line("2026-03", 100.1, False)
    line_url = f"{RECORD}/customrecord_rg_revsched_line"
    assert schedule_state(erp_rw, a) == (Decimal("200.2"), Decimal("200.2"))

    erp_rw.patch(f"{line_url}/{mar}", json={"custrecord_rg_recognized": True})
    assert schedule_state(erp_rw, a) == (Decimal("300.3"), Decimal("300.3"))
    erp_rw.patch(f"{line_url}/{jan}", json={"custrecord_rg_amount": 50})
    assert schedule_state(erp_rw, a)[0] == Decimal("250.2")
    # Moving a line to another schedule changes both totals.
    erp_rw.patch(f"{line_url}/{feb}", json={"custrecord_rg_schedule": {"id": b}})
    assert schedule_state(erp_rw, a)[0] == Decimal("150.1")
    assert schedule_state(erp_rw, b)[0] == Decimal("100.1")
    assert erp_rw.delete(f"{line_url}/{mar}").status_code == 204
    assert schedule_state(erp_rw, a) == (Decimal(50), Decimal(50))
    # Replacing the schedule keeps the total its lines give it.
    replaced = erp_rw.put(
        f"{RECORD}/customrecord_rg_revsched/eid:800RT:v1",
        json={"custrecord_rg_contract": "800RT", "custrecord_rg_contract_version": 1},
    )
    assert created_id(replaced, "customrecord_rg_revsched") == a
    assert schedule_state(erp_rw, a)[0] == Decimal(50)
    # A schedule with lines cannot be deleted; without them it can.
    blocked = erp_rw.delete(f"{RECORD}/customrecord_rg_revsched/{a}")
    assert error_of(blocked)[:2] == (400, "USER_ERROR")
    assert erp_rw.delete(f"{line_url}/{jan}").status_code == 204
    assert erp_rw.delete(f"{RECORD}/customrecord_rg_revsched/{a}").status_code == 204
    gone = erp_rw.get(f"{RECORD}/customrecord_rg_revsched/eid:800RT:v1")
    assert error_of(gone)[:2] == (404, "NONEXISTENT_ID")


def test_delete_frees_the_external_id(erp_rw: httpx.Client) -> None:
    body = {"companyName": "Temp", "externalId": "crm-temp"}
    first = created_id(erp_rw.post(f"{RECORD}/customer", json=body), "customer")
    assert erp_rw.delete(f"{RECORD}/customer/eid:crm-temp").status_code == 204
    assert error_of(erp_rw.delete(f"{RECORD}/customer/{first}"))[:2] == (404, "NONEXISTENT_ID")
    second = created_id(erp_rw.post(f"{RECORD}/customer", json=body), "customer")
    assert second != first  # internal ids are never reused
    row = suiteql(erp_rw, "SELECT id FROM customer WHERE externalid = 'crm-temp'").json()
    assert [r["id"] for r in row["items"]] == [second]


# --- the store changing behind the app's back ---------------------------------


async def test_writes_straight_to_the_store_are_seen(
    tmp_path: Path, postgres_url: str | None, run_id: str
) -> None:
    """Demos and tests may plant drift directly in the store: no cache may hide it."""
    if postgres_url:
        store = DocumentStore(postgres_url, schema=f"{run_id}_erp_store")
    else:
        store = DocumentStore(f"sqlite+aiosqlite:///{tmp_path / 'erp.sqlite3'}")
    await store.open(reset=True)
    await store.put_many("customer", erp_records(2)["customer"])
    app = create_app(store, SimulatorConfig(base_url="http://erp.test", token=TOKEN))
    headers = {"Authorization": f"Bearer {TOKEN}", "Prefer": "transient"}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://erp.test", headers=headers
        ) as client:

            async def ids() -> list[str]:
                q = {"q": "SELECT id FROM customer ORDER BY id"}
                body = (await client.post(SUITEQL, json=q)).json()
                return [item["id"] for item in body["items"]]

            assert await ids() == ["1", "2"]
            assert (await client.get(f"{RECORD}/customer/eid:{crm_account_id(1)}")).is_success
            await store.delete("customer", "1")
            doc = {**erp_records(5)["customer"][4][1], "externalId": "planted"}
            await store.put("customer", "5", doc)
            assert await ids() == ["2", "5"]
            gone = await client.get(f"{RECORD}/customer/eid:{crm_account_id(1)}")
            assert gone.status_code == 404
            assert (await client.get(f"{RECORD}/customer/eid:planted")).json()["id"] == "5"
            created = await client.post(f"{RECORD}/customer", json={"companyName": "Next"})
            assert created.headers["Location"].endswith("/customer/6")
    finally:
        await store.close()


# --- OpenAPI document ----------------------------------------------------------


def test_served_openapi_document_is_the_generated_one(erp: httpx.Client) -> None:
    served = erp.get("/_sim/openapi.json").json()
    assert served == json.loads(dumps(build("erp")))
    assert {SUITEQL, f"{RECORD}/invoice/{{id}}", f"{RECORD}/metadata-catalog"} <= set(
        served["paths"]
    )


QUERIES = [
    "SELECT * FROM customer WHERE id IN (1, 2, 3)",
    "SELECT * FROM invoice WHERE entity IN ('4', '5') ORDER BY trandate, id",
    "SELECT t.id, BUILTIN.DF(t.status) AS s FROM transaction t JOIN customer c "
    "ON c.id = t.entity WHERE c.id = 6",
    "SELECT * FROM customrecord_rg_revsched_line WHERE custrecord_rg_schedule IN ('1', '2')",
    "SELECT nope FROM customer",
]
# (path, method, a strategy argument mixing known-good values with generated ones)
LIVE_OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    (SUITEQL, "POST", {"body": [{"q": q} for q in QUERIES]}),
    (f"{RECORD}/customer/{{id}}", "GET", {"path_parameters": [{"id": "3"}, {"id": "eid:x"}]}),
    (f"{RECORD}/invoice/{{id}}", "GET", {"path_parameters": [{"id": "8"}, {"id": "9"}]}),
    (f"{RECORD}/customrecord_rg_revsched", "GET", {"query": [{"limit": 5}]}),
    (f"{RECORD}/metadata-catalog", "GET", {"query": [{"select": "invoice"}]}),
]


@pytest.mark.parametrize(("path", "method", "known"), LIVE_OPERATIONS)
def test_live_answers_conform_to_the_document(
    erp: httpx.Client, path: str, method: str, known: dict[str, Any]
) -> None:
    operation = schemathesis.openapi.from_dict(build("erp"))[path][method]
    ((argument, values),) = known.items()
    strategy = st.one_of(
        operation.as_strategy(),
        st.sampled_from(values).flatmap(lambda v: operation.as_strategy(**{argument: v})),
    )
    session = requests.Session()
    headers = {"Authorization": f"Bearer {TOKEN}", "Prefer": "transient"}

    @settings(
        max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        case.call_and_validate(
            base_url=str(erp.base_url).rstrip("/"),
            session=session,
            headers=headers,
            checks=OPENAPI_CHECKS,
        )

    try:
        check()
    finally:
        session.close()


# --- concurrency governance ------------------------------------------------------


async def test_concurrency_limit_answers_429_when_on(
    tmp_path: Path, postgres_url: str | None, run_id: str
) -> None:
    if postgres_url:
        store = DocumentStore(postgres_url, schema=f"{run_id}_erp_limits")
    else:
        store = DocumentStore(f"sqlite+aiosqlite:///{tmp_path / 'erp.sqlite3'}")
    await store.open(reset=True)
    await store.put_many("customer", erp_records(2)["customer"])
    app = create_app(store, SimulatorConfig(base_url="http://erp.test", token=TOKEN))
    limiter = app.state.sim.limits.concurrency("AccountConcurrency")
    headers = {"Authorization": f"Bearer {TOKEN}", "Prefer": "transient"}
    query = {"q": "SELECT id FROM customer"}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://erp.test", headers=headers
        ) as client:
            shown = (await client.get("/_sim/limits")).json()
            assert shown["enabled"] is False  # off by default
            assert shown["limits"]["AccountConcurrency"]["max_in_flight"] == 5  # shared tier
            tier = {"service_tier": "tier1", "suitecloud_plus_licenses": 1}
            body = {"enabled": True, "limits": {"AccountConcurrency": tier}}
            shown = (await client.post("/_sim/limits", json=body)).json()
            assert shown["limits"]["AccountConcurrency"]["max_in_flight"] == 25
            body = {"limits": {"AccountConcurrency": {"max_in_flight": 2}}}
            await client.post("/_sim/limits", json=body)
            assert limiter.acquire() and limiter.acquire()  # two requests in flight elsewhere
            refused = await client.post(SUITEQL, json=query)
            assert refused.status_code == 429
            error = refused.json()
            assert error["o:errorDetails"][0]["o:errorCode"] == "CONCURRENCY_LIMIT_EXCEEDED"
            assert error["type"] == "https://www.rfc-editor.org/rfc/rfc6585.html#section-4"
            limiter.release()
            assert (await client.post(SUITEQL, json=query)).status_code == 200
            assert limiter.in_flight() == 1  # the request's own slot was given back
            bad = {"limits": {"AccountConcurrency": {"service_tier": "platinum"}}}
            assert (await client.post("/_sim/limits", json=bad)).status_code == 400
            reset = (await client.delete("/_sim/limits")).json()
            assert reset["enabled"] is False
            assert reset["limits"]["AccountConcurrency"]["max_in_flight"] == 5
            assert (await client.post(SUITEQL, json=query)).status_code == 200
    finally:
        await store.close()
