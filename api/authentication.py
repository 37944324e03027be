"""Who is calling: API keys and JWTs in, an :class:`~domain.access.Identity` or a 401 out.

Callers send ``Authorization: Bearer <credential>``:

* an **API key** (``rg_...``, made by ``revgraph keys create``): checked
  against the hash of its secret in the store (:mod:`store.api_keys`); a lookup is
  trusted for ``api_key_cache_s`` seconds, so a revoked key stops working
  within that on every replica;
* a **JWT**, verified by :class:`~api.tokens.JwtVerifier` (HS256 with a shared
  secret, RS256/ES256 against a JWKS; issuer, audience, expiry, not-before).

:class:`AuthenticationMiddleware` applies it per route:

==================  =========================================================
``/graphql``        a credential is required (401 without one, unless
                    ``anonymous_role`` is set); then the caller's rate limit
                    (429 + ``Retry-After``, :mod:`api.quotas`). A browser's
                    GET of the page itself (GraphiQL) needs none: the page
                    asks for the key.
``/metrics``        ``admin`` (401 without a credential, 403 with another role)
``/readyz``         open, but only ``admin`` gets the details (per-dependency
                    checks, upstream errors); others get the status
``/healthz``,       open (webhooks prove themselves with their signatures)
``/webhooks/*``
==================  =========================================================

A 401 carries ``WWW-Authenticate: Bearer realm="revgraph"`` (with
``error="invalid_token"`` and a safe description when a credential was
presented but is not valid, RFC 6750) and a GraphQL-shaped body with
``extensions.code = UNAUTHENTICATED``. The credential itself is never echoed
or logged.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from api.middleware import send_error
from api.negotiation import accepts_html
from api.quotas import CallerQuotas, retry_after_header
from api.settings import AuthSettings
from api.tokens import InvalidToken, JwtVerifier
from domain.access import Identity, Role
from store.api_keys import ApiKeyRepository

__all__ = ["AuthenticationMiddleware", "Authenticator", "Unauthenticated"]

REALM = 'Bearer realm="revgraph"'
API_KEY_PREFIX = "rg_"
ANONYMOUS = "anonymous"
MAX_CACHED = 10_000


class Unauthenticated(Exception):
    """No usable credential; ``reason`` is safe to show, ``error`` is RFC 6750's code."""

    def __init__(self, reason: str, error: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error

    def www_authenticate(self) -> str:
        if self.error is None:
            return REALM
        description = self.reason.replace('"', "'")
        return f'{REALM}, error="{self.error}", error_description="{description}"'


class Authenticator:
    """Turns an ``Authorization`` header into an :class:`Identity` (see the module)."""

    def __init__(
        self,
        settings: AuthSettings,
        keys: ApiKeyRepository,
        tokens: JwtVerifier,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.tokens = tokens
        self.clock = clock
        self._keys: OrderedDict[str, tuple[float, Identity | None]] = OrderedDict()

    async def identify(self, authorization: str | None) -> Identity:
        """The caller, or :class:`Unauthenticated`."""
        if not authorization or not authorization.strip():
            role = self.settings.anonymous_role
            if role is None:
                raise Unauthenticated(
                    "Authentication required: send Authorization: Bearer <API key or JWT>."
                )
            return Identity(ANONYMOUS, frozenset({role}), via=ANONYMOUS, key_id=ANONYMOUS)
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise Unauthenticated(
                "Use Authorization: Bearer <API key or JWT>.", error="invalid_request"
            )
        if credential.startswith(API_KEY_PREFIX):
            return await self._api_key(credential)
        if not self.tokens.enabled:
            raise Unauthenticated("Not a valid API key.", error="invalid_token")
        try:
            identity = await self.tokens.verify(credential)
        except InvalidToken as exc:
            raise Unauthenticated(
                f"Token not valid: {exc.reason}.", error="invalid_token"
            ) from None
        return identity

    async def _api_key(self, secret: str) -> Identity:
        digest = hashlib.sha256(secret.encode()).hexdigest()
        now = self.clock()
        cached = self._keys.get(digest)
        if cached is not None and cached[0] > now:
            identity = cached[1]
        else:
            key = await self.keys.authenticate(secret)
            identity = key.identity if key is not None else None
            self._keys[digest] = (now + self.settings.api_key_cache_s, identity)
            self._keys.move_to_end(digest)
            if len(self._keys) > MAX_CACHED:
                self._keys.popitem(last=False)
        if identity is None:
            raise Unauthenticated(
                "Not a valid API key (unknown, revoked or expired).", error="invalid_token"
            )
        return identity

    async def aclose(self) -> None:
        await self.tokens.aclose()


class AuthenticationMiddleware:
    """Authenticates and rate-limits each request by route (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        state: dict[str, Any] = scope.setdefault("state", {})
        resources = state.get("resources")
        headers = _headers(scope)
        if resources is None or not _guarded(path, scope, headers):
            await self.app(scope, receive, send)
            return
        authorization = headers.get("authorization")
        authenticator: Authenticator = resources.authenticator
        try:
            identity = await authenticator.identify(authorization)
        except Unauthenticated as exc:
            if path == "/readyz" and not authorization:
                await self.app(scope, receive, send)  # the status only, no details
                return
            headers = {"www-authenticate": exc.www_authenticate()}
            await send_error(send, 401, "UNAUTHENTICATED", exc.reason, headers=headers)
            return
        if path == "/metrics" and not identity.has_any({Role.ADMIN}):
            await send_error(send, 403, "FORBIDDEN", "Metrics need the admin role.")
            return
        if path == "/graphql":
            quotas: CallerQuotas = resources.quotas
            wait = await quotas.admit(identity)
            if wait is not None:
                message = (
                    f"Too many requests for {identity.name}: retry after the Retry-After "
                    "header's seconds."
                )
                headers = {"retry-after": retry_after_header(wait)}
                await send_error(send, 429, "RATE_LIMITED", message, headers=headers)
                return
        state["identity"] = identity
        await self.app(scope, receive, send)


def _guarded(path: str, scope: Scope, headers: dict[str, str]) -> bool:
    """Whether ``path`` needs a look at the caller (see the module's table)."""
    if path in ("/metrics", "/readyz"):
        return True
    if path != "/graphql":
        return False
    # A browser asking for the page (no query): GraphiQL, or its 404, for anyone.
    if scope["method"] == "GET":
        query = scope.get("query_string", b"")
        asks = b"query=" in query or b"documentId=" in query
        return asks or not accepts_html(headers.get("accept"))
    return True


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
