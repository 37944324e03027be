"""The billing read model: Billing's objects served from the store, kept live by its events.

Stripe has no multi-id read, so a page of 50 customers costs two list calls per
customer, and Stripe allows 25 requests a second. The read model answers those
lists from the store (:mod:`store.billing_objects`, shared by every replica)
instead:

* **Kept current by Billing's events.** Every ``customer.*``,
  ``customer.subscription.*`` and ``invoice.*`` webhook (through the gateway's
  inbox, in order per object) writes the object's new state
  (:meth:`BillingReadModel.apply_event`); a background **catch-up** reads
  Stripe's ``/v1/events`` from the last event seen and applies what a delivery
  missed (:meth:`BillingReadModel.catch_up`). Every write made through the
  gateway is written at once (read-your-writes, via ``BillingClient.written``).
* **Freshness.** A customer's list is served from the store once it is
  *complete* (read live once) and *fresh*: known current within ``max_age_s``.
  Known current means the later of when it was read live and when the
  catch-up last confirmed that no event was missed. A miss, or a stale list, is
  read live (per customer, within the adapter's rate limiter) and stored.
* **Provenance.** Every answer says how it was obtained: :class:`Served` carries
  ``via`` (``LIVE`` or ``READ_MODEL``) and ``as_of``. The graph shows them on
  each entity's ``sources`` entry.
* **When Billing cannot be asked**, a stored list answers whatever its age,
  ``via READ_MODEL`` with its ``as_of``: a stale answer, said to be stale,
  rather than a null.
* **Kept in process too.** Each process keeps the lists it read from the store,
  parsed and in Stripe's order, so a warm query costs no SQL per hop (one
  store query per list hop was about a quarter of a QuoteToCash's CPU). What
  this process writes (events, live reads, its own writes) drops its copies
  at once; what other replicas write is found by asking the store which lists
  were written lately (:meth:`~store.billing_objects.BillingObjects.changes`,
  at most every :data:`WATCH_S`, looking back :data:`WATCH_OVERLAP_S` so a
  replica's clock skew or a slow commit is still seen). A read that raced a
  change is not kept (:attr:`BillingReadModel._generation`).

``live=True`` bypasses the store for a read (``freshness: LIVE`` in the graph)
and refreshes it with what Billing said.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

from domain.webhooks import WebhookEvent
from sources.billing.client import BillingClient
from sources.errors import (
    SourceError,
    SourceNotFound,
    SourceThrottled,
    SourceTimeout,
    SourceUnavailable,
)
from sources.systems import System
from store.billing_objects import BillingObjects, StoredObject
from store.portable import utcnow

__all__ = ["KINDS", "BillingReadModel", "Served", "Via"]

log = logging.getLogger(__name__)

T = TypeVar("T")

SOURCE = System.BILLING.value
KINDS = ("customer", "subscription", "invoice")
"""The Stripe objects the read model keeps (``object`` of their JSON)."""
EVENT_PREFIXES = ("customer.", "invoice.")
"""Event types it follows: ``customer.*`` (with ``customer.subscription.*``), ``invoice.*``."""
_GONE = frozenset({"customer.deleted", "invoice.deleted"})
"""Events after which the object no longer exists (a canceled subscription still does)."""
_UNREACHABLE = (SourceUnavailable, SourceTimeout, SourceThrottled)
MAX_PARSED = 100_000
"""Parsed objects a process keeps (least recently used dropped)."""
MAX_KEPT_LISTS = 50_000
"""Customers' lists a process keeps (least recently used dropped)."""
CURSOR_TTL_S = 1.0
WATCH_S = 0.05
"""How often (at most) a process asks the store which lists other replicas wrote."""
WATCH_OVERLAP_S = 5.0
"""How far back each such question looks beyond the previous one (clock skew, slow commits)."""


class Via(StrEnum):
    LIVE = "LIVE"
    """Read from the system during this request."""
    READ_MODEL = "READ_MODEL"
    """Served from the read model, current as of ``as_of``."""


@dataclass(frozen=True)
class Served(Generic[T]):
    """A value and how it was obtained."""

    value: T
    via: Via
    as_of: datetime


@dataclass(frozen=True)
class _Kept:
    """A complete list as the store holds it: its records in Stripe's order, and since when."""

    as_of: datetime
    records: tuple[Any, ...]


def _second(moment: datetime) -> datetime:
    """``moment`` to the second, as Stripe stamps its events.

    What the gateway read or wrote itself is ordered among events at the start of
    its second, so an event of that same second (Stripe cannot say which came
    first) wins: a state at most a second old, rather than a change lost.
    """
    return moment.replace(microsecond=0)


def _known_current(as_of: datetime, confirmed: datetime | None) -> datetime:
    """When a stored answer was last known current: written or read live at ``as_of``,
    or confirmed since by a catch-up (``confirmed``), whichever is later."""
    return max(as_of, confirmed) if confirmed else as_of


def _owner(kind: str, body: Mapping[str, Any]) -> str | None:
    """The billing customer an object belongs to."""
    if kind == "customer":
        return str(body["id"])
    customer = body.get("customer")
    if isinstance(customer, dict):  # expanded
        customer = customer.get("id")
    return str(customer) if customer else None


class BillingReadModel:
    """Billing's customers' subscriptions and invoices, from the store (see the module)."""

    def __init__(
        self,
        client: BillingClient,
        store: BillingObjects,
        *,
        max_age_s: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.client = client
        self.store = store
        self.max_age = timedelta(seconds=max_age_s)
        self.clock = clock
        self._parsed: OrderedDict[tuple[str, str], tuple[str, Any]] = OrderedDict()
        self._kept: OrderedDict[tuple[str, str], _Kept] = OrderedDict()
        self._generation = 0
        """Moves whenever kept lists are dropped: a store read started before is not kept."""
        self._looked_at: float | None = None
        self._seen_since: datetime | None = None
        """When the last look that was answered started (lists written since are dropped)."""
        self._complete = 0
        """How many complete lists the store held at the last look."""
        self._cursor: tuple[float, datetime | None] | None = None
        client.written.append(self.record)

    # -- reads ------------------------------------------------------------------

    async def subscriptions(
        self, customer_ids: Sequence[str], *, live: bool = False
    ) -> dict[str, Served[list[Any]] | SourceError]:
        """Each customer's subscriptions (any status): records, how and as of when."""
        return await self._lists(
            "subscription", customer_ids, self.client.subscription_bodies, live
        )

    async def invoices(
        self, customer_ids: Sequence[str], *, live: bool = False
    ) -> dict[str, Served[list[Any]] | SourceError]:
        """Each customer's invoices: records, how and as of when."""
        return await self._lists("invoice", customer_ids, self.client.invoice_bodies, live)

    async def subscriptions_for_customers(
        self, customer_ids: Sequence[str]
    ) -> dict[str, list[Any]]:
        """As ``BillingClient.subscriptions_for_customers``, from the read model (the sweep)."""
        return _values(await self.subscriptions(customer_ids))

    async def invoices_for_customers(self, customer_ids: Sequence[str]) -> dict[str, list[Any]]:
        """As ``BillingClient.invoices_for_customers``, from the read model (the sweep)."""
        return _values(await self.invoices(customer_ids))

    async def _lists(
        self,
        kind: str,
        customer_ids: Sequence[str],
        read: Callable[[str], Awaitable[list[dict[str, Any]]]],
        live: bool,
    ) -> dict[str, Served[list[Any]] | SourceError]:
        wanted = list(dict.fromkeys(customer_ids))
        stored = await self._stored_lists(kind, wanted)
        confirmed = await self._confirmed()
        now = self.clock()
        answers: dict[str, Served[list[Any]] | SourceError] = {}
        for customer_id, found in stored.items():
            as_of = _known_current(found.as_of, confirmed)
            if not live and now - as_of <= self.max_age:
                answers[customer_id] = Served(list(found.records), Via.READ_MODEL, as_of)

        read_live: dict[str, list[dict[str, Any]]] = {}
        at = self.clock()

        async def one(customer_id: str) -> Served[list[Any]] | SourceError:
            try:
                bodies = await read(customer_id)
            except _UNREACHABLE as error:
                kept = stored.get(customer_id)
                if kept is None:
                    return error
                # Billing cannot be asked: what the read model holds, said to be stale.
                as_of = _known_current(kept.as_of, confirmed)
                return Served(list(kept.records), Via.READ_MODEL, as_of)
            except SourceError as error:
                return error
            read_live[customer_id] = bodies
            return Served(self.client.parse(kind, bodies), Via.LIVE, at)

        missing = [c for c in wanted if c not in answers]
        for customer_id, answer in zip(
            missing, await asyncio.gather(*(one(c) for c in missing)), strict=True
        ):
            answers[customer_id] = answer
        if read_live:  # one transaction for the batch's live reads
            await self.store.replace_lists(kind, read_live, at, _second(at))
            self._forget(kind, read_live)
        return answers

    async def _stored_lists(self, kind: str, customer_ids: list[str]) -> dict[str, _Kept]:
        """The complete lists among ``customer_ids``: kept in process, else from the store."""
        await self._watch()
        found: dict[str, _Kept] = {}
        for customer_id in customer_ids:
            kept = self._kept.get((kind, customer_id))
            if kept is not None:
                self._kept.move_to_end((kind, customer_id))
                found[customer_id] = kept
        missing = [c for c in customer_ids if c not in found]
        if not missing:
            return found
        generation = self._generation
        for customer_id, stored in (await self.store.lists(kind, missing)).items():
            records = [self._record(kind, o) for o in stored.objects]
            # In Stripe's order: newest first (a live list answers the same).
            records.sort(key=lambda r: (r.created_at, r.id), reverse=True)
            found[customer_id] = _Kept(stored.as_of, tuple(records))
            if generation == self._generation:  # nothing was dropped while we read
                self._kept[(kind, customer_id)] = found[customer_id]
        while len(self._kept) > MAX_KEPT_LISTS:
            self._kept.popitem(last=False)
        return found

    async def _watch(self) -> None:
        """Drop the kept lists other replicas (or this one) wrote since the last look."""
        now = time.monotonic()
        if self._looked_at is not None and now - self._looked_at < WATCH_S:
            return
        self._looked_at = now
        started = self.clock()
        since = self._seen_since or started
        changes = await self.store.changes(since - timedelta(seconds=WATCH_OVERLAP_S))
        if changes.complete < self._complete:  # emptied (BillingObjects.clear)
            self._generation += 1
            self._kept.clear()
        for kind, customer_id in changes.lists:
            self._forget(kind, (customer_id,))
        # Only once answered: a look that failed is made again from the same place.
        self._seen_since, self._complete = started, changes.complete

    def _forget(self, kind: str, customer_ids: Iterable[str | None]) -> None:
        """Drop kept lists once written (by this process, or by another as seen by
        :meth:`_watch`). Called after the write: a store read that started before it
        may have missed it, and the new generation keeps that read from being kept."""
        self._generation += 1
        for customer_id in customer_ids:
            self._kept.pop((kind, customer_id or ""), None)

    async def objects(
        self, kind: str, ids: Sequence[str], *, live: bool = False
    ) -> dict[str, Served[Any] | SourceError]:
        """Customers, subscriptions or invoices by id: stored ones known current within
        the bound, the rest retrieved (one call each, Stripe having no multi-id read)
        and stored. An id Billing does not know (or a deleted customer) is absent."""
        wanted = list(dict.fromkeys(ids))
        stored = await self.store.objects(kind, wanted)
        confirmed = await self._confirmed()
        now = self.clock()
        answers: dict[str, Served[Any] | SourceError] = {}
        for object_id, found in stored.items():
            as_of = _known_current(found.as_of, confirmed)
            if not live and now - as_of <= self.max_age:
                answers[object_id] = Served(self._record(kind, found), Via.READ_MODEL, as_of)
        at = self.clock()

        async def one(object_id: str) -> Served[Any] | SourceError | None:
            try:
                body = await self.client.object_body(kind, object_id)
            except SourceNotFound:
                return None
            except _UNREACHABLE as error:
                kept = stored.get(object_id)
                if kept is None:
                    return error
                as_of = _known_current(kept.as_of, confirmed)
                return Served(self._record(kind, kept), Via.READ_MODEL, as_of)
            except SourceError as error:
                return error
            gone = bool(body.get("deleted"))  # a deleted customer is retrieved as a stub
            owner = _owner(kind, body)
            await self.store.put(kind, body, owner, _second(at), at, deleted=gone)
            self._forget(kind, (owner,))
            if gone:
                return None
            (record,) = self.client.parse(kind, [body])
            return Served(record, Via.LIVE, at)

        missing = [i for i in wanted if i not in answers]
        for object_id, answer in zip(
            missing, await asyncio.gather(*(one(i) for i in missing)), strict=True
        ):
            if answer is not None:
                answers[object_id] = answer
        return answers

    def _record(self, kind: str, stored: StoredObject) -> Any:
        """The record of a stored object, parsed once per state (an LRU by JSON text)."""
        key = (kind, stored.id)
        kept = self._parsed.get(key)
        if kept is not None and kept[0] == stored.raw:
            self._parsed.move_to_end(key)
            return kept[1]
        (record,) = self.client.parse(kind, [stored.body])
        self._parsed[key] = (stored.raw, record)
        if len(self._parsed) > MAX_PARSED:
            self._parsed.popitem(last=False)
        return record

    async def _confirmed(self) -> datetime | None:
        """When the catch-up last confirmed that no event was missed (None: never).

        Read from the store at most once a second: every replica's catch-up moves it.
        """
        now = time.monotonic()
        if self._cursor is not None and now - self._cursor[0] < CURSOR_TTL_S:
            return self._cursor[1]
        cursor = await self.store.cursor(SOURCE)
        confirmed = cursor.checked_at if cursor else None
        self._cursor = (now, confirmed)
        return confirmed

    # -- writes -----------------------------------------------------------------

    async def record(self, body: dict[str, Any]) -> None:
        """An object a write through the gateway answered with: stored at once."""
        kind = body.get("object")
        if kind not in KINDS or "id" not in body:
            return
        now = self.clock()
        owner = _owner(str(kind), body)
        await self.store.put(
            str(kind), body, owner, _second(now), now, deleted=bool(body.get("deleted"))
        )
        self._forget(str(kind), (owner,))

    async def apply_event(self, event: WebhookEvent) -> None:
        """A Billing webhook (inbox handler): the object's new state, unless a newer
        one is stored."""
        await self._apply(event.type, event.payload, event.occurred_at)

    async def _apply(self, type_: str, payload: Mapping[str, Any], at: datetime) -> bool:
        if not type_.startswith(EVENT_PREFIXES):
            return False
        data = payload.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(obj, dict) or obj.get("object") not in KINDS or "id" not in obj:
            return False
        kind = str(obj["object"])
        owner = _owner(kind, obj)
        written = await self.store.put(kind, obj, owner, at, self.clock(), deleted=type_ in _GONE)
        self._forget(kind, (owner,))
        return written

    async def catch_up(self) -> int:
        """Apply the events Billing logged since the last one seen; how many were new.

        The first run only notes where the log is: lists are read live when first
        needed, so there is no history to replay.
        """
        started = self.clock()
        cursor = await self.store.cursor(SOURCE)
        if cursor is None:
            await self.store.advance(SOURCE, started, None, started)
            return 0
        events = await self.client.events_since(cursor.last_event_at)
        applied = 0
        last_at, last_id = cursor.last_event_at, cursor.last_event_id
        for event in events:
            at = datetime.fromtimestamp(int(event.get("created", 0)), UTC)
            if await self._apply(str(event.get("type", "")), event, at):
                applied += 1
            last_at, last_id = max(last_at, at), str(event.get("id"))
        await self.store.advance(SOURCE, last_at, last_id, started)
        return applied


def _values(answers: Mapping[str, Served[list[Any]] | SourceError]) -> dict[str, list[Any]]:
    """The lists alone; the first failure is raised (as the client's batch reads do)."""
    for answer in answers.values():
        if isinstance(answer, SourceError):
            raise answer
    return {key: answer.value for key, answer in answers.items() if isinstance(answer, Served)}
