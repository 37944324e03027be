"""GraphQL-over-HTTP compliance of ``/graphql``, over loopback against the demo stack.

One test per item of the ``graphql-http`` server audit (named ``test_<id>_...``
after it, MUST, SHOULD and MAY alike), then the spec's rules the audit does
not cover (415, 405 with Allow, 406, negotiation, GET parameters, charsets).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.demo import Stack

GQL = "application/graphql-response+json"
JSON = "application/json"
TYPENAME = {"query": "{ __typename }"}
COERCE_FAILURE = {"query": "query CoerceFailure($id: ID!){ __typename }", "variables": {"id": None}}
TYPE_QUERY = "query Type($name: String!) { __type(name: $name) { name } }"
UNKNOWN_FIELD = {"query": "{ 8f31403dfe404bccbb0e835f2629c6a7 }"}
# Everything of a type that is not what the parameter needs, as the audit sends them.
NOT_STRINGS = {"object": {"obj": "ect"}, "number": 0, "boolean": False, "array": ["array"]}
NOT_MAPS = {"string": "string", "number": 0, "boolean": False, "array": ["array"]}


@pytest.fixture(scope="module")
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        yield client


def post(
    http: httpx.Client,
    body: object = TYPENAME,
    *,
    accept: str | None = None,
    content_type: str | None = JSON,
    content: bytes | None = None,
) -> httpx.Response:
    headers = {}
    if accept is not None:
        headers["accept"] = accept
    if content_type is not None:
        headers["content-type"] = content_type
    data = content if content is not None else json.dumps(body).encode()
    return http.post("/graphql", content=data, headers=headers)


def get(http: httpx.Client, params: dict[str, str], accept: str | None = None) -> httpx.Response:
    return http.get("/graphql", params=params, headers={"accept": accept} if accept else {})


def body_of(response: httpx.Response) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(response.content.decode("utf-8"))
    return parsed


def assert_ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = body_of(response)
    assert "errors" not in body, body
    return body


# --- Media types -------------------------------------------------------------------


def test_22eb_accepts_graphql_response_json_and_matches_the_content_type(
    http: httpx.Client,
) -> None:
    response = post(http, accept=GQL)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{GQL}; charset=utf-8"
    assert body_of(response) == {"data": {"__typename": "Query"}}


def test_4655_accepts_application_json_and_matches_the_content_type(http: httpx.Client) -> None:
    response = post(http, accept=JSON)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{JSON}; charset=utf-8"


def test_47de_accepts_any_media_type_and_uses_application_json(http: httpx.Client) -> None:
    response = post(http, accept="*/*")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(JSON)


def test_80d8_assumes_application_json_when_accept_is_missing(http: httpx.Client) -> None:
    request = http.build_request("POST", "/graphql", content=json.dumps(TYPENAME).encode())
    del request.headers["accept"]
    request.headers["content-type"] = JSON
    response = http.send(request)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(JSON)


def test_82a3_responds_in_utf8(http: httpx.Client) -> None:
    response = post(http, {"query": '{ __type(name: "Run🏃Swim🏊") { name } }'})
    assert response.status_code == 200
    assert "charset=utf-8" in response.headers["content-type"]
    response.content.decode("utf-8")  # raises if it is not


def test_bf61_accepts_a_utf8_encoded_request(http: httpx.Client) -> None:
    response = post(
        http,
        content='{"query": "{ __type(name: \\"Run🏃Swim🏊\\") { name } }"}'.encode(),
        content_type="application/json; charset=utf-8",
    )
    assert assert_ok(response) == {"data": {"__type": None}}


def test_78d5_assumes_utf8_when_the_request_names_no_charset(http: httpx.Client) -> None:
    response = post(http, content='{"query": "{ __type(name: \\"Zoë\\") { name } }"}'.encode())
    assert assert_ok(response) == {"data": {"__type": None}}


# --- Requests ----------------------------------------------------------------------


def test_2c94_accepts_post(http: httpx.Client) -> None:
    assert_ok(post(http))


def test_5a70_accepts_url_encoded_get(http: httpx.Client) -> None:
    assert assert_ok(get(http, {"query": "{ __typename }"})) == {"data": {"__typename": "Query"}}


def test_9c48_does_not_execute_mutations_over_get(http: httpx.Client) -> None:
    response = get(http, {"query": "mutation { __typename }"}, accept=GQL)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert body_of(response)["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


def test_9abe_rejects_a_post_without_content_type(http: httpx.Client) -> None:
    response = post(http, content_type=None)
    assert response.status_code == 415
    assert body_of(response)["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_03d4_accepts_application_json_posts(http: httpx.Client) -> None:
    assert_ok(post(http, content_type=JSON))


def test_a5bf_uses_400_when_the_post_has_no_body(http: httpx.Client) -> None:
    response = post(http, content=b"")
    assert response.status_code == 400
    assert body_of(response)["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


# --- Request parameters -------------------------------------------------------------


def test_423l_uses_400_when_query_is_missing(http: httpx.Client) -> None:
    response = post(http, {"notquery": "{ __typename }"}, accept=GQL)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GQL)


@pytest.mark.parametrize(
    "invalid", NOT_STRINGS.values(), ids=[f"LKJ{i}-{k}" for i, k in enumerate(NOT_STRINGS)]
)
def test_lkj_uses_400_when_query_is_not_a_string(http: httpx.Client, invalid: object) -> None:
    response = post(http, {"query": invalid})
    assert response.status_code == 400
    assert "query" in body_of(response)["errors"][0]["message"]


def test_34a2_allows_a_string_query_when_accepting_graphql_response_json(
    http: httpx.Client,
) -> None:
    assert_ok(post(http, accept=GQL))


def test_13ee_allows_a_string_query_when_accepting_application_json(http: httpx.Client) -> None:
    assert_ok(post(http, accept=JSON))


@pytest.mark.parametrize(
    "invalid", NOT_STRINGS.values(), ids=[f"6C0{i}-{k}" for i, k in enumerate(NOT_STRINGS)]
)
def test_6c0_uses_400_when_operation_name_is_not_a_string(
    http: httpx.Client, invalid: object
) -> None:
    response = post(http, {"operationName": invalid, "query": "{ __typename }"})
    assert response.status_code == 400
    assert "operationName" in body_of(response)["errors"][0]["message"]


def test_8161_allows_a_string_operation_name_when_accepting_graphql_response_json(
    http: httpx.Client,
) -> None:
    body = {"operationName": "Query", "query": "query Query { __typename }"}
    assert_ok(post(http, body, accept=GQL))


def test_b8b3_allows_a_string_operation_name_when_accepting_application_json(
    http: httpx.Client,
) -> None:
    body = {"operationName": "Query", "query": "query Query { __typename }"}
    assert_ok(post(http, body, accept=JSON))


@pytest.mark.parametrize(
    "parameter", ["variables", "operationName", "extensions"], ids=["94B0", "94B1", "94B2"]
)
def test_94b_allows_null_parameters_when_accepting_graphql_response_json(
    http: httpx.Client, parameter: str
) -> None:
    assert_ok(post(http, {"query": "{ __typename }", parameter: None}, accept=GQL))


@pytest.mark.parametrize(
    "parameter", ["variables", "operationName", "extensions"], ids=["0220", "0221", "0222"]
)
def test_022_allows_null_parameters_when_accepting_application_json(
    http: httpx.Client, parameter: str
) -> None:
    assert_ok(post(http, {"query": "{ __typename }", parameter: None}, accept=JSON))


@pytest.mark.parametrize(
    "invalid", NOT_MAPS.values(), ids=[f"476{i}-{k}" for i, k in enumerate(NOT_MAPS)]
)
def test_476_uses_400_when_variables_is_not_a_map(http: httpx.Client, invalid: object) -> None:
    response = post(http, {"query": "{ __typename }", "variables": invalid})
    assert response.status_code == 400
    assert "variables" in body_of(response)["errors"][0]["message"]


def test_2ea1_allows_map_variables_when_accepting_graphql_response_json(
    http: httpx.Client,
) -> None:
    body = {"query": TYPE_QUERY, "variables": {"name": "Customer"}}
    assert assert_ok(post(http, body, accept=GQL)) == {"data": {"__type": {"name": "Customer"}}}


def test_28b9_allows_map_variables_when_accepting_application_json(http: httpx.Client) -> None:
    body = {"query": TYPE_QUERY, "variables": {"name": "sometype"}}
    assert assert_ok(post(http, body, accept=JSON)) == {"data": {"__type": None}}


def test_d6d5_allows_json_variables_in_get_when_accepting_graphql_response_json(
    http: httpx.Client,
) -> None:
    params = {"query": TYPE_QUERY, "variables": json.dumps({"name": "Invoice"})}
    assert assert_ok(get(http, params, accept=GQL)) == {"data": {"__type": {"name": "Invoice"}}}


def test_6a70_allows_json_variables_in_get_when_accepting_application_json(
    http: httpx.Client,
) -> None:
    params = {"query": TYPE_QUERY, "variables": json.dumps({"name": "sometype"})}
    assert assert_ok(get(http, params, accept=JSON)) == {"data": {"__type": None}}


@pytest.mark.parametrize(
    "invalid", NOT_MAPS.values(), ids=[f"58B{i}-{k}" for i, k in enumerate(NOT_MAPS)]
)
def test_58b_uses_400_when_extensions_is_not_a_map(http: httpx.Client, invalid: object) -> None:
    response = post(http, {"query": "{ __typename }", "extensions": invalid})
    assert response.status_code == 400
    assert "extensions" in body_of(response)["errors"][0]["message"]


def test_428f_allows_map_extensions_when_accepting_graphql_response_json(
    http: httpx.Client,
) -> None:
    assert_ok(post(http, {"query": "{ __typename }", "extensions": {"some": "value"}}, accept=GQL))


def test_1b7a_allows_map_extensions_when_accepting_application_json(http: httpx.Client) -> None:
    assert_ok(post(http, {"query": "{ __typename }", "extensions": {"some": "value"}}, accept=JSON))


def test_b6dc_bcf8_uses_400_on_json_parse_failure_when_accepting_application_json(
    http: httpx.Client,
) -> None:
    response = post(http, content=b'{ "not a JSON', accept=JSON)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(JSON)
    assert body_of(response)["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_b7n8_uses_400_on_json_parse_failure_when_accepting_graphql_response_json(
    http: httpx.Client,
) -> None:
    response = post(http, content=b'{ "not a JSON', accept=GQL)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GQL)


def test_8764_3e3a_uses_400_when_parameters_are_invalid(http: httpx.Client) -> None:
    response = post(http, {"qeury": "{ __typename }"})
    assert response.status_code == 400


# --- Responses under application/json ------------------------------------------------


def test_572b_uses_200_on_document_parse_failure_when_accepting_application_json(
    http: httpx.Client,
) -> None:
    response = post(http, {"query": "{"}, accept=JSON)
    assert response.status_code == 200
    body = body_of(response)
    assert "data" not in body  # nothing executed
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


def test_fde2_uses_200_on_document_validation_failure_when_accepting_application_json(
    http: httpx.Client,
) -> None:
    response = post(http, {"query": "{ nope }"}, accept=JSON)
    assert response.status_code == 200
    assert body_of(response)["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_7b9b_uses_200_on_variable_coercion_failure_when_accepting_application_json(
    http: httpx.Client,
) -> None:
    response = post(http, COERCE_FAILURE, accept=JSON)
    assert response.status_code == 200
    assert body_of(response)["errors"][0]["extensions"]["code"]


# --- Responses under application/graphql-response+json --------------------------------


def test_865d_556a_d586_uses_400_and_no_data_on_parse_failure_when_accepting_graphql_response(
    http: httpx.Client,
) -> None:
    response = post(http, {"query": "{"}, accept=GQL)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GQL)
    body = body_of(response)
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


def test_51fe_74ff_5e5b_uses_400_and_no_data_on_validation_failure_when_accepting_graphql_response(
    http: httpx.Client,
) -> None:
    response = post(http, UNKNOWN_FIELD, accept=GQL)
    assert response.status_code == 400
    body = body_of(response)
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"]


def test_86ee_uses_400_on_variable_coercion_failure_when_accepting_graphql_response_json(
    http: httpx.Client,
) -> None:
    response = post(
        http, {**COERCE_FAILURE, "query": "query C($id: ID!) { node(id: $id) { id } }"}, accept=GQL
    )
    assert response.status_code == 400
    body = body_of(response)
    assert "data" not in body
    assert "$id" in body["errors"][0]["message"]


def test_field_errors_keep_200_and_data_when_accepting_graphql_response_json(
    http: httpx.Client,
) -> None:
    response = post(http, {"query": '{ node(id: "not-an-id") { id } }'}, accept=GQL)
    assert response.status_code == 200
    body = body_of(response)
    assert body["data"] == {"node": None}
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# --- Rules of the spec beyond the audit -----------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/graphql",
        "application/json; charset=latin-1",
        "application/jsonx",
    ],
)
def test_post_with_an_unsupported_content_type_is_415(
    http: httpx.Client, content_type: str
) -> None:
    response = post(http, content_type=content_type)
    assert response.status_code == 415
    assert body_of(response)["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json;charset=UTF-8",
        'Application/JSON; charset="utf-8"',
        "application/json; charset=utf8",
    ],
)
def test_charset_spellings_of_utf8_are_accepted(http: httpx.Client, content_type: str) -> None:
    assert_ok(post(http, content_type=content_type))


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
def test_other_methods_are_405_with_allow(http: httpx.Client, method: str) -> None:
    response = http.request(method, "/graphql")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


def test_a_mutation_picked_by_operation_name_over_get_is_405(http: httpx.Client) -> None:
    document = "query Read { __typename } mutation Write { __typename }"
    # The query may go over GET ...
    read = get(http, {"query": document, "operationName": "Read"})
    assert read.status_code == 200
    assert body_of(read) == {"data": {"__typename": "Query"}}
    # ... the mutation is refused before anything is validated or executed.
    response = get(http, {"query": document, "operationName": "Write"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_get_takes_operation_name_and_json_extensions(http: httpx.Client) -> None:
    params = {
        "query": "query A { a: __typename } query B { b: __typename }",
        "operationName": "B",
        "extensions": json.dumps({"some": "value"}),
    }
    assert assert_ok(get(http, params)) == {"data": {"b": "Query"}}


@pytest.mark.parametrize(
    ("name", "value"),
    [("variables", "{nope"), ("variables", "[1]"), ("extensions", '"text"'), ("variables", "NaN")],
)
def test_get_with_malformed_json_parameters_is_400(
    http: httpx.Client, name: str, value: str
) -> None:
    response = get(http, {"query": "{ __typename }", name: value})
    assert response.status_code == 400
    assert name in body_of(response)["errors"][0]["message"]


def test_get_without_query_is_400_for_api_clients(http: httpx.Client) -> None:
    response = get(http, {}, accept=JSON)
    assert response.status_code == 400
    assert body_of(response)["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (f"{GQL}, {JSON};q=0.9", GQL),
        (f"{JSON}, {GQL}", GQL),
        (f"{GQL};q=0.5, {JSON}", JSON),
        (f"{JSON};q=0.9, */*;q=0.1", JSON),
        ("application/*", JSON),
        (f"text/html, {GQL};q=0.8", GQL),
        ("text/html,application/xhtml+xml,*/*;q=0.8", JSON),
        (f"{GQL};q=0, */*", JSON),
        (f"{GQL};charset=utf-8", GQL),
    ],
)
def test_content_negotiation(http: httpx.Client, accept: str, expected: str) -> None:
    response = post(http, accept=accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{expected}; charset=utf-8"


@pytest.mark.parametrize("accept", ["text/plain", "application/xml", f"{GQL};q=0, {JSON};q=0"])
def test_nothing_acceptable_is_406(http: httpx.Client, accept: str) -> None:
    response = post(http, accept=accept)
    assert response.status_code == 406
    assert response.headers["content-type"].startswith(JSON)
    assert body_of(response)["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"


@pytest.mark.parametrize(("accept", "status"), [(JSON, 200), (GQL, 400)])
def test_unknown_operation_name_is_a_request_error(
    http: httpx.Client, accept: str, status: int
) -> None:
    response = post(http, {"query": "query A { __typename }", "operationName": "B"}, accept=accept)
    assert response.status_code == status
    body = body_of(response)
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "OPERATION_RESOLUTION_FAILURE"
