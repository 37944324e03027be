"""The Salesforce REST adapter both Salesforce-shaped systems build on.

``base_url`` in the :class:`~sources.base.SourceConfig` is the org's instance
URL (``https://acme.my.salesforce.com``); the API path is added here. Reads by
many ids are batched: the composite sObject collection read for records by id,
one SOQL ``IN (...)`` per chunk for records by a parent id, chunks fetched
concurrently (through :func:`~sources.base.gather_or_cancel`). JSON numbers are
decoded as :class:`~decimal.Decimal` (:mod:`sources.encoding`), so money never
passes through a float. Methods here deal in raw records (dicts as Salesforce
sends them); the CRM and Contracts adapters parse them into their wire models
and translate those into domain records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from sources.base import SourceClient, SourceConfig, gather_or_cancel
from sources.encoding import INVALID_RESPONSE, decode_json, to_json, unique
from sources.errors import SourceError, SourceNotFound, SourceResponseError
from sources.limiter import RateLimiter
from sources.pagination import SoqlPaginator, chunked, collect
from sources.salesforce.errors import ERROR_CLASSES, translate_salesforce_error
from sources.salesforce.soql import in_list, is_record_id

API_VERSION = "v60.0"
API_PATH = f"/services/data/{API_VERSION}"

# Ids per request. Salesforce caps a request URI at 16 KB; 200 ids quoted for SOQL
# (~27 URL-encoded bytes each) or comma-separated for the composite read (~19)
# stay near 5 KB, leaving room for the select list and the instance's own limit.
# One request still covers a typical batch (a page of 50-100 customers).
IN_CHUNK = 200
COMPOSITE_CHUNK = 200


class SalesforceClient(SourceClient):
    """Salesforce REST over :class:`SourceClient`: records, batches, SOQL, writes."""

    api_path = API_PATH
    ping_sobject = "Organization"
    error_classes = ERROR_CLASSES

    def __init__(
        self,
        config: SourceConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: RateLimiter | None = None,
        query_batch_size: int | None = None,
    ) -> None:
        super().__init__(config, transport=transport, limiter=limiter)
        self.query_batch_size = query_batch_size

    def translate_error(self, response: httpx.Response) -> SourceError:
        return translate_salesforce_error(self.system, response, self.error_class)

    async def ping(self) -> None:
        """A one-row SOQL query: proves the instance answers and the token is valid."""
        await self.query(f"SELECT Id FROM {self.ping_sobject} LIMIT 1")

    def decode(self, response: httpx.Response) -> Any:
        """The response body as JSON with exact decimals."""
        return decode_json(self.system, response)

    async def get_json(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        response = await self.request(
            "GET", url, params=params, headers=dict(headers) if headers else None
        )
        return self.decode(response)

    # -- SOQL ----------------------------------------------------------------------

    def paginate(self, soql: str) -> SoqlPaginator:
        headers = (
            {"Sforce-Query-Options": f"batchSize={self.query_batch_size}"}
            if self.query_batch_size
            else None
        )

        async def fetch(url: str, params: Mapping[str, str] | None) -> Any:
            return await self.get_json(url, params=params, headers=headers)

        return SoqlPaginator(self.system, fetch, soql, api_path=self.api_path)

    async def query(self, soql: str) -> list[dict[str, Any]]:
        """Every record of a SOQL query, all pages (records as Salesforce sends them)."""
        return await collect(self.paginate(soql))

    async def query_in(
        self,
        select_from: str,
        field: str,
        ids: Sequence[str],
        *,
        where: str | None = None,
        order_by: str | None = None,
    ) -> list[dict[str, Any]]:
        """``{select_from} WHERE {field} IN (ids) [AND (where)] [ORDER BY ..]``, chunked.

        ``field`` is an id field: ids without an id's shape cannot match and are
        not sent. Chunks run concurrently; results keep chunk order.
        """
        wanted = [i for i in unique(ids) if is_record_id(i)]
        extra = f" AND ({where})" if where else ""
        order = f" ORDER BY {order_by}" if order_by else ""
        chunks = chunked(wanted, IN_CHUNK)
        results = await gather_or_cancel(
            self.query(f"{select_from} WHERE {field} IN {in_list(chunk)}{extra}{order}")
            for chunk in chunks
        )
        return [record for chunk_records in results for record in chunk_records]

    # -- records -------------------------------------------------------------------

    def require_record_id(self, sobject: str, record_id: str) -> None:
        """SourceNotFound, without a request, for an id no record can have.

        (It also keeps caller-supplied text out of the URL path.)
        """
        if not is_record_id(record_id):
            raise SourceNotFound(
                self.system, f"{sobject} {record_id!r} is not a record id", vendor_code="NOT_FOUND"
            )

    async def get_record(
        self, sobject: str, record_id: str, fields: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """One record (SourceNotFound if absent)."""
        self.require_record_id(sobject, record_id)
        params = {"fields": ",".join(fields)} if fields else None
        body = await self.get_json(f"{self.api_path}/sobjects/{sobject}/{record_id}", params=params)
        if not isinstance(body, dict):
            raise SourceResponseError(
                self.system,
                f"{sobject} read did not return a record",
                vendor_code=INVALID_RESPONSE,
            )
        return body

    async def records_by_ids(
        self, sobject: str, ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """Records by id through the composite read; unknown ids are absent."""
        wanted = [i for i in unique(ids) if is_record_id(i)]
        chunks = chunked(wanted, COMPOSITE_CHUNK)
        answers = await gather_or_cancel(
            self._composite_read(sobject, chunk, fields) for chunk in chunks
        )
        found: dict[str, dict[str, Any]] = {}
        for chunk, records in zip(chunks, answers, strict=True):
            for record_id, record in zip(chunk, records, strict=True):
                if record is not None:
                    found[record_id] = record
        return found

    async def _composite_read(
        self, sobject: str, ids: list[str], fields: Sequence[str]
    ) -> list[dict[str, Any] | None]:
        body = await self.get_json(
            f"{self.api_path}/composite/sobjects/{sobject}",
            params={"ids": ",".join(ids), "fields": ",".join(fields)},
        )
        if not isinstance(body, list) or len(body) != len(ids):
            raise SourceResponseError(
                self.system,
                f"composite read of {len(ids)} {sobject} ids answered with "
                f"{len(body) if isinstance(body, list) else type(body).__name__}",
                vendor_code=INVALID_RESPONSE,
            )
        return [record if isinstance(record, dict) else None for record in body]

    async def create_record(self, sobject: str, fields: Mapping[str, Any]) -> str:
        """Create a record; returns its id. Not retried: a lost answer could mean a duplicate."""
        response = await self.request(
            "POST", f"{self.api_path}/sobjects/{sobject}", json=to_json(fields)
        )
        return self._saved_id(response, sobject, "create")

    async def upsert_record(
        self, sobject: str, external_field: str, external_id: str, fields: Mapping[str, Any]
    ) -> str:
        """Create or update the record whose ``external_field`` is ``external_id``; its id.

        The same external id always lands on the same record, so a flow step that is
        retried or resumed never makes a second one. Still a PATCH, so the adapter
        does not retry it on its own (:data:`sources.base.NEVER_RETRIED`): the flow
        step that owns it decides.
        """
        response = await self.request(
            "PATCH",
            f"{self.api_path}/sobjects/{sobject}/{external_field}/{quote(external_id, safe='')}",
            json=to_json(fields),
        )
        return self._saved_id(response, sobject, "upsert")

    def _saved_id(self, response: httpx.Response, sobject: str, verb: str) -> str:
        """The record id of a create/upsert answer (``{"id", "success", ...}``)."""
        body = self.decode(response)
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise SourceResponseError(
                self.system,
                f"{sobject} {verb} did not return an id",
                vendor_code=INVALID_RESPONSE,
            )
        record_id: str = body["id"]
        return record_id

    async def update_record(self, sobject: str, record_id: str, fields: Mapping[str, Any]) -> None:
        """PATCH fields of a record. Not retried (see :data:`sources.base.NEVER_RETRIED`)."""
        self.require_record_id(sobject, record_id)
        await self.request(
            "PATCH", f"{self.api_path}/sobjects/{sobject}/{record_id}", json=to_json(fields)
        )
