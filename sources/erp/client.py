"""The NetSuite adapter: SuiteQL reads, record writes, errors from ``o:errorDetails``.

Reads go through SuiteQL (``POST /services/rest/query/v1/suiteql``, header
``Prefer: transient``): a query is a read, so it is sent as idempotent and
retried on 5xx and timeouts. Batch reads ask for many ids at once with
``WHERE col IN (...)`` and page through the answer with
:class:`SuiteQLPaginator`. Writes go through the record API: ``create_record``
is a plain POST (never retried: a retry could create a second record), while
``upsert_record`` is ``PUT .../eid:<externalId>``, which lands on the same
record however often it is sent, so it is retried like a read.

NetSuite errors look like ``{"status": 400, "o:errorDetails": [{"detail": ...,
"o:errorCode": ...}]}``; :meth:`ErpClient.translate_error` maps them onto
:mod:`sources.errors` keeping the code and the detail.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from sources.base import SourceClient
from sources.erp.models import (
    ArPosting,
    ErpCustomer,
    RevenueSchedule,
    RevenueScheduleLine,
)
from sources.errors import (
    PermanentSourceError,
    SourceAuthError,
    SourceConflict,
    SourceError,
    SourceNotFound,
    SourceServerError,
    error_for_status,
)
from sources.pagination import chunked, collect

RECORD_PATH = "/services/rest/record/v1"
SUITEQL_PATH = "/services/rest/query/v1/suiteql"

MAX_PAGE_SIZE = 1000  # NetSuite's largest SuiteQL page
# Ids per ``IN (...)`` list. SuiteQL runs on Oracle, which refuses lists of more
# than 1000 expressions (ORA-01795); 1000 is also one full page, so a one-row-per-id
# lookup (customers, postings by invoice) costs one request per 1000 ids.
IN_CHUNK = 1000

_CONFLICT_CODES = frozenset({"DUP_RCRD", "DUP_ENTITY", "RCRD_HAS_BEEN_CHANGED"})

PageFetcher = Callable[[int, int], Awaitable[Mapping[str, Any]]]
"""Fetches one SuiteQL page given ``(limit, offset)``."""


class SuiteQLPaginator:
    """NetSuite's SuiteQL paging: ``offset`` += ``limit`` while ``hasMore``.

    ``offset`` stays a multiple of ``limit``, as NetSuite requires.
    """

    def __init__(self, fetch: PageFetcher, *, page_size: int = MAX_PAGE_SIZE) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        self.fetch = fetch
        self.page_size = page_size

    async def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        offset = 0
        while True:
            body = await self.fetch(self.page_size, offset)
            items = [
                {k: v for k, v in item.items() if k != "links"} for item in body.get("items", [])
            ]
            yield items
            # An empty page that claims more would loop forever: stop instead.
            if not body.get("hasMore") or not items:
                return
            offset += self.page_size


class ErpClient(SourceClient):
    """NetSuite SuiteTalk REST + SuiteQL, with batched reads for DataLoaders."""

    # --- error translation ----------------------------------------------------

    def translate_error(self, response: httpx.Response) -> SourceError:
        code, detail = _error_detail(response)
        if code is None:
            return super().translate_error(response)
        status = response.status_code
        cls: type[SourceError]
        if status == 429 or status >= 500:
            cls = error_for_status(status)
        elif code == "NONEXISTENT_ID" or status == 404:
            cls = SourceNotFound
        elif code == "INVALID_LOGIN" or status in (401, 403):
            cls = SourceAuthError
        elif code in _CONFLICT_CODES:
            cls = SourceConflict
        else:
            cls = error_for_status(status)
        return cls(self.system, detail or code, status=status, vendor_code=code)

    # --- SuiteQL --------------------------------------------------------------

    async def suiteql(self, q: str, *, page_size: int = MAX_PAGE_SIZE) -> list[dict[str, Any]]:
        """Every row of a SuiteQL query, across all pages (``links`` removed)."""
        return await collect(self.suiteql_pages(q, page_size=page_size))

    async def ping(self) -> None:
        """A one-row SuiteQL page: proves the account answers and the token is valid."""
        await collect(self.suiteql_pages("SELECT id FROM customer", page_size=1), max_records=1)

    def suiteql_pages(self, q: str, *, page_size: int = MAX_PAGE_SIZE) -> SuiteQLPaginator:
        """The pages of a SuiteQL query, fetched as they are iterated."""

        async def fetch(limit: int, offset: int) -> Mapping[str, Any]:
            response = await self.request(
                "POST",
                SUITEQL_PATH,
                params={"limit": limit, "offset": offset},
                json={"q": q},
                headers={"Prefer": "transient"},
                idempotent=True,  # a query changes nothing: safe to retry
            )
            body = self._json(response)
            if not isinstance(body, dict):
                raise SourceServerError(self.system, "SuiteQL answered without a JSON object")
            return body

        return SuiteQLPaginator(fetch, page_size=page_size)

    # --- records --------------------------------------------------------------

    async def get_record(self, record_type: str, record_id: str) -> dict[str, Any]:
        """One record by internal id or ``eid:<externalId>`` (``links`` removed)."""
        response = await self.request("GET", _record_url(record_type, record_id))
        body = self._json(response)
        if not isinstance(body, dict):
            raise SourceServerError(self.system, f"{record_type} {record_id}: not a JSON object")
        body.pop("links", None)
        return body

    async def create_record(self, record_type: str, body: Mapping[str, Any]) -> str:
        """Create a record; returns its internal id (from the ``Location`` header).

        Not retried: a POST that timed out may have created the record. Give the
        record an ``externalId`` (or use :meth:`upsert_record`) to make it findable.
        """
        response = await self.request(
            "POST", f"{RECORD_PATH}/{record_type}", json=_jsonable(body), idempotent=False
        )
        return await self._created_id(response, record_type, body.get("externalId"))

    async def upsert_record(
        self, record_type: str, external_id: str, body: Mapping[str, Any]
    ) -> str:
        """Create or replace the record with this externalId (``PUT eid:``); its internal id.

        Idempotent by construction — the same externalId always lands on the same
        record — so it is retried like a read.
        """
        response = await self.request(
            "PUT",
            _record_url(record_type, f"eid:{external_id}"),
            json=_jsonable(body),
            idempotent=True,
        )
        return await self._created_id(response, record_type, external_id)

    async def update_record(
        self, record_type: str, record_id: str, body: Mapping[str, Any]
    ) -> None:
        """Change some fields of a record (PATCH; not retried)."""
        await self.request("PATCH", _record_url(record_type, record_id), json=_jsonable(body))

    # --- batch reads ----------------------------------------------------------

    async def customers_by_external_ids(
        self, external_ids: Sequence[str]
    ) -> dict[str, ErpCustomer]:
        """ERP customers by externalId (the CRM Account Id); missing ids are absent."""
        rows = await self._rows_in("customer", "externalid", external_ids)
        customers = (ErpCustomer.from_suiteql(row) for row in rows)
        return {c.external_id: c for c in customers if c.external_id is not None}

    async def customers_by_ids(self, ids: Sequence[str]) -> dict[str, ErpCustomer]:
        """ERP customers by internal id; missing ids are absent."""
        rows = await self._rows_in("customer", "id", ids)
        return {c.id: c for c in map(ErpCustomer.from_suiteql, rows)}

    async def all_customers(self) -> list[ErpCustomer]:
        rows = await self.suiteql("SELECT * FROM customer ORDER BY id")
        return [ErpCustomer.from_suiteql(row) for row in rows]

    async def schedules_by_contract_ids(
        self, contract_ids: Sequence[str]
    ) -> dict[str, list[RevenueSchedule]]:
        """Revenue schedules per contract id (every id a key), oldest version first."""
        rows = await self._rows_in(
            "customrecord_rg_revsched",
            "custrecord_rg_contract",
            contract_ids,
            order_by="custrecord_rg_contract_version, id",
        )
        result: dict[str, list[RevenueSchedule]] = {cid: [] for cid in contract_ids}
        for schedule in map(RevenueSchedule.from_suiteql, rows):
            result.setdefault(schedule.contract_id, []).append(schedule)
        return result

    async def schedules_by_ids(self, ids: Sequence[str]) -> dict[str, RevenueSchedule]:
        """Revenue schedules by internal id; missing ids are absent."""
        rows = await self._rows_in("customrecord_rg_revsched", "id", ids)
        return {s.id: s for s in map(RevenueSchedule.from_suiteql, rows)}

    async def schedule_lines_by_schedule_ids(
        self, schedule_ids: Sequence[str]
    ) -> dict[str, list[RevenueScheduleLine]]:
        """Lines per schedule id (every id a key), in period order."""
        rows = await self._rows_in(
            "customrecord_rg_revsched_line",
            "custrecord_rg_schedule",
            schedule_ids,
            order_by="custrecord_rg_period, id",
        )
        result: dict[str, list[RevenueScheduleLine]] = {sid: [] for sid in schedule_ids}
        for line in map(RevenueScheduleLine.from_suiteql, rows):
            result.setdefault(line.schedule_id, []).append(line)
        return result

    async def postings_by_invoice_ids(self, invoice_ids: Sequence[str]) -> dict[str, ArPosting]:
        """AR postings keyed by externalId (the Stripe invoice id); unposted ids are absent."""
        rows = await self._rows_in("invoice", "externalid", invoice_ids)
        postings = (ArPosting.from_suiteql(row) for row in rows)
        return {p.external_id: p for p in postings if p.external_id is not None}

    async def postings_by_ids(self, ids: Sequence[str]) -> dict[str, ArPosting]:
        """AR postings by internal id; missing ids are absent."""
        rows = await self._rows_in("invoice", "id", ids)
        return {p.id: p for p in map(ArPosting.from_suiteql, rows)}

    async def postings_by_customer_ids(
        self, customer_ids: Sequence[str]
    ) -> dict[str, list[ArPosting]]:
        """AR postings per ERP customer id (every id a key), by transaction date."""
        rows = await self._rows_in("invoice", "entity", customer_ids, order_by="trandate, id")
        result: dict[str, list[ArPosting]] = {cid: [] for cid in customer_ids}
        for posting in map(ArPosting.from_suiteql, rows):
            if posting.customer_id is not None:
                result.setdefault(posting.customer_id, []).append(posting)
        return result

    # --- internals ------------------------------------------------------------

    async def _rows_in(
        self, table: str, column: str, values: Sequence[str], *, order_by: str = ""
    ) -> list[dict[str, Any]]:
        """Rows whose ``column`` is one of ``values``: one paged query per chunk, concurrently.

        Each value lands in exactly one chunk, so per-value order within a chunk's
        ``ORDER BY`` is the order overall.
        """
        unique = list(dict.fromkeys(values))
        if not unique:
            return []
        order = f" ORDER BY {order_by}" if order_by else ""
        queries = [
            f"SELECT * FROM {table} WHERE {column} IN ({', '.join(map(_literal, chunk))}){order}"
            for chunk in chunked(unique, IN_CHUNK)
        ]
        pages = await asyncio.gather(*(self.suiteql(q) for q in queries))
        return [row for rows in pages for row in rows]

    def _json(self, response: httpx.Response) -> Any:
        try:
            # Money stays exact: JSON decimals become Decimal, never float.
            return response.json(parse_float=Decimal)
        except ValueError as exc:
            raise SourceServerError(
                self.system,
                f"invalid JSON from {response.request.url.path}",
                status=response.status_code,
            ) from exc

    async def _created_id(
        self, response: httpx.Response, record_type: str, external_id: Any
    ) -> str:
        """The id in ``Location``; without one, looked up by externalId if there is one."""
        location: str | None = response.headers.get("Location")
        if location:
            record_id = urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]
            if record_id:
                return record_id
        if isinstance(external_id, str) and external_id:
            record = await self.get_record(record_type, f"eid:{external_id}")
            return str(record["id"])
        raise PermanentSourceError(
            self.system,
            f"{record_type} was written but NetSuite sent no Location header",
            status=response.status_code,
        )


def _record_url(record_type: str, record_id: str) -> str:
    # ':' stays literal (``eid:X``); anything that would break the path is escaped.
    return f"{RECORD_PATH}/{record_type}/{quote(record_id, safe=':')}"


def _literal(value: str) -> str:
    """A SuiteQL string literal (quotes doubled, so ids cannot break out of it)."""
    return "'" + value.replace("'", "''") + "'"


def _jsonable(body: Mapping[str, Any]) -> Any:
    """The body with Decimals as JSON numbers (NetSuite wants numbers for amounts)."""

    def convert(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        if isinstance(value, Mapping):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        return value

    return convert(body)


def _error_detail(response: httpx.Response) -> tuple[str | None, str | None]:
    """``(o:errorCode, detail)`` of NetSuite's first error detail, or ``(None, None)``."""
    try:
        body = response.json()
    except ValueError:
        return None, None
    details = body.get("o:errorDetails") if isinstance(body, dict) else None
    if not isinstance(details, list) or not details or not isinstance(details[0], dict):
        return None, None
    first = details[0]
    code = first.get("o:errorCode")
    detail = first.get("detail")
    return (str(code) if code else None), (str(detail) if detail else None)
