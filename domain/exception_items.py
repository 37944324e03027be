"""Exception items: failed steps waiting for an operator, and their status rules.

A step that exhausts its retries or fails permanently opens an item in the queue
chosen by :func:`domain.exception_routing.route`. At most one unresolved item
exists per failed step: failing again updates it (one more attempt, the last
error). Statuses::

    OPEN ──► RETRYING ──► RESOLVED
      ▲         │            ▲
      └─────────┘ (fails     │
      │            again)    │
      └──────────────────────┘

``RESOLVED`` is final (with a note and who resolved it); a later failure of the
same step opens a new item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sources.systems import System

__all__ = [
    "EXCEPTION_TRANSITIONS",
    "ExceptionItem",
    "ExceptionPage",
    "ExceptionQueue",
    "ExceptionStatus",
    "exception_sources_of",
]


class ExceptionQueue(StrEnum):
    FINANCE_OPS = "FINANCE_OPS"
    """Postings, revenue schedules, amount variances."""
    SALES_OPS = "SALES_OPS"
    """Customer and contract data, validation errors."""
    PLATFORM = "PLATFORM"
    """Auth, timeouts, 5xx, systems unavailable."""


class ExceptionStatus(StrEnum):
    OPEN = "OPEN"
    RETRYING = "RETRYING"
    RESOLVED = "RESOLVED"


_E = ExceptionStatus
EXCEPTION_TRANSITIONS: dict[ExceptionStatus, frozenset[ExceptionStatus]] = {
    _E.OPEN: frozenset({_E.OPEN, _E.RETRYING, _E.RESOLVED}),
    _E.RETRYING: frozenset({_E.OPEN, _E.RESOLVED}),
    _E.RESOLVED: frozenset(),
}
"""For each status, the statuses an item may move to (OPEN → OPEN: failed again)."""


def exception_sources_of(target: ExceptionStatus) -> frozenset[ExceptionStatus]:
    """The statuses from which an item may move to ``target``."""
    return frozenset(s for s, targets in EXCEPTION_TRANSITIONS.items() if target in targets)


@dataclass(frozen=True)
class ExceptionItem:
    id: int
    queue: ExceptionQueue
    status: ExceptionStatus
    reason: str
    attempts: int
    """How often the step failed into this item."""
    subject: str
    correlation_id: str
    """The transaction whose step failed."""
    created_at: datetime
    updated_at: datetime
    step_no: int | None = None
    system: System | None = None
    action: str | None = None
    error_code: str | None = None
    last_error: str | None = None
    resolved_at: datetime | None = None
    resolution_note: str | None = None
    resolved_by: str | None = None


@dataclass(frozen=True)
class ExceptionPage:
    items: tuple[ExceptionItem, ...]
    next_after: str | None = field(default=None)
    """Pass as ``after`` for the next page; None on the last page."""
