"""A least-recently-used cache bounded in bytes as well as in entries.

Strawberry's parser and validation caches are ``functools.lru_cache``: bounded
in entries only, so 150 distinct 1 MB documents kept hundreds of megabytes of
syntax trees alive. Here every entry declares its weight; the cache evicts the
least recently used entries until both bounds hold, and refuses an entry that
is heavier than ``max_entry_bytes`` outright.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class ByteBoundedLRU(Generic[V]):
    def __init__(self, max_bytes: int, max_entries: int, max_entry_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.max_entry_bytes = min(max_entry_bytes, max_bytes)
        self._items: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._bytes = 0

    @property
    def bytes(self) -> int:
        """The summed weight of the entries held."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def get(self, key: str) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: str, value: V, weight: int) -> bool:
        """Keep ``value`` under ``key``; False (and nothing kept) if it is too heavy."""
        if weight > self.max_entry_bytes:
            return False
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= old[1]
        self._items[key] = (value, weight)
        self._bytes += weight
        while self._bytes > self.max_bytes or len(self._items) > self.max_entries:
            _, (_, dropped) = self._items.popitem(last=False)
            self._bytes -= dropped
        return True

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0
