"""What one gateway process holds for its lifetime: store, clients, schema."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.runtime import tune_gc
from api.settings import Settings
from domain.clients import Clients, build_clients
from domain.crosswalk_lookup import CrosswalkLookup
from store.cache import Cache, open_cache
from store.crosswalk import CrosswalkRepository
from store.database import create_engine
from store.migrate import upgrade


@dataclass
class Resources:
    """Opened at startup (migrations run), closed at shutdown."""

    settings: Settings
    engine: AsyncEngine
    cache: Cache
    crosswalk: CrosswalkLookup
    clients: Clients

    @classmethod
    async def open(cls, settings: Settings) -> Resources:
        await upgrade(settings.database_url, settings.store_schema)
        tune_gc()
        engine = create_engine(settings.database_url, schema=settings.store_schema)
        cache = open_cache(settings.redis_url, settings.redis_prefix)
        return cls(
            settings=settings,
            engine=engine,
            cache=cache,
            crosswalk=CrosswalkLookup(CrosswalkRepository(engine), cache),
            clients=build_clients(settings),
        )

    async def close(self) -> None:
        await self.clients.aclose()
        await self.cache.aclose()
        await self.engine.dispose()

    async def check_store(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
