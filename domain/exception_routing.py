"""Which exception queue a failed step goes to, by its business context.

Pure and table-driven: :data:`ROUTES` is read top to bottom and the first rule
that matches the failed step (its error class, its system, the business area of
its action) names the queue.

* **PLATFORM**: the call never got a business answer — auth, timeouts, 5xx,
  unavailable, throttled, a reply in an unexpected shape — on a customer or
  contract step; and a rejected credential on any step. Someone fixes the pipe,
  not the data.
* **FINANCE_OPS**: amount variances, and any other failure of a posting or
  revenue step (AR posting, revenue schedules, recognition), outages included:
  a schedule left unrevised is finance's month-end problem whatever broke.
* **SALES_OPS**: the system rejected customer or contract data (validation,
  conflict, a missing record), notably 4xx from CRM and Contracts.
* Anything else lands on PLATFORM: an unknown failure is for engineers first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from domain.exception_items import ExceptionQueue
from domain.transactions import StepAction
from sources.errors import (
    SourceAuthError,
    SourceConflict,
    SourceError,
    SourceNotFound,
    SourceQuotaExhausted,
    SourceRequestError,
    SourceResponseError,
    SourceServerError,
    SourceThrottled,
    SourceTimeout,
    SourceUnavailable,
)
from sources.systems import System

__all__ = [
    "ACTION_AREAS",
    "ROUTES",
    "Area",
    "ErrorClass",
    "Route",
    "error_class_of",
    "route",
]


class ErrorClass(StrEnum):
    """What went wrong, as the journal records it (``error_code`` of a failed step)."""

    UNAVAILABLE = "UNAVAILABLE"
    TIMEOUT = "TIMEOUT"
    THROTTLED = "THROTTLED"
    QUOTA_EXHAUSTED = "QUOTA_EXHAUSTED"
    SERVER_ERROR = "SERVER_ERROR"
    AUTH = "AUTH"
    RESPONSE_INVALID = "RESPONSE_INVALID"
    VALIDATION = "VALIDATION"
    CONFLICT = "CONFLICT"
    NOT_FOUND = "NOT_FOUND"
    AMOUNT_VARIANCE = "AMOUNT_VARIANCE"
    """Our own check: the amount a system holds differs from what the flow expected."""
    UNKNOWN = "UNKNOWN"


_CLASS_OF: tuple[tuple[type[SourceError], ErrorClass], ...] = (
    # Subclasses before their bases.
    (SourceQuotaExhausted, ErrorClass.QUOTA_EXHAUSTED),
    (SourceThrottled, ErrorClass.THROTTLED),
    (SourceUnavailable, ErrorClass.UNAVAILABLE),
    (SourceTimeout, ErrorClass.TIMEOUT),
    (SourceServerError, ErrorClass.SERVER_ERROR),
    (SourceAuthError, ErrorClass.AUTH),
    (SourceRequestError, ErrorClass.VALIDATION),
    (SourceConflict, ErrorClass.CONFLICT),
    (SourceResponseError, ErrorClass.RESPONSE_INVALID),
    (SourceNotFound, ErrorClass.NOT_FOUND),
)


def error_class_of(error: BaseException) -> ErrorClass:
    """The :class:`ErrorClass` of an exception raised by a step."""
    for cls, error_class in _CLASS_OF:
        if isinstance(error, cls):
            return error_class
    return ErrorClass.UNKNOWN


class Area(StrEnum):
    """The business area of a step's action."""

    CUSTOMER = "CUSTOMER"
    CONTRACT = "CONTRACT"
    FINANCE = "FINANCE"


_A = StepAction
ACTION_AREAS: dict[str, Area] = {
    **{
        a: Area.CUSTOMER
        for a in (
            _A.CREATE_ACCOUNT,
            _A.UPDATE_ACCOUNT,
            _A.CREATE_BILLING_CUSTOMER,
            _A.UPDATE_BILLING_CUSTOMER,
            _A.CREATE_ERP_CUSTOMER,
            _A.UPDATE_ERP_CUSTOMER,
        )
    },
    **{
        a: Area.CONTRACT
        for a in (
            _A.CREATE_CONTRACT,
            _A.UPDATE_CONTRACT,
            _A.SUBMIT_CONTRACT,
            _A.APPROVE_CONTRACT,
            _A.ACTIVATE_CONTRACT,
            _A.TERMINATE_CONTRACT,
            _A.CREATE_SUBSCRIPTION,
            _A.UPDATE_SUBSCRIPTION,
            _A.PAUSE_SUBSCRIPTION,
            _A.RESUME_SUBSCRIPTION,
            _A.CANCEL_SUBSCRIPTION,
        )
    },
    **{
        a: Area.FINANCE
        for a in (
            _A.CREATE_REVENUE_SCHEDULE,
            _A.REVISE_REVENUE_SCHEDULE,
            _A.TRUNCATE_REVENUE_SCHEDULE,
            _A.POST_INVOICE,
            _A.RECOGNIZE_REVENUE,
        )
    },
}
"""Each step action's business area; every :class:`StepAction` has one."""


@dataclass(frozen=True)
class Route:
    """A rule: every field that is set must match (None matches anything)."""

    queue: ExceptionQueue
    errors: frozenset[ErrorClass] | None = None
    systems: frozenset[System] | None = None
    areas: frozenset[Area] | None = None

    def matches(self, system: System, area: Area | None, error: ErrorClass) -> bool:
        return (
            (self.errors is None or error in self.errors)
            and (self.systems is None or system in self.systems)
            and (self.areas is None or (area is not None and area in self.areas))
        )


def _set(*values: ErrorClass) -> frozenset[ErrorClass]:
    return frozenset(values)


PLATFORM_ERRORS = _set(
    ErrorClass.UNAVAILABLE,
    ErrorClass.TIMEOUT,
    ErrorClass.THROTTLED,
    ErrorClass.QUOTA_EXHAUSTED,
    ErrorClass.SERVER_ERROR,
    ErrorClass.AUTH,
    ErrorClass.RESPONSE_INVALID,
)
DATA_ERRORS = _set(ErrorClass.VALIDATION, ErrorClass.CONFLICT, ErrorClass.NOT_FOUND)

_Q = ExceptionQueue
ROUTES: tuple[Route, ...] = (
    Route(_Q.PLATFORM, errors=_set(ErrorClass.AUTH)),
    Route(_Q.FINANCE_OPS, errors=_set(ErrorClass.AMOUNT_VARIANCE)),
    # Business context first: an amendment whose ERP schedule could not be revised
    # (ERP down) is finance's month-end risk, whatever broke the call.
    Route(_Q.FINANCE_OPS, areas=frozenset({Area.FINANCE})),
    Route(_Q.PLATFORM, errors=PLATFORM_ERRORS),
    Route(_Q.SALES_OPS, errors=DATA_ERRORS, areas=frozenset({Area.CUSTOMER, Area.CONTRACT})),
    Route(_Q.SALES_OPS, errors=DATA_ERRORS, systems=frozenset({System.CRM, System.CONTRACTS})),
    Route(_Q.PLATFORM),
)
"""Read top to bottom; the first matching rule names the queue (the last matches all)."""


def route(
    system: System,
    action: str,
    error: ErrorClass | str,
    routes: Iterable[Route] = ROUTES,
) -> ExceptionQueue:
    """The queue for a step of ``action`` on ``system`` that failed with ``error``.

    ``error`` is an :class:`ErrorClass` or its value (a journaled ``error_code``);
    an unknown code counts as ``UNKNOWN``.
    """
    try:
        error_class = ErrorClass(error)
    except ValueError:
        error_class = ErrorClass.UNKNOWN
    area = ACTION_AREAS.get(action)
    for rule in routes:
        if rule.matches(system, area, error_class):
            return rule.queue
    return ExceptionQueue.PLATFORM
