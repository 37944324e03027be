"""Stripe's paging strategies: list objects by cursor, search results by page token.

* lists (``/v1/customers`` ...): ask ``limit=100``, then ``starting_after`` the
  last id of the page while ``has_more``;
* search (``/v1/customers/search``): pass ``page=next_page`` while ``has_more``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

MAX_LIMIT = 100  # Stripe's largest page

PageFetcher = Callable[[Mapping[str, Any]], Awaitable[Mapping[str, Any]]]
"""Fetches one page given its query parameters (the list's own plus the paging ones)."""


def _limit(page_size: int) -> int:
    if not 1 <= page_size <= MAX_LIMIT:
        raise ValueError(f"page_size must be between 1 and {MAX_LIMIT}")
    return page_size


class StripeListPaginator:
    """A Stripe list, page by page: ``starting_after`` the last id while ``has_more``."""

    def __init__(
        self, fetch: PageFetcher, params: Mapping[str, Any] | None = None, *,
        page_size: int = MAX_LIMIT,
    ) -> None:
        self.fetch = fetch
        self.params = dict(params or {})
        self.page_size = _limit(page_size)

    async def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        cursor: str | None = None
        while True:
            query = {**self.params, "limit": self.page_size}
            if cursor is not None:
                query["starting_after"] = cursor
            body = await self.fetch(query)
            data = list(body.get("data") or [])
            yield data
            # An empty page that claims more would loop forever: stop instead.
            if not body.get("has_more") or not data:
                return
            cursor = str(data[-1]["id"])


class StripeSearchPaginator:
    """A Stripe search, page by page: ``page=next_page`` while ``has_more``."""

    def __init__(
        self, fetch: PageFetcher, query: str, *, page_size: int = MAX_LIMIT
    ) -> None:
        self.fetch = fetch
        self.query = query
        self.page_size = _limit(page_size)

    async def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        token: str | None = None
        while True:
            params: dict[str, Any] = {"query": self.query, "limit": self.page_size}
            if token is not None:
                params["page"] = token
            body = await self.fetch(params)
            data = list(body.get("data") or [])
            yield data
            token = body.get("next_page")
            if not body.get("has_more") or not token:
                return
