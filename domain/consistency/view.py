"""The consistency view: cached verdicts per subject, recomputed per customer on demand.

Reads come from the :class:`~store.consistency.ConsistencyStore` (Redis shared by
every replica, or in-process); a miss — never computed, or dropped by an
invalidation — and ``fresh=True`` recompute the subject's customer live: the
reader gathers the customer's :class:`CustomerBundle` from the four systems, the
rules (``evaluate``) judge it, and the store replaces everything the customer's
previous computation wrote. Writes carry the instant their computation started,
so a slow recompute never overwrites a newer one (see :mod:`store.consistency`).

Webhooks and mutations call :meth:`ConsistencyView.invalidate`: the customer's
verdicts are dropped at once (readers get a live answer rather than a stale one)
and recomputed. Every recompute is announced on :data:`INVALIDATION_CHANNEL`
(Redis pub/sub under the deployment's prefix, or in-process); each view's
:meth:`~ConsistencyView.follow_invalidations` task drops its short per-process
memo of reports for those customers, so with Redis a second replica sees an
update made by the first at once (the verdicts themselves live in Redis).

The customer of a contract or invoice comes from the cache (each check names
its customer, each subject its owner), else from ``resolve_owner`` when given.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from domain.consistency.types import (
    Check,
    CheckStatus,
    CustomerBundle,
    RuleName,
    SubjectKind,
    Unreadable,
)
from domain.exception_items import ExceptionQueue
from sources.systems import System
from store.consistency import (
    CheckPage,
    ConsistencyStore,
    ConsistencySummary,
    CustomerResult,
    Report,
    Subject,
)
from store.portable import utcnow
from store.pubsub import PubSub, Subscription

__all__ = [
    "ALL",
    "INVALIDATION_CHANNEL",
    "BundleReader",
    "ConsistencyView",
    "Evaluate",
    "OwnerResolver",
    "Report",
    "subjects_of",
]

INVALIDATION_CHANNEL = "consistency:invalidate"
"""Published (under the deployment's prefix) after every recompute: the customer
ids, one per line, or :data:`ALL`."""
ALL = b"*"
RESUBSCRIBE_DELAY_S = 1.0

logger = logging.getLogger("revgraph.consistency")

Evaluate = Callable[[CustomerBundle, Any, datetime], Sequence[Check]]
"""``evaluate(bundle, policy, now)``: every rule's checks on one customer."""

OwnerResolver = Callable[[SubjectKind, str], Awaitable[str | None]]
"""The CRM account a contract or invoice belongs to, asked of the systems."""

ParkedFlows = Callable[[Sequence[str]], Awaitable[Mapping[str, str]]]
"""Subject id → correlation id of an unfinished flow on it (the journal)."""


class BundleReader(Protocol):
    """What the view and the sweep read (``domain.consistency.gather.ConsistencyReader``)."""

    async def customer(
        self, account_id: str, *, now: datetime | None = None
    ) -> CustomerBundle | None:
        """One customer's bundle, read now; None when the CRM has no such account."""
        ...

    def pages(
        self, *, after: str | None = None, page_size: int = 200
    ) -> AsyncIterator[tuple[builtins.list[CustomerBundle], str | None]]:
        """Every customer in bulk, page by page, with the cursor after each page
        (None after the last)."""
        ...


def subjects_of(bundle: CustomerBundle) -> set[Subject]:
    """The customer, its contracts and its invoices (those that could be read)."""
    found: set[Subject] = {(SubjectKind.CUSTOMER, bundle.account.id)}
    if not isinstance(bundle.contracts, Unreadable):
        found.update((SubjectKind.CONTRACT, c.contract.id) for c in bundle.contracts)
    if not isinstance(bundle.invoices, Unreadable):
        found.update((SubjectKind.INVOICE, i.invoice.id) for i in bundle.invoices)
    return found


class _Memo:
    """A small per-process LRU of reports with a short time to live."""

    def __init__(self, ttl_s: float, size: int) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._items: OrderedDict[Subject, tuple[float, Report]] = OrderedDict()

    def get(self, key: Subject) -> Report | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] <= time.monotonic():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return item[1]

    def put(self, report: Report) -> None:
        if self.ttl_s <= 0:
            return
        key = (report.subject_kind, report.subject_id)
        self._items[key] = (time.monotonic() + self.ttl_s, report)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def drop(self, customer_ids: Iterable[str] | None) -> int:
        """Forget the reports of ``customer_ids`` (None: every report)."""
        if customer_ids is None:
            dropped = len(self._items)
            self._items.clear()
            return dropped
        ids = set(customer_ids)
        doomed = [k for k, (_, r) in self._items.items() if r.customer_id in ids]
        for key in doomed:
            del self._items[key]
        return len(doomed)


class ConsistencyView:
    """Reports per subject from the cache, recomputed live through the reader.

    ``policy`` is passed to ``evaluate`` untouched (``domain.consistency.policy``);
    ``evaluate`` defaults to :func:`domain.consistency.evaluate.evaluate`. With a
    ``pubsub``, every recompute is announced to the other replicas.
    """

    def __init__(
        self,
        store: ConsistencyStore,
        reader: BundleReader,
        policy: Any,
        evaluate: Evaluate | None = None,
        clock: Callable[[], datetime] = utcnow,
        *,
        pubsub: PubSub | None = None,
        resolve_owner: OwnerResolver | None = None,
        parked: ParkedFlows | None = None,
        memo_ttl_s: float = 2.0,
        memo_size: int = 10_000,
    ) -> None:
        if evaluate is None:
            from domain.consistency.evaluate import evaluate as default_evaluate

            evaluate = default_evaluate
        self.store = store
        self.reader = reader
        self.policy = policy
        self._evaluate = evaluate
        self._clock = clock
        self._pubsub = pubsub
        self._resolve_owner = resolve_owner
        self._parked = parked
        self._memo = _Memo(memo_ttl_s, memo_size)

    # --- reads ---

    async def report(
        self, subject_kind: SubjectKind, subject_id: str, *, fresh: bool = False
    ) -> Report | None:
        """The subject's checks: from the cache, or computed live (``fresh=True``, or
        nothing cached). None when the subject is unknown to the cache and the systems."""
        key = (subject_kind, subject_id)
        if not fresh:
            memo = self._memo.get(key)
            if memo is not None:
                return memo
            cached = await self.store.subject(subject_kind, subject_id)
            if cached is not None:
                self._memo.put(cached)
                return cached
        owner = await self._owner(subject_kind, subject_id)
        if owner is None:
            return None
        result = await self._recompute(owner)
        found = result.report(subject_kind, subject_id, from_cache=False) if result else None
        if found is None and subject_kind is not SubjectKind.CUSTOMER and self._resolve_owner:
            # The cache's owner no longer holds it (a contract moved accounts): ask.
            other = await self._resolve_owner(subject_kind, subject_id)
            if other is not None and other != owner:
                result = await self._recompute(other)
                if result is not None:
                    found = result.report(subject_kind, subject_id, from_cache=False)
        return found

    async def list(
        self,
        *,
        status: CheckStatus | None = None,
        rule: RuleName | None = None,
        system: System | None = None,
        queue: ExceptionQueue | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> CheckPage:
        """Cached checks matching every filter, keyset-paged (see
        :meth:`ConsistencyStore.list`)."""
        return await self.store.list(
            status=status, rule=rule, system=system, queue=queue, first=first, after=after
        )

    async def summary(self) -> ConsistencySummary:
        return await self.store.summary()

    # --- writes ---

    async def refresh_customer(self, account_id: str) -> builtins.list[Check]:
        """Recompute the customer live, store its verdicts and announce it; [] (and the
        customer forgotten) when the CRM has no such account."""
        result = await self._recompute(account_id)
        return [c.check for c in result.checks] if result is not None else []

    async def invalidate(self, account_id: str) -> builtins.list[Check]:
        """The customer changed (a webhook, a mutation): drop its verdicts now, so no
        reader gets them, then recompute (see :meth:`refresh_customer`)."""
        await self.store.drop_customer(account_id, at=self._clock())
        self._memo.drop([account_id])
        await self.announce([account_id])
        return await self.refresh_customer(account_id)

    async def apply(
        self, bundle: CustomerBundle, *, computed_at: datetime | None = None
    ) -> CustomerResult:
        """Judge ``bundle`` and store the verdicts as computed at ``computed_at`` (when
        the reading started; default ``bundle.read_at``). Not announced: the caller
        announces (one message per page for the sweep)."""
        if self._parked is not None:
            # A repair link points at the parked flow (retry it) instead of a new one.
            subjects = [subject_id for _, subject_id in subjects_of(bundle)]
            bundle = replace(bundle, parked=dict(await self._parked(subjects)))
        checks = list(self._evaluate(bundle, self.policy, self._clock()))
        customer_id = bundle.account.id
        result = await self.store.replace_customer(
            customer_id,
            checks,
            computed_at=computed_at or bundle.read_at,
            subjects=subjects_of(bundle),
        )
        self._memo.drop([customer_id])
        return result

    async def announce(self, customer_ids: Iterable[str] | None) -> None:
        """Tell every replica these customers were recomputed (None: everything)."""
        ids = None if customer_ids is None else builtins.list(customer_ids)
        self._memo.drop(ids)
        if self._pubsub is None or ids == []:
            return
        message = ALL if ids is None else "\n".join(ids).encode()
        try:
            await self._pubsub.publish(INVALIDATION_CHANNEL, message)
        except Exception:
            # The verdicts are stored; the others' memos expire on their own.
            logger.warning("consistency: could not announce a recompute", exc_info=True)

    async def follow_invalidations(self, pubsub: PubSub) -> asyncio.Task[None]:
        """Drop memoized reports whenever any replica announces a recompute.

        Subscribed when this returns; the task runs until cancelled.
        """
        first = await pubsub.subscribe(INVALIDATION_CHANNEL)

        async def follow() -> None:
            subscription: Subscription | None = first
            while True:
                try:
                    if subscription is None:
                        subscription = await pubsub.subscribe(INVALIDATION_CHANNEL)
                        self._memo.drop(None)  # whatever was announced meanwhile
                    async for message in subscription:
                        self._memo.drop(None if message == ALL else message.decode().split("\n"))
                # A lost connection (Redis restarting) must not end the subscription.
                except Exception:
                    logger.warning("consistency: invalidation channel lost", exc_info=True)
                finally:
                    if subscription is not None:
                        with contextlib.suppress(Exception):
                            await subscription.aclose()
                        subscription = None
                await asyncio.sleep(RESUBSCRIBE_DELAY_S)

        return asyncio.create_task(follow(), name="consistency-invalidations")

    # --- internals ---

    async def _owner(self, kind: SubjectKind, subject_id: str) -> str | None:
        if kind is SubjectKind.CUSTOMER:
            return subject_id
        owner = await self.store.owner_of(kind, subject_id)
        if owner is None and self._resolve_owner is not None:
            owner = await self._resolve_owner(kind, subject_id)
        return owner

    async def _recompute(self, account_id: str) -> CustomerResult | None:
        started = self._clock()
        bundle = await self.reader.customer(account_id, now=started)
        if bundle is None:
            await self.store.remove_customer(account_id)
            await self.announce([account_id])
            return None
        result = await self.apply(bundle, computed_at=started)
        await self.announce([account_id])
        return result
