"""The NetSuite adapter: SuiteQL reads, record writes, errors from ``o:errorDetails``.

Reads go through SuiteQL (``POST /services/rest/query/v1/suiteql``, header
``Prefer: transient``): a query is a read, so it is sent as idempotent and
retried on 5xx, 429 and timeouts. Batch reads ask for many ids at once with
``WHERE col IN (...)`` and page through the answer with
:class:`~sources.pagination.SuiteQLPaginator`; rows are parsed into the wire
models (:mod:`sources.erp.wire`) and returned as :mod:`domain.records`.

The queries are real SuiteQL: AR postings are invoices in ``transaction``
(``type = 'CustInvc'``, amounts ``foreigntotal`` / ``foreignamountremaining``),
list values are asked for by display name (``BUILTIN.DF(currency)``), each
model names its columns (:meth:`sources.erp.wire.ErpModel.suiteql_columns`),
and every value is parsed from the string SuiteQL sends. Writes
go through the record API: ``create_record`` is a plain POST (never retried: a
retry could create a second record), while
``upsert_record`` is ``PUT .../eid:<externalId>``, which lands on the same
record however often it is sent, so it is retried like a read.
``update_record`` (PATCH) is never retried (:data:`sources.base.NEVER_RETRIED`).

NetSuite errors look like ``{"status": 400, "o:errorDetails": [{"detail": ...,
"o:errorCode": ...}]}``; :data:`ERROR_CLASSES` maps the codes that say more than
the HTTP status, the status decides the rest; code and detail are kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from domain import records
from sources.base import SourceClient, gather_or_cancel
from sources.encoding import decode_json, to_json, unique, wire_errors
from sources.erp import wire
from sources.errors import (
    PermanentSourceError,
    SourceAuthError,
    SourceConflict,
    SourceError,
    SourceNotFound,
    SourceResponseError,
    SourceThrottled,
)
from sources.pagination import SUITEQL_MAX_PAGE_SIZE, SuiteQLPaginator, chunked, collect

RECORD_PATH = "/services/rest/record/v1"
SUITEQL_PATH = "/services/rest/query/v1/suiteql"

MAX_PAGE_SIZE = SUITEQL_MAX_PAGE_SIZE
# Ids per ``IN (...)`` list. SuiteQL runs on Oracle, which refuses lists of more
# than 1000 expressions (ORA-01795); 1000 is also one full page, so a one-row-per-id
# lookup (customers, postings by invoice) costs one request per 1000 ids.
IN_CHUNK = 1000

CUSTOMER_TABLE = "customer"
TRANSACTION_TABLE = "transaction"
INVOICES = "type = 'CustInvc'"
"""The AR postings among NetSuite's transactions: customer invoices."""
SCHEDULE_TABLE = "customrecord_rg_revsched"
SCHEDULE_LINE_TABLE = "customrecord_rg_revsched_line"

ERROR_CLASSES: dict[str, type[SourceError]] = {
    "NONEXISTENT_ID": SourceNotFound,
    "INVALID_LOGIN": SourceAuthError,
    "INSUFFICIENT_PERMISSION": SourceAuthError,
    "DUP_RCRD": SourceConflict,
    "DUP_ENTITY": SourceConflict,
    "RCRD_HAS_BEEN_CHANGED": SourceConflict,
    "SSS_REQUEST_LIMIT_EXCEEDED": SourceThrottled,
    "CONCURRENCY_LIMIT_EXCEEDED": SourceThrottled,  # account concurrency governance (429)
}
"""NetSuite's ``o:errorCode`` → class, where it says more than the HTTP status."""

T = TypeVar("T")
_Out = TypeVar("_Out", covariant=True)


class _Row(Protocol[_Out]):
    """A wire model class: reads a SuiteQL row, translates into a domain record."""

    @classmethod
    def suiteql_columns(cls) -> str: ...

    @classmethod
    def from_suiteql(cls, row: Mapping[str, Any]) -> _Row[_Out]: ...

    def to_domain(self) -> _Out: ...


class ErpClient(SourceClient):
    """NetSuite SuiteTalk REST + SuiteQL, with batched reads for DataLoaders."""

    error_classes = ERROR_CLASSES

    # --- error translation ----------------------------------------------------

    def translate_error(self, response: httpx.Response) -> SourceError:
        code, detail = _error_detail(response)
        if code is None:
            return super().translate_error(response)
        status = response.status_code
        cls = self.error_class(status, code)
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
                raise SourceResponseError(
                    self.system,
                    "SuiteQL answered without a JSON object",
                    vendor_code="INVALID_RESPONSE",
                )
            return body

        return SuiteQLPaginator(self.system, fetch, page_size=page_size)

    # --- records --------------------------------------------------------------

    async def get_record(self, record_type: str, record_id: str) -> dict[str, Any]:
        """One record by internal id or ``eid:<externalId>`` (``links`` removed)."""
        response = await self.request("GET", _record_url(record_type, record_id))
        body = self._json(response)
        if not isinstance(body, dict):
            raise SourceResponseError(
                self.system,
                f"{record_type} {record_id}: not a JSON object",
                vendor_code="INVALID_RESPONSE",
            )
        body.pop("links", None)
        return body

    async def create_record(self, record_type: str, body: Mapping[str, Any]) -> str:
        """Create a record; returns its internal id (from the ``Location`` header).

        Not retried: a POST that timed out may have created the record. Give the
        record an ``externalId`` (or use :meth:`upsert_record`) to make it findable.
        """
        response = await self.request(
            "POST", f"{RECORD_PATH}/{record_type}", json=to_json(body), idempotent=False
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
            json=to_json(body),
            idempotent=True,
        )
        return await self._created_id(response, record_type, external_id)

    async def update_record(
        self, record_type: str, record_id: str, body: Mapping[str, Any]
    ) -> None:
        """Change some fields of a record (PATCH; never retried, see
        :data:`sources.base.NEVER_RETRIED`)."""
        await self.request("PATCH", _record_url(record_type, record_id), json=to_json(body))

    # --- typed reads ------------------------------------------------------------

    def _parse(self, model: type[_Row[T]], rows: Sequence[Mapping[str, Any]], what: str) -> list[T]:
        with wire_errors(self.system, what):
            return [model.from_suiteql(row).to_domain() for row in rows]

    async def get_customer(self, record_id: str) -> records.ErpCustomer:
        """One customer by internal id or ``eid:<externalId>`` (the REST record)."""
        record = await self.get_record("customer", record_id)
        with wire_errors(self.system, "customer"):
            return wire.ErpCustomer.from_record(record).to_domain()

    async def get_posting(self, record_id: str) -> records.ArPosting:
        """One AR posting (NetSuite invoice) by internal id or ``eid:<invoice id>``."""
        record = await self.get_record("invoice", record_id)
        with wire_errors(self.system, "invoice"):
            return wire.ArPosting.from_record(record).to_domain()

    async def get_schedule(self, record_id: str) -> records.RevenueSchedule:
        """One revenue schedule by internal id or ``eid:{contract}:v{n}``."""
        record = await self.get_record("customrecord_rg_revsched", record_id)
        with wire_errors(self.system, "revenue schedule"):
            return wire.RevenueSchedule.from_record(record).to_domain()

    async def get_schedule_line(self, record_id: str) -> records.RevenueScheduleLine:
        record = await self.get_record("customrecord_rg_revsched_line", record_id)
        with wire_errors(self.system, "revenue schedule line"):
            return wire.RevenueScheduleLine.from_record(record).to_domain()

    async def get_journal_entry(self, record_id: str) -> records.JournalEntry:
        """One journal entry with its lines (a sublist only the REST record has)."""
        record = await self.get_record("journalentry", record_id)
        with wire_errors(self.system, "journal entry"):
            return wire.JournalEntry.from_record(record).to_domain()

    # --- batch reads ----------------------------------------------------------

    async def customers_by_external_ids(
        self, external_ids: Sequence[str]
    ) -> dict[str, records.ErpCustomer]:
        """ERP customers by externalId (the CRM Account Id); missing ids are absent."""
        customers = await self._read_in(wire.ErpCustomer, "externalid", external_ids)
        return {c.external_id: c for c in customers if c.external_id is not None}

    async def customers_by_ids(self, ids: Sequence[str]) -> dict[str, records.ErpCustomer]:
        """ERP customers by internal id; missing ids are absent."""
        return {c.id: c for c in await self._read_in(wire.ErpCustomer, "id", ids)}

    async def all_customers(self) -> list[records.ErpCustomer]:
        columns = wire.ErpCustomer.suiteql_columns()
        rows = await self.suiteql(f"SELECT {columns} FROM {CUSTOMER_TABLE} ORDER BY id")
        return self._parse(wire.ErpCustomer, rows, "customer")

    async def schedules_by_contract_ids(
        self, contract_ids: Sequence[str]
    ) -> dict[str, list[records.RevenueSchedule]]:
        """Revenue schedules per contract id (every id a key), oldest version first."""
        schedules = await self._read_in(
            wire.RevenueSchedule,
            "custrecord_rg_contract",
            contract_ids,
            order_by="custrecord_rg_contract_version, id",
        )
        result: dict[str, list[records.RevenueSchedule]] = {cid: [] for cid in contract_ids}
        for schedule in schedules:
            result.setdefault(schedule.contract_id, []).append(schedule)
        return result

    async def schedules_by_ids(self, ids: Sequence[str]) -> dict[str, records.RevenueSchedule]:
        """Revenue schedules by internal id; missing ids are absent."""
        return {s.id: s for s in await self._read_in(wire.RevenueSchedule, "id", ids)}

    async def schedule_lines_by_schedule_ids(
        self, schedule_ids: Sequence[str]
    ) -> dict[str, list[records.RevenueScheduleLine]]:
        """Lines per schedule id (every id a key), in period order."""
        lines = await self._read_in(
            wire.RevenueScheduleLine,
            "custrecord_rg_schedule",
            schedule_ids,
            order_by="custrecord_rg_period, id",
        )
        result: dict[str, list[records.RevenueScheduleLine]] = {sid: [] for sid in schedule_ids}
        for line in lines:
            result.setdefault(line.schedule_id, []).append(line)
        return result

    async def postings_by_invoice_ids(
        self, invoice_ids: Sequence[str]
    ) -> dict[str, records.ArPosting]:
        """AR postings keyed by externalId (the Stripe invoice id); unposted ids are absent."""
        postings = await self._read_in(wire.ArPosting, "externalid", invoice_ids)
        return {p.external_id: p for p in postings if p.external_id is not None}

    async def postings_by_ids(self, ids: Sequence[str]) -> dict[str, records.ArPosting]:
        """AR postings by internal id; missing ids are absent."""
        return {p.id: p for p in await self._read_in(wire.ArPosting, "id", ids)}

    async def postings_by_customer_ids(
        self, customer_ids: Sequence[str]
    ) -> dict[str, list[records.ArPosting]]:
        """AR postings per ERP customer id (every id a key), by transaction date."""
        postings = await self._read_in(
            wire.ArPosting, "entity", customer_ids, order_by="trandate, id"
        )
        result: dict[str, list[records.ArPosting]] = {cid: [] for cid in customer_ids}
        for posting in postings:
            if posting.customer_id is not None:
                result.setdefault(posting.customer_id, []).append(posting)
        return result

    # --- internals ------------------------------------------------------------

    async def _read_in(
        self, model: type[_Row[T]], column: str, values: Sequence[str], *, order_by: str = ""
    ) -> list[T]:
        """The ``model`` records whose ``column`` is one of ``values`` (its table's rows)."""
        table, what, where = _SOURCES[model]
        rows = await self._rows_in(
            table, model.suiteql_columns(), column, values, where=where, order_by=order_by
        )
        return self._parse(model, rows, what)

    async def _rows_in(
        self,
        table: str,
        columns: str,
        column: str,
        values: Sequence[str],
        *,
        where: str = "",
        order_by: str = "",
    ) -> list[dict[str, Any]]:
        """Rows whose ``column`` is one of ``values``: one paged query per chunk, concurrently.

        Each value lands in exactly one chunk, so per-value order within a chunk's
        ``ORDER BY`` is the order overall.
        """
        wanted = unique(values)
        if not wanted:
            return []
        also = f"{where} AND " if where else ""
        order = f" ORDER BY {order_by}" if order_by else ""
        queries = [
            f"SELECT {columns} FROM {table} "
            f"WHERE {also}{column} IN ({', '.join(map(_literal, chunk))}){order}"
            for chunk in chunked(wanted, IN_CHUNK)
        ]
        pages = await gather_or_cancel(self.suiteql(q) for q in queries)
        return [row for rows in pages for row in rows]

    def _json(self, response: httpx.Response) -> Any:
        # Money stays exact: JSON decimals become Decimal, never float.
        return decode_json(self.system, response)

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


_SOURCES: dict[type[Any], tuple[str, str, str]] = {
    wire.ErpCustomer: (CUSTOMER_TABLE, "customer", ""),
    wire.ArPosting: (TRANSACTION_TABLE, "invoice", INVOICES),
    wire.RevenueSchedule: (SCHEDULE_TABLE, "revenue schedule", ""),
    wire.RevenueScheduleLine: (SCHEDULE_LINE_TABLE, "revenue schedule line", ""),
}
"""Wire model → (SuiteQL table, what it is called in errors, the rows of it that are one)."""


def _record_url(record_type: str, record_id: str) -> str:
    # ':' stays literal (``eid:X``); anything that would break the path is escaped.
    return f"{RECORD_PATH}/{record_type}/{quote(record_id, safe=':')}"


def _literal(value: str) -> str:
    """A SuiteQL string literal (quotes doubled, so ids cannot break out of it)."""
    return "'" + value.replace("'", "''") + "'"


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
