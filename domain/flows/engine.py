"""Durable flows: journaled steps, leases, retries, and exception items.

A flow is an async function of a :class:`FlowRun`. Every call it makes to a
system of record goes through :meth:`FlowRun.step`, which journals the step
before the call (``RUNNING``, one more attempt) and after it (``SUCCEEDED``
with the id created there and the system's answer, or ``FAILED`` with the
error), retrying retryable failures with backoff. Steps are numbered in call
order, and a flow is deterministic given its input and its steps' recorded
answers, so running it again from the top (after a crash, on any replica, or
when an operator retries it) skips every step that already succeeded and
resumes at the first that did not.

Which worker runs a flow is a lease in the journal (:meth:`JournalRepository.
acquire`): the starter holds it from the first write, renews it while the flow
runs, and gives it up when the flow completes or parks. A worker that dies
stops renewing; once the lease has run out, any replica's
:meth:`FlowRunner.recover` takes the flow over (one conditional UPDATE, one
winner) and resumes it. The step that was in flight at the crash runs again,
so every step carries the vendor's own idempotency (a Stripe
``Idempotency-Key`` or a NetSuite/Salesforce external-id upsert derived from
the correlation id and the step number, :attr:`StepCall.key`).

A step that exhausts its retries or fails permanently ends the pass: if
nothing had changed anywhere yet and the owner refused the data, the
transaction is ``FAILED`` (the mutation reports a userError); otherwise an
exception item opens in the queue its business context picks
(:func:`domain.exception_routing.route`) and the transaction waits as
``NEEDS_ATTENTION`` until ``retryException`` reopens it.

Why not DBOS Transact: see ``docs/flows.md`` ("Decision").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from domain.clients import Clients
from domain.exception_items import ExceptionQueue
from domain.exception_routing import ErrorClass, error_class_of, route
from domain.flows.services import FlowServices
from domain.transactions import Step, StepStatus, Transaction, TransactionStatus
from sources.errors import SourceError
from sources.systems import System
from store.exceptions import ExceptionRepository
from store.journal import JournalRepository

__all__ = [
    "FlowPolicy",
    "FlowRun",
    "FlowRunner",
    "FlowSpec",
    "Plan",
    "StepCall",
    "StepFailed",
    "StepFunction",
    "StepOutcome",
]

log = logging.getLogger(__name__)

HOUSEKEEPING_S = 300.0
"""How often the worker runs its housekeeping (e.g. purging expired idempotency keys)."""


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What a step's call returns: the id it created or changed, and what to remember."""

    created_id: str | None = None
    result: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StepCall:
    """What a step's call is given: its vendor idempotency key and the attempt number."""

    key: str
    """``{correlation_id}:{step_no}``: the same on every attempt and every resume."""
    attempt: int


StepFunction = Callable[[StepCall], Awaitable[StepOutcome]]


class StepFailed(Exception):
    """A step that exhausted its retries or failed permanently."""

    def __init__(self, step: Step, error: BaseException) -> None:
        super().__init__(f"{step.action} on {step.system} failed: {error}")
        self.step = step
        self.error = error
        self.error_class = error_class_of(error)


FlowFunction = Callable[["FlowRun"], Awaitable[Mapping[str, Any]]]


Plan = Callable[[Mapping[str, Any]], Sequence[tuple[System, str]]]
"""The steps a flow will take for an input, in order: (system, action)."""


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """A kind of flow: its transaction kind, its function and its planned steps.

    The plan is journaled with the transaction (steps ``PENDING``), so from the
    first moment it says which systems have the change and which do not yet.
    """

    kind: str
    run: FlowFunction
    plan: Plan


@dataclass(frozen=True, slots=True)
class FlowPolicy:
    """How steps retry and how long a worker's lease lasts."""

    step_attempts: int = 4
    backoff_s: float = 0.2
    lease_s: float = 15.0
    poll_s: float = 2.0


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, SourceError) and error.retryable


def _error_text(error: BaseException) -> str:
    return str(error) or type(error).__name__


class FlowRun:
    """One pass of a flow over its journaled transaction."""

    def __init__(
        self,
        tx: Transaction,
        services: FlowServices,
        journal: JournalRepository,
        policy: FlowPolicy,
        on_write: Callable[[System], Awaitable[None]] | None = None,
    ) -> None:
        self.tx = tx
        self.services = services
        self.input: Mapping[str, Any] = tx.input or {}
        self._journal = journal
        self._policy = policy
        self._on_write = on_write
        self._steps = {s.step_no: s for s in tx.steps}
        self._next = 0
        self.changed = any(s.status == StepStatus.SUCCEEDED for s in tx.steps)
        """Some system already has (part of) the change."""

    @property
    def correlation_id(self) -> str:
        return self.tx.correlation_id

    @property
    def clients(self) -> Clients:
        return self.services.clients

    async def set_subject(self, subject: str) -> None:
        """Name what the transaction changes once it exists (a created record's id)."""
        await self._journal.set_subject(self.correlation_id, subject)

    async def step(self, system: System, action: str, call: StepFunction) -> Mapping[str, Any]:
        """Run one journaled call to ``system``, or reuse its recorded answer.

        Returns the step's ``result`` (with ``created_id`` under ``"id"`` when the
        call returned one). Raises :class:`StepFailed` once the step cannot succeed.
        """
        self._next += 1
        step_no = self._next
        done = self._steps.get(step_no)
        if done is not None and done.status == StepStatus.SUCCEEDED:
            if (done.system, done.action) != (system, action):
                raise RuntimeError(
                    f"flow {self.correlation_id} is not deterministic: step {step_no} was "
                    f"{done.action} on {done.system}, now {action} on {system}"
                )
            return {**(done.result or {}), "id": done.created_id}
        key = f"{self.correlation_id}:{step_no}"
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._policy.step_attempts),
            wait=wait_exponential_jitter(multiplier=self._policy.backoff_s, max=10.0),
            retry=retry_if_exception(_is_retryable),
            reraise=True,
        )
        attempt_no = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempt_no += 1
                    outcome = await self._attempt(system, action, step_no, key, attempt_no, call)
        except Exception as error:
            failed = await self._journal.get(self.correlation_id)
            step = next(s for s in failed.steps if s.step_no == step_no) if failed else None
            assert step is not None
            raise StepFailed(step, error) from error
        finally:
            if self._on_write is not None:
                # Even a failed step may have changed something in ``system``.
                await self._on_write(system)
        self.changed = True
        return {**outcome.result, "id": outcome.created_id}

    async def _attempt(
        self,
        system: System,
        action: str,
        step_no: int,
        key: str,
        attempt_no: int,
        call: StepFunction,
    ) -> StepOutcome:
        await self._journal.step_started(
            self.correlation_id, step_no, system, action, vendor_idempotency_key=key
        )
        try:
            outcome = await call(StepCall(key, attempt_no))
        except Exception as error:
            await self._journal.step_finished(
                self.correlation_id,
                step_no,
                StepStatus.FAILED,
                error_code=error_class_of(error).value,
                error_message=_error_text(error),
            )
            raise
        await self._journal.step_finished(
            self.correlation_id,
            step_no,
            StepStatus.SUCCEEDED,
            created_id=outcome.created_id,
            result=outcome.result,
        )
        return outcome


class FlowRunner:
    """Starts, resumes and retries flows on this worker; one per gateway process.

    ``owner`` is this worker's stable name in the leases. Flows run as tasks of
    the runner, not of the request that started them, so a client that hangs up
    does not stop a flow half-way. ``on_write`` hears the system of every step
    once it has run, succeeded or not (the answer read model then drops what it
    stored of that system: read-your-writes).
    """

    def __init__(
        self,
        *,
        specs: Mapping[str, FlowSpec],
        services: FlowServices,
        journal: JournalRepository,
        exceptions: ExceptionRepository,
        owner: str,
        policy: FlowPolicy | None = None,
        on_finished: Callable[[Transaction], Awaitable[None]] | None = None,
        housekeeping: Callable[[], Awaitable[object]] | None = None,
        on_write: Callable[[System], Awaitable[None]] | None = None,
    ) -> None:
        self.specs = specs
        self.services = services
        self.journal = journal
        self.exceptions = exceptions
        self.owner = owner
        self.policy = policy or FlowPolicy()
        self._on_finished = on_finished
        self._housekeeping = housekeeping
        self._on_write = on_write
        self._tasks: dict[str, asyncio.Task[Transaction | None]] = {}
        self._worker: asyncio.Task[None] | None = None

    async def start(
        self,
        kind: str,
        correlation_id: str,
        subject: str,
        flow_input: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        started_by: str | None = None,
    ) -> asyncio.Task[Transaction | None]:
        """Journal a new transaction (leased to this worker) and run its flow.

        Starting an existing correlation id again starts nothing new: the task
        follows the flow already there.
        """
        spec = self.specs.get(kind)
        if spec is None:
            raise KeyError(f"no flow for {kind}")
        await self.journal.begin(
            correlation_id,
            kind,
            subject,
            plan=spec.plan(flow_input),
            idempotency_key=idempotency_key,
            input=flow_input,
            owner=self.owner,
            lease_s=self.policy.lease_s,
            started_by=started_by,
        )
        return self.spawn(correlation_id)

    def spawn(self, correlation_id: str) -> asyncio.Task[Transaction | None]:
        """Run (or follow the run of) a journaled flow in the background."""
        task = self._tasks.get(correlation_id)
        if task is None or task.done():
            task = asyncio.create_task(self._drive(correlation_id), name=f"flow {correlation_id}")
            self._tasks[correlation_id] = task
            task.add_done_callback(lambda t: self._forget(correlation_id, t))
        return task

    def _forget(self, correlation_id: str, task: asyncio.Task[Transaction | None]) -> None:
        if self._tasks.get(correlation_id) is task:
            del self._tasks[correlation_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("flow %s crashed", correlation_id, exc_info=task.exception())

    async def retry(self, correlation_id: str) -> asyncio.Task[Transaction | None]:
        """An operator's retry: a parked (``NEEDS_ATTENTION``) flow runs again."""
        await self.journal.reopen(correlation_id)
        return self.spawn(correlation_id)

    async def recover(self) -> int:
        """Resume the flows whose worker died (lease ran out); how many were taken."""
        abandoned = await self.journal.abandoned()
        for correlation_id in abandoned:
            if correlation_id not in self._tasks:
                self.spawn(correlation_id)
        return len(abandoned)

    def start_worker(self) -> None:
        """Look for abandoned flows every ``poll_s`` (and once right away)."""
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name="flow worker")

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        next_housekeeping = loop.time()
        while True:
            try:
                await self.recover()
                if self._housekeeping is not None and loop.time() >= next_housekeeping:
                    next_housekeeping = loop.time() + HOUSEKEEPING_S
                    await self._housekeeping()
            except Exception:  # the store may be briefly unreachable; try again
                log.exception("flow worker pass failed")
            await asyncio.sleep(self.policy.poll_s)

    async def aclose(self) -> None:
        """Stop the worker and this process's flows, giving their leases up so another
        replica resumes them at once (the step in flight then runs again there)."""
        tasks = [t for t in (self._worker, *self._tasks.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._worker = None

    async def _drive(self, correlation_id: str) -> Transaction | None:
        tx = await self.journal.acquire(correlation_id, self.owner, self.policy.lease_s)
        if tx is None:  # finished, parked, or another worker holds it
            return await self.journal.get(correlation_id)
        renewer = asyncio.create_task(self._renew(correlation_id, asyncio.current_task()))
        try:
            final = await self._run(tx)
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            with contextlib.suppress(Exception):
                await asyncio.shield(self.journal.release(correlation_id, self.owner))
        if self._on_finished is not None and final is not None:
            await self._on_finished(final)
        return final

    async def _renew(self, correlation_id: str, flow: asyncio.Task[Any] | None) -> None:
        while True:
            await asyncio.sleep(self.policy.lease_s / 3)
            try:
                kept = await self.journal.renew(correlation_id, self.owner, self.policy.lease_s)
            except Exception:
                log.exception("lease renewal of %s failed", correlation_id)
                continue
            if not kept and flow is not None:
                log.warning("flow %s was taken over by another worker", correlation_id)
                flow.cancel()
                return

    async def _run(self, tx: Transaction) -> Transaction | None:
        spec = self.specs[tx.kind]
        run = FlowRun(tx, self.services, self.journal, self.policy, self._on_write)
        cid = tx.correlation_id
        try:
            await spec.run(run)
        except StepFailed as failure:
            return await self._failed(run, failure)
        except Exception as error:  # a read between steps failed: park, never strand
            log.warning("flow %s stopped between steps: %s", cid, error)
            return await self._stopped(run, error)
        done = await self.journal.finish(cid, TransactionStatus.COMPLETED)
        for item in await self.exceptions.open_for(cid):
            await self.exceptions.resolve(item.id, "completed after a retry", self.owner)
        return done

    async def _stopped(self, run: FlowRun, error: Exception) -> Transaction:
        """The flow failed outside a step (reading what the next step needs)."""
        cid = run.correlation_id
        system = error.system if isinstance(error, SourceError) else None
        error_class = error_class_of(error)
        current = await self.journal.get(cid)
        await self.exceptions.open(
            queue=route(system, "", error_class) if system else ExceptionQueue.PLATFORM,
            reason=f"the flow stopped before its next step: {_error_text(error)}",
            subject=current.subject if current else run.tx.subject,
            correlation_id=cid,
            system=system,
            error_code=error_class.value,
            error=_error_text(error),
        )
        return await self.journal.finish(cid, TransactionStatus.NEEDS_ATTENTION)

    async def _failed(self, run: FlowRun, failure: StepFailed) -> Transaction:
        cid = run.correlation_id
        step = failure.step
        owner_refused = not run.changed and failure.error_class in (
            ErrorClass.VALIDATION,
            ErrorClass.CONFLICT,
            ErrorClass.NOT_FOUND,
        )
        if owner_refused:
            # Nothing changed anywhere and the owner said no: the caller's data is wrong.
            return await self.journal.finish(cid, TransactionStatus.FAILED)
        queue = route(step.system, step.action, failure.error_class)
        current = await self.journal.get(cid)
        await self.exceptions.open(
            queue=queue,
            reason=f"{step.action} on {step.system} failed after {step.attempts} attempt(s)",
            subject=current.subject if current else run.tx.subject,
            correlation_id=cid,
            step_no=step.step_no,
            system=step.system,
            action=step.action,
            error_code=failure.error_class.value,
            error=_error_text(failure.error),
        )
        return await self.journal.finish(cid, TransactionStatus.NEEDS_ATTENTION)
