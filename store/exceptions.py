"""The exception queue: failed steps waiting for an operator, one item per failed step.

:meth:`ExceptionRepository.open` is idempotent per ``(correlation_id, step_no)``:
while an item for that step is unresolved, failing again updates it (one more
attempt, the latest error, back to ``OPEN``) instead of opening a second. The
guarantee is a unique ``open_key`` column (``{correlation_id}#{step_no}`` while
unresolved, NULL once resolved) written with ``INSERT ... ON CONFLICT DO
UPDATE``, so concurrent failures of one step on any number of replicas still
leave one item. Status changes follow :mod:`domain.exception_items`; a refused
one raises :class:`~domain.transactions.IllegalTransition`.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.exception_items import (
    ExceptionItem,
    ExceptionPage,
    ExceptionQueue,
    ExceptionStatus,
    exception_sources_of,
)
from domain.transactions import IllegalTransition
from sources.systems import System
from store.models import ExceptionItemRow
from store.portable import as_utc, insert_for, utcnow

__all__ = ["ExceptionNotFound", "ExceptionRepository"]

_ITEMS = cast(Table, ExceptionItemRow.__table__)


class ExceptionNotFound(LookupError):
    """No exception item with this id."""


def _item(row: Any) -> ExceptionItem:
    created, updated = as_utc(row.created_at), as_utc(row.updated_at)
    assert created is not None and updated is not None
    return ExceptionItem(
        id=row.id,
        queue=ExceptionQueue(row.queue),
        status=ExceptionStatus(row.status),
        reason=row.reason,
        attempts=row.attempts,
        subject=row.subject,
        correlation_id=row.correlation_id,
        created_at=created,
        updated_at=updated,
        step_no=row.step_no,
        system=System(row.system) if row.system else None,
        action=row.action,
        error_code=row.error_code,
        last_error=row.last_error,
        resolved_at=as_utc(row.resolved_at),
        resolution_note=row.resolution_note,
        resolved_by=row.resolved_by,
    )


def _open_key(correlation_id: str, step_no: int | None) -> str:
    return f"{correlation_id}#{step_no if step_no is not None else '-'}"


class ExceptionRepository:
    """Opens, retries, resolves and lists exception items through an :class:`AsyncEngine`."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = utcnow) -> None:
        self._engine = engine
        self._clock = clock

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    async def open(
        self,
        *,
        queue: ExceptionQueue,
        reason: str,
        subject: str,
        correlation_id: str,
        step_no: int | None = None,
        system: System | None = None,
        action: str | None = None,
        error_code: str | None = None,
        error: str | None = None,
    ) -> ExceptionItem:
        """Open an item for a failed step, or update the step's unresolved one.

        Updating counts one more attempt, keeps the first queue and creation time,
        takes the latest reason and error, and puts a ``RETRYING`` item back to ``OPEN``.
        """
        now = self._now()
        key = _open_key(correlation_id, step_no)
        async with self._engine.begin() as conn:
            insert = insert_for(conn, _ITEMS)
            row = (
                await conn.execute(
                    insert.values(
                        queue=ExceptionQueue(queue).value,
                        status=ExceptionStatus.OPEN.value,
                        reason=reason,
                        attempts=1,
                        subject=subject,
                        correlation_id=correlation_id,
                        step_no=step_no,
                        system=System(system).value if system is not None else None,
                        action=action,
                        error_code=error_code,
                        last_error=error,
                        open_key=key,
                        created_at=now,
                        updated_at=now,
                    )
                    .on_conflict_do_update(
                        index_elements=["open_key"],
                        set_={
                            "status": ExceptionStatus.OPEN.value,
                            "attempts": _ITEMS.c.attempts + 1,
                            "reason": reason,
                            "error_code": error_code,
                            "last_error": error,
                            "updated_at": now,
                        },
                    )
                    .returning(*_ITEMS.c)
                )
            ).one()
            return _item(row)

    async def mark_retrying(self, item_id: int) -> ExceptionItem:
        """An operator (``retryException``) asked for the step to run again."""
        async with self._engine.begin() as conn:
            return await self._move(
                conn,
                item_id,
                ExceptionStatus.RETRYING,
                {"updated_at": self._now()},
            )

    async def resolve(self, item_id: int, note: str, actor: str) -> ExceptionItem:
        """Close an ``OPEN`` or ``RETRYING`` item with a note and who closed it."""
        now = self._now()
        async with self._engine.begin() as conn:
            return await self._move(
                conn,
                item_id,
                ExceptionStatus.RESOLVED,
                {
                    "open_key": None,
                    "resolved_at": now,
                    "updated_at": now,
                    "resolution_note": note,
                    "resolved_by": actor,
                },
            )

    async def get(self, item_id: int) -> ExceptionItem | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(_ITEMS).where(_ITEMS.c.id == item_id))).first()
        return _item(row) if row is not None else None

    async def open_for(self, correlation_id: str) -> builtins.list[ExceptionItem]:
        """A transaction's unresolved items, oldest first."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_ITEMS)
                .where(
                    _ITEMS.c.correlation_id == correlation_id,
                    _ITEMS.c.status != ExceptionStatus.RESOLVED.value,
                )
                .order_by(_ITEMS.c.id)
            )
            return [_item(r) for r in rows]

    async def list(
        self,
        *,
        queue: ExceptionQueue | None = None,
        status: ExceptionStatus | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> ExceptionPage:
        """Items newest first (by id), filtered; keyset-paged by ``after``."""
        if first < 1:
            raise ValueError("first must be positive")
        query = select(_ITEMS)
        if queue is not None:
            query = query.where(_ITEMS.c.queue == ExceptionQueue(queue).value)
        if status is not None:
            query = query.where(_ITEMS.c.status == ExceptionStatus(status).value)
        if after is not None:
            try:
                before = int(after)
            except ValueError as exc:
                raise ValueError(f"invalid cursor {after!r}") from exc
            query = query.where(_ITEMS.c.id < before)
        query = query.order_by(_ITEMS.c.id.desc()).limit(first + 1)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        items = tuple(_item(r) for r in rows[:first])
        return ExceptionPage(items, str(items[-1].id) if len(rows) > first else None)

    async def counts_by_queue(self) -> dict[ExceptionQueue, int]:
        """Unresolved (``OPEN`` or ``RETRYING``) items per queue, every queue listed."""
        counts = dict.fromkeys(ExceptionQueue, 0)
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_ITEMS.c.queue, func.count())
                .where(_ITEMS.c.status != ExceptionStatus.RESOLVED.value)
                .group_by(_ITEMS.c.queue)
            )
            for queue, n in rows:
                counts[ExceptionQueue(queue)] = n
        return counts

    async def _move(
        self,
        conn: AsyncConnection,
        item_id: int,
        target: ExceptionStatus,
        values: dict[str, Any],
    ) -> ExceptionItem:
        moved = (
            await conn.execute(
                update(_ITEMS)
                .where(
                    _ITEMS.c.id == item_id,
                    _ITEMS.c.status.in_([s.value for s in exception_sources_of(target)]),
                )
                .values(status=target.value, **values)
                .returning(*_ITEMS.c)
            )
        ).first()
        if moved is None:
            current = (
                await conn.execute(select(_ITEMS.c.status).where(_ITEMS.c.id == item_id))
            ).scalar()
            if current is None:
                raise ExceptionNotFound(str(item_id))
            raise IllegalTransition("exception item", str(item_id), current, target)
        return _item(moved)
