"""The audit log: one row per mutation call, in a hash chain that shows tampering.

Rows are only ever inserted: nothing in the gateway (and no GraphQL mutation)
updates or deletes them. Someone with access to the database could, so every
record carries ``hash``, computed over its own fields and the ``prev_hash`` of
the record before it, and :meth:`AuditLog.verify` recomputes the chain.

**The hash.** ``hash = sha256(canonical).hexdigest()`` where ``canonical`` is the
UTF-8 of ``json.dumps(fields, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` and ``fields`` is the object with exactly these keys::

    id, at, actor, role, mutation, subject, input, outcome, correlation_id, prev_hash

``at`` is the UTC instant as ISO 8601 with microseconds and a ``+00:00`` offset
(``2026-12-20T09:30:00.000000+00:00``); ``role``, ``subject`` and
``correlation_id`` may be null; ``input`` is the (redacted) JSON input, with the
same canonical form for nested objects (keys sorted). ``prev_hash`` of the
first record is :data:`GENESIS_HASH` (64 zeros).

**One chain, whoever appends.** Appends are serialized on the one-row table
``audit_chain_head`` (id 1: ``last_id``, ``last_hash``): an append first
``UPDATE``\\ s that row (``last_id = last_id + 1 ... RETURNING``), which on Postgres
locks it until the transaction ends, so a second gateway process appending at
the same moment waits and then reads the new head; SQLite serializes writers
already. The new record's id is ``last_id`` + 1 and its ``prev_hash`` the head's
``last_hash``, so ids run 1, 2, 3 ... without gaps (a rolled-back append rolls
its id back too) and the chain never forks. :meth:`AuditLog.append` takes an
open connection, so the record commits (or not) with the caller's other writes:
the idempotency record's completion (:mod:`store.idempotency`).

:meth:`AuditLog.verify` names the first bad record: ``hash mismatch`` (a field
was changed), ``broken link`` (its ``prev_hash`` is not the previous record's
hash: a record before it was deleted or changed), ``missing id`` (ids skip,
or the head counts records the table no longer has).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store.models import AuditChainHeadRow, AuditRecordRow
from store.portable import as_utc, utcnow

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "AuditLog",
    "AuditPage",
    "AuditRecord",
    "VerifyResult",
    "record_hash",
]

_LOG = cast(Table, AuditRecordRow.__table__)
_HEAD = cast(Table, AuditChainHeadRow.__table__)
GENESIS_HASH = "0" * 64
_HEAD_ID = 1


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What a caller appends; the log adds the id, the hashes and (by default) the time."""

    actor: str
    mutation: str
    outcome: str
    input: Mapping[str, Any] = field(default_factory=dict)
    """Already redacted (:func:`domain.audit.redact`)."""
    role: str | None = None
    subject: str | None = None
    correlation_id: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    role: str | None
    mutation: str
    subject: str | None
    input: dict[str, Any]
    outcome: str
    correlation_id: str | None
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class AuditPage:
    records: list[AuditRecord]
    next_after: int | None
    """Pass as ``after`` for the next page (None: this was the last)."""


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    """Records checked (up to and including the first bad one)."""
    first_bad_id: int | None = None
    reason: str | None = None


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} has no JSON form in the audit log")


def _plain(value: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` as the JSON the store gives back (decimals and dates as strings)."""
    plain: dict[str, Any] = json.loads(json.dumps(dict(value), default=_json_default))
    return plain


def _utc_iso(moment: datetime) -> str:
    return as_utc(moment).astimezone(UTC).isoformat(timespec="microseconds")


def record_hash(
    *,
    id: int,
    at: datetime,
    actor: str,
    role: str | None,
    mutation: str,
    subject: str | None,
    input: Mapping[str, Any],
    outcome: str,
    correlation_id: str | None,
    prev_hash: str,
) -> str:
    """The record's hash (the definition is in the module docstring)."""
    fields = {
        "id": id,
        "at": _utc_iso(at),
        "actor": actor,
        "role": role,
        "mutation": mutation,
        "subject": subject,
        "input": input,
        "outcome": outcome,
        "correlation_id": correlation_id,
        "prev_hash": prev_hash,
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _record(row: Any) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        at=as_utc(row.at),
        actor=row.actor,
        role=row.role,
        mutation=row.mutation,
        subject=row.subject,
        input=row.input if isinstance(row.input, dict) else {},
        outcome=row.outcome,
        correlation_id=row.correlation_id,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _hash_of(row: Any) -> str:
    return record_hash(
        id=row.id,
        at=row.at,
        actor=row.actor,
        role=row.role,
        mutation=row.mutation,
        subject=row.subject,
        input=row.input,
        outcome=row.outcome,
        correlation_id=row.correlation_id,
        prev_hash=row.prev_hash,
    )


def encode_position(record_id: int) -> str:
    return base64.urlsafe_b64encode(str(record_id).encode()).decode()


def decode_position(position: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(position.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw.isdigit():
        raise ValueError(f"{position!r} is not a position in the audit log")
    return int(raw)


class AuditLog:
    """Appends, lists and verifies audit records through an :class:`AsyncEngine`.

    There is no update and no delete: the log is append-only.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def append(self, entry: AuditEntry, conn: AsyncConnection | None = None) -> AuditRecord:
        """Append ``entry`` at the chain's end; inside ``conn``'s transaction when given."""
        if conn is not None:
            return await self._append(conn, entry)
        async with self._engine.begin() as own:
            return await self._append(own, entry)

    async def _append(self, conn: AsyncConnection, entry: AuditEntry) -> AuditRecord:
        # Taking the head row first locks it (Postgres) or the database (SQLite) until
        # this transaction ends: appends happen one after another, never from one head.
        head = (
            await conn.execute(
                update(_HEAD)
                .where(_HEAD.c.id == _HEAD_ID)
                .values(last_id=_HEAD.c.last_id + 1)
                .returning(_HEAD.c.last_id, _HEAD.c.last_hash)
            )
        ).first()
        if head is None:
            raise RuntimeError("the audit chain head is missing: is the store migrated?")
        at = as_utc(entry.at) if entry.at is not None else utcnow()
        at = at.astimezone(UTC)
        values: dict[str, Any] = {
            "id": head.last_id,
            "at": at,
            "actor": entry.actor,
            "role": entry.role,
            "mutation": entry.mutation,
            "subject": entry.subject,
            "input": _plain(entry.input),
            "outcome": entry.outcome,
            "correlation_id": entry.correlation_id,
            "prev_hash": head.last_hash,
        }
        values["hash"] = record_hash(**values)
        await conn.execute(insert(_LOG).values(**values))
        await conn.execute(
            update(_HEAD).where(_HEAD.c.id == _HEAD_ID).values(last_hash=values["hash"])
        )
        return AuditRecord(**values)

    async def list(
        self,
        *,
        actor: str | None = None,
        subject: str | None = None,
        since: datetime | None = None,
        first: int = 20,
        after: int | None = None,
    ) -> AuditPage:
        """Records newest first (by id), filtered (AND); ``after`` is a record id."""
        query = select(_LOG).order_by(_LOG.c.id.desc()).limit(first + 1)
        if actor is not None:
            query = query.where(_LOG.c.actor == actor)
        if subject is not None:
            query = query.where(_LOG.c.subject == subject)
        if since is not None:
            query = query.where(_LOG.c.at >= since)
        if after is not None:
            query = query.where(_LOG.c.id < after)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        records = [_record(r) for r in rows[:first]]
        more = len(rows) > first and bool(records)
        return AuditPage(records, records[-1].id if more else None)

    async def verify(self, batch: int = 1000) -> VerifyResult:
        """Recompute the chain from the first record; the first bad one and why."""
        checked = 0
        expected_id = 1
        prev_hash = GENESIS_HASH
        async with self._engine.connect() as conn:
            head = (await conn.execute(select(_HEAD).where(_HEAD.c.id == _HEAD_ID))).first()
            while True:
                rows: Sequence[Any] = (
                    await conn.execute(
                        select(_LOG)
                        .where(_LOG.c.id >= expected_id)
                        .order_by(_LOG.c.id)
                        .limit(batch)
                    )
                ).all()
                for row in rows:
                    checked += 1
                    if row.prev_hash != prev_hash:
                        return VerifyResult(False, checked, row.id, "broken link")
                    if row.id != expected_id:
                        return VerifyResult(False, checked, expected_id, "missing id")
                    if _hash_of(row) != row.hash:
                        return VerifyResult(False, checked, row.id, "hash mismatch")
                    prev_hash = row.hash
                    expected_id += 1
                if len(rows) < batch:
                    break
        if head is None:
            return VerifyResult(False, checked, None, "the chain head is missing")
        if head.last_id >= expected_id:
            return VerifyResult(False, checked, expected_id, "missing id")
        if head.last_id != expected_id - 1 or head.last_hash != prev_hash:
            return VerifyResult(False, checked, head.last_id, "broken link")
        return VerifyResult(True, checked)
