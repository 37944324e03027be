"""One-shot jobs the CLI, the demo and the benchmarks share."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from api.consistency_report import ConsistencyReport, read_report
from api.settings import Settings
from domain.clients import Clients, build_clients
from domain.consistency.gather import ConsistencyReader
from domain.consistency.policy import load_policy
from domain.consistency.sweep import Progress, Sweep, SweepResult, SweepRunning
from domain.consistency.view import ConsistencyView
from domain.crosswalk import CrosswalkBuilder, CrosswalkResult, ProgressCallback
from domain.crosswalk_lookup import CrosswalkLookup, announce_rebuild
from sources.errors import SourceError
from store.cache import open_cache
from store.consistency import open_consistency_store
from store.crosswalk import CrosswalkRepository
from store.database import create_engine
from store.portable import utcnow
from store.pubsub import open_pubsub
from store.reconciliation import (
    DEFAULT_STALE_AFTER,
    ReconciliationRun,
    ReconciliationRuns,
    RunStatus,
)

logger = logging.getLogger("revgraph.jobs")


async def rebuild_crosswalk(
    settings: Settings, on_progress: ProgressCallback | None = None
) -> CrosswalkResult:
    """Rebuild the crosswalk from the configured sources into a migrated store, drop
    the cached entries and announce the rebuild, so every running gateway drops its
    own (Redis pub/sub; in-process without Redis, and the gateways also notice the
    new run in the store)."""
    engine = create_engine(settings.database_url, schema=settings.store_schema)
    cache = open_cache(settings.redis_url, settings.redis_prefix)
    pubsub = open_pubsub(settings.redis_url, settings.redis_prefix)
    clients = build_clients(settings)
    try:
        repository = CrosswalkRepository(engine)
        builder = CrosswalkBuilder(clients.crm, clients.billing, clients.erp, repository)
        result = await builder.rebuild(on_progress)
        await CrosswalkLookup(repository, cache).invalidate()
        await announce_rebuild(pubsub)
        return result
    finally:
        await clients.aclose()
        await pubsub.aclose()
        await cache.aclose()
        await engine.dispose()


# --- reconciliation -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What ``revgraph reconcile`` did, and the cache's numbers after it."""

    sweep: SweepResult
    report: ConsistencyReport
    """The consistency store's summary after the sweep (what ``consistencySummary``
    answers), with the unreconciled checks per rule."""
    shared: bool
    """The verdicts are in Redis, where the gateways read them; False: in this
    process only (no ``REDIS_URL``), gone when it exits."""
    took_over: ReconciliationRun | None = None
    """A RUNNING run that ``resume`` took over before it looked abandoned."""


Notify = Callable[[str], None]


async def count_crm_accounts(clients: Clients) -> int | None:
    """How many accounts the CRM holds (``SELECT COUNT() FROM Account``); None when it
    cannot say (the sweep's progress is then indeterminate)."""
    try:
        return await clients.crm.count_accounts()
    except SourceError:
        logger.warning("could not count the CRM accounts", exc_info=True)
        return None


def _ago(moment: datetime) -> str:
    seconds = max(0, int((utcnow() - moment).total_seconds()))
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"


async def reconcile(
    settings: Settings,
    *,
    resume: bool = False,
    page_size: int | None = None,
    pages_per_s: float | None = None,
    progress: Progress | None = None,
    notify: Notify | None = None,
    started: Callable[[ReconciliationRun], None] | None = None,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> Reconciliation:
    """Sweep every customer into the consistency store (``revgraph reconcile``).

    ``page_size`` and ``pages_per_s`` default to the settings' (``REVGRAPH_CONSISTENCY_*``).
    Without ``resume``, a RUNNING run that made progress within ``stale_after``
    raises :class:`~domain.consistency.sweep.SweepRunning` (as ``runReconciliation``
    does; the check and the start are not one atomic step: two sweeps started in the
    same instant both run). With ``resume``, the latest
    interrupted, abandoned or running run is continued from its checkpoint; a
    running one is taken over (its own process stops at its next page, its updates
    refused), else a new run starts. ``notify`` receives a sentence about what was
    found before the sweep starts, ``started`` the run once its row exists. The store
    must be migrated (``check_startup``).
    """
    config = getattr(settings, "consistency", None)
    policy = load_policy(getattr(config, "policy_file", None))
    if page_size is None:
        page_size = int(getattr(config, "page_size", 200))
    if pages_per_s is None:
        pages_per_s = getattr(config, "sweep_pages_per_s", None)
    say: Notify = notify or (lambda _: None)
    engine = create_engine(settings.database_url, schema=settings.store_schema)
    store = open_consistency_store(settings.redis_url, settings.redis_prefix)
    pubsub = open_pubsub(settings.redis_url, settings.redis_prefix)
    clients = build_clients(settings)
    try:
        await store.ping()  # an unreachable Redis fails here, before a run is started
        runs = ReconciliationRuns(engine)
        took_over: ReconciliationRun | None = None
        running = await runs.latest(status=RunStatus.RUNNING)
        recent = running is not None and running.updated_at >= utcnow() - stale_after
        if resume:
            candidate = await runs.resumable(stale_after=timedelta(0))
            if candidate is None:
                say("No run to resume: starting a new one.")
            elif candidate.status is RunStatus.RUNNING and recent:
                took_over = candidate
                say(
                    f"Taking over run {candidate.id}, still RUNNING (last progress "
                    f"{_ago(candidate.updated_at)}, {candidate.processed} customers done): "
                    "its process stops at its next page."
                )
            else:
                say(
                    f"Resuming run {candidate.id} ({candidate.status.value.lower()}) after "
                    f"{candidate.processed} customers."
                )
        else:
            if running is not None and recent:
                raise SweepRunning(running)
            candidate = await runs.resumable(stale_after=stale_after)
            if candidate is not None:
                say(
                    f"Run {candidate.id} stopped after {candidate.processed} customers "
                    f"({candidate.status.value.lower()}, last progress "
                    f"{_ago(candidate.updated_at)}); --resume would continue it. "
                    "Starting a new run."
                )
        reader = ConsistencyReader(clients)
        view = ConsistencyView(store, reader, policy, pubsub=pubsub)

        async def count() -> int | None:
            return await count_crm_accounts(clients)

        sweep = Sweep(
            view,
            reader,
            runs,
            page_size=page_size,
            max_pages_per_s=pages_per_s,
            # With resume, whatever is resumable now is ours (see above).
            stale_after=timedelta(0) if resume else stale_after,
            count_customers=count,
        )
        result = await sweep.run(resume=resume, progress=progress, started=started)
        report = await read_report(store)
        return Reconciliation(
            sweep=result,
            report=report,
            shared=bool(settings.redis_url),
            took_over=took_over,
        )
    finally:
        await clients.aclose()
        await pubsub.aclose()
        await store.aclose()
        await engine.dispose()
