"""``sourceHealth``: what the gateway last saw of each system of record."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from enum import Enum

import strawberry

from resolvers.context import AppInfo
from resolvers.permissions import SeesInternals
from resolvers.sanitize import sanitize_optional
from sources.base import SourceHealth as Health
from sources.systems import System

RECENT_S = 60.0


@strawberry.enum(description="How a system of record looks from the gateway.")
class SourceStatus(Enum):
    UP = "UP"
    DEGRADED = "DEGRADED"
    DOWN = "DOWN"
    UNKNOWN = "UNKNOWN"


@strawberry.type
class SourceHealth:
    system: System
    status: SourceStatus
    url: str | None = strawberry.field(
        description="The base URL the gateway calls (admins only).",
        permission_classes=[SeesInternals],
    )
    requests: int
    errors: int
    last_latency_ms: float | None
    last_error: str | None = strawberry.field(
        description="The latest upstream error, sanitized (admins only).",
        permission_classes=[SeesInternals],
    )
    last_error_at: datetime | None
    last_ok_at: datetime | None


def status_of(health: Health, now: float) -> SourceStatus:
    """DOWN if the latest call failed, DEGRADED if one failed recently, else UP."""
    if health.requests == 0:
        return SourceStatus.UNKNOWN
    ok, err = health.last_ok_at or 0.0, health.last_error_at or 0.0
    if err > ok:
        return SourceStatus.DOWN
    if err and now - err < RECENT_S:
        return SourceStatus.DEGRADED
    return SourceStatus.UP


def _ts(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


def source_health(info: AppInfo) -> list[SourceHealth]:
    now = time.time()
    return [
        SourceHealth(
            system=client.system,
            status=status_of(client.health, now),
            url=client.config.base_url,
            requests=client.health.requests,
            errors=client.health.errors,
            last_latency_ms=client.health.last_latency_ms,
            last_error=sanitize_optional(client.health.last_error),
            last_error_at=_ts(client.health.last_error_at),
            last_ok_at=_ts(client.health.last_ok_at),
        )
        for client in info.context.clients.all()
    ]
