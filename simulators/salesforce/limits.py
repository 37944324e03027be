"""Salesforce's API request allocation: counted per org, reported, enforced when on.

Every authenticated REST request counts against ``DailyApiRequests`` (100 000
a day by default, as an Enterprise org's base allocation) and every answer
carries ``Sforce-Limit-Info: api-usage=used/max``. With limits enforced, a
request past the allocation gets 403 REQUEST_LIMIT_EXCEEDED;
``GET /limits`` reports ``{"DailyApiRequests": {"Max", "Remaining"}, ...}``.
``POST /_sim/limits {"limits": {"DailyApiRequests": {"allocation": 10,
"used": 9}}}`` sets a small allocation or a usage near it.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from simulators.limits import Clock, DailyAllocation, LimitGate, Limits
from simulators.salesforce.errors import error_response

DAILY_API_REQUESTS = "DailyApiRequests"
DEFAULT_DAILY_ALLOCATION = 100_000
LIMIT_INFO_HEADER = "Sforce-Limit-Info"

# Reported by GET /limits as an org of the simulator's size would; not enforced.
_STATIC_LIMITS = {
    "DailyBulkApiBatches": 15_000,
    "DailyBulkV2QueryJobs": 10_000,
    "DailyAsyncApexExecutions": 250_000,
    "HourlyTimeBasedWorkflow": 1_000,
}


def salesforce_limits(*, enabled: bool, clock: Clock = time.time) -> Limits:
    """An org's limits, with Salesforce's defaults."""
    return Limits(
        {
            DAILY_API_REQUESTS: DailyAllocation(
                DEFAULT_DAILY_ALLOCATION, scope="org, per day", clock=clock
            )
        },
        enabled=enabled,
    )


def limit_info(limits: Limits) -> str:
    daily = limits.daily(DAILY_API_REQUESTS)
    return f"api-usage={daily.used}/{daily.allocation}"


def limits_resource(limits: Limits) -> dict[str, Any]:
    """The body of ``GET /services/data/vXX.X/limits``."""
    daily = limits.daily(DAILY_API_REQUESTS)
    body: dict[str, Any] = {
        DAILY_API_REQUESTS: {"Max": daily.allocation, "Remaining": daily.remaining}
    }
    body.update({name: {"Max": n, "Remaining": n} for name, n in _STATIC_LIMITS.items()})
    return body


class SalesforceLimitsGate(LimitGate):
    """Counts each request against the allocation and adds ``Sforce-Limit-Info``."""

    async def check(self, scope: Scope, receive: Receive, send: Send) -> None:
        admitted = self.limits.daily(DAILY_API_REQUESTS).consume(
            enforce=self.limits.enforced(DAILY_API_REQUESTS)
        )
        if not admitted:
            response = error_response(
                403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."
            )
            response.headers[LIMIT_INFO_HEADER] = limit_info(self.limits)
            await response(scope, receive, send)
            return
        header = (LIMIT_INFO_HEADER.lower().encode(), limit_info(self.limits).encode())

        async def send_with_usage(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        await self.app(scope, receive, send_with_usage)
