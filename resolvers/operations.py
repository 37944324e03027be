"""The operations side of the graph: transactions, exception items and flow metrics.

Everything here is read from the gateway's own store (the journal, the
exception queue, the idempotency keys and the webhook inbox), never from a
system of record, so these fields cost no upstream call. Root fields live on
:class:`OperationsQuery`, which the root ``Query`` extends; ``Contract.timeline``
uses :func:`transactions_connection` with the contract's id as the subject.
Fields that read the store are nullable, like the fields that read a system:
one that fails (or is asked with a bad argument: ``BAD_USER_INPUT``) is null
with its error, and the rest of the query is still answered.

``Transaction`` and ``ExceptionItem`` are nodes: global ids
``Transaction:<correlation id>`` and ``ExceptionItem:<item id>``. A step is
``delayed`` while it has been ``RUNNING`` for longer than
``REVGRAPH_FLOWS_STEP_SLO_S`` (:attr:`api.settings.FlowSettings.step_slo_s`);
a transaction is delayed when one of its steps is.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine

from domain import flow_metrics as fm
from domain.exception_items import ExceptionItem as ExceptionItemRecord
from domain.exception_items import ExceptionQueue, ExceptionStatus
from domain.transactions import Step as StepRecord
from domain.transactions import StepAction, StepStatus, TransactionKind, TransactionStatus
from domain.transactions import Transaction as TransactionRecord
from resolvers.context import AppInfo
from resolvers.errors import UserInputError
from resolvers.node import Node, global_id, node_type
from resolvers.pagination import (
    DEFAULT_PAGE_SIZE,
    Connection,
    Edge,
    connection,
    decode_cursor,
    encode_cursor,
    page_size,
)
from resolvers.permissions import CanRead, SeesUpstreamErrors
from resolvers.resources import resources_of
from resolvers.sanitize import sanitize, sanitize_optional
from sources.systems import System
from store.exceptions import ExceptionRepository
from store.flow_metrics import FlowMetricsRepository
from store.journal import JournalRepository

__all__ = [
    "ExceptionItem",
    "FlowMetrics",
    "OperationsQuery",
    "Transaction",
    "TransactionStep",
    "transactions_connection",
]

DEFAULT_STEP_SLO_S = 30.0
"""The step SLO when the request's resources carry no settings (tests building a context)."""

strawberry.enum(TransactionKind, description="What a transaction does (one kind per flow).")
strawberry.enum(
    TransactionStatus,
    description="PENDING → RUNNING → COMPLETED | FAILED; NEEDS_ATTENTION is parked "
    "waiting for an operator (an exception item), not finished.",
)
strawberry.enum(StepAction, description="What a step asks its system to do.")
strawberry.enum(StepStatus, description="PENDING → RUNNING → SUCCEEDED | FAILED.")
strawberry.enum(ExceptionStatus, description="OPEN → RETRYING → RESOLVED (final).")


# --- where the store is --------------------------------------------------------------


def _engine(info: AppInfo) -> AsyncEngine:
    engine: AsyncEngine = resources_of(info).engine
    return engine


def step_slo(info: AppInfo) -> timedelta:
    settings = getattr(resources_of(info), "settings", None)
    flows = getattr(settings, "flows", None)
    return timedelta(seconds=getattr(flows, "step_slo_s", DEFAULT_STEP_SLO_S))


# --- types ---------------------------------------------------------------------------


@strawberry.type(description="One call of a transaction to one system.")
class TransactionStep:
    step_no: int = strawberry.field(description="1-based position in the flow.")
    system: System
    action: StepAction
    status: StepStatus
    attempts: int = strawberry.field(description="Calls made so far (each retry counts).")
    started_at: datetime | None = strawberry.field(description="When the latest attempt began.")
    finished_at: datetime | None
    latency_ms: int | None = strawberry.field(description="The latest finished attempt's.")
    error_code: str | None
    error_message: str | None = strawberry.field(
        description="The system's error, sanitized (every role but viewer).",
        permission_classes=[SeesUpstreamErrors],
    )
    created_id: str | None = strawberry.field(
        description="The id of what the step created (or upserted) in its system."
    )
    delayed: bool = strawberry.field(description="Running for longer than the step SLO.")

    @classmethod
    def build(cls, step: StepRecord, slo: timedelta, now: datetime) -> TransactionStep:
        return cls(
            step_no=step.step_no,
            system=step.system,
            action=StepAction(step.action),
            status=step.status,
            attempts=step.attempts,
            started_at=step.started_at,
            finished_at=step.finished_at,
            latency_ms=step.latency_ms,
            error_code=step.error_code,
            error_message=sanitize_optional(step.error_message),
            created_id=step.created_id,
            delayed=step.is_delayed(slo, now),
        )


@strawberry.type(
    description="One cross-system write (a flow run) and its steps, by correlation id."
)
class Transaction(Node):
    id: strawberry.ID
    correlation_id: str = strawberry.field(description="Also sent to every system it called.")
    kind: TransactionKind
    subject: str = strawberry.field(
        description="The id of what it changes (a contract id, a CRM account id, an invoice id)."
    )
    status: TransactionStatus
    started_at: datetime
    completed_at: datetime | None = strawberry.field(
        description="When it became COMPLETED or FAILED."
    )
    current_system: System | None = strawberry.field(
        description="The system holding the current state: the one its latest succeeded "
        "step wrote to (null before any step succeeded)."
    )
    delayed: bool = strawberry.field(description="A step has run for longer than the step SLO.")
    steps: list[TransactionStep] = strawberry.field(description="In flow order.")
    started_by: str | None = strawberry.field(
        description="Who asked for it (null: the gateway itself, e.g. a webhook's posting)."
    )

    @classmethod
    def build(cls, tx: TransactionRecord, slo: timedelta, now: datetime) -> Transaction:
        return cls(
            id=global_id("Transaction", tx.correlation_id),
            correlation_id=tx.correlation_id,
            kind=TransactionKind(tx.kind),
            subject=tx.subject,
            status=tx.status,
            started_at=tx.started_at,
            completed_at=tx.completed_at,
            current_system=tx.current_system,
            delayed=tx.delayed(slo, now),
            steps=[TransactionStep.build(s, slo, now) for s in tx.steps],
            started_by=tx.started_by,
        )

    @strawberry.field(description="Its unresolved exception items, oldest first.")
    async def open_exceptions(self, info: AppInfo) -> list[ExceptionItem]:
        found = await ExceptionRepository(_engine(info)).open_for(self.correlation_id)
        return [ExceptionItem.build(item) for item in found]


@strawberry.type(description="A failed step waiting for an operator, in a queue.")
class ExceptionItem(Node):
    id: strawberry.ID
    queue: ExceptionQueue
    status: ExceptionStatus
    reason: str
    attempts: int = strawberry.field(description="How often the step failed into this item.")
    subject: str = strawberry.field(description="What its transaction changes.")
    correlation_id: str = strawberry.field(description="Its transaction's correlation id.")
    step_no: int | None
    system: System | None
    action: StepAction | None
    error_code: str | None
    last_error: str | None = strawberry.field(
        description="The system's latest error, sanitized (every role but viewer).",
        permission_classes=[SeesUpstreamErrors],
    )
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    resolution_note: str | None
    resolved_by: str | None

    @classmethod
    def build(cls, item: ExceptionItemRecord) -> ExceptionItem:
        return cls(
            id=global_id("ExceptionItem", str(item.id)),
            queue=item.queue,
            status=item.status,
            reason=sanitize(item.reason),
            attempts=item.attempts,
            subject=item.subject,
            correlation_id=item.correlation_id,
            step_no=item.step_no,
            system=item.system,
            action=StepAction(item.action) if item.action else None,
            error_code=item.error_code,
            last_error=sanitize_optional(item.last_error),
            created_at=item.created_at,
            updated_at=item.updated_at,
            resolved_at=item.resolved_at,
            resolution_note=item.resolution_note,
            resolved_by=item.resolved_by,
        )

    @strawberry.field(description="The transaction whose step failed.")
    async def transaction(self, info: AppInfo) -> Transaction | None:
        found = await JournalRepository(_engine(info)).get(self.correlation_id)
        return Transaction.build(found, step_slo(info), _now()) if found else None


@strawberry.type(description="Latency of the steps that succeeded in one system.")
class StepLatency:
    system: System
    steps: int = strawberry.field(description="Succeeded steps counted.")
    avg_ms: float | None
    max_ms: int | None
    p50_ms: int | None = strawberry.field(description="Median over the most recent steps.")
    p95_ms: int | None


@strawberry.type(
    description="Activation cycle time: contract approved → revenue schedule in the ERP."
)
class ActivationCycleTime:
    count: int = strawberry.field(description="Activations measured.")
    p50_seconds: float | None
    avg_seconds: float | None
    max_seconds: float | None


@strawberry.type(description="Unresolved exception items in one queue.")
class QueueCount:
    queue: ExceptionQueue
    open: int


@strawberry.type(description="Operational metrics of the flows (also on /metrics).")
class FlowMetrics:
    since: datetime | None = strawberry.field(
        description="What the numbers cover from; null: all the store holds."
    )
    computed_at: datetime
    step_latency: list[StepLatency] = strawberry.field(description="Every system listed.")
    duplicates_prevented: int = strawberry.field(
        description="Idempotent replays plus deduplicated webhook deliveries."
    )
    idempotent_replays: int
    webhook_duplicates: int
    activation_cycle: ActivationCycleTime
    postings_completed: int
    postings_failed: int
    posting_success_rate: float | None = strawberry.field(
        description="POST_INVOICE transactions COMPLETED of those finished; null if none."
    )
    open_exceptions: list[QueueCount] = strawberry.field(
        description="Now (whatever `since`), every queue listed."
    )

    @classmethod
    def build(cls, m: fm.FlowMetrics) -> FlowMetrics:
        cycle = m.activation_cycle
        return cls(
            since=m.since,
            computed_at=m.computed_at,
            step_latency=[
                StepLatency(
                    system=s.system,
                    steps=s.steps,
                    avg_ms=s.avg_ms,
                    max_ms=s.max_ms,
                    p50_ms=s.p50_ms,
                    p95_ms=s.p95_ms,
                )
                for s in m.step_latency
            ],
            duplicates_prevented=m.duplicates_prevented,
            idempotent_replays=m.idempotent_replays,
            webhook_duplicates=m.webhook_duplicates,
            activation_cycle=ActivationCycleTime(
                count=cycle.count,
                p50_seconds=cycle.p50_s,
                avg_seconds=cycle.avg_s,
                max_seconds=cycle.max_s,
            ),
            postings_completed=m.postings.completed,
            postings_failed=m.postings.failed,
            posting_success_rate=m.postings.success_rate,
            open_exceptions=[QueueCount(queue=q, open=n) for q, n in m.open_exceptions],
        )


# --- arguments and cursors -----------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _first(first: int | None) -> int:
    """A page size of 1..MAX_PAGE_SIZE (default DEFAULT_PAGE_SIZE); BAD_USER_INPUT otherwise."""
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first < 1:
        raise UserInputError("`first` must be at least 1", argument="first")
    return page_size(first)


def _aware(value: datetime | None, argument: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise UserInputError(
            f"`{argument}` needs a UTC offset (e.g. 2026-12-01T09:00:00Z)", argument=argument
        )
    return value


def _journal_cursor(tx: TransactionRecord) -> str:
    # The journal's keyset position (store.journal's own `after` format).
    raw = f"{tx.started_at.astimezone(UTC).isoformat()}|{tx.correlation_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _bad_cursor() -> UserInputError:
    return UserInputError("`after` is not a cursor from this list", argument="after")


async def transactions_connection(
    info: AppInfo,
    *,
    first: int | None,
    after: str | None,
    status: TransactionStatus | None = None,
    kind: TransactionKind | None = None,
    system: System | None = None,
    since: datetime | None = None,
    subject: str | None = None,
) -> Connection[Transaction]:
    """A page of the journal newest first, filtered (filters combine with AND)."""
    size = _first(first)
    since = _aware(since, "since")
    position = decode_cursor("transaction", after) if after is not None else None
    try:
        page = await JournalRepository(_engine(info)).list(
            status=status,
            kind=kind.value if kind is not None else None,
            system=system,
            since=since,
            subject=subject,
            first=size,
            after=position,
        )
    except ValueError as exc:  # the journal could not read the position
        if position is None:
            raise
        raise _bad_cursor() from exc
    slo, now = step_slo(info), _now()
    edges = [
        Edge(
            cursor=encode_cursor("transaction", _journal_cursor(tx)),
            node=Transaction.build(tx, slo, now),
        )
        for tx in page.transactions
    ]
    return connection(edges, has_next=page.next_after is not None, has_previous=after is not None)


async def exceptions_connection(
    info: AppInfo,
    *,
    first: int | None,
    after: str | None,
    queue: ExceptionQueue | None = None,
    status: ExceptionStatus | None = None,
) -> Connection[ExceptionItem]:
    """A page of exception items newest first, filtered."""
    size = _first(first)
    position = decode_cursor("exception", after) if after is not None else None
    if position is not None and not position.isdigit():
        raise _bad_cursor()
    page = await ExceptionRepository(_engine(info)).list(
        queue=queue, status=status, first=size, after=position
    )
    edges = [
        Edge(cursor=encode_cursor("exception", str(item.id)), node=ExceptionItem.build(item))
        for item in page.items
    ]
    return connection(edges, has_next=page.next_after is not None, has_previous=after is not None)


# --- root fields ---------------------------------------------------------------------


@strawberry.type
class OperationsQuery:
    """Root fields over the gateway's own store (mixed into the root ``Query``)."""

    @strawberry.field(
        description="A transaction by its correlation id.", permission_classes=[CanRead]
    )
    async def transaction(self, info: AppInfo, correlation_id: str) -> Transaction | None:
        found = await JournalRepository(_engine(info)).get(correlation_id)
        return Transaction.build(found, step_slo(info), _now()) if found else None

    @strawberry.field(
        description="Transactions newest first; filters combine with AND (`system`: has a "
        "step in that system; `since`: started at or after; `subject`: changes that id).",
        permission_classes=[CanRead],
    )
    async def transactions(
        self,
        info: AppInfo,
        status: TransactionStatus | None = None,
        kind: TransactionKind | None = None,
        system: System | None = None,
        since: datetime | None = None,
        subject: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Transaction] | None:
        return await transactions_connection(
            info,
            first=first,
            after=after,
            status=status,
            kind=kind,
            system=system,
            since=since,
            subject=subject,
        )

    @strawberry.field(
        description="Exception items newest first, by queue and status.",
        permission_classes=[CanRead],
    )
    async def exceptions(
        self,
        info: AppInfo,
        queue: ExceptionQueue | None = None,
        status: ExceptionStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ExceptionItem] | None:
        return await exceptions_connection(
            info, first=first, after=after, queue=queue, status=status
        )

    @strawberry.field(
        description="Operational metrics of the flows since `since` (null: all the store "
        "holds): sync latency per system, duplicates prevented, activation cycle time, "
        "posting success rate and open exceptions per queue.",
        permission_classes=[CanRead],
    )
    async def flow_metrics(
        self, info: AppInfo, since: datetime | None = None
    ) -> FlowMetrics | None:
        since = _aware(since, "since")
        return FlowMetrics.build(await FlowMetricsRepository(_engine(info)).compute(since))


# --- nodes ---------------------------------------------------------------------------


@node_type("Transaction")
async def _transaction_nodes(info: AppInfo, ids: list[str]) -> list[Transaction | None]:
    journal = JournalRepository(_engine(info))
    slo, now = step_slo(info), _now()
    found: list[Transaction | None] = []
    for correlation_id in ids:
        tx = await journal.get(correlation_id)
        found.append(Transaction.build(tx, slo, now) if tx else None)
    return found


@node_type("ExceptionItem")
async def _exception_nodes(info: AppInfo, ids: list[str]) -> list[ExceptionItem | None]:
    repository = ExceptionRepository(_engine(info))
    found: list[ExceptionItem | None] = []
    for key in ids:
        item = await repository.get(int(key)) if key.isdigit() else None
        found.append(ExceptionItem.build(item) if item else None)
    return found
