"""What ``/graphql`` serves and to whom: introspection, GraphiQL, CORS, trusted documents.

Each configuration is a gateway app of its own (``create_app``, served over
loopback by ``api.demo.start_gateway``) on the test stack's store and simulators.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.demo import GATEWAY, Stack, start_gateway
from api.documents import document_id
from api.lifespan import StartupError
from api.settings import ApiSettings, Settings

GQL = "application/graphql-response+json"
ALLOWED = "https://dash.example.com"
REFUSED = "https://evil.example.com"
INTROSPECTION = "{ __schema { queryType { name } } }"
TYPE_IN_FRAGMENT = 'query Types { ...T } fragment T on Query { t: __type(name: "Query") { name } }'
TYPENAME = "query Name { __typename }"
OWNERSHIP = "query Ownership {\n  ownership {\n    __typename\n  }\n}\n"


def serve(settings: Settings) -> Iterator[httpx.Client]:
    gateway = start_gateway(settings)
    try:
        with httpx.Client(base_url=gateway.urls[GATEWAY], timeout=30) as client:
            yield client
    finally:
        gateway.stop()


def build(stack: Stack, api: ApiSettings) -> Settings:
    """The stack's settings with ``api``, and no flow worker of its own."""
    flows = stack.settings.flows.model_copy(update={"worker": False})
    return stack.settings.model_copy(update={"api": api, "flows": flows})


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("documents")
    (directory / "name.graphql").write_text(TYPENAME, encoding="utf-8")
    (directory / "nested").mkdir()
    (directory / "nested" / "ownership.graphql").write_text(OWNERSHIP, encoding="utf-8")
    (directory / "README.md").write_text("not a document", encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def closed(stack: Stack) -> Iterator[httpx.Client]:
    """The defaults of ``serve`` (introspection and GraphiQL off), with a CORS allow-list."""
    settings = build(stack, ApiSettings(cors_origins=[ALLOWED]))
    yield from serve(settings)


@pytest.fixture(scope="module")
def open_(stack: Stack) -> Iterator[httpx.Client]:
    """Introspection and GraphiQL on, no CORS (the demo's settings)."""
    settings = build(stack, ApiSettings(introspection=True, graphiql=True))
    yield from serve(settings)


@pytest.fixture(scope="module")
def trusted(stack: Stack, documents: Path) -> Iterator[httpx.Client]:
    settings = build(stack, ApiSettings(trusted_documents_dir=documents))
    yield from serve(settings)


def errors_of(body: dict[str, Any]) -> list[str]:
    assert "data" not in body, body
    return [error["extensions"]["code"] for error in body["errors"]]


# --- Introspection --------------------------------------------------------------------


def test_introspection_is_answered_when_on(open_: httpx.Client) -> None:
    response = open_.post("/graphql", json={"query": INTROSPECTION})
    assert response.status_code == 200
    assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


@pytest.mark.parametrize("query", [INTROSPECTION, TYPE_IN_FRAGMENT], ids=["schema", "fragment"])
def test_introspection_is_a_typed_request_error_when_off(closed: httpx.Client, query: str) -> None:
    response = closed.post("/graphql", json={"query": query})
    assert response.status_code == 200
    assert errors_of(response.json()) == ["INTROSPECTION_DISABLED"]
    # The request-error rule: 400 under application/graphql-response+json.
    response = closed.post("/graphql", json={"query": query}, headers={"accept": GQL})
    assert response.status_code == 400
    assert response.headers["content-type"] == f"{GQL}; charset=utf-8"
    assert errors_of(response.json()) == ["INTROSPECTION_DISABLED"]
    # Over GET as well.
    response = closed.get("/graphql", params={"query": query})
    assert errors_of(response.json()) == ["INTROSPECTION_DISABLED"]


def test_typename_and_mentions_in_strings_stay_allowed(closed: httpx.Client) -> None:
    response = closed.post("/graphql", json={"query": "{ __typename }"})
    assert response.json() == {"data": {"__typename": "Query"}}
    # "__schema" inside a comment is no introspection.
    response = closed.post("/graphql", json={"query": "# __schema\n{ __typename }"})
    assert response.json() == {"data": {"__typename": "Query"}}


# --- GraphiQL -------------------------------------------------------------------------


def page_assets(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="(_graphiql/[^"]+)"', page)


def test_graphiql_is_served_when_on(open_: httpx.Client) -> None:
    page = open_.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assets = page_assets(page.text)
    assert assets
    assert all(open_.get("/" + url).status_code == 200 for url in assets)


def test_graphiql_and_its_assets_are_404_when_off(
    open_: httpx.Client, closed: httpx.Client
) -> None:
    assets = page_assets(open_.get("/graphql", headers={"accept": "text/html"}).text)
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = closed.get("/graphql", headers={"accept": browser})
    assert response.status_code == 404
    assert "<html" not in response.text
    assert errors_of(response.json()) == ["NOT_FOUND"]
    assert all(closed.get("/" + url).status_code == 404 for url in assets)
    # A query over GET still runs.
    response = closed.get("/graphql", params={"query": "{ __typename }"})
    assert response.json() == {"data": {"__typename": "Query"}}


# --- CORS -----------------------------------------------------------------------------


def preflight(client: httpx.Client, origin: str) -> httpx.Response:
    return client.options(
        "/graphql",
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, idempotency-key",
        },
    )


def test_a_preflight_from_an_allowed_origin_is_answered(closed: httpx.Client) -> None:
    response = preflight(closed, ALLOWED)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert set(response.headers["access-control-allow-methods"].split(", ")) == {
        "GET",
        "POST",
        "OPTIONS",
    }
    allowed = response.headers["access-control-allow-headers"].lower()
    for header in ("content-type", "authorization", "idempotency-key", "x-correlation-id"):
        assert header in allowed
    # The actual request: the browser may read the body and the correlation id.
    response = closed.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": ALLOWED}
    )
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-expose-headers"].lower() == "x-correlation-id"
    assert response.headers["x-correlation-id"]


def test_a_preflight_from_another_origin_is_refused(closed: httpx.Client) -> None:
    response = preflight(closed, REFUSED)
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    response = closed.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": REFUSED}
    )
    assert "access-control-allow-origin" not in response.headers


def test_no_cors_headers_without_an_allow_list(open_: httpx.Client) -> None:
    response = preflight(open_, ALLOWED)
    assert "access-control-allow-origin" not in response.headers
    assert response.status_code == 405  # OPTIONS is just another method to the view


# --- Trusted documents ----------------------------------------------------------------


def test_a_trusted_document_runs_by_id(trusted: httpx.Client) -> None:
    response = trusted.post("/graphql", json={"documentId": document_id(OWNERSHIP)})
    assert response.status_code == 200
    ownership = response.json()["data"]["ownership"]
    assert ownership and all(rule == {"__typename": "OwnershipRule"} for rule in ownership)
    response = trusted.get("/graphql", params={"documentId": document_id(TYPENAME)})
    assert response.json() == {"data": {"__typename": "Query"}}


def test_a_trusted_document_runs_by_apollo_persisted_query(trusted: httpx.Client) -> None:
    digest = document_id(TYPENAME).removeprefix("sha256:")
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    response = trusted.post("/graphql", json={"extensions": extensions})
    assert response.json() == {"data": {"__typename": "Query"}}


def test_the_exact_text_of_a_trusted_document_runs(trusted: httpx.Client) -> None:
    response = trusted.post("/graphql", json={"query": TYPENAME})
    assert response.json() == {"data": {"__typename": "Query"}}


def test_an_untrusted_query_is_refused_before_parsing(trusted: httpx.Client) -> None:
    for query in ("{ __typename }", "{ this does not even parse"):
        response = trusted.post("/graphql", json={"query": query})
        assert response.status_code == 200
        assert errors_of(response.json()) == ["PERSISTED_QUERY_REQUIRED"]
    response = trusted.post("/graphql", json={"query": "{ __typename }"}, headers={"accept": GQL})
    assert response.status_code == 400
    assert errors_of(response.json()) == ["PERSISTED_QUERY_REQUIRED"]


def test_an_unknown_id_is_not_found(trusted: httpx.Client) -> None:
    response = trusted.post("/graphql", json={"documentId": document_id("{ __typename }")})
    assert errors_of(response.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    response = trusted.post("/graphql", json={"extensions": extensions})
    assert errors_of(response.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


def test_a_query_that_is_not_its_id_is_400(trusted: httpx.Client) -> None:
    body = {"documentId": document_id(TYPENAME), "query": "{ __typename }"}
    response = trusted.post("/graphql", json=body)
    assert response.status_code == 400
    assert errors_of(response.json()) == ["BAD_REQUEST"]


def test_an_id_without_trusted_documents_is_not_supported(open_: httpx.Client) -> None:
    response = open_.post("/graphql", json={"documentId": document_id(TYPENAME)})
    assert errors_of(response.json()) == ["PERSISTED_QUERY_NOT_SUPPORTED"]


def test_a_bad_document_is_a_startup_error_naming_the_file(stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "good.graphql").write_text(TYPENAME, encoding="utf-8")
    bad = tmp_path / "bad.graphql"
    bad.write_text("query Bad { noSuchField }", encoding="utf-8")
    with pytest.raises(StartupError, match=re.escape(str(bad))):
        create_app(build(stack, ApiSettings(trusted_documents_dir=tmp_path)))
    bad.write_text("query Bad {", encoding="utf-8")
    with pytest.raises(StartupError, match=re.escape(str(bad)) + ": does not parse"):
        create_app(build(stack, ApiSettings(trusted_documents_dir=tmp_path)))
    with pytest.raises(StartupError, match="is not a directory"):
        create_app(build(stack, ApiSettings(trusted_documents_dir=tmp_path / "absent")))


# --- Settings -------------------------------------------------------------------------


def test_everything_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("INTROSPECTION", "GRAPHIQL", "CORS_ORIGINS", "TRUSTED_DOCUMENTS_DIR"):
        monkeypatch.delenv(f"REVGRAPH_API_{name}", raising=False)
    monkeypatch.delenv("REVGRAPH_SETTINGS_FILE", raising=False)
    assert Settings().api == ApiSettings(
        introspection=False, graphiql=False, cors_origins=[], trusted_documents_dir=None
    )


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("REVGRAPH_SETTINGS_FILE", raising=False)
    monkeypatch.setenv("REVGRAPH_API_INTROSPECTION", "true")
    monkeypatch.setenv("REVGRAPH_API_GRAPHIQL", "1")
    monkeypatch.setenv("REVGRAPH_API_CORS_ORIGINS", f'["{ALLOWED}", "http://localhost:3000"]')
    monkeypatch.setenv("REVGRAPH_API_TRUSTED_DOCUMENTS_DIR", str(tmp_path))
    assert Settings().api == ApiSettings(
        introspection=True,
        graphiql=True,
        cors_origins=[ALLOWED, "http://localhost:3000"],
        trusted_documents_dir=tmp_path,
    )


def test_the_demo_stack_has_introspection_and_graphiql_on(stack: Stack) -> None:
    assert stack.settings.api.introspection and stack.settings.api.graphiql
