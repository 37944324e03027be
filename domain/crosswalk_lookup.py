"""Crosswalk reads for the graph: cached, and linked on demand for new customers.

Entries come from the store through the cache (in-process, or Redis shared by
all replicas). A CRM account the store does not know yet (created after the
last rebuild, or the crosswalk is still being built) is linked on demand when
a :class:`LinkSources` is given: the batch's unknown ids are looked up in the
systems at once (the CRM accounts by id, billing customers by
``metadata.crm_account_id``, ERP customers by ``externalId`` in one query),
linked with the rebuild's own rules (:func:`domain.crosswalk.link`), stored
and cached — so a new customer shows its billing and ERP data without a
rebuild.

What is not known for good is cached briefly (``negative_ttl_s``): an id that
is no CRM account, and an entry linked on demand that is still INCOMPLETE ("no
billing customer yet"), which is not stored either, so the next look after the
short TTL links it again. A rebuild calls :meth:`CrosswalkLookup.invalidate`
and publishes on :data:`INVALIDATION_CHANNEL`; every replica's lookup listens
(:meth:`CrosswalkLookup.follow_invalidations`) and drops its cached entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from domain.crosswalk import (
    AccountLike,
    BillingCustomerLike,
    ErpCustomerLike,
    link,
)
from domain.crosswalk_types import CrosswalkEntry, LinkStatus
from sources.base import gather_or_cancel
from sources.errors import SourceError
from store.cache import Cache
from store.crosswalk import CrosswalkRepository, dump_entry, load_entry
from store.pubsub import PubSub, Subscription

PREFIX = "crosswalk:"
INVALIDATION_CHANNEL = "crosswalk:invalidate"
"""Published (under the deployment's prefix) after every rebuild."""
_ABSENT = b"-"
RESUBSCRIBE_DELAY_S = 1.0

logger = logging.getLogger("revgraph.crosswalk")


class LinkSources(Protocol):
    """The three batched reads on-demand linking needs."""

    async def accounts(self, crm_ids: Sequence[str]) -> Sequence[AccountLike]:
        """The CRM accounts among ``crm_ids`` (ids that are no account are left out)."""
        ...

    async def billing_customers(self, crm_ids: Sequence[str]) -> Sequence[BillingCustomerLike]:
        """Every billing customer that claims one of ``crm_ids``."""
        ...

    async def erp_customers(self, crm_ids: Sequence[str]) -> Sequence[ErpCustomerLike]:
        """Every ERP customer whose external id is one of ``crm_ids``."""
        ...


class _Accounts(Protocol):
    async def accounts_by_ids(self, ids: Sequence[str]) -> Mapping[str, AccountLike]: ...


class _BillingSearch(Protocol):
    async def search_customers_by_crm_id(
        self, crm_account_id: str
    ) -> Sequence[BillingCustomerLike]: ...


class _ErpByExternalId(Protocol):
    async def customers_by_external_ids(
        self, external_ids: Sequence[str]
    ) -> Mapping[str, ErpCustomerLike]: ...


class ClientLinkSources:
    """:class:`LinkSources` over the adapters: one CRM query, one Billing search per id
    (concurrently; Stripe has no multi-value search), one ERP query."""

    def __init__(self, crm: _Accounts, billing: _BillingSearch, erp: _ErpByExternalId) -> None:
        self._crm = crm
        self._billing = billing
        self._erp = erp

    async def accounts(self, crm_ids: Sequence[str]) -> Sequence[AccountLike]:
        return list((await self._crm.accounts_by_ids(crm_ids)).values())

    async def billing_customers(self, crm_ids: Sequence[str]) -> Sequence[BillingCustomerLike]:
        found = await gather_or_cancel(self._billing.search_customers_by_crm_id(i) for i in crm_ids)
        return [customer for customers in found for customer in customers]

    async def erp_customers(self, crm_ids: Sequence[str]) -> Sequence[ErpCustomerLike]:
        return list((await self._erp.customers_by_external_ids(crm_ids)).values())


class CrosswalkLookup:
    """Read-through cache in front of :class:`CrosswalkRepository`, linking new ids."""

    def __init__(
        self,
        repository: CrosswalkRepository,
        cache: Cache,
        *,
        sources: LinkSources | None = None,
        ttl_s: float = 60.0,
        negative_ttl_s: float = 10.0,
    ):
        self.repository = repository
        self.cache = cache
        self.sources = sources
        self.ttl_s = ttl_s
        self.negative_ttl_s = negative_ttl_s

    async def lookup(self, canonical_ids: Sequence[str]) -> dict[str, CrosswalkEntry | SourceError]:
        """Entries by canonical id; ids without an entry are absent, and ids that
        could not be linked because a system failed map to that error."""
        keys = {i: PREFIX + i for i in dict.fromkeys(canonical_ids)}
        cached = await self.cache.get_many(list(keys.values()))
        found: dict[str, CrosswalkEntry | SourceError] = {}
        missing: list[str] = []
        for canonical_id, key in keys.items():
            value = cached.get(key)
            if value is None:
                missing.append(canonical_id)
            elif value != _ABSENT:
                found[canonical_id] = load_entry(value)
        if not missing:
            return found
        stored = await self.repository.many(missing)
        found.update(stored)
        unknown = [i for i in missing if i not in stored]
        items = {keys[i]: dump_entry(stored[i]) for i in stored}
        if stored:
            await self.cache.set_many(items, self.ttl_s)
        if not unknown:
            return found
        if self.sources is None:
            await self.cache.set_many({keys[i]: _ABSENT for i in unknown}, self.ttl_s)
            return found
        try:
            linked = await self._link(unknown)
        except SourceError as error:
            # Not cached: the next request tries again.
            found.update(dict.fromkeys(unknown, error))
            return found
        found.update(linked)
        settled = {i: e for i, e in linked.items() if e.status is not LinkStatus.INCOMPLETE}
        await self.cache.set_many({keys[i]: dump_entry(e) for i, e in settled.items()}, self.ttl_s)
        await self.cache.set_many(
            {
                keys[i]: dump_entry(linked[i]) if i in linked else _ABSENT
                for i in unknown
                if i not in settled
            },
            self.negative_ttl_s,
        )
        return found

    async def many(self, canonical_ids: Sequence[str]) -> dict[str, CrosswalkEntry]:
        """Entries by canonical id (ids without an entry are absent); a system that
        failed while linking a new id raises its :class:`SourceError`."""
        found: dict[str, CrosswalkEntry] = {}
        for canonical_id, value in (await self.lookup(canonical_ids)).items():
            if isinstance(value, SourceError):
                raise value
            found[canonical_id] = value
        return found

    async def _link(self, crm_ids: list[str]) -> dict[str, CrosswalkEntry]:
        """Link ``crm_ids`` from the systems; LINKED and AMBIGUOUS entries are stored."""
        assert self.sources is not None
        accounts = asyncio.ensure_future(self.sources.accounts(crm_ids))
        billing = asyncio.ensure_future(self.sources.billing_customers(crm_ids))
        erp = asyncio.ensure_future(self.sources.erp_customers(crm_ids))
        # One failure fails the link (half the systems would read as "missing"):
        # the others are cancelled rather than left holding connections.
        await gather_or_cancel((accounts, billing, erp))
        entries, _ = link(accounts.result(), billing.result(), erp.result())
        settled = [e for e in entries if e.status is not LinkStatus.INCOMPLETE]
        if settled:
            await self.repository.upsert(settled)
        if entries:
            logger.info(
                "crosswalk: linked %d new account(s) on demand (%d stored, %d incomplete)",
                len(entries),
                len(settled),
                len(entries) - len(settled),
            )
        return {e.canonical_id: e for e in entries}

    async def invalidate(self) -> int:
        """Forget every cached entry (after a rebuild); returns how many were dropped."""
        return await self.cache.delete_prefix(PREFIX)

    async def follow_invalidations(self, pubsub: PubSub) -> asyncio.Task[None]:
        """Drop the cached entries whenever a rebuild is announced on ``pubsub``.

        Subscribed when this returns; the task runs until cancelled.
        """
        first = await pubsub.subscribe(INVALIDATION_CHANNEL)

        async def follow() -> None:
            subscription: Subscription | None = first
            while True:
                try:
                    if subscription is None:
                        subscription = await pubsub.subscribe(INVALIDATION_CHANNEL)
                        # Whatever was announced while we were away: forget it all.
                        await self.invalidate()
                    async for _ in subscription:
                        dropped = await self.invalidate()
                        logger.info("crosswalk: rebuilt, %d cached entries dropped", dropped)
                # A lost connection (Redis restarting) must not end the subscription.
                except Exception:
                    logger.warning("crosswalk: invalidation channel lost", exc_info=True)
                finally:
                    if subscription is not None:
                        with contextlib.suppress(Exception):
                            await subscription.aclose()
                        subscription = None
                await asyncio.sleep(RESUBSCRIBE_DELAY_S)

        return asyncio.create_task(follow(), name="crosswalk-invalidations")


async def announce_rebuild(pubsub: PubSub) -> int:
    """Tell every replica's lookup that the crosswalk was rebuilt."""
    return await pubsub.publish(INVALIDATION_CHANNEL, b"rebuilt")
