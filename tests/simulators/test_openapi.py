"""The simulators' OpenAPI documents: committed = generated = served, and live answers conform.

The conformance part runs schemathesis (a bounded number of generated requests)
against a few read operations of the running CRM and Contracts simulators and
checks status codes, content types, headers and bodies against the document.
"""

from __future__ import annotations

import json
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

from simulators.openapi import DOCUMENTS, OPENAPI_PATH, build, committed_path, dumps
from simulators.seed import generate
from tests.conftest import StartSimulators

TOKENS = {"CRM": "demo-crm-token", "CONTRACTS": "demo-contracts-token"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 20


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_committed_document_is_the_generated_one(name: str) -> None:
    path = committed_path(name)
    assert path.read_text(encoding="utf-8") == dumps(build(name)), (
        f"{path} is stale: run `python -m simulators.openapi`"
    )


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_document_loads_and_names_every_operation(name: str) -> None:
    document = build(name)
    assert document["openapi"].startswith("3.")
    schema = schemathesis.openapi.from_dict(document)
    operation_ids = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # raises on an invalid operation
        operation_ids.append(operation.definition.raw["operationId"])
    assert len(operation_ids) == len(set(operation_ids)) > 5


@pytest.fixture(scope="module")
def urls(start_simulators: StartSimulators) -> dict[str, str]:
    records = generate(40, seed=3).records
    return start_simulators(
        ("CRM", "CONTRACTS"), {"CRM": records["CRM"], "CONTRACTS": records["CONTRACTS"]}
    )


def ids(url: str, token: str, soql: str) -> list[str]:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        answer = client.get("/services/data/v60.0/query", params={"q": soql})
        answer.raise_for_status()
        return [r["Id"] for r in answer.json()["records"]]


@pytest.mark.parametrize("name", ["CRM", "CONTRACTS"])
def test_served_document_is_the_generated_one(urls: dict[str, str], name: str) -> None:
    served = httpx.get(urls[name] + OPENAPI_PATH).json()
    assert served == json.loads(dumps(build(name.lower())))


# (simulator, path, method, SOQL whose ids feed the {id}/ids parameters)
OPERATIONS = [
    ("CRM", "/services/data/v60.0/sobjects/Account/{id}", "GET", "SELECT Id FROM Account"),
    ("CRM", "/services/data/v60.0/query", "GET", None),
    ("CRM", "/services/data/v60.0/composite/sobjects/Account", "GET", "SELECT Id FROM Account"),
    ("CONTRACTS", "/services/data/v60.0/sobjects/Contract/{id}", "GET", "SELECT Id FROM Contract"),
    ("CONTRACTS", "/services/data/v60.0/query", "GET", None),
    (
        "CONTRACTS",
        "/services/data/v60.0/composite/sobjects/Contract",
        "GET",
        "SELECT Id FROM Contract",
    ),
]
QUERIES = {
    "CRM": [
        "SELECT Id, Name, ParentId, Parent.Name FROM Account",
        "SELECT Id, Segment__c, CreatedDate FROM Account WHERE ParentId = null LIMIT 3",
        "SELECT COUNT() FROM Account",
    ],
    "CONTRACTS": [
        "SELECT Id, ContractNumber, Status, TotalValue__c FROM Contract",
        "SELECT Id, Contract.ContractNumber, Quantity FROM ContractLineItem LIMIT 5",
    ],
}


@pytest.mark.parametrize(
    ("name", "path", "method", "soql"),
    OPERATIONS,
    ids=[f"{o[0]} {o[2]} {o[1]}" for o in OPERATIONS],
)
def test_live_answers_conform(
    urls: dict[str, str], name: str, path: str, method: str, soql: str | None
) -> None:
    url, token = urls[name], TOKENS[name]
    schema = schemathesis.openapi.from_dict(build(name.lower()))
    operation = schema[path][method]
    known = ids(url, token, soql) if soql else []
    overrides: dict[str, Any] = {}
    # Known ids and queries mixed with generated values, so answers are not all errors.
    if "{id}" in path:
        strategy = st.one_of(
            operation.as_strategy(),
            st.sampled_from(known).flatmap(
                lambda i: operation.as_strategy(path_parameters={"id": i})
            ),
        )
    elif path.endswith("/query"):
        strategy = st.one_of(
            operation.as_strategy(),
            st.sampled_from(QUERIES[name]).flatmap(lambda q: operation.as_strategy(query={"q": q})),
        )
    else:
        strategy = st.one_of(
            operation.as_strategy(),
            st.lists(st.sampled_from(known), min_size=1, max_size=5).flatmap(
                lambda chosen: operation.as_strategy(
                    query={"ids": ",".join(chosen), "fields": "Id,CreatedDate"}
                )
            ),
        )
    session = requests.Session()

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        case.call_and_validate(
            base_url=url,
            session=session,
            headers={"Authorization": f"Bearer {token}", **overrides},
            checks=CHECKS,
        )

    try:
        check()
    finally:
        session.close()
