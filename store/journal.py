"""The transaction journal: transactions and their steps, written around each call.

A flow calls :meth:`JournalRepository.begin` once, then for every call to a
system :meth:`~JournalRepository.step_started` *before* the call (the step is
``RUNNING``, one more attempt) and :meth:`~JournalRepository.step_finished`
after it (``SUCCEEDED`` with the id created there, or ``FAILED`` with the
error), and finally :meth:`~JournalRepository.finish`. Status changes follow
:mod:`domain.transactions`; a refused one raises
:class:`~domain.transactions.IllegalTransition` and writes nothing.

Every change is one conditional statement (``UPDATE ... WHERE status IN
(...)`` or ``INSERT ... ON CONFLICT DO UPDATE``), so concurrent writers of the
same step (two replicas resuming one flow) each count their attempt and never
resurrect a finished step or transaction. Reads come back as the domain
dataclasses. :meth:`~JournalRepository.list` is keyset-paged newest first;
:meth:`~JournalRepository.delayed` finds running steps older than their SLO.
"""

from __future__ import annotations

import base64
import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, exists, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.transactions import (
    FINISHED,
    DelayedStep,
    IllegalTransition,
    Step,
    StepStatus,
    Transaction,
    TransactionKind,
    TransactionPage,
    TransactionStatus,
    sources_of,
    step_sources_of,
)
from sources.systems import System
from store.models import TransactionRow, TransactionStepRow
from store.portable import as_utc, insert_for, utcnow

__all__ = ["JournalRepository", "TransactionNotFound"]

_TX = cast(Table, TransactionRow.__table__)
_STEPS = cast(Table, TransactionStepRow.__table__)
_RUNNABLE = [TransactionStatus.PENDING.value, TransactionStatus.RUNNING.value]


class TransactionNotFound(LookupError):
    """No transaction (or no such step of it) under this correlation id."""


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("journal times must be timezone-aware")
    return value.astimezone(UTC)


def _step(row: Any) -> Step:
    return Step(
        correlation_id=row.correlation_id,
        step_no=row.step_no,
        system=System(row.system),
        action=row.action,
        status=StepStatus(row.status),
        attempts=row.attempts,
        started_at=as_utc(row.started_at),
        finished_at=as_utc(row.finished_at),
        latency_ms=row.latency_ms,
        error_code=row.error_code,
        error_message=row.error_message,
        created_id=row.created_id,
        vendor_idempotency_key=row.vendor_idempotency_key,
        result=row.result,
    )


def _transaction(row: Any, steps: Iterable[Step] = ()) -> Transaction:
    started = as_utc(row.started_at)
    assert started is not None
    return Transaction(
        correlation_id=row.correlation_id,
        kind=row.kind,
        subject=row.subject,
        status=TransactionStatus(row.status),
        started_at=started,
        completed_at=as_utc(row.completed_at),
        current_system=System(row.current_system) if row.current_system else None,
        idempotency_key=row.idempotency_key,
        steps=tuple(steps),
        input=row.input,
        lease_owner=row.lease_owner,
        lease_until=as_utc(row.lease_until),
        started_by=row.started_by,
    )


def _cursor(tx: Transaction) -> str:
    raw = f"{tx.started_at.astimezone(UTC).isoformat()}|{tx.correlation_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(after: str) -> tuple[datetime, str]:
    try:
        started, correlation_id = base64.urlsafe_b64decode(after.encode()).decode().split("|", 1)
        return _utc(datetime.fromisoformat(started)), correlation_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"invalid cursor {after!r}") from exc


class JournalRepository:
    """Writes and reads the transaction journal through an :class:`AsyncEngine`."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = utcnow) -> None:
        self._engine = engine
        self._clock = clock

    def _now(self) -> datetime:
        return _utc(self._clock())

    async def begin(
        self,
        correlation_id: str,
        kind: str,
        subject: str,
        *,
        idempotency_key: str | None = None,
        plan: Sequence[tuple[System, str]] = (),
        input: Mapping[str, Any] | None = None,
        owner: str | None = None,
        lease_s: float = 0.0,
        started_by: str | None = None,
    ) -> Transaction:
        """Record a new ``PENDING`` transaction, with its planned steps as ``PENDING``.

        With ``owner`` the new transaction is leased to that worker for ``lease_s``
        in the same statement, so a flow whose starter dies before its first step
        is still found and resumed by another worker. Idempotent: beginning an
        existing correlation id again returns it unchanged (a resumed flow re-runs
        its first line); a different kind or subject under the same id is a ValueError.
        """
        now = self._now()
        async with self._engine.begin() as conn:
            inserted = await conn.execute(
                insert_for(conn, _TX)
                .values(
                    correlation_id=correlation_id,
                    kind=kind,
                    subject=subject,
                    status=TransactionStatus.PENDING.value,
                    started_at=now,
                    completed_at=None,
                    current_system=None,
                    idempotency_key=idempotency_key,
                    input=dict(input) if input is not None else None,
                    lease_owner=owner,
                    lease_until=now + timedelta(seconds=lease_s) if owner else None,
                    started_by=started_by,
                )
                .on_conflict_do_nothing(index_elements=["correlation_id"])
                .returning(_TX.c.correlation_id)
            )
            if inserted.first() is not None and plan:
                await conn.execute(
                    _STEPS.insert(),
                    [
                        {
                            "correlation_id": correlation_id,
                            "step_no": n,
                            "system": System(system).value,
                            "action": action,
                            "status": StepStatus.PENDING.value,
                            "attempts": 0,
                        }
                        for n, (system, action) in enumerate(plan, start=1)
                    ],
                )
            tx = await self._load(conn, correlation_id)
        assert tx is not None
        if tx.kind != kind or tx.subject != subject:
            raise ValueError(
                f"transaction {correlation_id} exists as {tx.kind} of {tx.subject},"
                f" not {kind} of {subject}"
            )
        return tx

    async def step_started(
        self,
        correlation_id: str,
        step_no: int,
        system: System,
        action: str,
        *,
        vendor_idempotency_key: str | None = None,
    ) -> Step:
        """Journal a call before it is made: the step is ``RUNNING`` with one more attempt.

        Creates the step if it was not planned. The transaction becomes ``RUNNING``.
        Refused (:class:`IllegalTransition`) when the transaction is finished or the
        step already succeeded; a ValueError when the step exists for another system
        or action. Nothing is written when refused.
        """
        now = self._now()
        async with self._engine.begin() as conn:
            # Lock the transaction row first: concurrent starts of its steps queue here.
            await self._move(conn, correlation_id, TransactionStatus.RUNNING, {})
            from_statuses = [s.value for s in step_sources_of(StepStatus.RUNNING)]
            insert = insert_for(conn, _STEPS).values(
                correlation_id=correlation_id,
                step_no=step_no,
                system=System(system).value,
                action=action,
                status=StepStatus.RUNNING.value,
                attempts=1,
                started_at=now,
                vendor_idempotency_key=vendor_idempotency_key,
            )
            started = await conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["correlation_id", "step_no"],
                    set_={
                        "status": StepStatus.RUNNING.value,
                        "attempts": _STEPS.c.attempts + 1,
                        "started_at": now,
                        "finished_at": None,
                        "latency_ms": None,
                        "error_code": None,
                        "error_message": None,
                        "vendor_idempotency_key": vendor_idempotency_key,
                    },
                    where=_STEPS.c.status.in_(from_statuses),
                ).returning(*_STEPS.c)
            )
            row = started.first()
            if row is None:
                current = await self._step_row(conn, correlation_id, step_no)
                raise IllegalTransition(
                    "step", f"{correlation_id}#{step_no}", current.status, StepStatus.RUNNING
                )
            if (row.system, row.action) != (System(system).value, action):
                # Rolls the whole start back: a flow's step numbers must not drift.
                raise ValueError(
                    f"step {correlation_id}#{step_no} is {row.action} on {row.system},"
                    f" not {action} on {system}"
                )
            return _step(row)

    async def step_finished(
        self,
        correlation_id: str,
        step_no: int,
        status: StepStatus,
        *,
        created_id: str | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
        result: Mapping[str, Any] | None = None,
    ) -> Step:
        """Journal a call's answer: ``SUCCEEDED`` (with ``created_id`` and the
        ``result`` a resumed flow reuses) or ``FAILED``.

        Only a ``RUNNING`` step finishes; a ``FAILED`` one needs ``error_code``. A
        succeeded step makes its system the transaction's ``current_system``.
        """
        if status not in (StepStatus.SUCCEEDED, StepStatus.FAILED):
            raise ValueError(f"a step finishes SUCCEEDED or FAILED, not {status}")
        if status == StepStatus.FAILED and not error_code:
            raise ValueError("a failed step needs an error_code")
        now = self._now()
        async with self._engine.begin() as conn:
            current = await self._step_row(conn, correlation_id, step_no)
            started_at = as_utc(current.started_at)
            latency = (
                round((now - started_at).total_seconds() * 1000) if started_at is not None else None
            )
            done = await conn.execute(
                update(_STEPS)
                .where(
                    _STEPS.c.correlation_id == correlation_id,
                    _STEPS.c.step_no == step_no,
                    _STEPS.c.status.in_([s.value for s in step_sources_of(status)]),
                    # Fenced by the attempt: a newer attempt owns the step now.
                    _STEPS.c.attempts == current.attempts,
                )
                .values(
                    status=status.value,
                    finished_at=now,
                    latency_ms=latency,
                    created_id=created_id,
                    result=dict(result) if result is not None else None,
                    error_code=error_code if status == StepStatus.FAILED else None,
                    error_message=error_message if status == StepStatus.FAILED else None,
                )
                .returning(*_STEPS.c)
            )
            row = done.first()
            if row is None:
                current = await self._step_row(conn, correlation_id, step_no)
                raise IllegalTransition(
                    "step", f"{correlation_id}#{step_no}", current.status, status
                )
            if status == StepStatus.SUCCEEDED:
                await conn.execute(
                    update(_TX)
                    .where(_TX.c.correlation_id == correlation_id)
                    .values(current_system=row.system)
                )
            return _step(row)

    async def finish(self, correlation_id: str, status: TransactionStatus) -> Transaction:
        """Move the transaction to ``COMPLETED``, ``FAILED`` or ``NEEDS_ATTENTION``."""
        if status not in (
            TransactionStatus.COMPLETED,
            TransactionStatus.FAILED,
            TransactionStatus.NEEDS_ATTENTION,
        ):
            raise ValueError(f"finish takes COMPLETED, FAILED or NEEDS_ATTENTION, not {status}")
        values: dict[str, Any] = {}
        if status != TransactionStatus.NEEDS_ATTENTION:
            values["completed_at"] = self._now()
        async with self._engine.begin() as conn:
            await self._move(conn, correlation_id, status, values)
            tx = await self._load(conn, correlation_id)
        assert tx is not None
        return tx

    async def reopen(self, correlation_id: str) -> Transaction:
        """Back to ``RUNNING`` from ``NEEDS_ATTENTION`` (an operator retries it)."""
        async with self._engine.begin() as conn:
            await self._move(conn, correlation_id, TransactionStatus.RUNNING, {})
            tx = await self._load(conn, correlation_id)
        assert tx is not None
        return tx

    async def set_subject(self, correlation_id: str, subject: str) -> None:
        """Name the transaction's subject once it exists (e.g. the id a create made)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(_TX).where(_TX.c.correlation_id == correlation_id).values(subject=subject)
            )

    # --- leases: which worker runs an unfinished flow ------------------------------

    async def acquire(self, correlation_id: str, owner: str, lease_s: float) -> Transaction | None:
        """Lease an unfinished, runnable flow to ``owner`` for ``lease_s``; None if another
        worker holds a live lease (or the flow is finished or parked).

        One conditional UPDATE, so of two workers racing for an abandoned flow
        exactly one wins.
        """
        now = self._now()
        async with self._engine.begin() as conn:
            taken = await conn.execute(
                update(_TX)
                .where(
                    _TX.c.correlation_id == correlation_id,
                    _TX.c.status.in_(_RUNNABLE),
                    or_(
                        _TX.c.lease_owner.is_(None),
                        _TX.c.lease_owner == owner,
                        _TX.c.lease_until < now,
                    ),
                )
                .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_s))
                .returning(_TX.c.correlation_id)
            )
            if taken.first() is None:
                return None
            return await self._load(conn, correlation_id)

    async def renew(self, correlation_id: str, owner: str, lease_s: float) -> bool:
        """Extend ``owner``'s lease; False when it lost the flow to another worker."""
        async with self._engine.begin() as conn:
            renewed = await conn.execute(
                update(_TX)
                .where(_TX.c.correlation_id == correlation_id, _TX.c.lease_owner == owner)
                .values(lease_until=self._now() + timedelta(seconds=lease_s))
                .returning(_TX.c.correlation_id)
            )
            return renewed.first() is not None

    async def release(self, correlation_id: str, owner: str) -> None:
        """Give the lease up (the flow finished, parked, or its worker stops)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(_TX)
                .where(_TX.c.correlation_id == correlation_id, _TX.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    async def abandoned(self, limit: int = 100) -> builtins.list[str]:
        """Unfinished flows whose lease ran out (their worker died), oldest first."""
        query = (
            select(_TX.c.correlation_id)
            .where(_TX.c.status.in_(_RUNNABLE), _TX.c.lease_until < self._now())
            .order_by(_TX.c.started_at)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [row.correlation_id for row in await conn.execute(query)]

    async def unfinished_for(self, subject: str) -> builtins.list[Transaction]:
        """The subject's transactions that are not finished (running or parked), oldest first."""
        query = (
            select(_TX)
            .where(_TX.c.subject == subject, _TX.c.status.not_in([s.value for s in FINISHED]))
            .order_by(_TX.c.started_at)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            steps = await self._steps_of(conn, [r.correlation_id for r in rows])
        return [_transaction(r, steps.get(r.correlation_id, ())) for r in rows]

    async def unfinished_by_subject(self, subjects: Sequence[str]) -> dict[str, str]:
        """For each subject with an unfinished (running or parked) transaction, the
        oldest one's correlation id."""
        if not subjects:
            return {}
        query = (
            select(_TX.c.subject, _TX.c.correlation_id)
            .where(
                _TX.c.subject.in_(list(dict.fromkeys(subjects))),
                _TX.c.status.not_in([s.value for s in FINISHED]),
            )
            .order_by(_TX.c.started_at.desc())
        )
        async with self._engine.connect() as conn:
            # Newest first, so the oldest wins the dict.
            return {row.subject: row.correlation_id for row in await conn.execute(query)}

    async def contract_authors(self, contract_id: str) -> tuple[str | None, str | None]:
        """Who created ``contract_id`` and who last amended it, through the gateway.

        The creator started its ``CREATE_CONTRACT`` (or the ``RENEW_CONTRACT`` whose
        step created it); the last amender started its newest ``AMEND_CONTRACT``.
        Failed transactions changed nothing and do not count; None: not known (a
        contract made outside the gateway, or never amended).
        """
        live = _TX.c.status != TransactionStatus.FAILED.value
        created = (
            select(_TX.c.started_by)
            .where(live, _TX.c.kind == TransactionKind.CREATE_CONTRACT.value)
            .where(_TX.c.subject == contract_id)
        )
        renewed = (
            select(_TX.c.started_by)
            .join(_STEPS, _STEPS.c.correlation_id == _TX.c.correlation_id)
            .where(live, _TX.c.kind == TransactionKind.RENEW_CONTRACT.value)
            .where(_STEPS.c.created_id == contract_id)
        )
        amended = (
            select(_TX.c.started_by)
            .where(live, _TX.c.kind == TransactionKind.AMEND_CONTRACT.value)
            .where(_TX.c.subject == contract_id)
            .order_by(_TX.c.started_at.desc())
            .limit(1)
        )
        async with self._engine.connect() as conn:
            creator = (await conn.execute(created.limit(1))).scalar_one_or_none()
            if creator is None:
                creator = (await conn.execute(renewed.limit(1))).scalar_one_or_none()
            amender = (await conn.execute(amended)).scalar_one_or_none()
        return creator, amender

    async def get(self, correlation_id: str) -> Transaction | None:
        """The transaction with its steps in order, or None."""
        async with self._engine.connect() as conn:
            return await self._load(conn, correlation_id)

    async def list(
        self,
        *,
        status: TransactionStatus | None = None,
        kind: str | None = None,
        system: System | None = None,
        since: datetime | None = None,
        first: int = 50,
        after: str | None = None,
        subject: str | None = None,
    ) -> TransactionPage:
        """Transactions newest first, filtered; ``system`` = has a step in that system,
        ``subject`` = what it changes (a contract's id: its timeline)."""
        if first < 1:
            raise ValueError("first must be positive")
        query = select(_TX)
        if status is not None:
            query = query.where(_TX.c.status == status.value)
        if kind is not None:
            query = query.where(_TX.c.kind == kind)
        if subject is not None:
            query = query.where(_TX.c.subject == subject)
        if since is not None:
            query = query.where(_TX.c.started_at >= _utc(since))
        if system is not None:
            query = query.where(
                exists().where(
                    _STEPS.c.correlation_id == _TX.c.correlation_id,
                    _STEPS.c.system == System(system).value,
                )
            )
        if after is not None:
            started, correlation_id = _decode_cursor(after)
            query = query.where(
                or_(
                    _TX.c.started_at < started,
                    and_(_TX.c.started_at == started, _TX.c.correlation_id < correlation_id),
                )
            )
        query = query.order_by(_TX.c.started_at.desc(), _TX.c.correlation_id.desc()).limit(
            first + 1
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            page = rows[:first]
            steps = await self._steps_of(conn, [r.correlation_id for r in page])
        items = tuple(_transaction(r, steps.get(r.correlation_id, ())) for r in page)
        return TransactionPage(items, _cursor(items[-1]) if len(rows) > first else None)

    async def delayed(
        self, slo_by_kind: Mapping[str, timedelta], now: datetime | None = None
    ) -> builtins.list[DelayedStep]:
        """Running steps older than their transaction kind's SLO, oldest first.

        Kinds without an SLO are never delayed.
        """
        at = _utc(now) if now is not None else self._now()
        late = or_(
            false(),
            *(
                and_(_TX.c.kind == kind, _STEPS.c.started_at < at - slo)
                for kind, slo in slo_by_kind.items()
            ),
        )
        query = (
            select(_STEPS.c.correlation_id, _STEPS.c.step_no)
            .join(_TX, _TX.c.correlation_id == _STEPS.c.correlation_id)
            .where(_STEPS.c.status == StepStatus.RUNNING.value, late)
            .order_by(_STEPS.c.started_at, _STEPS.c.correlation_id, _STEPS.c.step_no)
        )
        found: builtins.list[DelayedStep] = []
        async with self._engine.connect() as conn:
            for correlation_id, step_no in (await conn.execute(query)).all():
                tx = await self._load(conn, correlation_id)
                assert tx is not None
                step = next(s for s in tx.steps if s.step_no == step_no)
                assert step.started_at is not None
                found.append(DelayedStep(tx, step, at - step.started_at))
        return found

    async def _move(
        self,
        conn: AsyncConnection,
        correlation_id: str,
        target: TransactionStatus,
        values: dict[str, Any],
    ) -> None:
        moved = await conn.execute(
            update(_TX)
            .where(
                _TX.c.correlation_id == correlation_id,
                _TX.c.status.in_([s.value for s in sources_of(target)]),
            )
            .values(status=target.value, **values)
            .returning(_TX.c.correlation_id)
        )
        if moved.first() is None:
            current = (
                await conn.execute(
                    select(_TX.c.status).where(_TX.c.correlation_id == correlation_id)
                )
            ).scalar()
            if current is None:
                raise TransactionNotFound(correlation_id)
            raise IllegalTransition("transaction", correlation_id, current, target)

    async def _step_row(self, conn: AsyncConnection, correlation_id: str, step_no: int) -> Any:
        row = (
            await conn.execute(
                select(_STEPS).where(
                    _STEPS.c.correlation_id == correlation_id, _STEPS.c.step_no == step_no
                )
            )
        ).first()
        if row is None:
            raise TransactionNotFound(f"{correlation_id}#{step_no}")
        return row

    async def _steps_of(
        self, conn: AsyncConnection, correlation_ids: Sequence[str]
    ) -> dict[str, builtins.list[Step]]:
        by_tx: dict[str, builtins.list[Step]] = {}
        if not correlation_ids:
            return by_tx
        rows = await conn.execute(
            select(_STEPS)
            .where(_STEPS.c.correlation_id.in_(correlation_ids))
            .order_by(_STEPS.c.correlation_id, _STEPS.c.step_no)
        )
        for row in rows:
            by_tx.setdefault(row.correlation_id, []).append(_step(row))
        return by_tx

    async def _load(self, conn: AsyncConnection, correlation_id: str) -> Transaction | None:
        row = (
            await conn.execute(select(_TX).where(_TX.c.correlation_id == correlation_id))
        ).first()
        if row is None:
            return None
        steps = await self._steps_of(conn, [correlation_id])
        return _transaction(row, steps.get(correlation_id, ()))
