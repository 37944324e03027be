"""Keeps a gateway's consistency view fresh while it serves.

- A webhook or a finished flow that touches a customer recomputes that
  customer in the background (:meth:`ConsistencyKeeper.on_event`,
  :meth:`~ConsistencyKeeper.on_transaction`); the request or flow that caused it
  never waits for it, and a failed recompute is logged, not raised.
- Recomputes done by other replicas reach this one through pub/sub
  (:meth:`ConsistencyView.follow_invalidations`).
- ``runReconciliation`` (and, with ``REVGRAPH_CONSISTENCY_SWEEP_EVERY_S``, a
  timer) runs the sweep as a background task; its run row is what clients poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from domain.consistency.freshness import OwnerLookup, account_of_event, account_of_transaction
from domain.consistency.sweep import Sweep, SweepResult, SweepRunning
from domain.consistency.view import ConsistencyView
from domain.transactions import Transaction
from domain.webhooks import WebhookEvent
from store.pubsub import PubSub
from store.reconciliation import ReconciliationRun, ReconciliationRuns, RunStatus

logger = logging.getLogger("revgraph.consistency")


class ConsistencyKeeper:
    """Background freshness for one gateway process."""

    def __init__(
        self,
        view: ConsistencyView,
        owners: OwnerLookup,
        runs: ReconciliationRuns,
        make_sweep: Callable[[], Sweep],
        pubsub: PubSub,
        *,
        sweep_every_s: float = 0.0,
        sweep_on_start: bool = False,
    ) -> None:
        self.view = view
        self.owners = owners
        self.runs = runs
        self._make_sweep = make_sweep
        self._pubsub = pubsub
        self._sweep_every_s = sweep_every_s
        self._sweep_on_start = sweep_on_start
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweep: asyncio.Task[SweepResult] | None = None
        self._follower: asyncio.Task[None] | None = None
        self._timer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._follower = await self.view.follow_invalidations(self._pubsub)
        if self._sweep_on_start and (await self.view.summary()).customers == 0:
            with contextlib.suppress(SweepRunning):  # another replica fills it
                await self.run_sweep(resume=True)
        if self._sweep_every_s > 0:
            self._timer = asyncio.create_task(self._periodic(), name="consistency sweep timer")

    async def stop(self) -> None:
        tasks = [t for t in (self._follower, self._timer, self._sweep, *self._tasks) if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- freshness ---------------------------------------------------------------

    async def on_event(self, event: WebhookEvent) -> None:
        """A webhook was applied: recompute the customer it touches, in the background."""
        self._spawn(self._recompute(lambda: account_of_event(event, self.owners)))

    async def on_transaction(self, tx: Transaction) -> None:
        """A flow finished (or parked): recompute its customer, in the background."""
        self._spawn(self._recompute(lambda: account_of_transaction(tx, self.owners)))

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _recompute(self, account: Callable[[], Awaitable[str | None]]) -> None:
        try:
            found = await account()
            if found:
                await self.view.invalidate(found)
        except Exception:
            logger.warning("consistency: recompute after a change failed", exc_info=True)

    async def idle(self) -> None:
        """Wait for the recomputes in flight (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- sweeps ------------------------------------------------------------------

    async def run_sweep(self, *, resume: bool = False) -> ReconciliationRun:
        """Start a sweep in the background and answer with its run (RUNNING) at once.

        Refused (:class:`SweepRunning`) while one runs here, or while another
        process's run is RUNNING and not stale (``resume`` takes a stale one over).
        """
        if self._sweep is not None and not self._sweep.done():
            raise SweepRunning(await self.runs.latest())
        latest = await self.runs.latest()
        if latest is not None and latest.status == RunStatus.RUNNING:
            stale = await self.runs.resumable()
            if stale is None or stale.id != latest.id:
                raise SweepRunning(latest)
            resume = True
        begun: asyncio.Future[ReconciliationRun] = asyncio.get_running_loop().create_future()

        def started(run: ReconciliationRun) -> None:
            if not begun.done():
                begun.set_result(run)

        sweep = self._make_sweep()
        task = asyncio.create_task(sweep.run(resume=resume, started=started), name="sweep")
        self._sweep = task
        task.add_done_callback(self._sweep_done)
        waiting: set[asyncio.Future[Any]] = {task, begun}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if begun.done():
            return begun.result()
        return task.result().run  # finished (or failed) before telling: re-raises

    def _sweep_done(self, task: asyncio.Task[SweepResult]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("consistency sweep failed", exc_info=task.exception())

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_every_s)
            with contextlib.suppress(Exception):  # logged by _sweep_done or refused
                await self.run_sweep(resume=True)
                if self._sweep is not None:
                    await self._sweep
