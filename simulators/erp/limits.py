"""NetSuite's account concurrency governance, as the ERP simulator enforces it when on.

An account may have a limited number of REST/SuiteQL requests in flight at
once: 5 on the shared service tier, 15 on tier 1, plus 10 per SuiteCloud Plus
license. ``GET/POST /_sim/limits`` shows and changes it::

    {"limits": {"AccountConcurrency": {"service_tier": "tier1",
                                       "suitecloud_plus_licenses": 1}}}   # 25

(``max_in_flight`` sets the limit directly). A request arriving while the
limit is used up gets 429 with NetSuite's error body, code
``CONCURRENCY_LIMIT_EXCEEDED``; the slot is held until the answer is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.types import Receive, Scope, Send

from simulators.erp.errors import error_response
from simulators.limits import ConcurrencyLimiter, LimitGate, Limits, LimitsConfigError

ACCOUNT_CONCURRENCY = "AccountConcurrency"
TIERS: dict[str, int] = {"shared": 5, "tier1": 15}
PER_LICENSE = 10
DETAIL = (
    "Request blocked by the request concurrency limit: the account has reached the maximum "
    "number of concurrent requests. Retry later; see Concurrency Governance in the NetSuite "
    "Help Center."
)


class AccountConcurrency(ConcurrencyLimiter):
    """A concurrency limit derived from the service tier and SuiteCloud Plus licenses."""

    def __init__(self, *, service_tier: str = "shared", licenses: int = 0) -> None:
        self.service_tier = service_tier
        self.licenses = licenses
        super().__init__(
            TIERS[service_tier] + PER_LICENSE * licenses,
            scope="account: 5 (shared tier), 15 (tier 1), +10 per SuiteCloud Plus license",
        )

    def settings(self) -> dict[str, Any]:
        return {
            **super().settings(),
            "service_tier": self.service_tier,
            "suitecloud_plus_licenses": self.licenses,
        }

    def configure(self, settings: Mapping[str, Any]) -> None:
        tier = settings.get("service_tier", self.service_tier)
        licenses = settings.get("suitecloud_plus_licenses", self.licenses)
        if tier not in TIERS:
            raise LimitsConfigError(f"service_tier must be one of {sorted(TIERS)}")
        if isinstance(licenses, bool) or not isinstance(licenses, int) or licenses < 0:
            raise LimitsConfigError("suitecloud_plus_licenses must be an integer >= 0")
        derived = dict(settings)
        if "max_in_flight" not in settings and (
            "service_tier" in settings or "suitecloud_plus_licenses" in settings
        ):
            derived["max_in_flight"] = TIERS[tier] + PER_LICENSE * licenses
        super().configure(derived)
        self.service_tier, self.licenses = tier, licenses


def netsuite_limits(*, enabled: bool) -> Limits:
    """The account's governance limits with NetSuite's defaults (shared tier)."""
    return Limits({ACCOUNT_CONCURRENCY: AccountConcurrency()}, enabled=enabled)


class ConcurrencyGate(LimitGate):
    """Holds one of the account's slots per request; 429 when none is free."""

    async def check(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter = self.limits.concurrency(ACCOUNT_CONCURRENCY)
        with limiter.slot(enforce=self.limits.enforced(ACCOUNT_CONCURRENCY)) as admitted:
            if not admitted:
                response = error_response(429, "CONCURRENCY_LIMIT_EXCEEDED", DETAIL)
                await response(scope, receive, send)
                return
            await self.app(scope, receive, send)
