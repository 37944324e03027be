"""Crosswalk reads for the graph: every request needs them, so they are cached.

Entries come from the store through the cache (in-process, or Redis shared by
all replicas). Ids the store does not know are cached too, as a marker, so a
customer that has no crosswalk entry does not cost a query per request. A
rebuild calls :meth:`CrosswalkLookup.invalidate`; entries also expire after
``ttl_s`` so a rebuild made by another process without Redis is seen soon.
"""

from __future__ import annotations

from collections.abc import Sequence

from store.cache import Cache
from store.crosswalk import CrosswalkEntry, CrosswalkRepository, dump_entry, load_entry

PREFIX = "crosswalk:"
_ABSENT = b"-"


class CrosswalkLookup:
    """Read-through cache in front of :class:`CrosswalkRepository`."""

    def __init__(self, repository: CrosswalkRepository, cache: Cache, *, ttl_s: float = 60.0):
        self.repository = repository
        self.cache = cache
        self.ttl_s = ttl_s

    async def many(self, canonical_ids: Sequence[str]) -> dict[str, CrosswalkEntry]:
        """Entries by canonical id; ids without an entry are absent."""
        keys = {i: PREFIX + i for i in dict.fromkeys(canonical_ids)}
        cached = await self.cache.get_many(list(keys.values()))
        found: dict[str, CrosswalkEntry] = {}
        missing: list[str] = []
        for canonical_id, key in keys.items():
            value = cached.get(key)
            if value is None:
                missing.append(canonical_id)
            elif value != _ABSENT:
                found[canonical_id] = load_entry(value)
        if missing:
            loaded = await self.repository.many(missing)
            found.update(loaded)
            await self.cache.set_many(
                {
                    keys[i]: dump_entry(loaded[i]) if i in loaded else _ABSENT
                    for i in missing
                },
                self.ttl_s,
            )
        return found

    async def invalidate(self) -> int:
        """Forget every cached entry (after a rebuild); returns how many were dropped."""
        return await self.cache.delete_prefix(PREFIX)
