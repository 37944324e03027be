"""JWT bearer tokens: verification with PyJWT, against a shared secret or a JWKS.

:class:`JwtVerifier` turns a token into an :class:`~domain.access.Identity` or
raises :class:`InvalidToken` with a short reason (``expired``, ``bad signature``,
``wrong audience`` ...) that is safe to show a caller and to log: it never holds
the token, its claims or any key material.

Algorithms are an allow-list fixed by the configuration, never by the token:
``HS256`` only when ``jwt_secret`` is set, ``RS256``/``ES256`` only when a JWKS is
(``jwt_jwks_url`` or ``jwt_jwks_file``). ``alg: none`` is never accepted. The
header's ``alg`` picks the key *kind* and must agree with it: an HS256 token is
checked against the shared secret only, never against a JWKS key (a public RSA
key used as an HMAC secret is the classic algorithm-confusion forgery), and an
RS256/ES256 token only against a JWKS key of that same algorithm (PyJWT's
:class:`~jwt.PyJWK` binds each key to one algorithm and enforces it).

Claims: ``exp`` is required; ``nbf`` and ``iat`` are checked when present; all
three with ``jwt_leeway_s`` of clock skew. ``iss`` must equal ``jwt_issuer`` when
that is set. ``aud`` must contain ``jwt_audience`` when that is set; when it is
not, a token that carries an ``aud`` is refused (it was meant for someone else).
The caller's name is the ``jwt_name_claim`` (a non-empty string), its roles the
``jwt_roles_claim``: a list, or a string of names separated by spaces or commas
(OAuth's ``scope`` style). Either claim may be a dotted path into nested objects
(``realm_access.roles``); a top-level claim whose name itself contains dots
(``https://revgraph.example/roles``, Auth0's namespaced claims) is found first.

A token whose roles are all unknown to the gateway (or that has none) is refused
with ``no roles``: a signed token that grants nothing is treated as a failed
authentication rather than silently becoming an identity that can do nothing,
so misconfigured role mappings show up as 401s with a reason instead of as
puzzling permission errors on every field.

:class:`JwksSource` holds the JWKS keys: fetched from a URL or read from a file,
kept for ``jwks_cache_s``, fetched again on an unknown ``kid`` at most once per
``jwks_min_refresh_s`` (a flood of random ``kid`` values cannot hammer the
identity provider), concurrent refreshes coalesced into one fetch. A failed fetch
keeps the keys it had (logged as a warning); a ``kid`` still unknown then fails
with ``keys unavailable``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import jwt
from jwt import PyJWK

from api.settings import AuthSettings
from domain.access import Identity, parse_roles

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "InvalidToken",
    "JwksSource",
    "JwtVerifier",
    "parse_jwks",
]

log = logging.getLogger(__name__)

HMAC_ALGORITHM = "HS256"
ASYMMETRIC_ALGORITHMS: frozenset[str] = frozenset({"RS256", "ES256"})
"""What a JWKS key may verify; keys for anything else are ignored."""

FETCH_TIMEOUT_S = 5.0
MAX_JWKS_BYTES = 1024 * 1024
MAX_TOKEN_CHARS = 16 * 1024
MIN_SECRET_BYTES = 32
"""RFC 7518 3.2: an HS256 key is at least as long as the hash (256 bits)."""

_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_ROLE_SEPARATORS = re.compile(r"[\s,]+")

Clock = Callable[[], float]


class InvalidToken(Exception):
    """A bearer token that does not authenticate its caller.

    ``reason`` is short and safe to show and log (no token, claim values or keys).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_jwks(document: bytes | str) -> tuple[PyJWK, ...]:
    """The RS256/ES256 signing keys of a JWKS document.

    Keys of other types (``oct``, ``OKP``), for other algorithms (``RS384``...),
    for encryption (``use: enc``) or not for verifying (``key_ops``) are ignored,
    as are members that cannot be loaded; private members are dropped (only the
    public part is ever used). Raises ``ValueError`` for a document that is no
    JWKS or holds no usable key.
    """
    try:
        doc = json.loads(document)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("not JSON") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise ValueError("not a JWKS document (no 'keys' list)")
    keys: list[PyJWK] = []
    for entry in doc["keys"]:
        if not isinstance(entry, dict) or entry.get("kty") not in ("RSA", "EC"):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        ops = entry.get("key_ops")
        if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
            continue
        public = {name: value for name, value in entry.items() if name not in _PRIVATE_JWK_MEMBERS}
        try:
            key = PyJWK(public)
        except jwt.PyJWTError:
            continue
        if key.algorithm_name in ASYMMETRIC_ALGORITHMS:
            keys.append(key)
    if not keys:
        raise ValueError("no usable RS256/ES256 key")
    return tuple(keys)


class JwksSource:
    """The keys of a JWKS, from a URL or a file, cached and refreshed on demand.

    ``url`` is fetched with ``http`` (an ``httpx.AsyncClient``; one is created,
    and closed by :meth:`aclose`, when none is given), ``file`` read again on each
    refresh. ``fetches`` counts the attempts (successful or not).
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        file: Path | None = None,
        http: httpx.AsyncClient | None = None,
        cache_s: float = 300.0,
        min_refresh_s: float = 10.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if (url is None) == (file is None):
            raise ValueError("a JWKS source needs exactly one of url and file")
        self._url = url
        self._file = file
        self._own_http: httpx.AsyncClient | None = None
        if url is not None and http is None:
            http = self._own_http = httpx.AsyncClient(timeout=FETCH_TIMEOUT_S)
        self._http = http
        self._cache_s = cache_s
        self._min_refresh_s = min_refresh_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._keys: tuple[PyJWK, ...] = ()
        self._fetched_at: float | None = None
        """When the keys were last fetched successfully."""
        self._attempted_at: float | None = None
        self._failed = False
        """Whether the last attempt failed (the keys are then older ones, or none)."""
        self.fetches = 0

    @property
    def location(self) -> str:
        """The URL or file the keys come from (for logs)."""
        return self._url if self._url is not None else str(self._file)

    async def key(self, kid: str | None, algorithm: str) -> PyJWK:
        """The key ``kid`` for ``algorithm``, fetching the JWKS when due.

        Without a ``kid``, the only key of the set for ``algorithm`` (an issuer
        with a single key may leave ``kid`` out). Raises :class:`InvalidToken`:
        ``unknown key``, ``keys unavailable`` (the JWKS could not be fetched) or
        ``algorithm not allowed`` (``kid`` names a key of another algorithm).
        """
        # A fetch in flight is waited for (refresh() joins it): during a rotation
        # the burst of tokens with the new kid all get the keys the first one
        # asked for, instead of "unknown key" for all but the first.
        if self._stale(self._clock()) and (
            self._lock.locked() or self._may_fetch(self._clock(), unknown_kid=False)
        ):
            await self.refresh()
        key = self._find(kid, algorithm)
        if key is None and (
            self._lock.locked() or self._may_fetch(self._clock(), unknown_kid=True)
        ):
            await self.refresh()
            key = self._find(kid, algorithm)
        if key is None:
            raise InvalidToken("keys unavailable" if self._failed else "unknown key")
        return key

    async def refresh(self) -> None:
        """Fetch the keys now; callers waiting meanwhile share this one fetch.

        A failure is logged and keeps the keys fetched before.
        """
        attempts = self.fetches
        async with self._lock:
            if self.fetches != attempts:
                return  # another caller fetched while this one waited for the lock
            self._attempted_at = self._clock()
            try:
                keys = parse_jwks(await self._load())
            except (httpx.HTTPError, OSError, ValueError, TimeoutError) as exc:
                self._failed = True
                log.warning(
                    "JWKS from %s could not be loaded (%s: %s); keeping %d earlier key(s)",
                    self.location,
                    type(exc).__name__,
                    exc,
                    len(self._keys),
                )
            else:
                self._keys = keys
                self._fetched_at = self._clock()
                self._failed = False
            finally:
                self.fetches += 1

    async def aclose(self) -> None:
        """Close the HTTP client if this source created it."""
        if self._own_http is not None:
            await self._own_http.aclose()

    def _stale(self, now: float) -> bool:
        return self._fetched_at is None or now - self._fetched_at >= self._cache_s

    def _may_fetch(self, now: float, *, unknown_kid: bool) -> bool:
        """Whether a fetch is due: an expired cache may always fetch, unless the
        last attempt failed; an unknown ``kid`` or a retry after a failure only
        once per ``min_refresh_s``."""
        if self._attempted_at is None:
            return True
        if unknown_kid or self._failed:
            return now - self._attempted_at >= self._min_refresh_s
        return True

    def _find(self, kid: str | None, algorithm: str) -> PyJWK | None:
        if kid is None:
            candidates = [k for k in self._keys if k.algorithm_name == algorithm]
            return candidates[0] if len(candidates) == 1 else None
        for key in self._keys:
            if key.key_id == kid:
                if key.algorithm_name != algorithm:
                    raise InvalidToken("algorithm not allowed")
                return key
        return None

    async def _load(self) -> bytes:
        async with asyncio.timeout(FETCH_TIMEOUT_S):
            if self._file is not None:
                data = await asyncio.to_thread(self._file.read_bytes)
                if len(data) > MAX_JWKS_BYTES:
                    raise ValueError("JWKS larger than 1 MiB")
                return data
            assert self._http is not None and self._url is not None
            async with self._http.stream(
                "GET",
                self._url,
                headers={"Accept": "application/json"},
                timeout=FETCH_TIMEOUT_S,
            ) as response:
                response.raise_for_status()
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise ValueError("JWKS larger than 1 MiB")
                return bytes(body)


def claim(payload: Mapping[str, Any], path: str) -> object | None:
    """The claim ``path``: a top-level name, else a dotted path into nested objects."""
    value: object
    if path in payload:
        value = payload[path]
        return value
    value = payload
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def role_names(value: object) -> list[str]:
    """Role names from a claim value: a list of strings, or one string of names
    separated by spaces or commas; anything else holds none."""
    if isinstance(value, str):
        return [name for name in _ROLE_SEPARATORS.split(value) if name]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    return []


class JwtVerifier:
    """Verifies bearer JWTs as :mod:`AuthSettings <api.settings>` configures.

    ``http`` fetches a JWKS URL (one is created, and closed by :meth:`aclose`,
    when none is given); ``clock`` (monotonic seconds) times the JWKS cache.
    """

    def __init__(
        self,
        settings: AuthSettings,
        http: httpx.AsyncClient | None = None,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        if settings.jwt_jwks_url and settings.jwt_jwks_file:
            raise ValueError("set jwt_jwks_url or jwt_jwks_file, not both")
        self.settings = settings
        self._secret = settings.jwt_secret or None
        self.jwks: JwksSource | None = None
        if settings.jwt_jwks_url or settings.jwt_jwks_file:
            self.jwks = JwksSource(
                url=settings.jwt_jwks_url or None,
                file=settings.jwt_jwks_file,
                http=http,
                cache_s=settings.jwks_cache_s,
                min_refresh_s=settings.jwks_min_refresh_s,
                clock=clock,
            )
        allowed: set[str] = set()
        if self._secret is not None:
            allowed.add(HMAC_ALGORITHM)
            if len(self._secret.encode()) < MIN_SECRET_BYTES:
                log.warning(
                    "jwt_secret is shorter than %d bytes: HS256 tokens signed with it "
                    "can be brute-forced",
                    MIN_SECRET_BYTES,
                )
        if self.jwks is not None:
            allowed |= ASYMMETRIC_ALGORITHMS
        self.algorithms: frozenset[str] = frozenset(allowed)
        """The algorithms a token may be signed with."""

    @property
    def enabled(self) -> bool:
        """Whether JWTs are accepted at all (a secret or a JWKS is configured)."""
        return bool(self.algorithms)

    async def verify(self, token: str) -> Identity:
        """The caller ``token`` authenticates; :class:`InvalidToken` if it does not."""
        if not self.enabled:
            raise InvalidToken("jwt not configured")
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            raise InvalidToken("algorithm not allowed")
        key: PyJWK | str
        if algorithm == HMAC_ALGORITHM:
            assert self._secret is not None
            key = self._secret
        else:
            assert self.jwks is not None
            key = await self.jwks.key(header.get("kid"), algorithm)
        payload = self._decode(token, key, algorithm)
        name = claim(payload, self.settings.jwt_name_claim)
        if isinstance(name, int) and not isinstance(name, bool):
            name = str(name)
        if not isinstance(name, str) or not name.strip():
            raise InvalidToken("no name")
        name = name.strip()
        roles = parse_roles(role_names(claim(payload, self.settings.jwt_roles_claim)))
        if not roles:
            raise InvalidToken("no roles")
        return Identity(name=name, roles=roles, via="jwt", key_id=f"jwt:{name}")

    def _decode(self, token: str, key: PyJWK | str, algorithm: str) -> dict[str, Any]:
        settings = self.settings
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                options={"require": ["exp"]},
                audience=settings.jwt_audience or None,
                issuer=settings.jwt_issuer or None,
                leeway=settings.jwt_leeway_s,
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("not yet valid") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("wrong audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("wrong issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"missing {exc.claim}") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("bad signature") from None
        except jwt.InvalidAlgorithmError:
            raise InvalidToken("algorithm not allowed") from None
        except jwt.InvalidIssuedAtError:
            raise InvalidToken("bad iat") from None
        except jwt.DecodeError:
            raise InvalidToken("malformed") from None
        except jwt.PyJWTError:
            raise InvalidToken("invalid") from None
        return payload

    async def aclose(self) -> None:
        """Close the HTTP client if this verifier created it."""
        if self.jwks is not None:
            await self.jwks.aclose()
