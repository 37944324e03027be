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

**The flows' writes** (revenue schedules, AR postings, recognition) are built on
``upsert_record`` so a retried or resumed step never creates a second record:

* a contract has **one** revenue schedule record, revised in place. Its
  externalId ``{contract}:v{n}`` and ``custrecord_rg_contract_version`` name the
  contract version it reflects, so readers (:meth:`ErpClient.schedules_by_contract_ids`,
  the highest version wins) never see two candidates. Activation upserts it
  (:meth:`ErpClient.upsert_schedule`); an amendment rewrites its lines, then, last,
  its header with the new version (:meth:`ErpClient.revise_schedule`: the header
  is the commit point, a schedule at the new version is complete); a termination
  deletes the unrecognized periods after the effective month
  (:meth:`ErpClient.truncate_schedule`). Lines are upserted by
  ``eid:{schedule id}:{period}``; recognized lines are never changed or deleted.
  The amounts come from :mod:`domain.revenue_schedule`.
* an AR posting is the NetSuite ``invoice`` with externalId = the billing
  invoice id (:meth:`ErpClient.upsert_posting`);
* recognizing a period books a journal entry per schedule and period
  (``eid:revrec:{schedule id}:{period}``), then flags the line
  (:meth:`ErpClient.recognize_period`, :meth:`ErpClient.recognize_schedule_period`).

Each write operation converges: it reads what the ERP holds, computes what it
should hold and sends only the difference, so repeating it is harmless.

NetSuite errors look like ``{"status": 400, "o:errorDetails": [{"detail": ...,
"o:errorCode": ...}]}``; :data:`ERROR_CLASSES` maps the codes that say more than
the HTTP status, the status decides the rest; code and detail are kept.
"""

from __future__ import annotations

import asyncio
import calendar
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date
from functools import partial
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from domain import records
from domain.money import Money
from domain.revenue_schedule import (
    PeriodAmount,
    Recognition,
    ScheduleLineState,
    revise,
    total_of,
    truncate,
)
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

    # --- writes: revenue schedules ----------------------------------------------
    #
    # One schedule record per contract, revised in place (see the module
    # docstring): its externalId and ``custrecord_rg_contract_version`` always
    # name the contract version it reflects. Every write converges: it reads what
    # the ERP holds, computes what it should hold, and sends only the difference,
    # each new record by ``PUT eid:`` — so a retried or resumed step never creates a
    # second record, and a step that completed sends nothing the second time.

    async def current_schedule(self, contract_id: str) -> records.RevenueSchedule | None:
        """The contract's schedule at its highest version (the one readers show), or None.

        Chosen exactly as the graph chooses (:func:`_current`), so a writer and a
        reader never disagree about which schedule is current.
        """
        return _current((await self.schedules_by_contract_ids([contract_id]))[contract_id])

    async def upsert_schedule(
        self,
        contract_id: str,
        version: int,
        *,
        customer_id: str,
        currency: str,
        lines: Sequence[PeriodAmount],
        start: date,
        end: date,
    ) -> str:
        """Create (or complete) the revenue schedule of a contract version; its internal id.

        The header is upserted by ``eid:{contract}:v{version}``, then each period by
        ``eid:{schedule id}:{period}``; periods it does not list are deleted, and
        recognized lines are never touched. ``lines`` come from
        :func:`domain.revenue_schedule.spread`; their sum is the header's total.
        A schedule of this contract at another version raises
        :class:`~sources.errors.SourceConflict` (amend with :meth:`revise_schedule`).
        """
        code = currency.upper()
        total = total_of(lines, code)  # CurrencyMismatch if a line is in another currency
        current = await self.current_schedule(contract_id)
        if current is not None and current.contract_version != version:
            raise SourceConflict(
                self.system,
                f"contract {contract_id} already has a revenue schedule at version "
                f"{current.contract_version} (schedule {current.id}); not creating version "
                f"{version}",
                vendor_code="SCHEDULE_VERSION_CONFLICT",
            )
        schedule_id = await self.upsert_record(
            SCHEDULE_TABLE,
            schedule_external_id(contract_id, version),
            wire.schedule_body(
                external_id=schedule_external_id(contract_id, version),
                contract_id=contract_id,
                version=version,
                customer_id=customer_id,
                currency=code,
                total=total.amount,
                start=start,
                end=end,
            ),
        )
        existing = await self._lines_of(schedule_id) if current is not None else []
        target = [ScheduleLineState(line.period, line.amount) for line in lines]
        await self._converge_lines(schedule_id, existing, target)
        return schedule_id

    async def revise_schedule(
        self, contract_id: str, version: int, *, total: Money, effective: date, end: date
    ) -> str:
        """Revise the contract's schedule in place for amendment ``version``; its id.

        Prospective (:func:`domain.revenue_schedule.revise`): recognized periods
        and unrecognized ones before the effective month keep their amounts, the
        months from the effective one through ``end`` are re-spread so the
        schedule totals ``total``. The lines are written first and the header
        last — externalId ``{contract}:v{version}``, version, total, end — so a
        schedule at ``version`` is complete, and a retry finds it and returns.
        No schedule: :class:`~sources.errors.SourceNotFound`; one at a later version:
        :class:`~sources.errors.SourceConflict`; a total that cannot be placed:
        :class:`~domain.revenue_schedule.ScheduleError`.
        """
        current = await self.current_schedule(contract_id)
        if current is None:
            raise SourceNotFound(
                self.system, f"contract {contract_id} has no revenue schedule to revise"
            )
        if current.contract_version == version:
            return current.id  # already revised (the header is written last)
        if current.contract_version > version:
            raise SourceConflict(
                self.system,
                f"the revenue schedule of contract {contract_id} is at version "
                f"{current.contract_version}, past amendment version {version}",
                vendor_code="SCHEDULE_VERSION_CONFLICT",
            )
        existing = await self._lines_of(current.id)
        states = self._states(existing, current.currency or total.currency)
        target = revise(states, total, effective, end, start=current.start)
        await self._converge_lines(current.id, existing, target)
        await self.update_record(
            SCHEDULE_TABLE,
            current.id,
            wire.schedule_revision_body(
                external_id=schedule_external_id(contract_id, version),
                version=version,
                total=total.amount,
                end=end,
            ),
        )
        return current.id

    async def truncate_schedule(self, contract_id: str, effective: date) -> str:
        """End the contract's schedule on ``effective`` (a termination); its id.

        Unrecognized periods after the effective month are deleted
        (:func:`domain.revenue_schedule.truncate`); the header's total becomes
        the sum of what is left and its end ``effective`` (if that is earlier).
        The version is unchanged. No schedule: :class:`~sources.errors.SourceNotFound`.
        """
        current = await self.current_schedule(contract_id)
        if current is None:
            raise SourceNotFound(
                self.system, f"contract {contract_id} has no revenue schedule to truncate"
            )
        currency = current.currency
        existing = await self._lines_of(current.id)
        if currency is None:
            if existing:
                raise SourceResponseError(
                    self.system,
                    f"revenue schedule {current.id} has lines but no currency",
                    vendor_code="INVALID_RESPONSE",
                )
            return current.id
        target = truncate(self._states(existing, currency), effective)
        await self._converge_lines(current.id, existing, target)
        total = total_of(target, currency)
        new_end = min(current.end, effective) if current.end else effective
        if current.total != total or current.end != new_end:
            await self.update_record(
                SCHEDULE_TABLE,
                current.id,
                {"custrecord_rg_total": total.amount, "custrecord_rg_end": new_end},
            )
        return current.id

    # --- writes: AR postings and revenue recognition ------------------------------

    deferred_revenue_account = "2400"
    """The GL account (internal id) recognition debits: deferred revenue."""
    revenue_account = "4000"
    """The GL account (internal id) recognition credits: revenue."""

    async def upsert_posting(self, invoice: records.Invoice, *, customer_id: str) -> str:
        """Post a finalized billing invoice to AR (NetSuite ``invoice``); its internal id.

        ``PUT eid:<invoice id>``: the same invoice always lands on the same record,
        and posting it again (paid now, say) brings that record up to date.
        ``customer_id`` is the ERP customer's internal id. A draft raises ``ValueError``.
        """
        return await self.upsert_record(
            "invoice", invoice.id, wire.posting_body(invoice, customer_id)
        )

    async def recognize_schedule_period(self, schedule_id: str, period: str) -> Recognition | None:
        """Recognize one schedule's line for ``period``; None if it has no such line.

        Books the journal entry first (``eid:revrec:{schedule id}:{period}``), then
        flags the line, so a crash in between is repaired by the retry. A line
        already recognized is reported with ``newly=False`` and nothing is written.
        """
        _check_period(period)
        schedule = (await self.schedules_by_ids([schedule_id])).get(schedule_id)
        if schedule is None:
            raise SourceNotFound(self.system, f"revenue schedule {schedule_id} does not exist")
        line = next((x for x in await self._lines_of(schedule_id) if x.period == period), None)
        if line is None:
            return None
        if line.recognized:
            currency = self._currency_of(schedule)
            entry_id = await self._id_by_external_id(
                "journalentry", recognition_external_id(schedule_id, period)
            )
            return Recognition(
                schedule_id,
                line.id,
                period,
                Money.exact(line.amount, currency),
                entry_id,
                newly=False,
            )
        return await self._recognize(schedule, line)

    async def recognize_period(self, period: str) -> list[Recognition]:
        """Recognize ``period`` on every contract's current schedule; every line of it.

        Each unrecognized line gets its journal entry, then its flag (see
        :meth:`recognize_schedule_period`); the lines of a schedule a later
        version supersedes are left alone (only the schedule readers show is
        recognized). Returns every line of the period on the current schedules,
        in line order: ``newly=True`` for those this call recognized, ``newly=False``
        (with their journal entry, if one was booked) for those recognized before.
        So a repeated or resumed call answers the same lines and writes nothing new.
        """
        _check_period(period)
        rows = await self.suiteql(
            f"SELECT {wire.RevenueScheduleLine.suiteql_columns()} FROM {SCHEDULE_LINE_TABLE} "
            f"WHERE custrecord_rg_period = {_literal(period)} ORDER BY id"
        )
        lines = self._parse(wire.RevenueScheduleLine, rows, "revenue schedule line")
        if not lines:
            return []
        schedules = await self.schedules_by_ids([line.schedule_id for line in lines])
        by_contract = await self.schedules_by_contract_ids(
            [s.contract_id for s in schedules.values()]
        )
        current = {s.id for found in by_contract.values() if (s := _current(found)) is not None}
        due = [(schedules[x.schedule_id], x) for x in lines if x.schedule_id in current]
        done = [(s, x) for s, x in due if x.recognized]
        entries = await self._ids_by_external_ids(
            "journalentry", [recognition_external_id(s.id, period) for s, _ in done]
        )
        before = {
            x.id: Recognition(
                s.id,
                x.id,
                period,
                Money.exact(x.amount, self._currency_of(s)),
                entries.get(recognition_external_id(s.id, period)),
                newly=False,
            )
            for s, x in done
        }
        fresh = await _bounded([partial(self._recognize, s, x) for s, x in due if not x.recognized])
        now = {r.line_id: r for r in fresh}
        return [before.get(x.id) or now[x.id] for _, x in due]

    # --- write internals --------------------------------------------------------

    async def delete_record(self, record_type: str, record_id: str) -> None:
        """Delete a record (``DELETE``). Retried: a repeated delete finds nothing,
        which counts as done."""
        try:
            await self.request("DELETE", _record_url(record_type, record_id), idempotent=True)
        except SourceNotFound:
            return

    async def _id_by_external_id(self, record_type: str, external_id: str) -> str | None:
        try:
            record = await self.get_record(record_type, f"eid:{external_id}")
        except SourceNotFound:
            return None
        return str(record["id"])

    async def _ids_by_external_ids(
        self, record_type: str, external_ids: Sequence[str]
    ) -> dict[str, str]:
        """Internal ids by externalId (one SuiteQL query per 1000); missing ids are absent."""
        rows = await self._rows_in(record_type, "id, externalid", "externalid", external_ids)
        return {str(row["externalid"]): str(row["id"]) for row in rows if "externalid" in row}

    async def _lines_of(self, schedule_id: str) -> list[records.RevenueScheduleLine]:
        return (await self.schedule_lines_by_schedule_ids([schedule_id]))[schedule_id]

    def _currency_of(self, schedule: records.RevenueSchedule) -> str:
        if schedule.currency is None:
            raise SourceResponseError(
                self.system,
                f"revenue schedule {schedule.id} has no currency",
                vendor_code="INVALID_RESPONSE",
            )
        return schedule.currency

    @staticmethod
    def _states(
        lines: Sequence[records.RevenueScheduleLine], currency: str
    ) -> list[ScheduleLineState]:
        """The ERP's lines as the revision arithmetic sees them (one per period)."""
        by_period: dict[str, ScheduleLineState] = {}
        for line in lines:
            state = ScheduleLineState(
                line.period, Money.exact(line.amount, currency), line.recognized
            )
            held = by_period.get(line.period)
            if held is None or (state.recognized and not held.recognized):
                by_period[line.period] = state
        return list(by_period.values())

    async def _converge_lines(
        self,
        schedule_id: str,
        existing: Sequence[records.RevenueScheduleLine],
        target: Sequence[ScheduleLineState],
    ) -> None:
        """Make the schedule's lines ``target``: create, change or delete the unrecognized.

        A recognized line is never changed or deleted. A new line is upserted by
        ``eid:{schedule id}:{period}``; an existing one (the seed's have no
        externalId) is changed by internal id, only if its amount differs.
        """
        by_period: dict[str, records.RevenueScheduleLine] = {}
        surplus: list[records.RevenueScheduleLine] = []
        for line in existing:
            held = by_period.get(line.period)
            if held is None:
                by_period[line.period] = line
            elif line.recognized and not held.recognized:
                surplus.append(held)
                by_period[line.period] = line
            else:
                surplus.append(line)
        wanted = {state.period for state in target}
        writes: list[Callable[[], Awaitable[Any]]] = []
        for state in target:
            held = by_period.get(state.period)
            if held is None:
                external_id = f"{schedule_id}:{state.period}"
                body = wire.schedule_line_body(
                    external_id=external_id,
                    schedule_id=schedule_id,
                    period=state.period,
                    amount=state.amount.amount,
                    recognized=state.recognized,
                )
                writes.append(partial(self.upsert_record, SCHEDULE_LINE_TABLE, external_id, body))
            elif not held.recognized and held.amount != state.amount.amount:
                body = {"custrecord_rg_amount": state.amount.amount}
                writes.append(partial(self.update_record, SCHEDULE_LINE_TABLE, held.id, body))
        gone = [line for period, line in by_period.items() if period not in wanted]
        for line in [*surplus, *gone]:
            if not line.recognized:
                writes.append(partial(self.delete_record, SCHEDULE_LINE_TABLE, line.id))
        await _bounded(writes)

    async def _recognize(
        self, schedule: records.RevenueSchedule, line: records.RevenueScheduleLine
    ) -> Recognition:
        """Book ``line``'s journal entry (if it has an amount), then flag it recognized."""
        currency = self._currency_of(schedule)
        amount = Money.exact(line.amount, currency)
        entry_id: str | None = None
        if amount.amount != 0:
            external_id = recognition_external_id(schedule.id, line.period)
            entry_id = await self.upsert_record(
                "journalentry",
                external_id,
                wire.recognition_body(
                    external_id=external_id,
                    tran_date=_last_day(line.period),
                    currency=currency,
                    amount=amount.amount,
                    deferred_account=self.deferred_revenue_account,
                    revenue_account=self.revenue_account,
                    memo=f"Revenue {line.period}: contract {schedule.contract_id} "
                    f"v{schedule.contract_version}",
                ),
            )
        await self.update_record(SCHEDULE_LINE_TABLE, line.id, {"custrecord_rg_recognized": True})
        return Recognition(schedule.id, line.id, line.period, amount, entry_id)

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


def schedule_external_id(contract_id: str, version: int) -> str:
    """The externalId of a contract version's revenue schedule: ``{contract}:v{version}``."""
    return f"{contract_id}:v{version}"


def recognition_external_id(schedule_id: str, period: str) -> str:
    """The externalId of the journal entry recognizing a schedule's period."""
    return f"revrec:{schedule_id}:{period}"


WRITE_CONCURRENCY = 4
"""Record writes of one operation in flight at once: under NetSuite's default
account limit of 5 concurrent requests (shared by every integration), so one
schedule's lines never get themselves throttled."""


async def _bounded(
    calls: Sequence[Callable[[], Awaitable[T]]], limit: int = WRITE_CONCURRENCY
) -> list[T]:
    """Run ``calls`` at most ``limit`` at a time, results in order; the first failure
    cancels the rest (a call not started yet is never started)."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    return await gather_or_cancel(one(call) for call in calls)


def _current(schedules: Sequence[records.RevenueSchedule]) -> records.RevenueSchedule | None:
    """The current one of a contract's schedules (as :meth:`ErpClient.schedules_by_contract_ids`
    orders them): the highest version, the first of equals — the rule of
    ``resolvers.contracts`` (``Contract.revenueSchedule``)."""
    return max(schedules, key=lambda s: s.contract_version) if schedules else None


def _check_period(period: str) -> None:
    if not _PERIOD.fullmatch(period):
        raise ValueError(f"not a period (YYYY-MM): {period!r}")


def _last_day(period: str) -> date:
    year, month = int(period[:4]), int(period[5:])
    return date(year, month, calendar.monthrange(year, month)[1])


_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


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
