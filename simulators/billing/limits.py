"""Stripe's rate limiter, as the Billing simulator enforces it when limits are on.

Stripe's documented defaults (``GET/POST /_sim/limits`` shows and changes them):

* ``LiveModeOperations`` — 100 operations a second per account with live keys;
* ``TestModeOperations`` — 25 a second per account with test keys (``sk_test_``,
  ``rk_test_``; what the simulator's demo key is);
* ``EndpointRequests`` — 25 requests a second per endpoint (method and route);
* ``SearchReads`` — 20 Search API reads a second (``/v1/customers/search``).

A request over a limit is answered 429 with Stripe's body
``{"error": {"type": "invalid_request_error", "code": "rate_limit", "message":
...}}`` (stripe-python raises ``stripe.RateLimitError``), plus
``Stripe-Should-Retry: true`` and a ``Retry-After`` in whole seconds (Stripe
does not promise the latter; the simulator says when a token is back).
"""

from __future__ import annotations

import math
import secrets
import string
import time
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from simulators.billing.errors import json_response
from simulators.limits import Clock, LimitGate, Limits, TokenBucket

LIVE = "LiveModeOperations"
TEST = "TestModeOperations"
ENDPOINT = "EndpointRequests"
SEARCH = "SearchReads"
SEARCH_PATHS = ("/v1/customers/search",)
_ALPHABET = string.ascii_letters + string.digits
RATE_LIMIT_MESSAGE = (
    "Request rate limit exceeded. Learn more about rate limits here "
    "https://docs.stripe.com/rate-limits."
)


def stripe_limits(*, enabled: bool, clock: Clock = time.monotonic) -> Limits:
    """An account's rate limits with Stripe's defaults."""
    return Limits(
        {
            LIVE: TokenBucket(100, scope="account, live mode keys", clock=clock),
            TEST: TokenBucket(25, scope="account, test mode keys", clock=clock),
            ENDPOINT: TokenBucket(25, scope="per endpoint (method and route)", clock=clock),
            SEARCH: TokenBucket(20, scope="Search API reads", clock=clock),
        },
        enabled=enabled,
    )


def _test_mode(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return b"_test_" in value or b"sk_test" in value
    return True  # no key: counted with the (stricter) test mode


class StripeRateLimitGate(LimitGate):
    """Takes a token from the account's, the endpoint's (and Search's) bucket per request."""

    def __init__(self, app: ASGIApp, limits: Limits, routes: Sequence[BaseRoute]) -> None:
        super().__init__(app, limits)
        self.routes = routes

    def _endpoint(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return f"{scope['method']} {getattr(route, 'path', scope['path'])}"
        return f"{scope['method']} {scope['path']}"

    async def check(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.limits.enabled:
            await self.app(scope, receive, send)
            return
        checks = [(TEST if _test_mode(scope) else LIVE, "account")]
        checks.append((ENDPOINT, self._endpoint(scope)))
        if scope["path"] in SEARCH_PATHS and scope["method"] == "GET":
            checks.append((SEARCH, "search"))
        buckets = [
            (self.limits.rate(name), key) for name, key in checks if self.limits.enforced(name)
        ]
        wait: float | None = None
        # A request refused by one limit takes no token from the others.
        for bucket, key in buckets:
            if bucket.available(key) + 1e-9 < 1:
                wait = bucket.acquire(key)  # refused: counted, and how long until a token
                break
        if wait is None:
            for bucket, key in buckets:
                bucket.acquire(key)
            await self.app(scope, receive, send)
            return
        response = json_response(
            429,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "rate_limit",
                    "doc_url": "https://docs.stripe.com/error-codes/rate-limit",
                    "message": RATE_LIMIT_MESSAGE,
                }
            },
            headers={
                "Request-Id": "req_" + "".join(secrets.choice(_ALPHABET) for _ in range(14)),
                "Stripe-Should-Retry": "true",
                "Retry-After": str(max(1, math.ceil(wait))),
            },
        )
        await response(scope, receive, send)
