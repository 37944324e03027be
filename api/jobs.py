"""One-shot jobs the CLI, the demo and the benchmarks share."""

from __future__ import annotations

from api.settings import Settings
from domain.clients import build_clients
from domain.crosswalk import CrosswalkBuilder, CrosswalkResult, ProgressCallback
from domain.crosswalk_lookup import CrosswalkLookup
from store.cache import open_cache
from store.crosswalk import CrosswalkRepository
from store.database import create_engine
from store.migrate import upgrade


async def rebuild_crosswalk(
    settings: Settings, on_progress: ProgressCallback | None = None
) -> CrosswalkResult:
    """Migrate the store, rebuild the crosswalk from the configured sources, and drop
    the cached entries (every replica shares them through Redis)."""
    await upgrade(settings.database_url, settings.store_schema)
    engine = create_engine(settings.database_url, schema=settings.store_schema)
    cache = open_cache(settings.redis_url, settings.redis_prefix)
    clients = build_clients(settings)
    try:
        repository = CrosswalkRepository(engine)
        builder = CrosswalkBuilder(clients.crm, clients.billing, clients.erp, repository)
        result = await builder.rebuild(on_progress)
        await CrosswalkLookup(repository, cache).invalidate()
        return result
    finally:
        await clients.aclose()
        await cache.aclose()
        await engine.dispose()
