"""Idempotency records: one row per key, claimed once, holding the first result.

A keyed mutation calls :meth:`IdempotencyRepository.claim` before doing
anything. Exactly one caller gets :class:`Claimed` for a key, however many race
for it (in one process or across gateway replicas sharing Postgres): the claim
is an ``INSERT ... ON CONFLICT DO NOTHING`` on the primary key, which both SQLite
and Postgres settle atomically. Everyone else reads the row:

* same operation and input, finished → :class:`Replay` of the stored result;
* same operation and input, still running → :class:`InProgress`;
  (either counts one more ``replays``: a duplicate prevented)
* different operation or input → :class:`Conflict` (the mutation answers
  ``IDEMPOTENCY_KEY_REUSED``).

The claimer stores the result with :meth:`~IdempotencyRepository.complete`
(or gives the key up with :meth:`~IdempotencyRepository.release` when nothing
happened anywhere). Keys expire ``retention`` after their claim (default 24 h):
an expired key can be claimed again (one ``UPDATE ... WHERE expires_at <= now``,
so again exactly one winner), and :meth:`~IdempotencyRepository.purge_expired`
deletes old rows. :func:`input_hash` is the canonical hash of an input.
``complete`` and ``release`` take the call's audit entry (:mod:`store.audit`)
and append it in the same transaction as the key's change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from store.audit import AuditEntry, AuditLog
from store.models import IdempotencyKeyRow
from store.portable import as_utc, insert_for, utcnow

__all__ = [
    "DEFAULT_RETENTION",
    "ClaimOutcome",
    "Claimed",
    "Conflict",
    "IdempotencyRepository",
    "InProgress",
    "KeyStatus",
    "Replay",
    "input_hash",
]

_KEYS = cast(Table, IdempotencyKeyRow.__table__)
DEFAULT_RETENTION = timedelta(hours=24)


class KeyStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"


@dataclass(frozen=True, slots=True)
class Claimed:
    """This caller owns the key: run the operation, then ``complete`` it."""

    key: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Replay:
    """The operation already ran with this key and input: answer ``result`` again."""

    key: str
    result: Any


@dataclass(frozen=True, slots=True)
class InProgress:
    """Another caller claimed the key for the same input and has not finished."""

    key: str
    claimed_at: datetime


@dataclass(frozen=True, slots=True)
class Conflict:
    """The key was used for another operation or another input."""

    key: str
    operation: str

    @property
    def message(self) -> str:
        return (
            f"Idempotency key {self.key!r} was already used with a different input"
            f" (operation {self.operation}); use a new key for a new request"
        )


ClaimOutcome = Claimed | Replay | InProgress | Conflict


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} has no canonical JSON form")


def input_hash(value: Any) -> str:
    """SHA-256 (hex) of ``value`` as canonical JSON: sorted keys, no whitespace.

    Decimals hash as their string (``1.0`` and ``1.00`` differ), dates and
    datetimes as ISO 8601, enums as their value; other types are a TypeError.
    """
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_canonical
    )
    return hashlib.sha256(text.encode()).hexdigest()


class IdempotencyRepository:
    """Claims, completes and expires idempotency keys through an :class:`AsyncEngine`."""

    def __init__(
        self,
        engine: AsyncEngine,
        retention: timedelta = DEFAULT_RETENTION,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._engine = engine
        self.retention = retention
        self._clock = clock
        self.audit_log = AuditLog(engine)
        """Where ``complete`` and ``release`` append their audit entries."""

    async def claim(self, key: str, operation: str, input_hash: str) -> ClaimOutcome:
        """Claim ``key`` for ``operation`` on an input hashing to ``input_hash``."""
        now = self._clock()
        expires = now + self.retention
        fresh = {
            "operation": operation,
            "input_hash": input_hash,
            "status": KeyStatus.IN_PROGRESS.value,
            "result": None,
            "created_at": now,
            "completed_at": None,
            "expires_at": expires,
        }
        async with self._engine.begin() as conn:
            insert = insert_for(conn, _KEYS)
            inserted = await conn.execute(
                insert.values(key=key, **fresh)
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(_KEYS.c.key)
            )
            if inserted.first() is not None:
                return Claimed(key, expires)
            # Taken: by an expired claim (take it over, one winner) or a live one.
            taken_over = await conn.execute(
                update(_KEYS)
                .where(_KEYS.c.key == key, _KEYS.c.expires_at <= now)
                .values(**fresh)
                .returning(_KEYS.c.key)
            )
            if taken_over.first() is not None:
                return Claimed(key, expires)
            row = (await conn.execute(select(_KEYS).where(_KEYS.c.key == key))).one()
            if row.operation != operation or row.input_hash != input_hash:
                return Conflict(key, row.operation)
            # A duplicate prevented: counted for flowMetrics and /metrics.
            await conn.execute(
                update(_KEYS).where(_KEYS.c.key == key).values(replays=_KEYS.c.replays + 1)
            )
        if row.status == KeyStatus.COMPLETED:
            return Replay(key, row.result)
        return InProgress(key, as_utc(row.created_at))

    async def complete(self, key: str, result: Any, *, audit: AuditEntry | None = None) -> bool:
        """Store the JSON-able ``result`` of the claimed operation; False if not in progress.

        ``audit`` is appended to the audit log in the same transaction.
        """
        async with self._engine.begin() as conn:
            done = await conn.execute(
                update(_KEYS)
                .where(_KEYS.c.key == key, _KEYS.c.status == KeyStatus.IN_PROGRESS.value)
                .values(status=KeyStatus.COMPLETED.value, result=result, completed_at=self._clock())
                .returning(_KEYS.c.key)
            )
            completed = done.first() is not None
            if audit is not None:
                await self.audit_log.append(audit, conn)
            return completed

    async def release(self, key: str, *, audit: AuditEntry | None = None) -> bool:
        """Give up an unfinished claim (the operation had no effect anywhere).

        ``audit`` is appended to the audit log in the same transaction.
        """
        async with self._engine.begin() as conn:
            gone = await conn.execute(
                delete(_KEYS)
                .where(_KEYS.c.key == key, _KEYS.c.status == KeyStatus.IN_PROGRESS.value)
                .returning(_KEYS.c.key)
            )
            released = gone.first() is not None
            if audit is not None:
                await self.audit_log.append(audit, conn)
            return released

    async def purge_expired(self) -> int:
        """Delete the rows past their retention; returns how many."""
        async with self._engine.begin() as conn:
            gone = await conn.execute(
                delete(_KEYS).where(_KEYS.c.expires_at <= self._clock()).returning(_KEYS.c.key)
            )
            return len(gone.all())
