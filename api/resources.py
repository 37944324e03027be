"""What one gateway process holds for its lifetime: store, cache, pub/sub, clients.

Opened by the app's lifespan (:mod:`api.lifespan`), which hands them to every
request as ``request.state.resources``. Opening neither migrates the store nor
tunes the process: ``revgraph db upgrade`` migrates, the CLI entry points tune.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import Settings
from domain.clients import Clients, build_clients
from domain.crosswalk_lookup import ClientLinkSources, CrosswalkLookup
from store.cache import Cache, open_cache
from store.crosswalk import CrosswalkRepository
from store.database import create_engine
from store.pubsub import PubSub, open_pubsub


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

    @classmethod
    async def open(cls, settings: Settings) -> Resources:
        engine = create_engine(settings.database_url, schema=settings.store_schema)
        cache = open_cache(settings.redis_url, settings.redis_prefix)
        pubsub = open_pubsub(settings.redis_url, settings.redis_prefix)
        clients = build_clients(settings)
        repository = CrosswalkRepository(engine)
        # New CRM accounts are linked on demand from the systems themselves.
        sources = ClientLinkSources(clients.crm, clients.billing, clients.erp)
        return cls(
            settings=settings,
            engine=engine,
            cache=cache,
            pubsub=pubsub,
            repository=repository,
            crosswalk=CrosswalkLookup(repository, cache, sources=sources),
            clients=clients,
        )

    async def close(self) -> None:
        await self.clients.aclose()
        await self.pubsub.aclose()
        await self.cache.aclose()
        await self.engine.dispose()

    async def check_store(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
