"""The flow engine over a real store: steps, replay, retries, parking, leases."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.exception_items import ExceptionQueue
from domain.flows.engine import FlowPolicy, FlowRun, FlowRunner, FlowSpec, StepCall, StepOutcome
from domain.flows.services import FlowServices
from domain.transactions import StepAction, StepStatus, TransactionStatus
from sources.errors import SourceRequestError, SourceUnavailable
from sources.systems import System
from store.exceptions import ExceptionRepository
from store.journal import JournalRepository

KIND = "ACTIVATE_CONTRACT"
PLAN = [
    (System.BILLING, StepAction.CREATE_SUBSCRIPTION),
    (System.ERP, StepAction.CREATE_REVENUE_SCHEDULE),
]


class Script:
    """What each system does when called: a list of outcomes, consumed in order."""

    def __init__(self, **outcomes: list[Any]) -> None:
        self.outcomes = outcomes
        self.calls: list[tuple[str, str]] = []
        self.between: list[Exception] = []
        self.stuck = asyncio.Event()
        """Set when a call reaches an outcome that never answers (a step in flight)."""

    def call(self, system: str) -> Any:
        async def run(call: StepCall) -> StepOutcome:
            self.calls.append((system, call.key))
            outcome = self.outcomes[system].pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            if outcome is HANG:
                self.stuck.set()
                await asyncio.Event().wait()
            return StepOutcome(outcome, {"system": system})

        return run


def flow(script: Script) -> FlowSpec:
    async def run(run: FlowRun) -> Mapping[str, Any]:
        billing = await run.step(System.BILLING, StepAction.CREATE_SUBSCRIPTION, script.call("B"))
        if script.between:
            raise script.between.pop(0)
        erp = await run.step(System.ERP, StepAction.CREATE_REVENUE_SCHEDULE, script.call("E"))
        return {"billing": billing["id"], "erp": erp["id"]}

    return FlowSpec(KIND, run, lambda _: PLAN)


def runner(
    engine: AsyncEngine, script: Script, owner: str = "w1", lease_s: float = 5
) -> FlowRunner:
    return FlowRunner(
        specs={KIND: flow(script)},
        services=cast(FlowServices, None),  # these flows call no adapter
        journal=JournalRepository(engine),
        exceptions=ExceptionRepository(engine),
        owner=owner,
        policy=FlowPolicy(step_attempts=3, backoff_s=0.001, lease_s=lease_s, poll_s=0.05),
    )


HANG = object()
"""An outcome that never answers: the call is in flight when its worker dies."""


class DyingJournal(JournalRepository):
    """The journal as a worker that dies sees it: it never gets to give its lease back."""

    async def release(self, correlation_id: str, owner: str) -> None:
        return None


def down() -> SourceUnavailable:
    return SourceUnavailable(System.ERP, "503 from the ERP")


async def test_a_flow_journals_every_step_and_completes(store_engine: AsyncEngine) -> None:
    script = Script(B=["sub_1"], E=["sched_1"])
    flows = runner(store_engine, script)
    tx = await (await flows.start(KIND, "c1", "contract-1", {"x": 1}))
    assert tx is not None and tx.status == TransactionStatus.COMPLETED
    assert [(s.system, s.status, s.attempts, s.created_id) for s in tx.steps] == [
        (System.BILLING, StepStatus.SUCCEEDED, 1, "sub_1"),
        (System.ERP, StepStatus.SUCCEEDED, 1, "sched_1"),
    ]
    assert tx.current_system == System.ERP and tx.input == {"x": 1}
    assert [key for _, key in script.calls] == ["c1:1", "c1:2"]
    after = await flows.journal.get("c1")
    assert after is not None and after.lease_owner is None  # given back


async def test_retryable_failures_are_retried_with_the_same_vendor_key(
    store_engine: AsyncEngine,
) -> None:
    script = Script(B=["sub_1"], E=[down(), "sched_1"])
    tx = await (await runner(store_engine, script).start(KIND, "c2", "contract-2", {}))
    assert tx is not None and tx.status == TransactionStatus.COMPLETED
    assert tx.steps[1].attempts == 2
    assert script.calls == [("B", "c2:1"), ("E", "c2:2"), ("E", "c2:2")]


async def test_an_exhausted_step_parks_the_flow_in_its_queue_and_a_retry_skips_done_steps(
    store_engine: AsyncEngine,
) -> None:
    script = Script(B=["sub_1"], E=[down(), down(), down(), "sched_1"])
    flows = runner(store_engine, script)
    tx = await (await flows.start(KIND, "c3", "contract-3", {}))
    assert tx is not None and tx.status == TransactionStatus.NEEDS_ATTENTION
    assert [s.status for s in tx.steps] == [StepStatus.SUCCEEDED, StepStatus.FAILED]
    (item,) = await flows.exceptions.open_for("c3")
    assert item.queue == ExceptionQueue.FINANCE_OPS and item.error_code == "UNAVAILABLE"
    tx = await (await flows.retry("c3"))
    assert tx is not None and tx.status == TransactionStatus.COMPLETED
    assert [s.attempts for s in tx.steps] == [1, 4]  # billing never called again
    assert script.calls.count(("B", "c3:1")) == 1
    assert await flows.exceptions.open_for("c3") == []


async def test_the_owner_refusing_first_fails_the_flow_without_an_exception_item(
    store_engine: AsyncEngine,
) -> None:
    script = Script(B=[SourceRequestError(System.BILLING, "no such price")], E=[])
    flows = runner(store_engine, script)
    tx = await (await flows.start(KIND, "c4", "contract-4", {}))
    assert tx is not None and tx.status == TransactionStatus.FAILED
    assert tx.steps[0].error_code == "VALIDATION" and tx.steps[1].status == StepStatus.PENDING
    assert await flows.exceptions.open_for("c4") == []


async def test_a_failure_between_steps_parks_instead_of_stranding(
    store_engine: AsyncEngine,
) -> None:
    script = Script(B=["sub_1"], E=["sched_1"])
    script.between.append(SourceUnavailable(System.CONTRACTS, "down"))
    flows = runner(store_engine, script)
    tx = await (await flows.start(KIND, "c5", "contract-5", {}))
    assert tx is not None and tx.status == TransactionStatus.NEEDS_ATTENTION
    (item,) = await flows.exceptions.open_for("c5")
    assert item.system == System.CONTRACTS and item.queue == ExceptionQueue.PLATFORM
    tx = await (await flows.retry("c5"))
    assert tx is not None and tx.status == TransactionStatus.COMPLETED


async def test_a_dead_workers_flow_is_resumed_by_another_once_its_lease_runs_out(
    store_engine: AsyncEngine,
) -> None:
    script = Script(B=["sub_1"], E=[HANG, "sched_1"])
    # A lease long enough that "still leased" below holds on a loaded machine.
    dead = runner(store_engine, script, owner="dead", lease_s=2.0)
    dead.journal = DyingJournal(store_engine)
    dead._renew = _never  # type: ignore[method-assign,assignment]  # it stops renewing, too
    task = await dead.start(KIND, "c6", "contract-6", {})
    await asyncio.wait_for(script.stuck.wait(), 5)
    task.cancel()  # the process is gone mid-call
    await asyncio.gather(task, return_exceptions=True)
    other = runner(store_engine, script, owner="alive", lease_s=0.3)
    assert await other.journal.acquire("c6", "alive", 0.3) is None  # still leased
    await asyncio.sleep(2.05)
    assert await other.recover() == 1
    tx = await asyncio.wait_for(other._tasks["c6"], 5)
    assert tx is not None and tx.status == TransactionStatus.COMPLETED
    assert [s.attempts for s in tx.steps] == [1, 2]
    assert script.calls.count(("B", "c6:1")) == 1


async def _never(*_: object) -> None:
    await asyncio.Event().wait()


async def test_two_workers_recovering_one_flow_run_it_once(store_engine: AsyncEngine) -> None:
    script = Script(B=["sub_1", "sub_x"], E=["sched_1", "sched_x"])
    journal = JournalRepository(store_engine)
    await journal.begin("c7", KIND, "contract-7", plan=PLAN, input={}, owner="dead", lease_s=0)
    first, second = runner(store_engine, script, "a"), runner(store_engine, script, "b")
    await asyncio.gather(first.recover(), second.recover())
    await asyncio.gather(*first._tasks.values(), *second._tasks.values())
    tx = await journal.get("c7")
    assert tx is not None and tx.status == TransactionStatus.COMPLETED
    assert [s.attempts for s in tx.steps] == [1, 1]


async def test_housekeeping_runs_in_the_worker(store_engine: AsyncEngine) -> None:
    ran = asyncio.Event()

    async def housekeeping() -> None:
        ran.set()

    flows = runner(store_engine, Script())
    flows._housekeeping = housekeeping
    flows.start_worker()
    try:
        await asyncio.wait_for(ran.wait(), 2)
    finally:
        await flows.aclose()


@pytest.mark.parametrize("kind", ["NOPE"])
async def test_an_unknown_kind_is_a_programming_error(store_engine: AsyncEngine, kind: str) -> None:
    with pytest.raises(KeyError):
        await runner(store_engine, Script()).start(kind, "c8", "x", {})
