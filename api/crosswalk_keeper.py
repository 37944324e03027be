"""Keeps a gateway's crosswalk current while it serves, and says how it stands.

Started by the app's lifespan:

- on a store whose crosswalk is empty (a first start), it builds the crosswalk
  in a background task, with progress in the log (logger ``revgraph.crosswalk``),
  retrying with a growing delay if a system fails; requests are served
  meanwhile (new accounts are linked on demand by the lookup);
- it follows rebuilds announced on the pub/sub channel (any replica, or
  ``revgraph crosswalk rebuild``), and also notices a rebuild recorded in the
  store by another process (every ``poll_s``; that is how a rebuild reaches a
  gateway on the embedded setup, which has no shared channel), and drops the
  cached entries;
- :meth:`CrosswalkKeeper.report` is ``/readyz``'s ``crosswalk`` check: ``state``
  (``building``, ``ready``, ``empty`` or ``failed``), ``entries``, ``lastRun``;
  ``ok`` only when ``ready``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from domain.crosswalk import CrosswalkBuilder, CrosswalkResult
from domain.crosswalk_lookup import CrosswalkLookup, announce_rebuild
from domain.crosswalk_types import CrosswalkRun, LinkStatus
from sources.errors import SourceError
from store.crosswalk import CrosswalkRepository
from store.pubsub import PubSub

logger = logging.getLogger("revgraph.crosswalk")

BUILDING, READY, EMPTY, FAILED = "building", "ready", "empty", "failed"

_STEPS = {
    "crm": "CRM accounts read",
    "billing": "billing customers read",
    "erp": "ERP customers read",
    "link": "accounts linked",
    "store": "entries stored",
}


class CrosswalkKeeper:
    """The crosswalk's state in one gateway process, and the tasks that keep it."""

    def __init__(
        self,
        repository: CrosswalkRepository,
        lookup: CrosswalkLookup,
        pubsub: PubSub,
        builder: Callable[[], CrosswalkBuilder],
        *,
        poll_s: float = 5.0,
        retry_delays_s: tuple[float, ...] = (2.0, 5.0, 15.0, 30.0, 60.0),
    ) -> None:
        self._repository = repository
        self._lookup = lookup
        self._pubsub = pubsub
        self._builder = builder
        self._poll_s = poll_s
        self._retry_delays_s = retry_delays_s
        self._tasks: list[asyncio.Task[Any]] = []
        self._build: asyncio.Task[None] | None = None
        self.entries = 0
        self.last_run: CrosswalkRun | None = None
        self.error: str | None = None

    @property
    def state(self) -> str:
        if self._build is not None and not self._build.done() and self.error is None:
            return BUILDING
        if self.entries:
            return READY
        return FAILED if self.error else EMPTY

    async def start(self) -> None:
        """Read the stored state, follow invalidations, build if the crosswalk is empty."""
        await self.refresh(count=True)
        self._tasks.append(await self._lookup.follow_invalidations(self._pubsub))
        self._tasks.append(asyncio.create_task(self._poll(), name="crosswalk-poll"))
        if self.entries == 0:
            logger.info("crosswalk: empty store, building it in the background")
            self._build = asyncio.create_task(self._build_until_done(), name="crosswalk-build")
            self._tasks.append(self._build)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def wait_built(self) -> None:
        """Until the first-start build (if any) has finished (tests, the demo)."""
        if self._build is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._build)

    async def refresh(self, *, count: bool) -> None:
        """Re-read the last run (and the entry count); a run recorded by another process
        since the last look drops the cached entries."""
        run = await self._repository.last_run()
        if self.last_run is not None and run is not None and run.id != self.last_run.id:
            dropped = await self._lookup.invalidate()
            logger.info("crosswalk: rebuilt by another process, %d cached entries dropped", dropped)
            count = True
        self.last_run = run
        if count:
            self.entries = sum((await self._repository.counts()).values())

    async def report(self) -> dict[str, Any]:
        """``/readyz``'s view: ``ok``, ``state``, ``entries``, ``lastRun`` (and ``error``)."""
        await self.refresh(count=True)
        state = self.state
        report: dict[str, Any] = {
            "ok": state == READY,
            "state": state,
            "entries": self.entries,
            "lastRun": _iso(self.last_run.finished_at) if self.last_run else None,
        }
        if self.error and state != READY:
            report["error"] = self.error
        return report

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                await self.refresh(count=False)
            except Exception:  # the store is briefly away: /readyz says so; keep polling
                logger.debug("crosswalk: poll failed", exc_info=True)

    async def _build_until_done(self) -> None:
        attempt = 0
        while True:
            try:
                result = await self._builder().rebuild(_log_progress)
            except (SourceError, OSError) as exc:
                self.error = _describe(exc)
            # Anything else (the store refusing the write...) is reported the same way.
            except Exception as exc:
                logger.exception("crosswalk: build failed")
                self.error = _describe(exc)
            else:
                self.error = None
                await self._built(result)
                return
            delay = self._retry_delays_s[min(attempt, len(self._retry_delays_s) - 1)]
            attempt += 1
            logger.warning("crosswalk: build failed (%s); retrying in %.0f s", self.error, delay)
            await asyncio.sleep(delay)
            self.error = None

    async def _built(self, result: CrosswalkResult) -> None:
        await self._lookup.invalidate()
        with contextlib.suppress(Exception):  # the other replicas also poll the store
            await announce_rebuild(self._pubsub)
        await self.refresh(count=True)
        counts = result.report.counts
        logger.info(
            "crosswalk: built in %.1f s: %d linked, %d incomplete, %d ambiguous, %d orphans",
            (result.finished_at - result.started_at).total_seconds(),
            counts[LinkStatus.LINKED],
            counts[LinkStatus.INCOMPLETE],
            counts[LinkStatus.AMBIGUOUS],
            result.report.orphans,
        )


def _iso(moment: datetime) -> str:
    # SQLite keeps no offset; the store writes UTC.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _log_progress(step: str, done: int, total: int) -> None:
    if total and done == total:
        logger.info("crosswalk: %d %s", total, _STEPS.get(step, step))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SourceError):
        return f"{exc.system}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"[:300]
