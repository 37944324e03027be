"""Stock simple-salesforce against the CRM and Contracts simulators over loopback.

simple-salesforce always builds ``https://{instance}`` URLs; the simulators
listen on plain HTTP, so the session it is given (its documented ``session``
argument) sends them over HTTP. Nothing of the library is patched.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from simulators.seed import generate
from tests.conftest import StartSimulators

CRM_TOKEN = "demo-crm-token"
CONTRACTS_TOKEN = "demo-contracts-token"
PAGE = {"Sforce-Query-Options": "batchSize=200"}


class PlainHttpOnLoopback(HTTPAdapter):
    """Sends simple-salesforce's ``https://127.0.0.1:port`` requests as plain HTTP."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        assert request.url is not None and request.url.startswith("https://127.0.0.1:")
        request.url = "http://" + request.url.removeprefix("https://")
        return super().send(request, *args, **kwargs)


def connect(url: str, token: str) -> Salesforce:
    session = requests.Session()
    session.mount("https://", PlainHttpOnLoopback())
    return Salesforce(instance_url=url, session_id=token, version="60.0", session=session)


@pytest.fixture(scope="module")
def urls(start_simulators: StartSimulators) -> dict[str, str]:
    records = generate(450, seed=11).records
    return start_simulators(
        ("CRM", "CONTRACTS"),
        {"CRM": records["CRM"], "CONTRACTS": records["CONTRACTS"]},
    )


@pytest.fixture
def crm(urls: dict[str, str]) -> Iterator[Salesforce]:
    sf = connect(urls["CRM"], CRM_TOKEN)
    yield sf
    sf.session.close()


@pytest.fixture
def contracts(urls: dict[str, str]) -> Iterator[Salesforce]:
    sf = connect(urls["CONTRACTS"], CONTRACTS_TOKEN)
    yield sf
    sf.session.close()


def sobj(sf: Salesforce, name: str) -> SFType:
    """``sf.Account`` typed (simple-salesforce's ``__getattr__`` also answers bulk types)."""
    sobject = getattr(sf, name)
    assert isinstance(sobject, SFType)
    return sobject


def restful(sf: Salesforce, path: str, **kwargs: Any) -> Any:
    answer = sf.restful(path, **kwargs)
    assert answer is not None
    return answer


def control(url: str, method: str, path: str, body: Any = None) -> Any:
    with httpx.Client(base_url=url) as client:
        response = client.request(method, path, json=body)
        response.raise_for_status()
        return response.json()


def content(exc: pytest.ExceptionInfo[Exception]) -> dict[str, Any]:
    body = getattr(exc.value, "content", None)
    assert isinstance(body, list) and body, body
    first: dict[str, Any] = body[0]
    return first


# -- query --------------------------------------------------------------------------


def test_query_and_api_usage_header(crm: Salesforce) -> None:
    result = crm.query("SELECT Id, Name FROM Account ORDER BY Name LIMIT 5")
    assert result["totalSize"] == 5 and result["done"] is True
    record = result["records"][0]
    assert record["attributes"]["type"] == "Account"
    assert set(record) == {"attributes", "Id", "Name"}
    usage = crm.api_usage["api-usage"]
    assert usage.total == 100_000 and usage.used >= 1


def test_query_all_follows_next_records_url(crm: Salesforce, urls: dict[str, str]) -> None:
    total = crm.query("SELECT COUNT() FROM Account")["totalSize"]
    assert total > 400
    control(urls["CRM"], "DELETE", "/_sim/requests")
    result = crm.query_all("SELECT Id FROM Account", headers=PAGE)
    ids = [r["Id"] for r in result["records"]]
    assert len(ids) == len(set(ids)) == total
    paths = [r["path"] for r in control(urls["CRM"], "GET", "/_sim/requests")["requests"]]
    assert paths[0] == "/services/data/v60.0/query/"
    assert len(paths) == -(-total // 200)
    assert all(p.startswith("/services/data/v60.0/query/01g") for p in paths[1:])
    # queryAll answers the same (the simulator keeps no deleted records).
    assert crm.query_all("SELECT Id FROM Account", include_deleted=True)["totalSize"] == total


def test_relationship_fields(crm: Salesforce) -> None:
    children = crm.query(
        "SELECT Id, Name, Parent.Name, Parent.Parent.Id FROM Account "
        "WHERE ParentId != null ORDER BY Parent.Name, Name LIMIT 20"
    )["records"]
    assert children
    for child in children:
        parent = sobj(crm, "Account").get(child["Parent"]["attributes"]["url"].rsplit("/", 1)[-1])
        assert child["Parent"]["Name"] == parent["Name"]
        assert child["Parent"]["attributes"]["type"] == "Account"
        grandparent = child["Parent"]["Parent"]
        assert (grandparent is None) == (parent["ParentId"] is None)
    names = [c["Parent"]["Name"].casefold() for c in children]
    assert names == sorted(names)
    name = children[0]["Parent"]["Name"]
    same = crm.query(f"SELECT Id FROM Account WHERE Parent.Name = '{name}'")["records"]
    assert {r["Id"] for r in same} >= {c["Id"] for c in children if c["Parent"]["Name"] == name}
    roots = crm.query("SELECT Id, Parent.Name FROM Account WHERE ParentId = null LIMIT 1")
    assert roots["records"][0]["Parent"] is None


def test_malformed_soql(crm: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        crm.query("SELEC Id FROM Account")
    assert content(caught)["errorCode"] == "MALFORMED_QUERY"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        crm.query("SELECT Id, Bogus.Name FROM Account")
    assert content(caught)["errorCode"] == "INVALID_FIELD"


# -- records ------------------------------------------------------------------------


def test_create_get_update_delete(crm: Salesforce) -> None:
    parent = crm.query("SELECT Id FROM Account WHERE ParentId = null LIMIT 1")["records"][0]
    created = sobj(crm, "Account").create(
        {"Name": "Simple Salesforce Ltd", "Segment__c": "SMB", "ParentId": parent["Id"]}
    )
    assert created["success"] is True and created["errors"] == []
    record = sobj(crm, "Account").get(created["id"])
    assert record["Name"] == "Simple Salesforce Ltd" and record["CurrencyIsoCode"] == "USD"
    assert sobj(crm, "Account").update(created["id"], {"Segment__c": "Enterprise"}) == 204
    assert sobj(crm, "Account").get(created["id"])["Segment__c"] == "Enterprise"
    assert sobj(crm, "Account").delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sobj(crm, "Account").get(created["id"])
    with pytest.raises(SalesforceResourceNotFound):
        sobj(crm, "Account").delete(created["id"])
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sobj(crm, "Account").create({"Name": "x", "Segment__c": "Galactic"})
    assert content(caught)["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_deleting_a_parent_clears_its_childrens_parent(crm: Salesforce) -> None:
    parent = sobj(crm, "Account").create({"Name": "Doomed Parent"})["id"]
    child = sobj(crm, "Account").create({"Name": "Orphan", "ParentId": parent})["id"]
    sobj(crm, "Account").delete(parent)
    assert sobj(crm, "Account").get(child)["ParentId"] is None


def test_describe(crm: Salesforce) -> None:
    described = crm.describe()
    assert described is not None
    assert [s["name"] for s in described["sobjects"]] == ["Account"]
    account = sobj(crm, "Account").describe()
    fields = {f["name"]: f for f in account["fields"]}
    assert account["keyPrefix"] == "001" and account["createable"] is True
    assert fields["External_Id__c"]["externalId"] is True
    assert fields["ParentId"]["referenceTo"] == ["Account"]
    assert fields["ParentId"]["relationshipName"] == "Parent"
    assert fields["Id"]["createable"] is False
    segment = [p["value"] for p in fields["Segment__c"]["picklistValues"]]
    assert segment == ["Enterprise", "Mid-Market", "SMB"]
    assert sobj(crm, "Account").metadata()["objectDescribe"]["name"] == "Account"


def test_upsert_and_get_by_external_id(crm: Salesforce) -> None:
    key = "EXT 42+1 \u00e9"  # sent as simple-salesforce's get_by_custom_id sends it: quote_plus
    path = f"External_Id__c/{quote_plus(key)}"
    assert sobj(crm, "Account").upsert(path, {"Name": "Upserted"}) == 201
    record = sobj(crm, "Account").get_by_custom_id("External_Id__c", key)
    assert record["Name"] == "Upserted" and record["External_Id__c"] == key
    response = sobj(crm, "Account").upsert(path, {"Name": "Upserted again"}, raw_response=True)
    assert isinstance(response, requests.Response) and response.status_code == 200
    assert response.json() == {"id": record["Id"], "success": True, "errors": [], "created": False}
    assert sobj(crm, "Account").get(record["Id"])["Name"] == "Upserted again"
    with pytest.raises(SalesforceResourceNotFound):
        sobj(crm, "Account").get_by_custom_id("External_Id__c", "no such key")
    with pytest.raises(SalesforceResourceNotFound):
        sobj(crm, "Account").get_by_custom_id("Name", "Upserted again")  # not an external id
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sobj(crm, "Account").create({"Name": "Dup", "External_Id__c": key})
    assert content(caught)["errorCode"] == "DUPLICATE_VALUE"


def test_collections(crm: Salesforce) -> None:
    def account(name: str, **fields: Any) -> dict[str, Any]:
        return {"attributes": {"type": "Account"}, "Name": name, **fields}

    created = restful(
        crm,
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": False,
            "records": [account("Coll One"), account("Coll Two", Segment__c="Nope")],
        },
    )
    assert created[0]["success"] is True
    assert created[1]["success"] is False
    assert created[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    one = created[0]["id"]
    rolled = restful(
        crm,
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": True,
            "records": [account("Coll One Renamed", Id=one), account("x", Id="001000000000000AAA")],
        },
    )
    assert [r["success"] for r in rolled] == [False, False]
    assert rolled[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert sobj(crm, "Account").get(one)["Name"] == "Coll One"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        restful(
            crm,
            "composite/sobjects",
            method="POST",
            json={
                "records": [account(f"Too many {n}") for n in range(201)],
            },
        )
    assert content(caught)["errorCode"] == "EXCEEDED_ID_LIMIT"
    deleted = restful(crm, "composite/sobjects", method="DELETE", params={"ids": one})
    assert deleted == [{"id": one, "success": True, "errors": []}]


def test_daily_request_allocation(crm: Salesforce, urls: dict[str, str]) -> None:
    limits = crm.limits()["DailyApiRequests"]
    assert limits["Max"] == 100_000 and 0 < limits["Remaining"] < 100_000
    control(
        urls["CRM"],
        "POST",
        "/_sim/limits",
        {
            "enabled": True,
            "limits": {"DailyApiRequests": {"allocation": 50, "used": 49}},
        },
    )
    try:
        crm.query("SELECT Id FROM Account LIMIT 1")
        assert crm.api_usage["api-usage"].used == 50
        with pytest.raises(SalesforceRefusedRequest) as caught:
            crm.query("SELECT Id FROM Account LIMIT 1")
        assert content(caught)["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
        state = control(urls["CRM"], "GET", "/_sim/limits")["limits"]["DailyApiRequests"]
        assert state["used"] == 50 and state["refused"] == 1
    finally:
        control(urls["CRM"], "DELETE", "/_sim/limits")
    assert crm.limits()["DailyApiRequests"]["Max"] == 100_000


# -- the Contracts org --------------------------------------------------------------


def test_contracts_query_get_update(contracts: Salesforce) -> None:
    drafts = contracts.query_all(
        "SELECT Id, ContractNumber, Status, ContractTerm FROM Contract WHERE Status = 'Draft'"
    )["records"]
    assert drafts
    draft = drafts[0]
    record = sobj(contracts, "Contract").get(draft["Id"])
    assert record["ContractNumber"] == draft["ContractNumber"]
    new_term = (draft["ContractTerm"] or 12) + 12
    assert sobj(contracts, "Contract").update(draft["Id"], {"ContractTerm": new_term}) == 204
    assert sobj(contracts, "Contract").get(draft["Id"])["ContractTerm"] == new_term
    lines = contracts.query(
        "SELECT Id, Contract.ContractNumber, Contract.Status FROM ContractLineItem "
        f"WHERE ContractId = '{draft['Id']}'"
    )["records"]
    for line in lines:
        assert line["Contract"]["ContractNumber"] == draft["ContractNumber"]
    fields = {f["name"] for f in sobj(contracts, "Contract").describe()["fields"]}
    assert {"ContractNumber", "Version__c", "TotalValue__c"} <= fields
    described = contracts.describe()
    assert described is not None
    assert {s["name"] for s in described["sobjects"]} == {
        "Contract",
        "ContractLineItem",
        "ContractVersion__c",
    }


def test_contracts_delete_rules(contracts: Salesforce) -> None:
    activated = contracts.query("SELECT Id FROM Contract WHERE Status = 'Activated' LIMIT 1")
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sobj(contracts, "Contract").delete(activated["records"][0]["Id"])
    assert content(caught)["errorCode"] == "DELETE_FAILED"
    account = contracts.query("SELECT AccountId FROM Contract LIMIT 1")["records"][0]
    created = sobj(contracts, "Contract").create(
        {
            "AccountId": account["AccountId"],
            "Status": "Draft",
            "StartDate": "2026-02-01",
            "ContractTerm": 12,
        }
    )
    line = sobj(contracts, "ContractLineItem").create(
        {
            "ContractId": created["id"],
            "Product2Id": "P-1",
            "Quantity": 2,
            "UnitPrice": 10,
        }
    )
    assert sobj(contracts, "Contract").get(created["id"])["TotalValue__c"] == 240
    assert sobj(contracts, "ContractLineItem").delete(line["id"]) == 204
    assert sobj(contracts, "Contract").get(created["id"])["TotalValue__c"] == 0
    sobj(contracts, "ContractLineItem").create(
        {
            "ContractId": created["id"],
            "Product2Id": "P-1",
            "Quantity": 1,
            "UnitPrice": 1,
        }
    )
    assert sobj(contracts, "Contract").delete(created["id"]) == 204
    remaining = contracts.query(
        f"SELECT COUNT() FROM ContractLineItem WHERE ContractId = '{created['id']}'"
    )
    assert remaining["totalSize"] == 0
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sobj(contracts, "ContractVersion__c").delete("a0V000000000000AAA")
    assert content(caught)["errorCode"] == "INVALID_TYPE_FOR_OPERATION"
