"""Declarative models of the store; Alembic migrations must match them exactly.

The crosswalk, the idempotency records, the transaction journal, the exception
queue and the audit log live here.
Tables are unqualified: on Postgres the engine's ``search_path`` picks the schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, MetaData, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so migrations and autogenerate agree on both backends."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CrosswalkEntryRow(Base):
    """One customer's ids in every system (canonical id = the CRM account id)."""

    __tablename__ = "crosswalk_entries"

    canonical_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    crm_id: Mapped[str] = mapped_column(String(64), nullable=False)
    billing_customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    erp_customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    """LINKED, INCOMPLETE or AMBIGUOUS (see :class:`store.crosswalk.LinkStatus`)."""
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class CrosswalkRunRow(Base):
    """One rebuild of the crosswalk and what it found."""

    __tablename__ = "crosswalk_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    linked: Mapped[int] = mapped_column(Integer, nullable=False)
    incomplete: Mapped[int] = mapped_column(Integer, nullable=False)
    ambiguous: Mapped[int] = mapped_column(Integer, nullable=False)
    orphans: Mapped[int] = mapped_column(Integer, nullable=False)


class IdempotencyKeyRow(Base):
    """One idempotency key: who claimed it, for what, and the first result."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    operation: Mapped[str] = mapped_column(String(64), nullable=False)
    input_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    """IN_PROGRESS or COMPLETED."""
    result: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )
    replays: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    """How often the first result was replayed (a duplicate prevented)."""


class TransactionRow(Base):
    """One cross-system write (a flow run), by correlation id."""

    __tablename__ = "transactions"

    correlation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    subject: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    """See :class:`domain.transactions.TransactionStatus`."""
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    current_system: Mapped[str | None] = mapped_column(String(16))
    idempotency_key: Mapped[str | None] = mapped_column(String(255), index=True)
    input: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    """The flow's input, so any replica can resume it."""
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    """The worker running the flow now (None: nobody)."""
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    """Past this instant without a renewal, another worker may take the flow over."""
    started_by: Mapped[str | None] = mapped_column(String(255))
    """Who asked for it (the audit log's actor); None for flows the gateway started
    itself (webhook-triggered postings) or that predate the column."""


class TransactionStepRow(Base):
    """One call of a transaction to one system, journaled before and after it."""

    __tablename__ = "transaction_steps"

    correlation_id: Mapped[str] = mapped_column(
        String(64),
        ForeignKey("transactions.correlation_id", ondelete="CASCADE"),
        primary_key=True,
    )
    step_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    system: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    """See :class:`domain.transactions.StepStatus`."""
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_id: Mapped[str | None] = mapped_column(String(255))
    vendor_idempotency_key: Mapped[str | None] = mapped_column(String(255))
    result: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    """The system's answer (what a resumed flow reuses instead of calling again)."""


class ExceptionItemRow(Base):
    """A failed step waiting for an operator, in the queue its business context chose."""

    __tablename__ = "exception_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    queue: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    """OPEN, RETRYING or RESOLVED (see :class:`domain.exception_items.ExceptionStatus`)."""
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    subject: Mapped[str] = mapped_column(String(64), nullable=False)
    correlation_id: Mapped[str] = mapped_column(
        String(64),
        ForeignKey("transactions.correlation_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    step_no: Mapped[int | None] = mapped_column(Integer)
    system: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    open_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    """``{correlation_id}#{step_no}`` while the item is unresolved, NULL after: at most
    one unresolved item per failed step (NULLs never collide on either backend)."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(String(255))


class WebhookEventRow(Base):
    """One verified webhook event, stored before it is acknowledged."""

    __tablename__ = "webhook_events"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    """The object the event is about (events of one subject apply in order)."""
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    """RECEIVED, APPLIED, SUPERSEDED (older than one already applied) or FAILED."""
    payload: Mapped[Any] = mapped_column(JSON, nullable=False)
    duplicates: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    """Deliveries of the same event after the first (deduplicated)."""
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)


class ReconciliationRunRow(Base):
    """One consistency sweep: progress, a checkpoint to resume from, and the outcome."""

    __tablename__ = "reconciliation_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    """RUNNING, COMPLETED, FAILED or INTERRUPTED (see :class:`store.reconciliation.RunStatus`)."""
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    """The last progress (a RUNNING run not updated for a while was abandoned)."""
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    processed: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    """Customers recomputed so far."""
    total: Mapped[int | None] = mapped_column(Integer)
    """Customers to recompute, when known."""
    counts: Mapped[dict[str, int]] = mapped_column(JSON, nullable=False)
    """Checks by status so far."""
    last_account_id: Mapped[str | None] = mapped_column(String(255))
    """The checkpoint: the reader's cursor after the last completed page."""
    error: Mapped[str | None] = mapped_column(Text)


class AuditRecordRow(Base):
    """One mutation call, accepted or refused, linked to the one before by its hash.

    ``id`` is the chain order: assigned from :class:`AuditChainHeadRow` under its
    lock, so ids have no gaps (see :mod:`store.audit`). Rows are only inserted.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    actor: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    role: Mapped[str | None] = mapped_column(String(64))
    mutation: Mapped[str] = mapped_column(String(64), nullable=False)
    subject: Mapped[str | None] = mapped_column(String(255), index=True)
    input: Mapped[Any] = mapped_column(JSON, nullable=False)
    """The mutation's input, redacted (:func:`domain.audit.redact`)."""
    outcome: Mapped[str] = mapped_column(String(255), nullable=False)
    """ACCEPTED, REFUSED or REPLAYED, then ``:`` and the error codes or a status."""
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditChainHeadRow(Base):
    """The one row (id 1) naming the last audit record: appends lock it, in turn."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Integer, nullable=False)
    last_hash: Mapped[str] = mapped_column(String(64), nullable=False)


class ApiKeyRow(Base):
    """An API key: only the SHA-256 of its secret is kept (see :mod:`store.api_keys`)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """``key_`` and 12 hex digits; also the secret's second part (``rg_<id>_...``)."""
    name: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    secret_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BillingObjectRow(Base):
    """One billing object (customer, subscription, invoice) as Billing last showed it.

    The billing read model (:mod:`store.billing_objects`): ``body`` is the vendor's
    JSON; ``changed_at`` orders the writes (an older event never overwrites a newer
    state); ``as_of`` is when the gateway last knew it current.
    """

    __tablename__ = "billing_objects"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(255), index=True)
    body: Mapped[Any] = mapped_column(JSON, nullable=False)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class BillingListRow(Base):
    """A customer's list of one kind is complete in the read model as of ``as_of``."""

    __tablename__ = "billing_lists"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)


class ReadModelCursorRow(Base):
    """How far a read model has followed its source's event log (the catch-up's place)."""

    __tablename__ = "read_model_cursors"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_event_id: Mapped[str | None] = mapped_column(String(255))
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class StoredAnswerRow(Base):
    """One key's answer to one hop of a system that batches (the answer read model).

    :mod:`store.stored_answers`: ``payload`` is the answer as JSON (``null``: the
    system said nothing exists); ``as_of`` is when it was read (the start of the
    read, so a change reported meanwhile is newer).
    """

    __tablename__ = "stored_answers"

    system: Mapped[str] = mapped_column(String(16), primary_key=True)
    hop: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class AnswerWatermarkRow(Base):
    """The last time a system reported a change: answers read before it are not served."""

    __tablename__ = "answer_watermarks"

    system: Mapped[str] = mapped_column(String(16), primary_key=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
