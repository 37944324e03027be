"""One-shot jobs the CLI, the demo and the benchmarks share."""

from __future__ import annotations

from api.settings import Settings
from domain.clients import build_clients
from domain.crosswalk import CrosswalkBuilder, CrosswalkResult, ProgressCallback
from domain.crosswalk_lookup import CrosswalkLookup, announce_rebuild
from store.cache import open_cache
from store.crosswalk import CrosswalkRepository
from store.database import create_engine
from store.pubsub import open_pubsub


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
