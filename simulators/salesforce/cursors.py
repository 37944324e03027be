"""Server-side query cursors behind ``nextRecordsUrl``.

A query whose result does not fit one page keeps its matching record ids here
under a locator (``01gRG0000000001AAA``); ``/query/{locator}-{offset}`` reads
the next page. As in Salesforce, cursors expire after 15 idle minutes and an
org keeps a bounded number of them (the oldest is dropped first), after which
the locator is answered with INVALID_QUERY_LOCATOR. A cursor is not closed
when its last page is read, so a client retrying that page still gets it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from simulators.salesforce.ids import make_id

IDLE_TTL_S = 15 * 60
# Salesforce allows a handful of open cursors per user; the simulator is more
# generous so a gateway fanning out many paged queries at once is not starved.
MAX_CURSORS = 500


@dataclass
class Cursor:
    sobject: str
    fields: tuple[str, ...]
    ids: list[str]
    batch_size: int
    touched: float


class QueryCursors:
    """Open cursors by locator, least recently used first."""

    def __init__(self, *, ttl_s: float = IDLE_TTL_S, max_cursors: int = MAX_CURSORS) -> None:
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._ttl_s = ttl_s
        self._max = max_cursors
        self._counter = 0

    def open(self, sobject: str, fields: tuple[str, ...], ids: list[str], batch_size: int) -> str:
        self._expire()
        self._counter += 1
        locator = make_id("01g", self._counter)
        self._cursors[locator] = Cursor(sobject, fields, ids, batch_size, time.monotonic())
        while len(self._cursors) > self._max:
            self._cursors.popitem(last=False)
        return locator

    def get(self, locator: str) -> Cursor | None:
        self._expire()
        cursor = self._cursors.get(locator)
        if cursor is not None:
            cursor.touched = time.monotonic()
            self._cursors.move_to_end(locator)
        return cursor

    def _expire(self) -> None:
        now = time.monotonic()
        while self._cursors:
            locator, cursor = next(iter(self._cursors.items()))
            if now - cursor.touched <= self._ttl_s:
                break
            del self._cursors[locator]
