"""Commands: what a mutation does, without GraphQL — idempotency, checks, start, wait.

:meth:`Commands.execute` is the one path every mutation takes:

1. claim the idempotency key (:mod:`store.idempotency`): a key used before
   with the same input replays the first outcome (its correlation id, or its
   userErrors) and starts nothing; with another input it is
   ``IDEMPOTENCY_KEY_REUSED``; a duplicate racing the first waits for it;
2. run the mutation's checks (a flow already running or parked on the
   subject, then ownership, the contract state machine, the expected version);
   a refusal is stored as the key's outcome and nothing is written anywhere;
3. start the flow under a correlation id derived from the key (so duplicates
   from any replica land on the same transaction) and wait for it up to
   ``wait_s``; a flow still running after that is answered as ``RUNNING`` and
   finishes in the background.

Every call, whatever its outcome, writes an audit record (:mod:`domain.audit`,
:mod:`store.audit`): in the same transaction as the key's completion (accepted:
``ACCEPTED`` with the correlation id; refused: ``REFUSED:<codes>``) or its
release (a check could not ask a system: ``REFUSED:SOURCE_UNAVAILABLE``), and in
a transaction of its own for a replay (``REPLAYED``, with the first call's
correlation id or codes) or a reused key (``REFUSED:IDEMPOTENCY_KEY_REUSED``).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.audit import ANONYMOUS, Actor, Outcome, outcome, redact
from domain.exception_items import ExceptionItem, ExceptionStatus
from domain.flows.engine import FlowRunner
from domain.transactions import StepStatus, Transaction, TransactionStatus
from sources.errors import SourceError
from store.audit import AuditEntry
from store.idempotency import (
    Claimed,
    Conflict,
    IdempotencyRepository,
    InProgress,
    Replay,
    input_hash,
)

__all__ = ["NEW_SUBJECT", "CommandResult", "Commands", "UserError", "correlation_id_for"]

_POLL_S = 0.05
NEW_SUBJECT = "new:"
"""The subject of a create until its record exists."""
_OWNER_REFUSALS = frozenset({"VALIDATION", "CONFLICT", "NOT_FOUND"})


@dataclass(frozen=True, slots=True)
class UserError:
    """An expected failure, reported as data: ``{field, code, message}``."""

    code: str
    message: str
    field: str | None = None

    def dump(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "field": self.field}


@dataclass(frozen=True, slots=True)
class CommandResult:
    correlation_id: str | None
    transaction: Transaction | None
    user_errors: tuple[UserError, ...] = ()
    replayed: bool = False

    @property
    def subject(self) -> str | None:
        """What the flow changed; None while a create has not made its record."""
        if self.transaction is None or self.transaction.subject.startswith(NEW_SUBJECT):
            return None
        return self.transaction.subject


Check = Callable[[], Awaitable[Sequence[UserError]]]


def correlation_id_for(kind: str, key: str) -> str:
    """The correlation id of the flow a key starts: the same on every replica."""
    digest = hashlib.sha256(f"{kind}\x00{key}".encode()).hexdigest()[:24]
    return f"tx_{digest}"


def _refusals(tx: Transaction) -> tuple[UserError, ...]:
    """A flow the owner refused (nothing changed anywhere) as userErrors."""
    if tx.status != TransactionStatus.FAILED:
        return ()
    return tuple(
        UserError(step.error_code or "REFUSED", step.error_message or "refused")
        for step in tx.steps
        if step.status == StepStatus.FAILED and step.error_code in _OWNER_REFUSALS
    )


class Commands:
    """Runs mutations as keyed, checked, durable flows."""

    def __init__(
        self, runner: FlowRunner, idempotency: IdempotencyRepository, wait_s: float = 8.0
    ) -> None:
        self.runner = runner
        self.idempotency = idempotency
        self.wait_s = wait_s

    async def execute(
        self,
        kind: str,
        flow_input: Mapping[str, Any],
        *,
        subject: str | None,
        key: str | None,
        check: Check | None = None,
        correlation_id: str | None = None,
        actor: Actor | None = None,
        mutation: str | None = None,
    ) -> CommandResult:
        """Run ``kind`` on ``flow_input`` at most once per ``key`` (None: a fresh key).

        ``subject`` is what the flow changes; None for a create, whose subject the
        flow names once the record exists (until then it is ``new:<correlation id>``).
        ``actor`` (default: anonymous) and ``mutation`` (default: ``kind``) are what
        the call's audit record names.
        """
        key = key or f"auto-{uuid.uuid4()}"
        cid = correlation_id or correlation_id_for(kind, key)
        audited_subject = subject
        subject = subject or f"{NEW_SUBJECT}{cid}"
        who = actor or ANONYMOUS
        redacted = redact(flow_input)

        def audit(result: str, correlation: str | None) -> AuditEntry:
            return AuditEntry(
                actor=who.name,
                role=who.role,
                mutation=mutation or str(kind),
                subject=audited_subject,
                input=redacted,
                outcome=result,
                correlation_id=correlation,
            )

        digest = input_hash({"kind": kind, "input": dict(flow_input)})
        claimed = await self.idempotency.claim(key, kind, digest)
        deadline = asyncio.get_running_loop().time() + self.wait_s
        while isinstance(claimed, InProgress):  # the first caller is still checking
            if asyncio.get_running_loop().time() > deadline:
                await self.idempotency.audit_log.append(audit(outcome(Outcome.REPLAYED), cid))
                return CommandResult(cid, await self.runner.journal.get(cid), replayed=True)
            await asyncio.sleep(_POLL_S)
            claimed = await self.idempotency.claim(key, kind, digest)
        if isinstance(claimed, Conflict):
            reused = UserError("IDEMPOTENCY_KEY_REUSED", claimed.message, "idempotencyKey")
            await self.idempotency.audit_log.append(
                audit(outcome(Outcome.REFUSED, [reused.code]), None)
            )
            return CommandResult(None, None, (reused,))
        if isinstance(claimed, Replay):
            replayed = await self._replay(claimed.result, deadline)
            codes = [e.code for e in replayed.user_errors] if not replayed.correlation_id else []
            await self.idempotency.audit_log.append(
                audit(outcome(Outcome.REPLAYED, codes), replayed.correlation_id)
            )
            return replayed
        assert isinstance(claimed, Claimed)
        try:
            # A flow still running or parked on the subject answers first: until it is
            # done the systems disagree, and the state they show is not the whole story.
            errors = await self._busy(subject, cid)
            if not errors and check is not None:
                errors = tuple(await check())
        except BaseException as exc:
            # The check could not ask a system: nothing happened, the key is free again.
            why = "SOURCE_UNAVAILABLE" if isinstance(exc, SourceError) else type(exc).__name__
            await self.idempotency.release(key, audit=audit(outcome(Outcome.REFUSED, [why]), None))
            raise
        if errors:
            await self.idempotency.complete(
                key,
                {"user_errors": [e.dump() for e in errors]},
                audit=audit(outcome(Outcome.REFUSED, [e.code for e in errors]), None),
            )
            return CommandResult(None, None, errors)
        task = await self.runner.start(
            kind, cid, subject, flow_input, idempotency_key=key, started_by=who.name
        )
        await self.idempotency.complete(
            key, {"correlation_id": cid}, audit=audit(outcome(Outcome.ACCEPTED), cid)
        )
        return await self._wait(cid, task)

    async def resume(self, correlation_id: str) -> CommandResult:
        """Run an unfinished flow now (``replayTransaction``) and wait for it."""
        tx = await self.runner.journal.get(correlation_id)
        if tx is not None and tx.status == TransactionStatus.NEEDS_ATTENTION:
            task = await self.runner.retry(correlation_id)
        else:
            task = self.runner.spawn(correlation_id)
        return await self._wait(correlation_id, task)

    async def retry_exception(self, item: ExceptionItem) -> CommandResult:
        """An operator's retry of the item's flow from its failed step."""
        if item.status == ExceptionStatus.RESOLVED:
            return CommandResult(
                item.correlation_id,
                await self.runner.journal.get(item.correlation_id),
                (UserError("ILLEGAL_TRANSITION", "the exception item is already resolved", "id"),),
            )
        await self.runner.exceptions.mark_retrying(item.id)
        return await self.resume(item.correlation_id)

    async def resolve_exception(self, item: ExceptionItem, note: str, actor: str) -> CommandResult:
        """Close the item by hand; its parked flow ends FAILED (what it did stays done)."""
        if item.status == ExceptionStatus.RESOLVED:
            return CommandResult(
                item.correlation_id,
                await self.runner.journal.get(item.correlation_id),
                (UserError("ILLEGAL_TRANSITION", "the exception item is already resolved", "id"),),
            )
        await self.runner.exceptions.resolve(item.id, note, actor)
        tx = await self.runner.journal.get(item.correlation_id)
        if tx is not None and tx.status == TransactionStatus.NEEDS_ATTENTION:
            tx = await self.runner.journal.finish(item.correlation_id, TransactionStatus.FAILED)
        return CommandResult(item.correlation_id, tx)

    async def _wait(
        self, correlation_id: str, task: asyncio.Task[Transaction | None]
    ) -> CommandResult:
        try:
            tx = await asyncio.wait_for(asyncio.shield(task), self.wait_s)
        except TimeoutError:
            tx = None
        if tx is None:
            tx = await self.runner.journal.get(correlation_id)
        return CommandResult(correlation_id, tx, _refusals(tx) if tx else ())

    async def _replay(self, result: Any, deadline: float) -> CommandResult:
        stored = result if isinstance(result, Mapping) else {}
        if stored.get("user_errors"):
            errors = tuple(
                UserError(e["code"], e["message"], e.get("field")) for e in stored["user_errors"]
            )
            return CommandResult(None, None, errors, replayed=True)
        cid = str(stored.get("correlation_id"))
        tx = await self._settled(cid, deadline)
        return CommandResult(cid, tx, _refusals(tx) if tx else (), replayed=True)

    async def _settled(self, cid: str, deadline: float) -> Transaction | None:
        """The transaction once it stops running, or as it is at ``deadline``."""
        loop = asyncio.get_running_loop()
        while True:
            tx = await self.runner.journal.get(cid)
            if tx is None or tx.status not in (
                TransactionStatus.PENDING,
                TransactionStatus.RUNNING,
            ):
                return tx
            if loop.time() > deadline:
                return tx
            await asyncio.sleep(_POLL_S)

    async def _busy(self, subject: str, cid: str) -> tuple[UserError, ...]:
        """A flow still running (or parked) on the same subject refuses a new one."""
        running = await self.runner.journal.unfinished_for(subject)
        others = [tx for tx in running if tx.correlation_id != cid]
        if not others:
            return ()
        tx = others[0]
        return (
            UserError(
                "FLOW_IN_PROGRESS",
                f"{tx.kind} ({tx.correlation_id}) is {tx.status} on {subject}: wait for it, "
                "or retry or resolve its exception first",
            ),
        )
