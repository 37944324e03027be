"""The billing simulator's objects over its :class:`DocumentStore`: ids, clock, list order.

Stripe lists newest first; :meth:`Objects.order` keeps each kind's ids sorted
by ``created`` descending, ties broken by insertion order descending, as a
sort key per id, so pages and cursors are bisections rather than sorts. An
object's ``created`` never changes, so only an insert changes the order, and
:meth:`Objects.put` (every write of the app goes through it) files a new id
in place instead of re-sorting the kind.
"""

from __future__ import annotations

import random
import string
import time
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

from simulators.storage import Document, DocumentStore

_ALPHABET = string.ascii_letters + string.digits
_ID_LENGTH = 14


SortKey = tuple[int, int]
"""``(-created, -insertion rank)``: ascending keys are Stripe's newest-first order."""


@dataclass
class Order:
    """One kind's ids newest first, with each id's sort key."""

    ids: list[str]
    keys: list[SortKey]
    key_of: dict[str, SortKey]
    next_rank: int

    def insert(self, doc: Document) -> None:
        key = (-int(doc.get("created") or 0), -self.next_rank)
        self.next_rank += 1
        at = bisect_left(self.keys, key)
        self.keys.insert(at, key)
        self.ids.insert(at, doc["id"])
        self.key_of[doc["id"]] = key


class Objects:
    """Reads, writes, new ids and the newest-first order of every kind."""

    def __init__(self, store: DocumentStore, *, seed: int = 0x57121) -> None:
        self.store = store
        # Deterministic ids; a restarted simulator replays the same sequence, so
        # ids are checked against what is stored and drawn again on a clash.
        self._rng = random.Random(seed)
        self._orders: dict[str, Order] = {}

    @staticmethod
    def now() -> int:
        return int(time.time())

    def new_id(self, prefix: str, kind: str | None = None) -> str:
        """``cus_`` + 14 random alphanumerics, unique within ``kind`` when given."""
        while True:
            candidate = prefix + "".join(self._rng.choices(_ALPHABET, k=_ID_LENGTH))
            if kind is None or self.store.get(kind, candidate) is None:
                return candidate

    def token(self, length: int = 14) -> str:
        return "".join(self._rng.choices(_ALPHABET, k=length))

    def get(self, kind: str, object_id: str) -> Document | None:
        return self.store.get(kind, object_id)

    def find(self, kind: str, field: str, value: Any) -> list[Document]:
        return self.store.find(kind, field, value)

    async def put(self, kind: str, doc: Document) -> Document:
        """Insert or replace ``doc`` (keyed by its ``id``)."""
        # The order as it was before the write: one built while the write is in flight
        # already holds the new id (the store's memory is updated first).
        order = self._orders.get(kind) if self.store.get(kind, doc["id"]) is None else None
        await self.store.put(kind, doc["id"], doc)
        if order is not None:
            order.insert(doc)
        return doc

    def order(self, kind: str) -> Order:
        """The kind's ids newest first (built on first use, then kept up to date)."""
        order = self._orders.get(kind)
        if order is None:
            docs = self.store.all(kind)  # insertion order
            keyed = sorted(
                ((-int(doc.get("created") or 0), -rank), doc["id"]) for rank, doc in enumerate(docs)
            )
            order = Order(
                ids=[object_id for _, object_id in keyed],
                keys=[key for key, _ in keyed],
                key_of={object_id: key for key, object_id in keyed},
                next_rank=len(docs),
            )
            self._orders[kind] = order
        return order
