"""Transactions and their steps: the journal of one cross-system write.

A transaction (one per correlation id) is a mutation's whole flow, e.g.
ACTIVATE_CONTRACT: contract system → billing subscription → ERP revenue
schedule. Each call to a system is a step, journaled *before* the call
(``RUNNING``, one more attempt) and *after* it (``SUCCEEDED`` with the id it
created there, or ``FAILED`` with the error), so the journal always says which
systems have the change and which do not. The store persists these types
(:mod:`store.journal`); the rules for status changes live here.

Transaction statuses::

    PENDING ──► RUNNING ──► COMPLETED          (finished: never reopened)
       │           │  ▲ └──► FAILED             (finished: never reopened)
       │           ▼  │
       └────► NEEDS_ATTENTION ──► COMPLETED | FAILED

``NEEDS_ATTENTION`` is parked, not finished: a step exhausted its retries and an
exception item waits for an operator; ``retryException`` moves it back to
``RUNNING``. Step statuses: ``PENDING → RUNNING → SUCCEEDED | FAILED``;
a ``FAILED`` step (or a ``RUNNING`` one whose worker died) may start again,
a ``SUCCEEDED`` step never does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sources.systems import System

__all__ = [
    "FINISHED",
    "STEP_TRANSITIONS",
    "TRANSACTION_TRANSITIONS",
    "DelayedStep",
    "IllegalTransition",
    "Step",
    "StepAction",
    "StepStatus",
    "Transaction",
    "TransactionKind",
    "TransactionPage",
    "TransactionStatus",
    "check_step_transition",
    "check_transaction_transition",
    "sources_of",
    "step_sources_of",
]


class TransactionKind(StrEnum):
    """What a transaction does (one per flow)."""

    CREATE_CUSTOMER = "CREATE_CUSTOMER"
    UPDATE_CUSTOMER = "UPDATE_CUSTOMER"
    CREATE_CONTRACT = "CREATE_CONTRACT"
    SUBMIT_CONTRACT = "SUBMIT_CONTRACT"
    APPROVE_CONTRACT = "APPROVE_CONTRACT"
    ACTIVATE_CONTRACT = "ACTIVATE_CONTRACT"
    AMEND_CONTRACT = "AMEND_CONTRACT"
    RENEW_CONTRACT = "RENEW_CONTRACT"
    SUSPEND_CONTRACT = "SUSPEND_CONTRACT"
    RESUME_CONTRACT = "RESUME_CONTRACT"
    TERMINATE_CONTRACT = "TERMINATE_CONTRACT"
    POST_INVOICE = "POST_INVOICE"
    RECOGNIZE_REVENUE = "RECOGNIZE_REVENUE"


class StepAction(StrEnum):
    """What a step asks its system to do."""

    CREATE_ACCOUNT = "CREATE_ACCOUNT"
    UPDATE_ACCOUNT = "UPDATE_ACCOUNT"
    CREATE_BILLING_CUSTOMER = "CREATE_BILLING_CUSTOMER"
    UPDATE_BILLING_CUSTOMER = "UPDATE_BILLING_CUSTOMER"
    CREATE_ERP_CUSTOMER = "CREATE_ERP_CUSTOMER"
    UPDATE_ERP_CUSTOMER = "UPDATE_ERP_CUSTOMER"
    CREATE_CONTRACT = "CREATE_CONTRACT"
    UPDATE_CONTRACT = "UPDATE_CONTRACT"
    SUBMIT_CONTRACT = "SUBMIT_CONTRACT"
    APPROVE_CONTRACT = "APPROVE_CONTRACT"
    ACTIVATE_CONTRACT = "ACTIVATE_CONTRACT"
    TERMINATE_CONTRACT = "TERMINATE_CONTRACT"
    CREATE_SUBSCRIPTION = "CREATE_SUBSCRIPTION"
    UPDATE_SUBSCRIPTION = "UPDATE_SUBSCRIPTION"
    PAUSE_SUBSCRIPTION = "PAUSE_SUBSCRIPTION"
    RESUME_SUBSCRIPTION = "RESUME_SUBSCRIPTION"
    CANCEL_SUBSCRIPTION = "CANCEL_SUBSCRIPTION"
    CREATE_REVENUE_SCHEDULE = "CREATE_REVENUE_SCHEDULE"
    REVISE_REVENUE_SCHEDULE = "REVISE_REVENUE_SCHEDULE"
    TRUNCATE_REVENUE_SCHEDULE = "TRUNCATE_REVENUE_SCHEDULE"
    POST_INVOICE = "POST_INVOICE"
    RECOGNIZE_REVENUE = "RECOGNIZE_REVENUE"


class TransactionStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    NEEDS_ATTENTION = "NEEDS_ATTENTION"


class StepStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


FINISHED = frozenset({TransactionStatus.COMPLETED, TransactionStatus.FAILED})
"""Transaction statuses that are final: nothing reopens them."""

_T = TransactionStatus
TRANSACTION_TRANSITIONS: dict[TransactionStatus, frozenset[TransactionStatus]] = {
    _T.PENDING: frozenset({_T.RUNNING, _T.COMPLETED, _T.FAILED, _T.NEEDS_ATTENTION}),
    # RUNNING → RUNNING: the next step (or a resumed one) starts.
    _T.RUNNING: frozenset({_T.RUNNING, _T.COMPLETED, _T.FAILED, _T.NEEDS_ATTENTION}),
    _T.NEEDS_ATTENTION: frozenset({_T.RUNNING, _T.COMPLETED, _T.FAILED, _T.NEEDS_ATTENTION}),
    _T.COMPLETED: frozenset(),
    _T.FAILED: frozenset(),
}
"""For each status, the statuses a transaction may move to."""

_S = StepStatus
STEP_TRANSITIONS: dict[StepStatus, frozenset[StepStatus]] = {
    _S.PENDING: frozenset({_S.RUNNING}),
    # RUNNING → RUNNING: the worker died mid-call and the step is attempted again.
    _S.RUNNING: frozenset({_S.RUNNING, _S.SUCCEEDED, _S.FAILED}),
    _S.FAILED: frozenset({_S.RUNNING}),
    _S.SUCCEEDED: frozenset(),
}
"""For each step status, the statuses a step may move to."""


class IllegalTransition(ValueError):
    """A status change the journal refuses (e.g. reopening a finished transaction)."""

    def __init__(self, what: str, ident: str, current: str, target: str) -> None:
        super().__init__(f"{what} {ident} is {current}; it cannot become {target}")
        self.what = what
        self.ident = ident
        self.current = current
        self.target = target


def sources_of(target: TransactionStatus) -> frozenset[TransactionStatus]:
    """The statuses from which a transaction may move to ``target``."""
    return frozenset(s for s, targets in TRANSACTION_TRANSITIONS.items() if target in targets)


def step_sources_of(target: StepStatus) -> frozenset[StepStatus]:
    """The statuses from which a step may move to ``target``."""
    return frozenset(s for s, targets in STEP_TRANSITIONS.items() if target in targets)


def check_transaction_transition(
    correlation_id: str, current: TransactionStatus, target: TransactionStatus
) -> None:
    if target not in TRANSACTION_TRANSITIONS[current]:
        raise IllegalTransition("transaction", correlation_id, current, target)


def check_step_transition(
    correlation_id: str, step_no: int, current: StepStatus, target: StepStatus
) -> None:
    if target not in STEP_TRANSITIONS[current]:
        raise IllegalTransition("step", f"{correlation_id}#{step_no}", current, target)


@dataclass(frozen=True)
class Step:
    """One call of a transaction to one system."""

    correlation_id: str
    step_no: int
    system: System
    action: str
    status: StepStatus
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    latency_ms: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    created_id: str | None = None
    """The id the step created (or upserted) in its system."""
    vendor_idempotency_key: str | None = None
    """The key sent to the vendor (Stripe ``Idempotency-Key``, NetSuite ``eid:``)."""
    result: Mapping[str, Any] | None = None
    """The system's answer, as the flow recorded it (a resumed flow reuses it)."""

    def is_delayed(self, slo: timedelta, now: datetime) -> bool:
        """Running for longer than ``slo``."""
        return (
            self.status == StepStatus.RUNNING
            and self.started_at is not None
            and now - self.started_at > slo
        )


@dataclass(frozen=True)
class Transaction:
    correlation_id: str
    kind: str
    subject: str
    """What the transaction changes, e.g. the contract id."""
    status: TransactionStatus
    started_at: datetime
    completed_at: datetime | None = None
    current_system: System | None = None
    """The system that last took the change (its latest succeeded step)."""
    idempotency_key: str | None = None
    steps: tuple[Step, ...] = ()
    input: Mapping[str, Any] | None = None
    """The flow's input (what a resumed flow runs with)."""
    lease_owner: str | None = None
    """The worker running the flow now, if any."""
    lease_until: datetime | None = None
    started_by: str | None = None
    """Who asked for it (the audit log's actor); None when the gateway started it itself."""

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def delayed(self, slo: timedelta, now: datetime) -> bool:
        """Some step has been running for longer than ``slo``."""
        return any(step.is_delayed(slo, now) for step in self.steps)


@dataclass(frozen=True)
class TransactionPage:
    transactions: tuple[Transaction, ...]
    next_after: str | None = field(default=None)
    """Pass as ``after`` for the next page; None on the last page."""


@dataclass(frozen=True)
class DelayedStep:
    """A step running for longer than its transaction kind's SLO."""

    transaction: Transaction
    step: Step
    age: timedelta
