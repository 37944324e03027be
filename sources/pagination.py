"""Pagination as a strategy: each vendor pages differently, callers just iterate.

A :class:`Paginator` turns a first request into an async stream of pages (the
raw records of each page, in order). The strategies, one per vendor paging
style, all here:

==========================  =====================================================
:class:`SoqlPaginator`      Salesforce SOQL: follow ``nextRecordsUrl`` until ``done``
:class:`StripeListPaginator`  Stripe lists: ``starting_after`` the last id while
                            ``has_more``
:class:`StripeSearchPaginator`  Stripe search: ``page=next_page`` while ``has_more``
:class:`SuiteQLPaginator`   NetSuite SuiteQL: ``offset`` += ``limit`` while ``hasMore``
==========================  =====================================================

Each takes a *fetcher* (the adapter's own authenticated call for one page), so
the strategy knows the vendor's paging contract and nothing about HTTP. A page
that breaks the contract (no records list, a cursor that repeats, a next page on
another host) is a :class:`~sources.errors.SourceResponseError`; an empty page
that claims more ends the list instead of looping forever.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol

from sources.encoding import INVALID_RESPONSE
from sources.errors import SourceResponseError
from sources.systems import System

Record = dict[str, Any]


class Paginator(Protocol):
    """Yields the records of every page of one logical list, in order."""

    def pages(self) -> AsyncIterator[list[Record]]: ...


async def collect(paginator: Paginator, *, max_records: int | None = None) -> list[Record]:
    """All records a paginator yields (stopping once ``max_records`` are in hand)."""
    records: list[Record] = []
    async for page in paginator.pages():
        records.extend(page)
        if max_records is not None and len(records) >= max_records:
            return records[:max_records]
    return records


def chunked(items: list[str], size: int) -> list[list[str]]:
    """Split ids into vendor-sized batches, keeping order."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def _records(system: System, value: Any, what: str) -> list[Record]:
    """A page's records, checked to be a list of JSON objects."""
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise SourceResponseError(
            system, f"{what} is not a list of records", vendor_code=INVALID_RESPONSE
        )
    return value


# --- Salesforce -------------------------------------------------------------------

SoqlFetcher = Callable[[str, Mapping[str, str] | None], Awaitable[Any]]
"""GETs a path (with query parameters or None) and returns the decoded JSON."""


class SoqlPaginator:
    """The pages of one SOQL query, following ``nextRecordsUrl`` until ``done``.

    The first page comes from ``GET {api_path}/query?q=SOQL``; the next ones from
    the answer's ``nextRecordsUrl`` (a server-side cursor), accepted only as a
    path on the same instance so the session is never sent to another host.
    ``batch_size`` asks for pages of that many records (Salesforce honours
    200..2000 through the ``Sforce-Query-Options`` header; default 2000), which
    the fetcher sends as a header.
    """

    def __init__(self, system: System, fetch: SoqlFetcher, soql: str, *, api_path: str) -> None:
        self.system = system
        self.fetch = fetch
        self.soql = soql
        self.api_path = api_path

    async def pages(self) -> AsyncIterator[list[Record]]:
        body = await self.fetch(f"{self.api_path}/query", {"q": self.soql})
        seen: set[str] = set()
        while True:
            records, next_url = self._page(body)
            yield records
            if next_url is None:
                return
            if next_url in seen:
                raise self._bad(f"nextRecordsUrl repeats: {next_url}")
            seen.add(next_url)
            body = await self.fetch(next_url, None)

    def _page(self, body: Any) -> tuple[list[Record], str | None]:
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise self._bad("query answer without a records list")
        records = _records(self.system, body["records"], "query answer's records")
        if body.get("done", True):
            return records, None
        next_url = body.get("nextRecordsUrl")
        if not isinstance(next_url, str) or not next_url.startswith("/services/"):
            raise self._bad(f"query not done but nextRecordsUrl is {next_url!r}")
        return records, next_url

    def _bad(self, message: str) -> SourceResponseError:
        return SourceResponseError(self.system, message, vendor_code=INVALID_RESPONSE)


# --- Stripe -------------------------------------------------------------------------

STRIPE_MAX_LIMIT = 100  # Stripe's largest page

StripeFetcher = Callable[[Mapping[str, Any]], Awaitable[Mapping[str, Any]]]
"""Fetches one page given its query parameters (the list's own plus the paging ones)."""


def _stripe_limit(page_size: int) -> int:
    if not 1 <= page_size <= STRIPE_MAX_LIMIT:
        raise ValueError(f"page_size must be between 1 and {STRIPE_MAX_LIMIT}")
    return page_size


class StripeListPaginator:
    """A Stripe list, page by page: ``starting_after`` the last id while ``has_more``."""

    def __init__(
        self,
        system: System,
        fetch: StripeFetcher,
        params: Mapping[str, Any] | None = None,
        *,
        page_size: int = STRIPE_MAX_LIMIT,
    ) -> None:
        self.system = system
        self.fetch = fetch
        self.params = dict(params or {})
        self.page_size = _stripe_limit(page_size)

    async def pages(self) -> AsyncIterator[list[Record]]:
        cursor: str | None = None
        while True:
            query = {**self.params, "limit": self.page_size}
            if cursor is not None:
                query["starting_after"] = cursor
            body = await self.fetch(query)
            data = _records(self.system, body.get("data", []), "list object's data")
            yield data
            # An empty page that claims more would loop forever: stop instead.
            if not body.get("has_more") or not data:
                return
            cursor = str(data[-1].get("id"))


class StripeSearchPaginator:
    """A Stripe search, page by page: ``page=next_page`` while ``has_more``."""

    def __init__(
        self,
        system: System,
        fetch: StripeFetcher,
        query: str,
        *,
        page_size: int = STRIPE_MAX_LIMIT,
    ) -> None:
        self.system = system
        self.fetch = fetch
        self.query = query
        self.page_size = _stripe_limit(page_size)

    async def pages(self) -> AsyncIterator[list[Record]]:
        token: str | None = None
        while True:
            params: dict[str, Any] = {"query": self.query, "limit": self.page_size}
            if token is not None:
                params["page"] = token
            body = await self.fetch(params)
            yield _records(self.system, body.get("data", []), "search result's data")
            token = body.get("next_page")
            if not body.get("has_more") or not token:
                return


# --- NetSuite -----------------------------------------------------------------------

SUITEQL_MAX_PAGE_SIZE = 1000  # NetSuite's largest SuiteQL page

SuiteQLFetcher = Callable[[int, int], Awaitable[Mapping[str, Any]]]
"""Fetches one SuiteQL page given ``(limit, offset)``."""


class SuiteQLPaginator:
    """NetSuite's SuiteQL paging: ``offset`` += ``limit`` while ``hasMore``.

    ``offset`` stays a multiple of ``limit``, as NetSuite requires. Rows come
    without their ``links``.
    """

    def __init__(
        self, system: System, fetch: SuiteQLFetcher, *, page_size: int = SUITEQL_MAX_PAGE_SIZE
    ) -> None:
        if not 1 <= page_size <= SUITEQL_MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {SUITEQL_MAX_PAGE_SIZE}")
        self.system = system
        self.fetch = fetch
        self.page_size = page_size

    async def pages(self) -> AsyncIterator[list[Record]]:
        offset = 0
        while True:
            body = await self.fetch(self.page_size, offset)
            rows = _records(self.system, body.get("items", []), "SuiteQL answer's items")
            items = [{k: v for k, v in row.items() if k != "links"} for row in rows]
            yield items
            # An empty page that claims more would loop forever: stop instead.
            if not body.get("hasMore") or not items:
                return
            offset += self.page_size
