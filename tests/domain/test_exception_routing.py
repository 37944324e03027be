"""Failed steps are routed to the queue of their business context."""

from __future__ import annotations

import pytest

from domain.exception_items import (
    EXCEPTION_TRANSITIONS,
    ExceptionQueue,
    ExceptionStatus,
    exception_sources_of,
)
from domain.exception_routing import (
    ACTION_AREAS,
    ErrorClass,
    Route,
    error_class_of,
    route,
)
from domain.transactions import StepAction
from sources.errors import (
    SourceAuthError,
    SourceCircuitOpen,
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

E = ErrorClass
A = StepAction
FINANCE, SALES, PLATFORM = (
    ExceptionQueue.FINANCE_OPS,
    ExceptionQueue.SALES_OPS,
    ExceptionQueue.PLATFORM,
)

CASES = [
    # posting and revenue steps: finance, unless the pipe broke
    (System.ERP, A.POST_INVOICE, E.VALIDATION, FINANCE),
    (System.ERP, A.POST_INVOICE, E.CONFLICT, FINANCE),
    (System.ERP, A.CREATE_REVENUE_SCHEDULE, E.VALIDATION, FINANCE),
    (System.ERP, A.REVISE_REVENUE_SCHEDULE, E.NOT_FOUND, FINANCE),
    (System.ERP, A.TRUNCATE_REVENUE_SCHEDULE, E.UNKNOWN, FINANCE),
    (System.ERP, A.RECOGNIZE_REVENUE, E.VALIDATION, FINANCE),
    (System.ERP, A.POST_INVOICE, E.TIMEOUT, FINANCE),
    (System.ERP, A.POST_INVOICE, E.AUTH, PLATFORM),
    (System.ERP, A.REVISE_REVENUE_SCHEDULE, E.UNAVAILABLE, FINANCE),
    # amount variances are finance's wherever they show up
    (System.BILLING, A.CREATE_SUBSCRIPTION, E.AMOUNT_VARIANCE, FINANCE),
    (System.ERP, A.POST_INVOICE, E.AMOUNT_VARIANCE, FINANCE),
    # customer and contract data rejected: sales ops
    (System.CRM, A.CREATE_ACCOUNT, E.VALIDATION, SALES),
    (System.CRM, A.UPDATE_ACCOUNT, E.NOT_FOUND, SALES),
    (System.CONTRACTS, A.ACTIVATE_CONTRACT, E.VALIDATION, SALES),
    (System.CONTRACTS, A.SUBMIT_CONTRACT, E.CONFLICT, SALES),
    (System.BILLING, A.CREATE_SUBSCRIPTION, E.VALIDATION, SALES),
    (System.BILLING, A.CREATE_BILLING_CUSTOMER, E.CONFLICT, SALES),
    (System.ERP, A.CREATE_ERP_CUSTOMER, E.VALIDATION, SALES),
    (System.CRM, "SOME_NEW_ACTION", E.VALIDATION, SALES),  # 4xx from CRM
    (System.CONTRACTS, "SOME_NEW_ACTION", "NOT_FOUND", SALES),
    # platform: auth, timeouts, 5xx, unavailable, anything unexplained
    (System.CRM, A.CREATE_ACCOUNT, E.AUTH, PLATFORM),
    (System.CONTRACTS, A.ACTIVATE_CONTRACT, E.TIMEOUT, PLATFORM),
    (System.BILLING, A.CREATE_SUBSCRIPTION, E.SERVER_ERROR, PLATFORM),
    (System.BILLING, A.UPDATE_SUBSCRIPTION, E.THROTTLED, PLATFORM),
    (System.CRM, A.UPDATE_ACCOUNT, E.QUOTA_EXHAUSTED, PLATFORM),
    (System.ERP, A.CREATE_ERP_CUSTOMER, E.RESPONSE_INVALID, PLATFORM),
    (System.CRM, A.CREATE_ACCOUNT, E.UNKNOWN, PLATFORM),
    (System.BILLING, "SOME_NEW_ACTION", E.VALIDATION, PLATFORM),
    (System.ERP, "SOME_NEW_ACTION", "SOMETHING_ODD", PLATFORM),
]


@pytest.mark.parametrize(("system", "action", "error", "queue"), CASES)
def test_route(system: System, action: str, error: str, queue: ExceptionQueue) -> None:
    assert route(system, action, error) == queue


def test_every_action_has_an_area() -> None:
    assert set(ACTION_AREAS) == set(StepAction)


ERRORS: list[tuple[SourceError, ErrorClass]] = [
    (SourceUnavailable(System.ERP, "refused"), E.UNAVAILABLE),
    (SourceCircuitOpen(System.ERP, "open"), E.UNAVAILABLE),
    (SourceTimeout(System.ERP, "slow"), E.TIMEOUT),
    (SourceThrottled(System.BILLING, "429", status=429), E.THROTTLED),
    (SourceQuotaExhausted(System.CRM, "daily"), E.QUOTA_EXHAUSTED),
    (SourceServerError(System.BILLING, "500", status=500), E.SERVER_ERROR),
    (SourceAuthError(System.CRM, "401", status=401), E.AUTH),
    (SourceRequestError(System.CONTRACTS, "400", status=400), E.VALIDATION),
    (SourceConflict(System.BILLING, "409", status=409), E.CONFLICT),
    (SourceResponseError(System.ERP, "shape"), E.RESPONSE_INVALID),
    (SourceNotFound(System.CRM, "404", status=404), E.NOT_FOUND),
]


@pytest.mark.parametrize(("error", "expected"), ERRORS)
def test_error_class_of_source_errors(error: SourceError, expected: ErrorClass) -> None:
    assert error_class_of(error) == expected


def test_error_class_of_anything_else_is_unknown() -> None:
    assert error_class_of(RuntimeError("boom")) == E.UNKNOWN


def test_a_custom_table_is_read_top_to_bottom() -> None:
    table = (Route(SALES, systems=frozenset({System.ERP})), Route(FINANCE))
    assert route(System.ERP, A.POST_INVOICE, E.TIMEOUT, table) == SALES
    assert route(System.CRM, A.POST_INVOICE, E.TIMEOUT, table) == FINANCE
    assert route(System.CRM, A.POST_INVOICE, E.TIMEOUT, ()) == PLATFORM


def test_exception_status_rules() -> None:
    assert EXCEPTION_TRANSITIONS[ExceptionStatus.RESOLVED] == frozenset()
    assert exception_sources_of(ExceptionStatus.RESOLVED) == {
        ExceptionStatus.OPEN,
        ExceptionStatus.RETRYING,
    }
    assert exception_sources_of(ExceptionStatus.RETRYING) == {ExceptionStatus.OPEN}
