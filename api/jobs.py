"""One-shot jobs the CLI, the demo and the benchmarks share."""

from __future__ import annotations

from api.settings import Settings
from domain.clients import build_clients
from domain.crosswalk import CrosswalkBuilder, CrosswalkResult, ProgressCallback
from store.crosswalk import CrosswalkRepository
from store.database import create_engine
from store.migrate import upgrade


async def rebuild_crosswalk(
    settings: Settings, on_progress: ProgressCallback | None = None
) -> CrosswalkResult:
    """Migrate the store, then rebuild the crosswalk from the configured sources."""
    await upgrade(settings.database_url, settings.store_schema)
    engine = create_engine(settings.database_url, schema=settings.store_schema)
    clients = build_clients(settings)
    try:
        builder = CrosswalkBuilder(
            clients.crm, clients.billing, clients.erp, CrosswalkRepository(engine)
        )
        return await builder.rebuild(on_progress)
    finally:
        await clients.aclose()
        await engine.dispose()
