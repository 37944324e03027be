"""Salesforce SOQL paging as a :class:`sources.pagination.Paginator` strategy.

The first page comes from ``GET {api}/query?q=SOQL``; while the answer is not
``done`` the next page is at its ``nextRecordsUrl`` (a server-side cursor).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from sources.errors import SourceServerError
from sources.systems import System


class JsonReader(Protocol):
    """What the paginator needs from a client: GET a path, get decoded JSON back."""

    system: System

    async def get_json(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any: ...


class SoqlPaginator:
    """The pages of one SOQL query, following ``nextRecordsUrl`` until ``done``.

    ``batch_size`` asks for pages of that many records (Salesforce honours
    200..2000 through the ``Sforce-Query-Options`` header; default 2000).
    """

    def __init__(
        self, reader: JsonReader, soql: str, *, api_path: str, batch_size: int | None = None
    ) -> None:
        self.reader = reader
        self.soql = soql
        self.api_path = api_path
        self.headers = {"Sforce-Query-Options": f"batchSize={batch_size}"} if batch_size else {}
        self.pages_read = 0

    async def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        body = await self.reader.get_json(
            f"{self.api_path}/query", params={"q": self.soql}, headers=self.headers
        )
        seen: set[str] = set()
        while True:
            records, next_url = self._page(body)
            self.pages_read += 1
            yield records
            if next_url is None:
                return
            if next_url in seen:
                raise self._bad(f"nextRecordsUrl repeats: {next_url}")
            seen.add(next_url)
            body = await self.reader.get_json(next_url, headers=self.headers)

    def _page(self, body: Any) -> tuple[list[dict[str, Any]], str | None]:
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise self._bad("query answer without a records list")
        if body.get("done", True):
            return body["records"], None
        next_url = body.get("nextRecordsUrl")
        # Only a path on the same instance: never send the session to another host.
        if not isinstance(next_url, str) or not next_url.startswith("/services/"):
            raise self._bad(f"query not done but nextRecordsUrl is {next_url!r}")
        return body["records"], next_url

    def _bad(self, message: str) -> SourceServerError:
        return SourceServerError(self.reader.system, message, vendor_code="INVALID_RESPONSE")
