"""Who may read and change what, end to end: credentials, roles, duties, limits, leaks.

A stack of its own that requires credentials (no anonymous role), with the
demo's API key per role; extra gateways on the same store and simulators try
JWTs and per-caller limits. The role-by-operation matrix is generated from the
schema: every mutation and every restricted field against every role.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLType,
)
from strawberry.types.base import StrawberryObjectDefinition

from api.demo import GATEWAY, Stack, start_gateway
from api.settings import AuthSettings, Settings
from domain.access import Role
from resolvers.permissions import RolePermission
from resolvers.schema import schema
from simulators.registry import SIMULATORS
from tests.conftest import own_stack

SECRET = "test-hs256-secret-of-enough-length-0123456789"
ISSUER = "https://idp.example.test"
AUDIENCE = "revgraph"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Credentials required; a key per role in ``stack.keys``."""
    running = own_stack(
        tmp_path_factory,
        "access",
        customers=4,
        seed=5,
        breakers=False,
        demo_keys=True,
    )
    yield running
    running.stop()


def call(
    url: str, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(
        url, json={"query": query, "variables": variables or {}}, headers=headers, timeout=60
    )


def gql(
    stack: Stack, role: Role, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = call(stack.graphql_url, query, variables, token=stack.keys[role])
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


# --- authentication ------------------------------------------------------------------------

QUERY = "query Names { customers(first: 2) { edges { node { name } } } }"


def test_no_credential_is_401_with_a_challenge(stack: Stack) -> None:
    response = call(stack.graphql_url, QUERY)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="revgraph"'
    assert codes(response.json()) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    "authorization",
    ["Bearer rg_key_000000000000_nope", "Basic dXNlcjpwYXNz", "Bearer not-a-jwt", "Bearer"],
)
def test_a_bad_credential_is_401_and_never_echoed(stack: Stack, authorization: str) -> None:
    response = httpx.post(
        stack.graphql_url, json={"query": QUERY}, headers={"Authorization": authorization}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="revgraph", error=')
    assert codes(response.json()) == ["UNAUTHENTICATED"]
    credential = authorization.partition(" ")[2]
    if credential:
        assert credential not in response.text


def test_a_revoked_key_stops_working(stack: Stack) -> None:
    import asyncio

    from store.api_keys import ApiKeyRepository
    from store.database import create_engine

    async def issue_and_revoke() -> str:
        engine = create_engine(stack.settings.database_url, schema=stack.settings.store_schema)
        try:
            keys = ApiKeyRepository(engine)
            key, secret = await keys.create("short-lived", Role.VIEWER)
            await keys.revoke(key.id)
            return secret
        finally:
            await engine.dispose()

    secret = asyncio.run(issue_and_revoke())
    assert call(stack.graphql_url, QUERY, token=secret).status_code == 401


def test_health_stays_open_and_readiness_details_need_admin(stack: Stack) -> None:
    assert httpx.get(f"{stack.gateway_url}/healthz").status_code == 200
    anonymous = httpx.get(f"{stack.gateway_url}/readyz")
    assert anonymous.status_code == 200 and anonymous.json() == {"status": "ready"}
    viewer = httpx.get(
        f"{stack.gateway_url}/readyz",
        headers={"Authorization": f"Bearer {stack.keys[Role.VIEWER]}"},
    )
    assert viewer.json() == {"status": "ready"}
    admin = httpx.get(
        f"{stack.gateway_url}/readyz", headers={"Authorization": f"Bearer {stack.keys[Role.ADMIN]}"}
    )
    assert set(admin.json()["checks"]) >= {"store", "CRM", "BILLING"}


def test_metrics_need_the_admin_role(stack: Stack) -> None:
    url = f"{stack.gateway_url}/metrics"
    assert httpx.get(url).status_code == 401
    viewer = httpx.get(url, headers={"Authorization": f"Bearer {stack.keys[Role.VIEWER]}"})
    assert viewer.status_code == 403
    admin = httpx.get(url, headers={"Authorization": f"Bearer {stack.keys[Role.ADMIN]}"})
    assert admin.status_code == 200 and "revgraph_" in admin.text


def test_the_graphiql_page_opens_without_a_key_and_starts_with_the_viewers(stack: Stack) -> None:
    page = httpx.get(stack.graphql_url, headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert stack.keys[Role.VIEWER] in page.text
    assert stack.keys[Role.ADMIN] not in page.text


# --- the role-by-operation matrix, from the schema ---------------------------------------------


def _strawberry_fields(type_name: str) -> dict[str, frozenset[Role] | None]:
    """GraphQL field name → admitted roles, for one object type of the schema."""
    definition = schema.get_type_by_name(type_name)
    assert isinstance(definition, StrawberryObjectDefinition), type_name
    found: dict[str, frozenset[Role] | None] = {}
    for field in definition.fields:
        name = schema.config.name_converter.get_graphql_name(field)
        declared = [p for p in field.permission_classes if issubclass(p, RolePermission)]
        found[name] = (
            frozenset({Role.ADMIN}).union(*(p.roles for p in declared)) if declared else None
        )
    return found


def test_every_root_field_and_mutation_declares_its_roles() -> None:
    undeclared = [
        f"{root}.{name}"
        for root in ("Query", "Mutation")
        for name, roles in _strawberry_fields(root).items()
        if roles is None
    ]
    assert undeclared == []


SENSITIVE = re.compile(r"(?i)(email|url|lasterror|errormessage|secret|token|password|^error)$")
"""Field names that hold an e-mail, a URL, an upstream error text or a secret."""


def _object_types() -> list[str]:
    return sorted(
        name
        for name, t in schema._schema.type_map.items()
        if not name.startswith("__")
        and name not in ("Query", "Mutation")
        and isinstance(schema.get_type_by_name(name), StrawberryObjectDefinition)
        and not schema.get_type_by_name(name).is_input  # type: ignore[union-attr]
    )


def test_every_sensitive_looking_field_declares_its_roles() -> None:
    """A new field holding an e-mail, a URL, an error text or a secret must say who sees it."""
    undeclared = [
        f"{type_name}.{name}"
        for type_name in _object_types()
        for name, roles in _strawberry_fields(type_name).items()
        if SENSITIVE.search(name) and roles is None
    ]
    assert undeclared == []


def _dummy(kind: GraphQLType) -> str:
    """A literal of ``kind`` that names nothing that exists (the call is refused or fails)."""
    if isinstance(kind, GraphQLNonNull):
        return _dummy(kind.of_type)
    if isinstance(kind, GraphQLList):
        return f"[{_dummy(kind.of_type)}]"
    if isinstance(kind, GraphQLEnumType):
        return str(next(iter(kind.values)))
    if isinstance(kind, GraphQLInputObjectType):
        required = [
            f"{name}: {_dummy(field.type)}"
            for name, field in kind.fields.items()
            if isinstance(field.type, GraphQLNonNull)
        ]
        return "{" + ", ".join(required) + "}"
    assert isinstance(kind, GraphQLScalarType), kind
    return {
        "Int": "0",
        "Float": "0",
        "Boolean": "false",
        "Date": '"2026-01-01"',
        "DateTime": '"2026-01-01T00:00:00Z"',
    }.get(kind.name, '"nonexistent"')


def _mutations() -> list[tuple[str, str, frozenset[Role]]]:
    """(name, document, admitted roles) for every mutation of the schema."""
    mutation_type = schema._schema.mutation_type
    assert mutation_type is not None
    declared = _strawberry_fields("Mutation")
    found = []
    for name, field in mutation_type.fields.items():
        arguments = ", ".join(
            f"{arg}: {_dummy(spec.type)}"
            for arg, spec in field.args.items()
            if isinstance(spec.type, GraphQLNonNull)
        )
        document = (
            f"mutation M {{ {name}{f'({arguments})' if arguments else ''} {{ __typename }} }}"
        )
        roles = declared[name]
        assert roles is not None, name
        found.append((name, document, roles))
    return found


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_every_mutation_against_every_role(stack: Stack, role: Role) -> None:
    outcomes: dict[str, bool] = {}
    for name, document, _ in _mutations():
        body = gql(stack, role, document)
        forbidden = "FORBIDDEN" in codes(body)
        if forbidden:
            assert body["data"] is None
        outcomes[name] = forbidden
    expected = {name: role not in roles for name, _, roles in _mutations()}
    assert outcomes == expected
    if role is Role.VIEWER:
        assert all(outcomes.values())  # a viewer changes nothing


TYPE_PATHS = {
    "Customer": "customers(first: 1) { edges { node { %s } } }",
    "SourceRef": "customers(first: 1) { edges { node { sources { %s } } } }",
    "SourceHealth": "sourceHealth { %s }",
    "TransactionStep": "transactions(first: 1) { edges { node { steps { %s } } } }",
    "ExceptionItem": "exceptions(first: 1) { edges { node { %s } } }",
    "ReconciliationRun": "reconciliationRun { %s }",
}
"""How to reach each type that has a restricted field (a new one must add its path)."""


def _restricted() -> list[tuple[str, str, frozenset[Role]]]:
    return [
        (type_name, name, roles)
        for type_name in _object_types()
        for name, roles in _strawberry_fields(type_name).items()
        if roles is not None and roles != frozenset(Role)
    ]


def _values(data: Any, field: str) -> list[Any]:
    """Every value of ``field`` in ``data``, at any depth."""
    if isinstance(data, dict):
        here = [data[field]] if field in data else []
        return here + [
            v for key, value in data.items() if key != field for v in _values(value, field)
        ]
    if isinstance(data, list):
        return [v for item in data for v in _values(item, field)]
    return []


@pytest.fixture(scope="module")
def history(stack: Stack) -> dict[str, Any]:
    """What the restricted fields need to exist: a transaction with a parked step and
    its exception item (billing down during an onboarding), and a reconciliation run."""
    url = stack.simulator_urls["BILLING"]
    httpx.post(f"{url}/_sim/faults", json={"down": True}).raise_for_status()
    try:
        body = gql(
            stack,
            Role.ADMIN,
            "mutation C($input: CreateCustomerInput!) { createCustomer(input: $input) "
            "{ correlationId transaction { status } } }",
            {"input": {"name": "Parked Onboarding", "currency": "USD"}},
        )
    finally:
        httpx.delete(f"{url}/_sim/faults")
    created = body["data"]["createCustomer"]
    assert created["transaction"]["status"] == "NEEDS_ATTENTION", body
    gql(stack, Role.ADMIN, "mutation R { runReconciliation { run { id } } }")
    for _ in range(100):
        run = gql(stack, Role.ADMIN, "query Q { reconciliationRun { status } }")
        if run["data"]["reconciliationRun"]["status"] != "RUNNING":
            break
        time.sleep(0.1)
    items = gql(
        stack,
        Role.ADMIN,
        "query E { exceptions(status: OPEN) { edges { node { id queue correlationId } } } }",
    )["data"]["exceptions"]["edges"]
    (item,) = [e["node"] for e in items if e["node"]["correlationId"] == created["correlationId"]]
    return {"item": item, "correlation_id": created["correlationId"]}


def test_restricted_fields_have_a_path_in_this_test() -> None:
    assert {type_name for type_name, _, _ in _restricted()} <= set(TYPE_PATHS)


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_every_restricted_field_against_every_role(
    stack: Stack, history: dict[str, Any], role: Role
) -> None:
    for type_name, field, roles in _restricted():
        body = gql(stack, role, "query F { " + TYPE_PATHS[type_name] % field + " }")
        values = _values(body["data"], field)
        assert values, f"{type_name}.{field}: nothing to check ({body})"
        denied = [e for e in body.get("errors", []) if e["extensions"]["code"] == "FORBIDDEN"]
        if role in roles:
            assert denied == [], f"{type_name}.{field} as {role}"
        else:
            assert values == [None] * len(values), f"{type_name}.{field} leaked to {role}"
            assert denied and all(e["path"][-1] == field for e in denied)
            assert all("admin" in e["message"] for e in denied)


def test_the_viewer_reads_but_sees_no_emails(stack: Stack) -> None:
    body = gql(
        stack,
        Role.VIEWER,
        "query V { customers(first: 4) { edges { node { name billingEmail } } } }",
    )
    nodes = [e["node"] for e in body["data"]["customers"]["edges"]]
    assert nodes and all(n["name"] for n in nodes)
    assert all(n["billingEmail"] is None for n in nodes)
    (denied,) = body["errors"]  # one error for the field, naming every object
    assert denied["extensions"]["code"] == "FORBIDDEN"
    assert denied["extensions"]["affected"] == len(nodes) == len(denied["extensions"]["paths"])
    assert "@" not in json.dumps(body["data"])
    admin = gql(
        stack, Role.ADMIN, "query A { customers(first: 4) { edges { node { billingEmail } } } }"
    )
    assert any(
        "@" in (e["node"]["billingEmail"] or "") for e in admin["data"]["customers"]["edges"]
    )


# --- segregation of duties and queues ----------------------------------------------------------

LIFECYCLE = """mutation L($id: ID!, $version: Int!) {{
  {action}Contract(id: $id, version: $version) {{
    userErrors {{ code message }} contract {{ status }}
  }}
}}"""

CREATE_CONTRACT = """mutation C($input: CreateContractInput!) {
  createContract(input: $input) { userErrors { code } contract { id } }
}"""


def _draft(stack: Stack, role: Role) -> str:
    customers = gql(
        stack, Role.VIEWER, "query C { customers(first: 1) { edges { node { id currency } } } }"
    )
    customer = customers["data"]["customers"]["edges"][0]["node"]
    body = gql(
        stack,
        role,
        CREATE_CONTRACT,
        {
            "input": {
                "customerId": customer["id"],
                "startDate": "2026-01-01",
                "termMonths": 12,
                "currency": customer["currency"],
                "lines": [{"productId": "PRD-A", "quantity": 1, "unitPrice": "10.00"}],
            }
        },
    )
    payload = body["data"]["createContract"]
    assert payload["userErrors"] == [], body
    return str(payload["contract"]["id"])


def _move(stack: Stack, role: Role, action: str, contract_id: str) -> dict[str, Any]:
    body = gql(stack, role, LIFECYCLE.format(action=action), {"id": contract_id, "version": 1})
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][f"{action}Contract"]
    return payload


def test_the_approver_cannot_approve_their_own_contract(stack: Stack) -> None:
    contract_id = _draft(stack, Role.ADMIN)  # admin holds every role, duties still apply
    assert _move(stack, Role.ADMIN, "submit", contract_id)["userErrors"] == []
    own = _move(stack, Role.ADMIN, "approve", contract_id)
    assert [e["code"] for e in own["userErrors"]] == ["SEGREGATION_OF_DUTIES"]
    assert own["contract"] is None
    other = _move(stack, Role.APPROVER, "approve", contract_id)
    assert other["userErrors"] == [] and other["contract"]["status"] == "Activated"
    log = gql(
        stack,
        Role.ADMIN,
        "query A($s: String) { auditLog(subject: $s) "
        "{ edges { node { actor mutation outcome } } } }",
        {"s": _raw(contract_id)},
    )
    approvals = [
        (n["actor"], n["outcome"])
        for e in log["data"]["auditLog"]["edges"]
        for n in (e["node"],)
        if n["mutation"] == "approveContract"
    ]
    assert approvals == [
        ("demo-approver", "ACCEPTED"),
        ("demo-admin", "REFUSED:SEGREGATION_OF_DUTIES"),
    ]


def _raw(global_id: str) -> str:
    from strawberry import relay

    return relay.GlobalID.from_id(global_id).node_id


RETRY = """mutation R($id: ID!) {
  retryException(id: $id) { userErrors { code message } exceptionItem { status } }
}"""


def test_exception_queues_decide_who_may_work_an_item(
    stack: Stack, history: dict[str, Any]
) -> None:
    item = history["item"]
    assert item["queue"] == "PLATFORM"
    for role in (Role.SALES_OPS, Role.FINANCE):
        refused = gql(stack, role, RETRY, {"id": item["id"]})["data"]["retryException"]
        assert [e["code"] for e in refused["userErrors"]] == ["FORBIDDEN"], role
    retried = gql(stack, Role.ADMIN, RETRY, {"id": item["id"]})["data"]["retryException"]
    assert retried["userErrors"] == [] and retried["exceptionItem"]["status"] == "RESOLVED"


def test_the_audit_log_is_for_admins_and_shows_refusals(stack: Stack) -> None:
    denied = gql(stack, Role.VIEWER, "query A { auditLog { edges { node { id } } } }")
    assert denied["data"] == {"auditLog": None} and codes(denied) == ["FORBIDDEN"]
    gql(stack, Role.VIEWER, 'mutation M { recognizeRevenue(period: "2026-01") { period } }')
    log = gql(
        stack,
        Role.ADMIN,
        'query A { auditLog(actor: "demo-viewer") { edges { node { role mutation outcome } } } }',
    )
    refused = [e["node"] for e in log["data"]["auditLog"]["edges"]]
    assert {
        "role": "viewer",
        "mutation": "recognizeRevenue",
        "outcome": "REFUSED:FORBIDDEN",
    } in refused


# --- nothing internal reaches a viewer --------------------------------------------------------

LEAK_QUERIES = (
    "query S { sourceHealth { system status url lastError errors } }",
    "query C { customers(first: 4) { edges { node { name billingEmail sources { system id url }"
    " contracts(first: 2) { edges { node { number } } } } } } }",
    "query T { transactions(first: 20) { edges { node { startedBy steps { system errorCode"
    " errorMessage } } } } }",
    "query E { exceptions(first: 20) { edges { node { reason errorCode lastError } } } }",
    "query R { reconciliationRun { status error } }",
)


def test_no_response_to_a_viewer_holds_an_upstream_url_or_credential(
    stack: Stack, history: dict[str, Any], fault: Any
) -> None:
    fault("CONTRACTS", error_rate=1.0)  # the contract system answers every call with an error
    texts = [
        call(stack.graphql_url, query, token=stack.keys[Role.VIEWER]).text for query in LEAK_QUERIES
    ]
    texts.append(httpx.get(f"{stack.gateway_url}/readyz").text)
    assert any("SOURCE_" in text for text in texts), texts  # the failure is reported
    hosts = {url.split("//", 1)[1] for url in stack.simulator_urls.values()}
    secrets = {spec.token for spec in SIMULATORS.values()} | {
        spec.webhook_secret for spec in SIMULATORS.values()
    }
    for text in texts:
        assert "127.0.0.1" not in text and "localhost" not in text
        assert not any(host in text for host in hosts)
        assert not any(secret in text for secret in secrets)
        assert "Bearer" not in text


# --- JWTs through the gateway ------------------------------------------------------------------


def _serve(settings: Settings) -> Iterator[str]:
    gateway = start_gateway(settings)
    try:
        yield f"{gateway.urls[GATEWAY]}/graphql"
    finally:
        gateway.stop()


def _rsa_jwk(kid: str) -> tuple[Any, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return key, {**public, "kid": kid, "alg": "RS256", "use": "sig"}


@pytest.fixture(scope="module")
def jwks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    first, first_jwk = _rsa_jwk("k1")
    second, second_jwk = _rsa_jwk("k2")
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps({"keys": [first_jwk]}))
    return {"path": path, "k1": first, "k2": second, "k2_jwk": second_jwk}


@pytest.fixture(scope="module")
def jwt_gateway(stack: Stack, jwks: dict[str, Any]) -> Iterator[str]:
    auth = AuthSettings(
        jwt_secret=SECRET,
        jwt_jwks_file=jwks["path"],
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_leeway_s=5,
        jwks_min_refresh_s=0,
    )
    flows = stack.settings.flows.model_copy(update={"worker": False})
    yield from _serve(stack.settings.model_copy(update={"auth": auth, "flows": flows}))


def _claims(sub: str, roles: list[str], **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": sub,
        "roles": roles,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        **extra,
    }


def _hs256(sub: str, roles: list[str], **extra: Any) -> str:
    return jwt.encode(_claims(sub, roles, **extra), SECRET, algorithm="HS256")


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_valid_token_reads(jwt_gateway: str) -> None:
    response = call(jwt_gateway, QUERY, token=_hs256("carol", ["viewer"]))
    assert response.status_code == 200 and response.json()["data"]["customers"]["edges"]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: _hs256("carol", ["viewer"], exp=int(time.time()) - 60), id="expired"),
        pytest.param(
            lambda: _hs256("carol", ["viewer"], nbf=int(time.time()) + 600), id="not-yet-valid"
        ),
        pytest.param(lambda: _hs256("carol", ["viewer"], aud="someone-else"), id="wrong-audience"),
        pytest.param(
            lambda: _hs256("carol", ["viewer"], iss="https://evil.test"), id="wrong-issuer"
        ),
        pytest.param(
            lambda: jwt.encode(
                _claims("carol", ["viewer"]), "other-secret-" * 4, algorithm="HS256"
            ),
            id="wrong-secret",
        ),
        pytest.param(
            lambda: (
                lambda t: (
                    t.split(".")[0]
                    + "."
                    + _b64(_claims("carol", ["admin"]))
                    + "."
                    + t.split(".")[2]
                )
            )(_hs256("carol", ["viewer"])),
            id="tampered",
        ),
        pytest.param(
            lambda: (
                _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(_claims("carol", ["admin"])) + "."
            ),
            id="alg-none",
        ),
    ],
)
def test_bad_tokens_are_401(jwt_gateway: str, make: Any) -> None:
    response = call(jwt_gateway, QUERY, token=make())
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert codes(response.json()) == ["UNAUTHENTICATED"]


def test_jwks_key_rotation(jwt_gateway: str, jwks: dict[str, Any]) -> None:
    def rs256(key: Any, kid: str) -> str:
        return jwt.encode(_claims("dave", ["viewer"]), key, algorithm="RS256", headers={"kid": kid})

    assert call(jwt_gateway, QUERY, token=rs256(jwks["k1"], "k1")).status_code == 200
    # The identity provider rotates: only k2 is published now.
    jwks["path"].write_text(json.dumps({"keys": [jwks["k2_jwk"]]}))
    assert call(jwt_gateway, QUERY, token=rs256(jwks["k2"], "k2")).status_code == 200
    assert call(jwt_gateway, QUERY, token=rs256(jwks["k1"], "k1")).status_code == 401


def test_segregation_of_duties_with_tokens_holding_two_roles(
    stack: Stack, jwt_gateway: str
) -> None:
    alice = _hs256("alice", ["sales_ops", "approver"])
    customers = call(
        jwt_gateway,
        "query C { customers(first: 1) { edges { node { id currency } } } }",
        token=alice,
    ).json()
    customer = customers["data"]["customers"]["edges"][0]["node"]
    created = call(
        jwt_gateway,
        CREATE_CONTRACT,
        {
            "input": {
                "customerId": customer["id"],
                "startDate": "2026-02-01",
                "termMonths": 6,
                "currency": customer["currency"],
                "lines": [{"productId": "PRD-B", "quantity": 2, "unitPrice": "5.00"}],
            }
        },
        token=alice,
    ).json()["data"]["createContract"]
    contract_id = created["contract"]["id"]
    submit = LIFECYCLE.format(action="submit")
    approve = LIFECYCLE.format(action="approve")
    variables = {"id": contract_id, "version": 1}
    assert (
        call(jwt_gateway, submit, variables, token=alice).json()["data"]["submitContract"][
            "userErrors"
        ]
        == []
    )
    own = call(jwt_gateway, approve, variables, token=alice).json()["data"]["approveContract"]
    assert [e["code"] for e in own["userErrors"]] == ["SEGREGATION_OF_DUTIES"]
    bob = _hs256("bob", ["approver"])
    other = call(jwt_gateway, approve, variables, token=bob).json()["data"]["approveContract"]
    assert other["userErrors"] == [] and other["contract"]["status"] == "Activated"


# --- per-caller limits ---------------------------------------------------------------------------


@pytest.fixture
def limited(stack: Stack, request: pytest.FixtureRequest) -> Iterator[str]:
    auth = AuthSettings(**request.param)
    flows = stack.settings.flows.model_copy(update={"worker": False})
    # Its own Redis prefix: the buckets start empty.
    yield from _serve(
        stack.settings.model_copy(
            update={
                "auth": auth,
                "flows": flows,
                "redis_prefix": f"{stack.settings.redis_prefix}{uuid.uuid4().hex[:6]}:",
            }
        )
    )


@pytest.mark.parametrize(
    "limited", [{"key_rate_per_s": 2, "key_burst": 3, "key_cost_per_min": 0}], indirect=True
)
def test_a_burst_over_the_callers_rate_gets_429_with_retry_after(
    stack: Stack, limited: str
) -> None:
    token = stack.keys[Role.VIEWER]
    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(lambda _: call(limited, QUERY, token=token), range(12)))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) == {200, 429}, statuses
    assert 3 <= statuses.count(200) <= 5
    for refused in (r for r in responses if r.status_code == 429):
        assert int(refused.headers["retry-after"]) >= 1
        assert codes(refused.json()) == ["RATE_LIMITED"]
    # Another caller has a bucket of its own.
    assert call(limited, QUERY, token=stack.keys[Role.FINANCE]).status_code == 200


@pytest.mark.parametrize("limited", [{"key_rate_per_s": 0, "key_cost_per_min": 10}], indirect=True)
def test_the_callers_cost_budget_per_minute(stack: Stack, limited: str) -> None:
    token = stack.keys[Role.VIEWER]
    while True:  # both calls in one minute window (the budget's)
        window = int(time.time() // 60)
        first = call(limited, QUERY, token=token)
        second = call(limited, QUERY, token=token)
        if int(time.time() // 60) == window:
            break
    assert first.status_code == 200 and first.json()["extensions"]["cost"]["requested"] > 5
    assert second.status_code == 429
    assert codes(second.json()) == ["COST_BUDGET_EXCEEDED"]
    assert 1 <= int(second.headers["retry-after"]) <= 60
    assert "data" not in second.json() or second.json()["data"] is None
