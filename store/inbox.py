"""The webhook inbox: every verified event, stored before it is acknowledged.

:meth:`WebhookInbox.record` inserts one row per ``(source, event_id)`` with
``INSERT ... ON CONFLICT DO NOTHING`` (settled atomically by SQLite and
Postgres); a redelivery of an event already there only counts one more
``duplicates`` and reports :attr:`RecordOutcome.DUPLICATE`. The receiver
answers 2xx only once this returned, so a crash before the commit makes the
sender deliver again, and the row is there at most once.

Events of one subject apply in the order they happened, whatever order they
arrive in. An event older than one of its subject that is already APPLIED
(by ``occurred_at``) is stored as SUPERSEDED and never applied: at
:meth:`~WebhookInbox.record` when the newer one was applied first, or at
apply time (:meth:`~WebhookInbox.supersede_if_stale`) when both were waiting.
:meth:`~WebhookInbox.pending` lists the waiting events oldest first (ties by
event id), so events that wait together apply in order.

Two events of one subject in the same instant are not ordered against each
other: Stripe dates events to the second and its event ids are random, so an
id cannot tell which of ``invoice.finalized`` and ``invoice.paid`` in one
second came last. Neither supersedes the other; both apply (waiting ones by
event id). Handlers should therefore act on the object's state in the payload
rather than on the event type alone.

One process drains at a time per store (:meth:`~WebhookInbox.exclusive`, a
Postgres advisory lock), so replicas neither apply one event twice nor break
a subject's order; an event is still applied again if its process dies
between the handler and :meth:`~WebhookInbox.mark_applied` (handlers must be
idempotent, as the flows are through the vendors' idempotency).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, exists, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.webhooks import WebhookEvent, WebhookStatus
from sources.systems import System
from store.models import WebhookEventRow
from store.portable import as_utc, insert_for, utcnow

__all__ = ["RecordOutcome", "Recorded", "StoredEvent", "WebhookInbox"]

_EVENTS = cast(Table, WebhookEventRow.__table__)
MAX_ERROR_LENGTH = 2000

# Keyed by the schema, so deployments (and test runs) sharing one database do not
# wait on each other. hashtext() gives the int the advisory lock functions take.
_LOCK_KEY = "hashtext(current_schema() || '.webhook_inbox')"


class RecordOutcome(StrEnum):
    NEW = "NEW"
    """First delivery: stored RECEIVED, to be applied."""
    DUPLICATE = "DUPLICATE"
    """Already stored: counted, nothing else changed."""
    SUPERSEDED = "SUPERSEDED"
    """First delivery, but older than an event of its subject already applied."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """What :meth:`WebhookInbox.record` did, and the row's status now."""

    outcome: RecordOutcome
    status: WebhookStatus

    @property
    def duplicate(self) -> bool:
        return self.outcome is RecordOutcome.DUPLICATE


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An inbox row."""

    event: WebhookEvent
    status: WebhookStatus
    received_at: datetime
    duplicates: int
    applied_at: datetime | None
    error: str | None


def _utc(value: datetime) -> datetime:
    # SQLite keeps no offset: every instant is written (and compared) in UTC.
    if value.tzinfo is None:
        raise ValueError("inbox times must be timezone-aware")
    return value.astimezone(UTC)


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(
        event=WebhookEvent(
            source=System(row.source),
            event_id=row.event_id,
            type=row.type,
            subject=row.subject,
            occurred_at=as_utc(row.occurred_at),
            payload=row.payload,
        ),
        status=WebhookStatus(row.status),
        received_at=as_utc(row.received_at),
        duplicates=row.duplicates,
        applied_at=as_utc(row.applied_at),
        error=row.error,
    )


def _newer_applied(event: WebhookEvent) -> ColumnElement[bool]:
    """An APPLIED event of ``event``'s subject that happened strictly after it exists."""
    return exists().where(
        _EVENTS.c.source == event.source.value,
        _EVENTS.c.subject == event.subject,
        _EVENTS.c.status == WebhookStatus.APPLIED.value,
        _EVENTS.c.occurred_at > _utc(event.occurred_at),
    )


def _key(source: System, event_id: str) -> ColumnElement[bool]:
    return and_(_EVENTS.c.source == source.value, _EVENTS.c.event_id == event_id)


class WebhookInbox:
    """Records, lists and settles webhook events through an :class:`AsyncEngine`."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = utcnow) -> None:
        self._engine = engine
        self._clock = clock

    async def record(self, event: WebhookEvent) -> Recorded:
        """Store ``event`` once; a redelivery counts as a duplicate (see the module doc)."""
        async with self._engine.begin() as conn:
            superseded = bool(await conn.scalar(select(_newer_applied(event))))
            status = WebhookStatus.SUPERSEDED if superseded else WebhookStatus.RECEIVED
            insert = insert_for(conn, _EVENTS)
            inserted = await conn.execute(
                insert.values(
                    source=event.source.value,
                    event_id=event.event_id,
                    type=event.type,
                    subject=event.subject,
                    occurred_at=_utc(event.occurred_at),
                    received_at=_utc(self._clock()),
                    status=status.value,
                    payload=event.payload,
                    duplicates=0,
                )
                .on_conflict_do_nothing(index_elements=["source", "event_id"])
                .returning(_EVENTS.c.event_id)
            )
            if inserted.first() is not None:
                outcome = RecordOutcome.SUPERSEDED if superseded else RecordOutcome.NEW
                return Recorded(outcome, status)
            counted = await conn.execute(
                update(_EVENTS)
                .where(_key(event.source, event.event_id))
                .values(duplicates=_EVENTS.c.duplicates + 1)
                .returning(_EVENTS.c.status)
            )
            return Recorded(RecordOutcome.DUPLICATE, WebhookStatus(counted.scalar_one()))

    async def get(self, source: System, event_id: str) -> StoredEvent | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(_EVENTS).where(_key(source, event_id)))).first()
        return None if row is None else _stored(row)

    async def pending(self, limit: int = 100) -> list[StoredEvent]:
        """RECEIVED events, oldest first (ties by event id): the order to apply them in."""
        query = (
            select(_EVENTS)
            .where(_EVENTS.c.status == WebhookStatus.RECEIVED.value)
            .order_by(_EVENTS.c.occurred_at, _EVENTS.c.event_id)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [_stored(row) for row in await conn.execute(query)]

    async def supersede_if_stale(self, event: WebhookEvent) -> bool:
        """Mark a RECEIVED ``event`` SUPERSEDED if a newer one of its subject was applied
        meanwhile; True if it was (then it must not be applied)."""
        async with self._engine.begin() as conn:
            done = await conn.execute(
                update(_EVENTS)
                .where(
                    _key(event.source, event.event_id),
                    _EVENTS.c.status == WebhookStatus.RECEIVED.value,
                    _newer_applied(event),
                )
                .values(status=WebhookStatus.SUPERSEDED.value)
                .returning(_EVENTS.c.event_id)
            )
            return done.first() is not None

    async def mark_applied(self, source: System, event_id: str) -> bool:
        """RECEIVED → APPLIED; False if the event was not waiting."""
        return await self._settle(source, event_id, WebhookStatus.APPLIED, None)

    async def mark_failed(self, source: System, event_id: str, error: str) -> bool:
        """RECEIVED → FAILED with ``error``; False if the event was not waiting."""
        return await self._settle(source, event_id, WebhookStatus.FAILED, error)

    async def _settle(
        self, source: System, event_id: str, status: WebhookStatus, error: str | None
    ) -> bool:
        async with self._engine.begin() as conn:
            done = await conn.execute(
                update(_EVENTS)
                .where(_key(source, event_id), _EVENTS.c.status == WebhookStatus.RECEIVED.value)
                .values(
                    status=status.value,
                    applied_at=_utc(self._clock()) if status is WebhookStatus.APPLIED else None,
                    error=None if error is None else error[:MAX_ERROR_LENGTH],
                )
                .returning(_EVENTS.c.event_id)
            )
            return done.first() is not None

    async def duplicates_total(self) -> int:
        """Redeliveries absorbed so far (duplicates prevented), over every event."""
        async with self._engine.connect() as conn:
            total = await conn.scalar(select(func.coalesce(func.sum(_EVENTS.c.duplicates), 0)))
        return int(total or 0)

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[bool]:
        """Whether this caller is the one draining the inbox, held for the ``with`` block.

        On Postgres a session advisory lock (released with its connection if the
        process dies): another replica draining gets False and leaves the events to
        it. An embedded SQLite store has one process: always True.
        """
        if self._engine.dialect.name != "postgresql":
            yield True
            return
        async with self._engine.connect() as raw:
            # No transaction held open while handlers run: the lock is per session.
            conn = await raw.execution_options(isolation_level="AUTOCOMMIT")
            acquired = bool(await conn.scalar(text(f"SELECT pg_try_advisory_lock({_LOCK_KEY})")))
            try:
                yield acquired
            finally:
                if acquired:
                    await conn.scalar(text(f"SELECT pg_advisory_unlock({_LOCK_KEY})"))
