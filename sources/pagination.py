"""Pagination as a strategy: each vendor pages differently, callers just iterate.

A :class:`Paginator` turns a first request into an async stream of pages. The
three vendors' strategies live with their adapters:

* Salesforce SOQL: follow ``nextRecordsUrl`` until ``done``;
* Stripe lists: ``starting_after`` the last id while ``has_more``;
* NetSuite SuiteQL: ``offset`` += ``limit`` while ``hasMore``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol


class Paginator(Protocol):
    """Yields the records of every page of one logical list, in order."""

    def pages(self) -> AsyncIterator[list[dict[str, Any]]]: ...


async def collect(paginator: Paginator, *, max_records: int | None = None) -> list[dict[str, Any]]:
    """All records a paginator yields (stopping once ``max_records`` are in hand)."""
    records: list[dict[str, Any]] = []
    async for page in paginator.pages():
        records.extend(page)
        if max_records is not None and len(records) >= max_records:
            return records[:max_records]
    return records


def chunked(items: list[str], size: int) -> list[list[str]]:
    """Split ids into vendor-sized batches, keeping order."""
    return [items[i : i + size] for i in range(0, len(items), size)]
