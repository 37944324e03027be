"""What one gateway process holds for its lifetime: store, cache, pub/sub, clients.

Opened by the app's lifespan (:mod:`api.lifespan`), which hands them to every
request as ``request.state.resources``. Opening neither migrates the store nor
tunes the process: ``revgraph db upgrade`` migrates, the CLI entry points tune.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.authentication import Authenticator
from api.consistency_keeper import ConsistencyKeeper
from api.quotas import CallerQuotas
from api.settings import Settings
from api.tokens import JwtVerifier
from domain.answer_read_model import AnswerReadModel
from domain.billing_read_model import BillingReadModel
from domain.clients import Clients, build_clients
from domain.consistency.freshness import OwnerLookup
from domain.consistency.gather import ConsistencyReader
from domain.consistency.policy import load_policy
from domain.consistency.sweep import Sweep
from domain.consistency.view import ConsistencyView
from domain.crosswalk_lookup import ClientLinkSources, CrosswalkLookup
from domain.flows.commands import Commands
from domain.flows.engine import FlowPolicy, FlowRunner
from domain.flows.registry import FLOWS
from domain.flows.services import FlowServices
from domain.transactions import Transaction, TransactionKind
from store.api_keys import ApiKeyRepository
from store.billing_objects import BillingObjects
from store.cache import Cache, open_cache
from store.consistency import ConsistencyStore, open_consistency_store
from store.crosswalk import CrosswalkRepository
from store.database import create_engine
from store.exceptions import ExceptionRepository
from store.idempotency import IdempotencyRepository
from store.inbox import WebhookInbox
from store.journal import JournalRepository
from store.pubsub import PubSub, open_pubsub
from store.reconciliation import ReconciliationRuns
from store.stored_answers import StoredAnswers


def consistency_keeper(
    settings: Settings,
    engine: AsyncEngine,
    clients: Clients,
    store: ConsistencyStore,
    pubsub: PubSub,
) -> ConsistencyKeeper:
    """The consistency view of one process and what keeps it fresh.

    The policy was validated at start-up (:func:`api.lifespan.check_startup`).
    """
    config = settings.consistency
    reader = ConsistencyReader(clients)
    owners = OwnerLookup(clients, store.owner_of)
    view = ConsistencyView(
        store,
        reader,
        load_policy(config.policy_file),
        pubsub=pubsub,
        resolve_owner=owners,
        parked=JournalRepository(engine).unfinished_by_subject,
    )
    runs = ReconciliationRuns(engine)

    def sweep() -> Sweep:
        return Sweep(
            view,
            reader,
            runs,
            page_size=config.page_size,
            max_pages_per_s=config.sweep_pages_per_s,
        )

    return ConsistencyKeeper(
        view,
        owners,
        runs,
        sweep,
        pubsub,
        sweep_every_s=config.sweep_every_s,
        sweep_on_start=config.sweep_on_start,
    )


_RELINKING = frozenset({TransactionKind.CREATE_CUSTOMER, TransactionKind.UPDATE_CUSTOMER})


@dataclass
class Resources:
    """Opened at startup, closed at shutdown."""

    settings: Settings
    engine: AsyncEngine
    cache: Cache
    pubsub: PubSub
    repository: CrosswalkRepository
    crosswalk: CrosswalkLookup
    clients: Clients
    inbox: WebhookInbox
    runner: FlowRunner
    """Runs this process's flows and resumes abandoned ones (the worker)."""
    commands: Commands
    """What every mutation goes through: idempotency, checks, start, wait."""
    consistency_store: ConsistencyStore
    """Cached consistency verdicts (Redis, or in-process), indexed for listing."""
    consistency: ConsistencyKeeper
    """The consistency view, kept fresh by webhooks, flows, pub/sub and sweeps."""
    authenticator: Authenticator
    """Who is calling (:mod:`api.authentication`)."""
    quotas: CallerQuotas
    """Each caller's rate and cost budget (:mod:`api.quotas`)."""

    @classmethod
    async def open(cls, settings: Settings) -> Resources:
        engine = create_engine(settings.database_url, schema=settings.store_schema)
        cache = open_cache(settings.redis_url, settings.redis_prefix)
        pubsub = open_pubsub(settings.redis_url, settings.redis_prefix)
        clients = build_clients(settings)
        if settings.reads.billing_model:
            clients.billing_reads = BillingReadModel(
                clients.billing, BillingObjects(engine), max_age_s=settings.reads.max_age_s
            )
        if settings.reads.models:
            clients.answers = AnswerReadModel(
                StoredAnswers(engine), settings.reads.models, max_age_s=settings.reads.max_age_s
            )
        repository = CrosswalkRepository(engine)
        # New CRM accounts are linked on demand from the systems themselves.
        sources = ClientLinkSources(clients.crm, clients.billing, clients.erp)
        crosswalk = CrosswalkLookup(repository, cache, sources=sources)
        flows = settings.flows
        consistency_store = open_consistency_store(settings.redis_url, settings.redis_prefix)
        keeper = consistency_keeper(settings, engine, clients, consistency_store, pubsub)

        async def finished(tx: Transaction) -> None:
            if tx.kind in _RELINKING:  # a customer's links changed: forget cached entries
                await crosswalk.invalidate()
            await keeper.on_transaction(tx)

        idempotency = IdempotencyRepository(
            engine, retention=timedelta(hours=flows.idempotency_retention_h)
        )
        runner = FlowRunner(
            specs=FLOWS,
            services=FlowServices(clients, repository),
            journal=JournalRepository(engine),
            exceptions=ExceptionRepository(engine),
            owner=flows.worker_id or f"{socket.gethostname()}:{os.getpid()}",
            policy=FlowPolicy(
                step_attempts=flows.step_attempts,
                backoff_s=flows.backoff_s,
                lease_s=flows.lease_s,
                poll_s=flows.poll_s,
            ),
            on_finished=finished,
            housekeeping=idempotency.purge_expired,
            # Read-your-writes for the answer read model: a step's system changed.
            on_write=clients.answers.changed if clients.answers is not None else None,
        )
        return cls(
            settings=settings,
            engine=engine,
            cache=cache,
            pubsub=pubsub,
            repository=repository,
            crosswalk=crosswalk,
            clients=clients,
            inbox=WebhookInbox(engine),
            runner=runner,
            commands=Commands(runner, idempotency, wait_s=flows.wait_s),
            consistency_store=consistency_store,
            consistency=keeper,
            authenticator=Authenticator(
                settings.auth, ApiKeyRepository(engine), JwtVerifier(settings.auth)
            ),
            quotas=CallerQuotas.open(settings.auth, settings.redis_url, settings.redis_prefix),
        )

    async def close(self) -> None:
        await self.authenticator.aclose()
        await self.quotas.aclose()
        await self.runner.aclose()
        await self.consistency.stop()
        await self.consistency_store.aclose()
        await self.clients.aclose()
        await self.pubsub.aclose()
        await self.cache.aclose()
        await self.engine.dispose()

    async def check_store(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
