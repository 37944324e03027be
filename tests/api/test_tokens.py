"""JWT verification (api/tokens.py) with real keys and signatures.

RSA and EC keys are generated here, tokens signed with PyJWT; JWKS documents are
served by a Starlette app on a real loopback socket (uvicorn in a thread), or
written to a file. The JWKS cache runs on a fake clock, so rotation, refresh
throttling and expiry are exact without sleeping.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import socket
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from api.settings import AuthSettings
from api.tokens import InvalidToken, JwksSource, JwtVerifier, parse_jwks
from domain.access import Identity, Role
from simulators.serving import BackgroundServers

SECRET = "hs256-test-secret-" + "0123456789abcdef" * 2
"""Long enough (>= 32 bytes) that PyJWT does not warn about the HMAC key length."""

RSA_A = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_B = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_C = ec.generate_private_key(ec.SECP256R1())
EC_P384 = ec.generate_private_key(ec.SECP384R1())
ED = ed25519.Ed25519PrivateKey.generate()

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

# ----------------------------------------------------------------------------- helpers


class FakeClock:
    """Monotonic seconds that move only when told to."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def public_jwk(key: PrivateKey, kid: str | None, **extra: Any) -> dict[str, Any]:
    """The public JWK of ``key``, as an identity provider publishes it."""
    jwk: dict[str, Any]
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwk["use"] = "sig"
    if kid is not None:
        jwk["kid"] = kid
    jwk.update(extra)
    return jwk


def jwks(*keys: object) -> dict[str, Any]:
    return {"keys": list(keys)}


def claims(**overrides: Any) -> dict[str, Any]:
    """A valid payload (alice, finance, five minutes left); None removes a claim."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": "alice",
        "roles": ["finance"],
        "iat": now,
        "exp": now + 300,
    }
    for name, value in overrides.items():
        if value is None:
            payload.pop(name, None)
        else:
            payload[name] = value
    return payload


def sign(
    payload: Mapping[str, Any],
    key: PrivateKey | str = SECRET,
    algorithm: str = "HS256",
    *,
    kid: str | None = None,
) -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(dict(payload), key, algorithm=algorithm, headers=headers)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unsigned(payload: Mapping[str, Any], alg: str = "none", **header: Any) -> str:
    """An ``alg: none`` token, crafted by hand (PyJWT would not verify one anyway)."""
    return f"{b64json({'alg': alg, 'typ': 'JWT', **header})}.{b64json(dict(payload))}."


def hmac_forged(payload: Mapping[str, Any], secret: bytes, **header: Any) -> str:
    """An HS256 token signed by hand with ``secret`` (PyJWT refuses a PEM as an
    HMAC key when signing, so the attacker does it themselves)."""
    signing_input = f"{b64json({'alg': 'HS256', 'typ': 'JWT', **header})}.{b64json(dict(payload))}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


async def refused(verifier: JwtVerifier, token: str) -> str:
    """The reason ``token`` is refused (and that the reason leaks nothing of it)."""
    with pytest.raises(InvalidToken) as info:
        await verifier.verify(token)
    message = str(info.value)
    assert message == info.value.reason
    for segment in token.split("."):
        if len(segment) >= 8:
            assert segment not in message
    return info.value.reason


def hs256(**settings: Any) -> JwtVerifier:
    return JwtVerifier(AuthSettings(jwt_secret=SECRET, **settings))


# ----------------------------------------------------------------------------- JWKS server


class JwksServer:
    """Serves ``document`` at ``/jwks.json`` (or ``status``), counting requests."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.status = 200
        self.delay_s = 0.0
        self.requests = 0
        self.url = ""

    def reset(self) -> None:
        self.document = {"keys": []}
        self.status = 200
        self.delay_s = 0.0
        self.requests = 0

    async def endpoint(self, request: Request) -> Response:
        self.requests += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.status != 200:
            return Response("unavailable", status_code=self.status)
        return JSONResponse(self.document)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/jwks.json", self.endpoint)])


@pytest.fixture(scope="module")
def jwks_http() -> Iterator[JwksServer]:
    server = JwksServer()

    async def build(urls: Mapping[str, str]) -> Mapping[str, ASGIApp]:
        return {"jwks": server.app()}

    background = BackgroundServers(build, {"jwks": 0}, name="jwks")
    server.url = background.start()["jwks"] + "/jwks.json"
    yield server
    background.stop()


@pytest.fixture
def idp(jwks_http: JwksServer) -> JwksServer:
    """The module's JWKS server, reset for this test."""
    jwks_http.reset()
    return jwks_http


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def over_http(
    idp: JwksServer,
    http: httpx.AsyncClient,
    clock: FakeClock,
    *,
    cache_s: float = 300.0,
    min_refresh_s: float = 10.0,
    **settings: Any,
) -> JwtVerifier:
    return JwtVerifier(
        AuthSettings(
            jwt_jwks_url=idp.url,
            jwks_cache_s=cache_s,
            jwks_min_refresh_s=min_refresh_s,
            **settings,
        ),
        http,
        clock=clock,
    )


# ----------------------------------------------------------------------------- HS256 and claims


async def test_valid_hs256_token_gives_an_identity() -> None:
    verifier = hs256()
    assert verifier.enabled
    assert verifier.algorithms == {"HS256"}
    identity = await verifier.verify(sign(claims(roles=["finance", "viewer"])))
    assert identity == Identity(
        name="alice",
        roles=frozenset({Role.FINANCE, Role.VIEWER}),
        via="jwt",
        key_id="jwt:alice",
    )


async def test_not_configured_refuses_every_token() -> None:
    verifier = JwtVerifier(AuthSettings())
    assert not verifier.enabled
    assert verifier.algorithms == frozenset()
    assert await refused(verifier, sign(claims())) == "jwt not configured"


def test_url_and_file_together_are_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        JwtVerifier(
            AuthSettings(jwt_jwks_url="http://idp.invalid/jwks", jwt_jwks_file=tmp_path / "j")
        )


def test_a_short_secret_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="api.tokens"):
        JwtVerifier(AuthSettings(jwt_secret="short"))
    assert "shorter than 32 bytes" in caplog.text
    assert "short" not in caplog.text.replace("shorter", "")


async def test_expired_token_is_refused_beyond_the_leeway() -> None:
    verifier = hs256(jwt_leeway_s=30)
    now = int(time.time())
    assert await refused(verifier, sign(claims(exp=now - 120))) == "expired"
    # within the leeway: still accepted
    assert (await verifier.verify(sign(claims(exp=now - 10)))).name == "alice"


async def test_not_yet_valid_beyond_the_leeway_is_refused_within_accepted() -> None:
    verifier = hs256(jwt_leeway_s=30)
    now = int(time.time())
    assert await refused(verifier, sign(claims(nbf=now + 300))) == "not yet valid"
    assert await refused(verifier, sign(claims(iat=now + 300))) == "not yet valid"
    assert (await verifier.verify(sign(claims(nbf=now + 10, iat=now + 10)))).name == "alice"


async def test_exp_is_required() -> None:
    assert await refused(hs256(), sign(claims(exp=None))) == "missing exp"


async def test_tampered_payload_fails_the_signature() -> None:
    verifier = hs256()
    token = sign(claims())
    header, payload, signature = token.split(".")
    # one character flipped in the middle of the payload segment
    i = len(payload) // 2
    flipped = payload[:i] + ("A" if payload[i] != "A" else "B") + payload[i + 1 :]
    assert await refused(verifier, f"{header}.{flipped}.{signature}") == "bad signature"
    # a privilege escalation: same header and signature, roles rewritten
    escalated = b64json(claims(roles=["admin"]))
    assert await refused(verifier, f"{header}.{escalated}.{signature}") == "bad signature"
    # signed with another secret
    other = sign(claims(), "another-secret-" + "f" * 32)
    assert await refused(verifier, other) == "bad signature"


async def test_audience() -> None:
    verifier = hs256(jwt_audience="revgraph")
    assert (await verifier.verify(sign(claims(aud="revgraph")))).name == "alice"
    assert (await verifier.verify(sign(claims(aud=["crm", "revgraph"])))).name == "alice"
    assert await refused(verifier, sign(claims(aud="crm"))) == "wrong audience"
    assert await refused(verifier, sign(claims())) == "missing aud"
    # no audience configured: a token meant for some audience is not for us
    assert await refused(hs256(), sign(claims(aud="revgraph"))) == "wrong audience"


async def test_issuer() -> None:
    verifier = hs256(jwt_issuer="https://idp.example")
    assert (await verifier.verify(sign(claims(iss="https://idp.example")))).name == "alice"
    assert await refused(verifier, sign(claims(iss="https://evil.example"))) == "wrong issuer"
    assert await refused(verifier, sign(claims())) == "missing iss"
    # not configured: any issuer
    assert (await hs256().verify(sign(claims(iss="https://any.example")))).name == "alice"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
async def test_alg_none_is_always_refused(alg: str, tmp_path: Path) -> None:
    file = tmp_path / "jwks.json"
    file.write_text(json.dumps(jwks(public_jwk(RSA_A, "a"))))
    both = JwtVerifier(AuthSettings(jwt_secret=SECRET, jwt_jwks_file=file))
    for verifier in (hs256(), both):
        assert await refused(verifier, unsigned(claims(), alg)) == "algorithm not allowed"
        assert await refused(verifier, unsigned(claims(), alg, kid="a")) == "algorithm not allowed"
    assert both.jwks is not None and both.jwks.fetches == 0  # refused before any key lookup


async def test_malformed_tokens() -> None:
    verifier = hs256()
    for token in ("", "abc", "a.b.c", "a.b", "!!!.???.***", "x" * 20_000):
        assert await refused(verifier, token) == "malformed"
    # a valid header over a payload that is no JSON object: signed, but not a JWT
    bad = jwt.api_jws.encode(b"[1, 2]", SECRET, algorithm="HS256")
    assert await refused(verifier, bad) == "malformed"


async def test_roles_from_a_space_or_comma_separated_string() -> None:
    verifier = hs256()
    spaced = await verifier.verify(sign(claims(roles="viewer finance")))
    assert spaced.roles == {Role.VIEWER, Role.FINANCE}
    commas = await verifier.verify(sign(claims(roles="viewer,approver, Sales_Ops")))
    assert commas.roles == {Role.VIEWER, Role.APPROVER, Role.SALES_OPS}


async def test_roles_from_a_nested_dotted_claim() -> None:
    verifier = hs256(jwt_roles_claim="realm_access.roles")
    token = sign(
        claims(
            roles=None,
            realm_access={"roles": ["offline_access", "approver", "uma_authorization"]},
        )
    )
    identity = await verifier.verify(token)
    assert identity.roles == {Role.APPROVER}
    # the path leads nowhere
    assert await refused(verifier, sign(claims(realm_access=["approver"]))) == "no roles"


async def test_a_namespaced_claim_with_dots_in_its_name() -> None:
    verifier = hs256(jwt_roles_claim="https://revgraph.example/roles")
    token = sign(claims(roles=None, **{"https://revgraph.example/roles": ["admin"]}))
    assert (await verifier.verify(token)).roles == {Role.ADMIN}


async def test_unknown_roles_are_ignored_and_none_known_is_refused() -> None:
    verifier = hs256()
    identity = await verifier.verify(sign(claims(roles=["viewer", "superuser", "root"])))
    assert identity.roles == {Role.VIEWER}
    assert await refused(verifier, sign(claims(roles=["superuser"]))) == "no roles"
    assert await refused(verifier, sign(claims(roles=None))) == "no roles"
    assert await refused(verifier, sign(claims(roles=[]))) == "no roles"
    assert await refused(verifier, sign(claims(roles={"admin": True}))) == "no roles"
    assert await refused(verifier, sign(claims(roles=[{"name": "admin"}]))) == "no roles"


async def test_name_claim() -> None:
    verifier = hs256(jwt_name_claim="preferred_username")
    identity = await verifier.verify(sign(claims(preferred_username="bob.smith")))
    assert (identity.name, identity.key_id) == ("bob.smith", "jwt:bob.smith")
    assert await refused(verifier, sign(claims())) == "no name"
    assert await refused(hs256(), sign(claims(sub=None))) == "no name"
    assert await refused(hs256(), sign(claims(sub="   "))) == "no name"


# ----------------------------------------------------------------------------- JWKS: RS256, ES256


async def test_valid_rs256_and_es256_tokens(
    idp: JwksServer, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    idp.document = jwks(public_jwk(RSA_A, "a"), public_jwk(EC_C, "c"))
    verifier = over_http(idp, http, clock)
    assert verifier.algorithms == {"RS256", "ES256"}
    rs = await verifier.verify(sign(claims(sub="rsa-user"), RSA_A, "RS256", kid="a"))
    es = await verifier.verify(sign(claims(sub="ec-user"), EC_C, "ES256", kid="c"))
    assert (rs.name, rs.via, rs.roles) == ("rsa-user", "jwt", frozenset({Role.FINANCE}))
    assert (es.name, es.key_id) == ("ec-user", "jwt:ec-user")
    assert idp.requests == 1  # one fetch, then the cache
    # signed by another key under a known kid
    assert await refused(verifier, sign(claims(), RSA_B, "RS256", kid="a")) == "bad signature"
    # an HS256 token is not accepted at all when only a JWKS is configured
    assert await refused(verifier, sign(claims())) == "algorithm not allowed"


async def test_hs256_signed_with_the_rsa_public_key_is_refused(
    idp: JwksServer, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    """The algorithm-confusion forgery: the public key used as an HMAC secret."""
    idp.document = jwks(public_jwk(RSA_A, "a"))
    forged = hmac_forged(claims(roles=["admin"]), public_pem(RSA_A), kid="a")
    jwks_only = over_http(idp, http, clock)
    assert await refused(jwks_only, forged) == "algorithm not allowed"
    # with a secret configured too, HS256 is checked against the secret only
    both = over_http(idp, http, clock, jwt_secret=SECRET)
    assert await refused(both, forged) == "bad signature"
    # the same with the JWK's own JSON as the "secret"
    as_json = json.dumps(public_jwk(RSA_A, "a")).encode()
    assert await refused(both, hmac_forged(claims(), as_json, kid="a")) == "bad signature"


async def test_the_header_algorithm_must_match_the_key(
    idp: JwksServer, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    idp.document = jwks(public_jwk(RSA_A, "a"), public_jwk(EC_C, "c"))
    verifier = over_http(idp, http, clock)
    # ES256 in the header, the kid of an RSA key (and the other way round)
    assert await refused(verifier, sign(claims(), EC_C, "ES256", kid="a")) == (
        "algorithm not allowed"
    )
    assert await refused(verifier, sign(claims(), RSA_A, "RS256", kid="c")) == (
        "algorithm not allowed"
    )
    # algorithms outside the allow-list, whatever the key
    assert await refused(verifier, sign(claims(), RSA_A, "RS512", kid="a")) == (
        "algorithm not allowed"
    )
    assert await refused(verifier, sign(claims(), RSA_A, "PS256", kid="a")) == (
        "algorithm not allowed"
    )
    assert idp.requests == 1


async def test_unusable_keys_in_the_jwks_are_ignored(
    idp: JwksServer, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    oct_key = {"kty": "oct", "kid": "h", "k": b64url(SECRET.encode())}
    idp.document = jwks(
        oct_key,
        public_jwk(ED, "ed"),
        public_jwk(RSA_B, "enc", use="enc"),
        public_jwk(RSA_B, "rs384", alg="RS384"),
        public_jwk(RSA_B, "wrap", key_ops=["wrapKey"]),
        public_jwk(EC_P384, "p384"),
        {"kty": "RSA", "kid": "broken", "n": "AQAB"},
        "not a key",
        public_jwk(RSA_A, "a"),
    )
    keys = parse_jwks(json.dumps(idp.document))
    assert [(k.key_id, k.algorithm_name) for k in keys] == [("a", "RS256")]

    verifier = over_http(idp, http, clock)
    assert (await verifier.verify(sign(claims(), RSA_A, "RS256", kid="a"))).name == "alice"
    # an HS256 token naming the oct key: HS256 is not allowed (no secret configured)
    assert await refused(verifier, sign(claims(), SECRET, "HS256", kid="h")) == (
        "algorithm not allowed"
    )
    assert await refused(verifier, sign(claims(), ED, "EdDSA", kid="ed")) == (
        "algorithm not allowed"
    )
    assert await refused(verifier, sign(claims(), EC_P384, "ES384", kid="p384")) == (
        "algorithm not allowed"
    )
    for kid in ("enc", "rs384", "wrap"):
        assert await refused(verifier, sign(claims(), RSA_B, "RS256", kid=kid)) == "unknown key"


def test_private_members_are_dropped_and_empty_sets_refused() -> None:
    private = RSAAlgorithm.to_jwk(RSA_A, as_dict=True)
    private["kid"] = "a"
    assert private["key_ops"] == ["sign"]  # as PyJWT exports it: not a verifying key
    with pytest.raises(ValueError):
        parse_jwks(json.dumps(jwks(private)))
    del private["key_ops"]
    (key,) = parse_jwks(json.dumps(jwks(private)))
    assert isinstance(key.key, rsa.RSAPublicKey)
    for document in ("{}", '{"keys": []}', "[]", "not json", json.dumps(jwks({"kty": "oct"}))):
        with pytest.raises(ValueError):
            parse_jwks(document)


async def test_key_rotation_over_http(
    idp: JwksServer, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    idp.document = jwks(public_jwk(RSA_A, "a"))
    verifier = over_http(idp, http, clock, cache_s=300, min_refresh_s=10)
    token_a = sign(claims(sub="a-user"), RSA_A, "RS256", kid="a")
    token_b = sign(claims(sub="b-user"), RSA_B, "RS256", kid="b")

    assert (await verifier.verify(token_a)).name == "a-user"
    assert (await verifier.verify(token_a)).name == "a-user"
    assert idp.requests == 1

    # The identity provider rotates: only key B is published now.
    idp.document = jwks(public_jwk(RSA_B, "b"))
    clock.advance(11)
    # Key A is still cached: its tokens verify until the cache is refreshed.
    assert (await verifier.verify(token_a)).name == "a-user"
    assert idp.requests == 1
    # An unknown kid fetches the JWKS again, which has key B.
    assert (await verifier.verify(token_b)).name == "b-user"
    assert idp.requests == 2
    # Key A is gone with that fetch.
    assert await refused(verifier, token_a) == "unknown key"
    assert idp.requests == 2  # within min_refresh_s of the last fetch: no new one


async def test_a_retired_key_fails_once_the_cache_expires(
    idp: JwksServer, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    idp.document = jwks(public_jwk(RSA_A, "a"), public_jwk(RSA_B, "b"))
    verifier = over_http(idp, http, clock, cache_s=300, min_refresh_s=10)
    token_a = sign(claims(), RSA_A, "RS256", kid="a")
    assert (await verifier.verify(token_a)).name == "alice"

    idp.document = jwks(public_jwk(RSA_B, "b"))  # A retired
    clock.advance(299)
    assert (await verifier.verify(token_a)).name == "alice"
    assert idp.requests == 1
    clock.advance(2)  # the cache has expired: fetched again, A is gone
    assert await refused(verifier, token_a) == "unknown key"
    assert idp.requests == 2
    assert (await verifier.verify(sign(claims(), RSA_B, "RS256", kid="b"))).name == "alice"
    assert idp.requests == 2


async def test_a_flood_of_unknown_kids_fetches_at_most_once_per_min_refresh(
    idp: JwksServer, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    idp.document = jwks(public_jwk(RSA_A, "a"))
    idp.delay_s = 0.05
    verifier = over_http(idp, http, clock, cache_s=300, min_refresh_s=10)
    assert (await verifier.verify(sign(claims(), RSA_A, "RS256", kid="a"))).name == "alice"
    assert idp.requests == 1

    clock.advance(11)
    flood = [sign(claims(), RSA_A, "RS256", kid=secrets.token_hex(8)) for _ in range(50)]
    results = await asyncio.gather(*(verifier.verify(t) for t in flood), return_exceptions=True)
    assert all(isinstance(r, InvalidToken) and r.reason == "unknown key" for r in results)
    assert idp.requests == 2  # one extra fetch for the whole concurrent flood
    for token in flood:  # and one after another, within min_refresh_s
        assert await refused(verifier, token) == "unknown key"
    assert idp.requests == 2
    # the known key kept working throughout
    assert (await verifier.verify(sign(claims(), RSA_A, "RS256", kid="a"))).name == "alice"

    clock.advance(10)  # min_refresh_s later, an unknown kid may fetch once more
    assert await refused(verifier, flood[0]) == "unknown key"
    assert await refused(verifier, flood[1]) == "unknown key"
    assert idp.requests == 3


async def test_concurrent_refreshes_coalesce_into_one_fetch(
    idp: JwksServer, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    idp.document = jwks(public_jwk(RSA_A, "a"))
    idp.delay_s = 0.1
    verifier = over_http(idp, http, clock, cache_s=300, min_refresh_s=10)
    token_a = sign(claims(), RSA_A, "RS256", kid="a")
    # a cold start: 20 requests at once, one fetch
    identities = await asyncio.gather(*(verifier.verify(token_a) for _ in range(20)))
    assert {i.name for i in identities} == {"alice"}
    assert idp.requests == 1

    # a rotation: a burst with the new kid all wait for the one fetch the first asked for
    idp.document = jwks(public_jwk(RSA_A, "a"), public_jwk(RSA_B, "b"))
    clock.advance(11)
    token_b = sign(claims(sub="b-user"), RSA_B, "RS256", kid="b")
    identities = await asyncio.gather(*(verifier.verify(token_b) for _ in range(20)))
    assert {i.name for i in identities} == {"b-user"}
    assert idp.requests == 2

    # the cache expires under load: one fetch
    clock.advance(301)
    identities = await asyncio.gather(*(verifier.verify(token_a) for _ in range(20)))
    assert len(identities) == 20
    assert idp.requests == 3


async def test_a_failed_fetch_keeps_the_keys(
    idp: JwksServer,
    http: httpx.AsyncClient,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    idp.document = jwks(public_jwk(RSA_A, "a"))
    verifier = over_http(idp, http, clock, cache_s=300, min_refresh_s=10)
    token_a = sign(claims(), RSA_A, "RS256", kid="a")
    token_b = sign(claims(sub="b-user"), RSA_B, "RS256", kid="b")
    assert (await verifier.verify(token_a)).name == "alice"

    idp.status = 503
    clock.advance(301)
    with caplog.at_level(logging.WARNING, logger="api.tokens"):
        assert (await verifier.verify(token_a)).name == "alice"  # the stale keys serve
    assert idp.requests == 2
    assert "could not be loaded" in caplog.text
    assert idp.url in caplog.text
    # an unknown kid cannot be looked up: keys unavailable, no new fetch yet
    assert await refused(verifier, token_b) == "keys unavailable"
    assert (await verifier.verify(token_a)).name == "alice"
    assert idp.requests == 2
    # retried once per min_refresh_s while it fails
    clock.advance(10)
    assert await refused(verifier, token_b) == "keys unavailable"
    assert (await verifier.verify(token_a)).name == "alice"
    assert idp.requests == 3
    # recovered, with key B
    idp.status = 200
    idp.document = jwks(public_jwk(RSA_B, "b"))
    clock.advance(10)
    assert (await verifier.verify(token_b)).name == "b-user"
    assert idp.requests == 4
    assert await refused(verifier, token_a) == "unknown key"


async def test_no_keys_at_all_when_the_first_fetch_fails(
    idp: JwksServer, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    idp.status = 500
    verifier = over_http(idp, http, clock)
    token = sign(claims(), RSA_A, "RS256", kid="a")
    assert await refused(verifier, token) == "keys unavailable"
    assert await refused(verifier, token) == "keys unavailable"
    assert idp.requests == 1
    # a document with no usable key is a failed fetch too
    idp.status = 200
    idp.document = jwks({"kty": "oct", "kid": "a", "k": b64url(SECRET.encode())})
    clock.advance(10)
    assert await refused(verifier, token) == "keys unavailable"
    assert idp.requests == 2


async def test_an_unreachable_jwks_url(clock: FakeClock) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    verifier = JwtVerifier(
        AuthSettings(jwt_jwks_url=f"http://127.0.0.1:{port}/jwks.json"), clock=clock
    )
    try:
        assert await refused(verifier, sign(claims(), RSA_A, "RS256", kid="a")) == (
            "keys unavailable"
        )
    finally:
        await verifier.aclose()


async def test_rotation_on_the_real_clock(idp: JwksServer) -> None:
    """The default clock (time.monotonic), with a short min_refresh_s."""
    idp.document = jwks(public_jwk(RSA_A, "a"))
    verifier = JwtVerifier(AuthSettings(jwt_jwks_url=idp.url, jwks_min_refresh_s=0.2))
    try:
        assert (await verifier.verify(sign(claims(), RSA_A, "RS256", kid="a"))).name == "alice"
        idp.document = jwks(public_jwk(RSA_B, "b"))
        await asyncio.sleep(0.25)
        token_b = sign(claims(), RSA_B, "RS256", kid="b")
        assert (await verifier.verify(token_b)).name == "alice"
        assert idp.requests == 2
    finally:
        await verifier.aclose()


async def test_aclose_closes_only_a_client_it_created(
    idp: JwksServer, http: httpx.AsyncClient
) -> None:
    idp.document = jwks(public_jwk(RSA_A, "a"))
    borrowed = JwtVerifier(AuthSettings(jwt_jwks_url=idp.url), http)
    await borrowed.aclose()
    assert not http.is_closed
    owned = JwtVerifier(AuthSettings(jwt_jwks_url=idp.url))
    assert (await owned.verify(sign(claims(), RSA_A, "RS256", kid="a"))).name == "alice"
    assert owned.jwks is not None
    own_client = owned.jwks._own_http
    assert own_client is not None and not own_client.is_closed
    await owned.aclose()
    assert own_client.is_closed
    await hs256().aclose()  # nothing to close


# ----------------------------------------------------------------------------- JWKS file


def write_jwks(path: Path, *keys: dict[str, Any]) -> None:
    path.write_text(json.dumps(jwks(*keys)))


async def test_jwks_file_with_rotation(tmp_path: Path, clock: FakeClock) -> None:
    file = tmp_path / "jwks.json"
    write_jwks(file, public_jwk(RSA_A, "a"), public_jwk(EC_C, "c"))
    verifier = JwtVerifier(
        AuthSettings(jwt_jwks_file=file, jwks_cache_s=300, jwks_min_refresh_s=10), clock=clock
    )
    source = verifier.jwks
    assert source is not None and source.location == str(file)
    token_a = sign(claims(), RSA_A, "RS256", kid="a")
    token_b = sign(claims(sub="b-user"), RSA_B, "RS256", kid="b")
    assert (await verifier.verify(token_a)).name == "alice"
    assert (await verifier.verify(sign(claims(), EC_C, "ES256", kid="c"))).name == "alice"
    assert source.fetches == 1

    write_jwks(file, public_jwk(RSA_B, "b"))  # rotated: A and C retired
    # within min_refresh_s of the last read, the new kid is not looked for yet
    assert await refused(verifier, token_b) == "unknown key"
    assert source.fetches == 1
    clock.advance(10)
    assert (await verifier.verify(token_b)).name == "b-user"
    assert source.fetches == 2
    assert await refused(verifier, token_a) == "unknown key"

    # a broken file keeps the keys read before
    file.write_text("{not json")
    clock.advance(301)
    assert (await verifier.verify(token_b)).name == "b-user"
    assert source.fetches == 3
    assert await refused(verifier, token_a) == "keys unavailable"
    # as does a file that has gone
    file.unlink()
    clock.advance(10)
    assert (await verifier.verify(token_b)).name == "b-user"
    assert source.fetches == 4
    await verifier.aclose()


async def test_a_single_key_without_kid(tmp_path: Path, clock: FakeClock) -> None:
    file = tmp_path / "jwks.json"
    write_jwks(file, public_jwk(RSA_A, None))
    verifier = JwtVerifier(AuthSettings(jwt_jwks_file=file), clock=clock)
    assert (await verifier.verify(sign(claims(), RSA_A, "RS256"))).name == "alice"
    # two keys for the algorithm and no kid: which one is ambiguous
    write_jwks(file, public_jwk(RSA_A, None), public_jwk(RSA_B, None))
    clock.advance(301)
    assert await refused(verifier, sign(claims(), RSA_A, "RS256")) == "unknown key"


async def test_jwks_source_refresh_and_arguments(tmp_path: Path, clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        JwksSource()
    with pytest.raises(ValueError):
        JwksSource(url="http://idp.invalid/jwks", file=tmp_path / "x")
    file = tmp_path / "jwks.json"
    write_jwks(file, public_jwk(RSA_A, "a"))
    source = JwksSource(file=file, clock=clock)
    await source.refresh()  # e.g. at start, so the first request does not wait
    assert source.fetches == 1
    assert (await source.key("a", "RS256")).key_id == "a"
    assert source.fetches == 1
