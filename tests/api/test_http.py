"""The gateway's HTTP surface end to end: junk never gets a 500, correlation ids
flow from the client to the systems of record and back, GraphiQL, and the
masked 500 for whatever still escapes a route."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.demo import Stack
from api.graphiql import EXAMPLES, example, graphiql_html, render_page
from api.metrics import Metrics, MetricsMiddleware
from api.middleware import (
    CorrelationIdMiddleware,
    UnhandledErrorMiddleware,
    accepted_correlation_id,
)

HEADER = "X-Correlation-ID"
DEEP_PARENTS = (
    "{ node(id: $id) { ... on Customer { " + "parent { " * 20 + "id" + " }" * 20 + " } } }"
)


@pytest.fixture(scope="module")
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        yield client


def post_raw(http: httpx.Client, content: bytes, **headers: str) -> httpx.Response:
    return http.post(
        "/graphql", content=content, headers={"content-type": "application/json", **headers}
    )


def post_json(http: httpx.Client, body: Any) -> httpx.Response:
    return post_raw(http, json.dumps(body).encode())


def codes(response: httpx.Response) -> list[str]:
    """The ``extensions.code`` of every error; fails if any error has none."""
    body = response.json()
    assert body.get("errors"), body
    return [error["extensions"]["code"] for error in body["errors"]]


def assert_handled(response: httpx.Response) -> list[str]:
    """A 4xx, or a 200 whose errors are all typed; never a 5xx; always an id."""
    assert response.status_code < 500, response.text
    assert response.status_code == 200 or 400 <= response.status_code < 500
    assert response.headers[HEADER]
    found = codes(response)
    assert all(found), response.text
    return found


# --- Junk a client can send -----------------------------------------------------------

NESTED = 100_000  # deeper than any JSON decoder's stack

MALFORMED_BODIES = {
    "truncated JSON": b'{"query": ',
    "JSON array (batch)": b'[{"query": "{ __typename }"}]',
    "JSON string": b'"{ __typename }"',
    "JSON null": b"null",
    "JSON number": b"42",
    "empty body": b"",
    "not UTF-8": b'{"query": "{ \xff__typename }"}',
    "UTF-16": '{"query": "{ __typename }"}'.encode("utf-16"),
    "UTF-8 BOM": b'\xef\xbb\xbf{"query": "{ __typename }"}',
    "NaN variable": b'{"query": "{ __typename }", "variables": {"x": NaN}}',
    "integer too long to read": b'{"query": "{ __typename }", "variables": {"x": '
    + b"9" * 5000
    + b"}}",
    "variables nested past the decoder's stack": b'{"query": "{ __typename }", "variables": {"x": '
    + b"[" * NESTED
    + b"]" * NESTED
    + b"}}",
    "query is a number": b'{"query": 7}',
    "empty query": b'{"query": ""}',
}


@pytest.mark.parametrize("body", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES.keys())
def test_malformed_requests_are_400(http: httpx.Client, body: bytes) -> None:
    response = post_raw(http, body)
    assert response.status_code == 400, response.text
    assert assert_handled(response) == ["BAD_REQUEST"]


def test_a_body_over_the_limit_is_413(http: httpx.Client) -> None:
    padding = " " * (1024 * 1024)
    response = post_raw(http, f'{{"query": "{{ __typename }}{padding}"}}'.encode())
    assert response.status_code == 413
    assert assert_handled(response) == ["PAYLOAD_TOO_LARGE"]


def test_a_chunked_body_over_the_limit_is_413(http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"query": "{ __typename }", "pad": "'
        for _ in range(80):
            yield b"x" * 16_384
        yield b'"}'

    response = http.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


GRAPHQL_JUNK: dict[str, tuple[dict[str, Any], str]] = {
    "depth over the limit": (
        {"query": f"query Deep($id: ID!) {DEEP_PARENTS}", "variables": {"id": "x"}},
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "too many aliases": (
        {"query": "{ " + " ".join(f"a{i}: __typename" for i in range(40)) + " }"},
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "too many tokens": (
        {"query": "{ " + " ".join("__typename" for _ in range(6000)) + " }"},
        "GRAPHQL_PARSE_FAILED",
    ),
    "nesting past the parser's limit": (
        {"query": "{ a" + " { a" * 2000 + " }" * 2001},
        "GRAPHQL_PARSE_FAILED",
    ),
    "variable of the wrong type": (
        {
            "query": "query($first: Int) { customers(first: $first) { edges { node { id } } } }",
            "variables": {"first": "ten"},
        },
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "variable that is an object": (
        {"query": "query($id: ID!) { node(id: $id) { id } }", "variables": {"id": {"a": 1}}},
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "unknown operationName": (
        {"query": "query A { __typename }", "operationName": "Missing"},
        "OPERATION_RESOLUTION_FAILURE",
    ),
    "two anonymous operations": (
        {"query": "{ __typename } { __typename }"},
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "a subscription": ({"query": "subscription { x }"}, "GRAPHQL_VALIDATION_FAILED"),
    "a mutation the schema lacks": ({"query": "mutation { x }"}, "GRAPHQL_VALIDATION_FAILED"),
    "control characters": ({"query": "{ __typename \u0000 }"}, "GRAPHQL_PARSE_FAILED"),
}


@pytest.mark.parametrize(("body", "code"), GRAPHQL_JUNK.values(), ids=GRAPHQL_JUNK.keys())
def test_graphql_junk_gets_200_and_typed_errors(
    http: httpx.Client, body: dict[str, Any], code: str
) -> None:
    response = post_json(http, body)
    assert response.status_code == 200, response.text
    assert set(assert_handled(response)) == {code}
    assert "data" not in response.json()


def test_the_depth_limit_names_itself(http: httpx.Client) -> None:
    query, _ = GRAPHQL_JUNK["depth over the limit"]
    message = post_json(http, query).json()["errors"][0]["message"]
    assert "exceeds maximum operation depth" in message


def test_get_with_bytes_that_are_not_utf8_is_a_parse_error(http: httpx.Client) -> None:
    response = http.get("/graphql?query=%7B%20%FF__typename%20%7D")
    assert assert_handled(response) == ["GRAPHQL_PARSE_FAILED"]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "HEAD"])
def test_wrong_methods_are_405(http: httpx.Client, method: str) -> None:
    response = http.request(method, "/graphql")
    assert response.status_code == 405
    assert response.headers[HEADER]
    if method != "HEAD":
        assert codes(response) == ["METHOD_NOT_ALLOWED"]


def test_unknown_paths_are_404_with_an_id(http: httpx.Client) -> None:
    response = http.get("/nowhere")
    assert response.status_code == 404
    assert response.headers[HEADER]


# --- Correlation ids --------------------------------------------------------------------

CUSTOMERS_AND_CONTRACTS = (
    "{ customers(first: 3) { edges { node {"
    " id contracts(first: 2) { edges { node { id } } } } } } }"
)


def upstream_ids(stack: Stack, system: str) -> set[str]:
    log = httpx.get(f"{stack.simulator_urls[system]}/_sim/requests").json()["requests"]
    return {entry["headers"].get("x-correlation-id") for entry in log}


def test_the_callers_id_reaches_crm_and_contracts_and_comes_back(
    stack: Stack, http: httpx.Client
) -> None:
    sent = f"it-{uuid.uuid4().hex}"
    response = http.post(
        "/graphql", json={"query": CUSTOMERS_AND_CONTRACTS}, headers={HEADER: sent}
    )
    assert response.status_code == 200
    assert "errors" not in response.json()
    assert response.headers[HEADER] == sent
    assert sent in upstream_ids(stack, "CRM")
    assert sent in upstream_ids(stack, "CONTRACTS")


def test_a_generated_id_is_the_one_sent_upstream(stack: Stack, http: httpx.Client) -> None:
    response = http.post("/graphql", json={"query": CUSTOMERS_AND_CONTRACTS})
    generated = response.headers[HEADER]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert generated in upstream_ids(stack, "CRM")
    assert generated in upstream_ids(stack, "CONTRACTS")


def test_every_request_gets_its_own_generated_id(http: httpx.Client) -> None:
    ids = {http.get("/healthz").headers[HEADER] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize(
    "sane", ["abc", "0f9c2e1a-7b7e-4a53-9f8e-0d6c8e6d1a2b", "svc.checkout:42_x", "a" * 128]
)
def test_sane_ids_are_kept_on_errors_and_health(http: httpx.Client, sane: str) -> None:
    assert http.get("/healthz", headers={HEADER: sane}).headers[HEADER] == sane
    rejected = post_raw(http, b"{", **{HEADER: sane})
    assert rejected.status_code == 400
    assert rejected.headers[HEADER] == sane


@pytest.mark.parametrize(
    "insane",
    ["a" * 129, "two words", "semi;colon", 'quote"d', "caf\u00e9", "</script>", "a\tb"],
)
def test_insane_ids_are_replaced(http: httpx.Client, insane: str) -> None:
    response = http.get("/healthz", headers={HEADER.encode(): insane.encode("latin-1")})
    returned = response.headers[HEADER]
    assert returned != insane
    assert re.fullmatch(r"[0-9a-f]{32}", returned)


@pytest.mark.parametrize("insane", ["", "\x00", "a\x01b", "line\nbreak", "\x7f", "a" * 10_000])
def test_ids_with_control_characters_or_no_length_are_replaced(insane: str) -> None:
    # HTTP clients refuse to send most of these, so the rule is checked directly.
    assert re.fullmatch(r"[0-9a-f]{32}", accepted_correlation_id(insane))
    assert accepted_correlation_id(None) != accepted_correlation_id(None)


# --- GraphiQL ----------------------------------------------------------------------------


def tabs_in(page: str) -> list[dict[str, str]]:
    match = re.search(r"const tabs = (\[.*?\]);\n", page, flags=re.S)
    assert match, "the page defines its tabs"
    tabs: list[dict[str, str]] = json.loads(match.group(1))
    return tabs


def test_browsers_get_graphiql_with_the_examples_as_tabs(http: httpx.Client) -> None:
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = http.get("/graphql", headers={"accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers[HEADER]
    tabs = tabs_in(response.text)
    assert [tab["query"] for tab in tabs] == [example(name) for name in EXAMPLES]
    operations = [re.search(r"^(query|mutation) (\w+)", t["query"], flags=re.M) for t in tabs]
    assert [m.group(2) for m in operations if m] == [
        "QuoteToCash",
        "CustomerHierarchy",
        "InvoicesMissingArPosting",
        "Onboard",  # the writes tab opens on its first operation
        "ConsistencyDashboard",
    ]


def test_api_clients_do_not_get_graphiql(http: httpx.Client) -> None:
    response = http.get("/graphql", headers={"accept": "*/*"})
    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]


def test_no_document_can_break_out_of_the_script_element() -> None:
    hostile = [
        "</script><script>alert(1)</script>",
        "</SCRIPT >",
        "<!-- <script>",
        "a & b > c",
        "line\u2028separator",
    ]
    page = render_page(hostile)
    empty = render_page([])
    assert page.lower().count("</script") == empty.lower().count("</script")
    assert page.count("<!--") == empty.count("<!--")
    assert "\u2028" not in page
    assert [tab["query"] for tab in tabs_in(page)] == hostile


def test_the_served_page_is_the_rendered_examples() -> None:
    assert graphiql_html() == render_page([example(name) for name in EXAMPLES])


# --- The last line: an exception that escapes a route -----------------------------------


async def test_an_escaped_exception_is_a_masked_500_with_the_id_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError("secret detail")

    metrics = Metrics()
    app = Starlette(
        routes=[Route("/broken", broken)],
        middleware=[
            Middleware(CorrelationIdMiddleware),
            Middleware(UnhandledErrorMiddleware),
            Middleware(MetricsMiddleware, metrics=metrics),
        ],
    )
    transport = httpx.ASGITransport(app=app)
    caplog.set_level(logging.ERROR, logger="revgraph.errors")
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        response = await client.get("/broken", headers={HEADER: "corr-500"})
    assert response.status_code == 500
    assert response.headers[HEADER] == "corr-500"
    (error,) = response.json()["errors"]
    assert "secret" not in error["message"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    error_id = error["extensions"]["errorId"]
    assert error_id in error["message"]
    (record,) = [r for r in caplog.records if r.name == "revgraph.errors"]
    assert error_id in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)
    counted = metrics.http_requests.labels("/broken", "GET", "500")._value.get()
    assert counted == 1
