"""The NetSuite-shaped ERP simulator: SuiteTalk REST records and SuiteQL.

Routes (all behind ``Authorization: Bearer <token>``; a wrong or missing token
gets NetSuite's 401 ``INVALID_LOGIN`` body):

* ``GET    /services/rest/record/v1/{type}/{id}`` — one record (``id`` is an
  internal id or ``eid:<externalId>``), with ``links``; ``fields=a,b`` narrows it.
  As NetSuite sends a record: empty (``null``) fields left out, references and
  list values as ``{"links", "id", "refName"}`` objects (``status`` as
  ``{"id", "refName"}``), media type ``application/vnd.oracle.resource+json``;
* ``POST   /services/rest/record/v1/{type}`` — create → 204, ``Location`` of the
  new record;
* ``PATCH  /services/rest/record/v1/{type}/{id}`` — change some fields → 204;
* ``PUT    /services/rest/record/v1/{type}/eid:{externalId}`` — upsert: create
  the record with that externalId or replace it → 204 with ``Location``;
* ``DELETE /services/rest/record/v1/{type}/{id}`` → 204;
* ``GET    /services/rest/record/v1/{type}?q=&limit=&offset=`` — a page of ids;
* ``POST   /services/rest/query/v1/suiteql?limit=&offset=`` with ``Prefer:
  transient`` and ``{"q": "SELECT ..."}`` — a page of rows (tables and value
  formats: :mod:`simulators.erp.tables`);
* ``GET    /services/rest/record/v1/metadata-catalog`` — the record types
  (``?select=a,b`` narrows), each with links to its metadata;
* ``GET    /services/rest/record/v1/metadata-catalog/{type}`` — with ``Accept:
  application/schema+json`` the record's JSON Schema, with ``Accept:
  application/swagger+json`` an OpenAPI 3 document of its routes, otherwise its
  catalog entry.

With limits on (``/_sim/limits``), NetSuite's account concurrency governance
answers 429 ``CONCURRENCY_LIMIT_EXCEEDED`` (:mod:`simulators.erp.limits`).
``GET/POST /_sim/suiteql`` shows and changes the account preferences SuiteQL
answers by (``{"date_format": "M/D/YYYY", "legacy_list_names": true}``, see
:class:`simulators.erp.tables.SuiteQLSettings`). Every record written through
the API is a signed webhook (``invoice.created``,
``customrecord_rg_revsched.updated`` ...: :mod:`simulators.record_events`),
configured with ``/_sim/webhooks``.

Paging follows NetSuite's rules: ``limit`` 1..1000 (default 1000), ``offset`` a
multiple of ``limit``; otherwise 400 ``INVALID_PARAMETER``. SuiteQL without
``Prefer: transient`` is refused (400 ``INVALID_PARAMETER``) as NetSuite does.
In SuiteQL rows, columns whose value is NULL are left out, as NetSuite leaves
them out. Errors always carry NetSuite's body (:mod:`simulators.erp.errors`).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any
from urllib.parse import quote, urlencode

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from simulators.config import SimulatorConfig
from simulators.control import VendorResponses, build_simulator
from simulators.erp import errors
from simulators.erp.errors import NetSuiteError
from simulators.erp.limits import ConcurrencyGate, netsuite_limits
from simulators.erp.listing import parse_filter
from simulators.erp.openapi import erp_document
from simulators.erp.present import (
    CATALOG_PATH,
    RESOURCE_JSON,
    SCHEMA_JSON,
    SWAGGER_JSON,
    RecordPresenter,
    catalog,
    catalog_entry,
    record_openapi,
    record_schema,
)
from simulators.erp.records import EID_PREFIX, Records, record_type
from simulators.erp.suiteql import Query, Result, SuiteQLError, execute, parse, run
from simulators.erp.tables import (
    RecordTable,
    SuiteQLSettings,
    check_date_format,
    json_value,
    tables,
)
from simulators.openapi import openapi_routes
from simulators.record_events import Action, RecordEvents
from simulators.storage import Document, DocumentStore

RECORD_PATH = "/services/rest/record/v1"
SUITEQL_PATH = "/services/rest/query/v1/suiteql"
MAX_LIMIT = 1000
RESULT_CACHE_SIZE = 32

Handler = Callable[[Request], Awaitable[Response]]


def create_app(store: DocumentStore, config: SimulatorConfig) -> Starlette:
    """The ERP simulator serving ``store`` at ``config.base_url``."""
    api = _ErpApi(store, config)
    routes = [
        Route(SUITEQL_PATH, _guard(api.suiteql), methods=["POST"]),
        Route(CATALOG_PATH, _guard(api.metadata_catalog), methods=["GET"]),
        Route(f"{CATALOG_PATH}/{{record_type}}", _guard(api.metadata), methods=["GET"]),
        Route(f"{RECORD_PATH}/{{record_type}}", _guard(api.collection), methods=["GET", "POST"]),
        Route(
            f"{RECORD_PATH}/{{record_type}}/{{record_id}}",
            _guard(api.record),
            methods=["GET", "PATCH", "PUT", "DELETE"],
        ),
    ]
    vendor = VendorResponses(
        authorized=lambda r: r.headers.get("authorization") == f"Bearer {config.token}",
        unauthorized=errors.unauthorized,
        server_error=errors.server_error,
        unavailable=errors.unavailable,
    )
    limits = netsuite_limits(enabled=config.limits_enabled)
    return build_simulator(
        "ERP",
        routes,
        vendor,
        extra_control=[
            *api.control_routes(),
            *api.events.sender.control_routes(),
            *openapi_routes(erp_document()),
        ],
        limits=limits,
        gate=lambda inner: ConcurrencyGate(inner, limits),
    )


def _guard(handler: Handler) -> Handler:
    """Turns a :class:`NetSuiteError` raised anywhere in ``handler`` into its response."""

    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except NetSuiteError as exc:
            return exc.response()
        except ClientDisconnect:
            # The caller gave up (e.g. timed out during injected latency): nobody to answer.
            return Response(status_code=499)

    return guarded


class _ErpApi:
    def __init__(self, store: DocumentStore, config: SimulatorConfig) -> None:
        self.events = RecordEvents(config)
        self.records = Records(store, on_change=self._changed)
        self.settings = SuiteQLSettings()
        self.tables = tables(store, self.settings)
        self.base_url = config.base_url.rstrip("/")
        self.presenter = RecordPresenter(store, self.base_url)
        # Paging runs the same query once per page; results are reused until the store
        # changes (its version moves on every write).
        self._results: OrderedDict[str, tuple[int, Result]] = OrderedDict()

    # records -----------------------------------------------------------------

    def _changed(self, type_name: str, action: Action, doc: Document) -> None:
        """A record was written: announce it as the REST API shows it."""
        record = self.presenter.record(record_type(type_name), doc)
        self.events.emit(type_name, action, str(doc["id"]), record)

    async def record(self, request: Request) -> Response:
        type_name = request.path_params["record_type"]
        key = request.path_params["record_id"]
        if request.method == "GET":
            return self._get(request, type_name, key)
        if request.method == "DELETE":
            await self.records.delete(type_name, key)
            return Response(status_code=204)
        body = await _json_body(request)
        if request.method == "PATCH":
            await self.records.update(type_name, key, body)
            return Response(status_code=204)
        if not key.startswith(EID_PREFIX):  # PUT
            record_type(type_name)
            raise NetSuiteError(
                400,
                "USER_ERROR",
                "PUT (upsert) addresses a record by external ID: use "
                f"{RECORD_PATH}/{type_name}/eid:<externalId>.",
            )
        doc_id, _ = await self.records.upsert(type_name, key[len(EID_PREFIX) :], body)
        return self._created(type_name, doc_id)

    def _get(self, request: Request, type_name: str, key: str) -> Response:
        rtype = record_type(type_name)
        doc = self.records.get(type_name, key)
        fields = request.query_params.get("fields")
        if fields:
            wanted = [f.strip() for f in fields.split(",") if f.strip()]
            unknown = [f for f in wanted if f not in rtype.by_name and f != "id"]
            if unknown:
                raise NetSuiteError(
                    400,
                    "USER_ERROR",
                    f"Invalid field '{unknown[0]}' for record type '{type_name}'.",
                )
            doc = {k: v for k, v in doc.items() if k == "id" or k in wanted}
        return _resource(self.presenter.record(rtype, doc))

    async def collection(self, request: Request) -> Response:
        type_name = request.path_params["record_type"]
        if request.method == "POST":
            doc_id = await self.records.create(type_name, await _json_body(request))
            return self._created(type_name, doc_id)
        record_type(type_name)
        limit, offset = _paging(request)
        table = self.tables[type_name]
        q = request.query_params.get("q")
        try:
            where = parse_filter(q) if q else None
            result = execute(Query(type_name, None, where), table)
        except SuiteQLError as exc:
            raise NetSuiteError(
                400, "INVALID_PARAMETER", f"Invalid query parameter q: {exc}"
            ) from exc
        id_at = [name for name, _ in result.columns].index("id")
        ids = [str(row[id_at]) for row in result.rows]
        page = ids[offset : offset + limit]
        extra = {"q": q} if q else {}
        body = {
            "links": self._page_links(f"{RECORD_PATH}/{type_name}", limit, offset, len(ids), extra),
            "count": len(page),
            "hasMore": offset + limit < len(ids),
            "items": [{"links": [self._self_link(type_name, i)], "id": i} for i in page],
            "offset": offset,
            "totalResults": len(ids),
        }
        return _resource(body, collection=True)

    def _created(self, type_name: str, doc_id: str) -> Response:
        location = f"{self.base_url}{RECORD_PATH}/{type_name}/{doc_id}"
        return Response(status_code=204, headers={"Location": location})

    def _self_link(self, type_name: str, doc_id: Any) -> dict[str, str]:
        href = f"{self.base_url}{RECORD_PATH}/{type_name}/{quote(str(doc_id), safe=':')}"
        return {"rel": "self", "href": href}

    # SuiteQL -----------------------------------------------------------------

    async def suiteql(self, request: Request) -> Response:
        if "transient" not in request.headers.get("prefer", "").lower():
            raise NetSuiteError(
                400,
                "INVALID_PARAMETER",
                "SuiteQL queries require the header 'Prefer: transient'.",
            )
        limit, offset = _paging(request)
        body = await _json_body(request)
        q = body.get("q") if isinstance(body, dict) else None
        if not isinstance(q, str):
            raise NetSuiteError(
                400, "INVALID_PARAMETER", 'The request body must be {"q": "<SuiteQL query>"}.'
            )
        try:
            result = self._run(q)
        except SuiteQLError as exc:
            raise NetSuiteError(
                400,
                "INVALID_PARAMETER",
                "Invalid search query. Detailed unprocessed description follows. "
                f"Search error occurred: {exc}",
            ) from exc
        total = len(result.rows)
        real = result.real or (False,) * len(result.columns)
        date_format = self.settings.date_format
        items = []
        for row in result.rows[offset : offset + limit]:
            item: dict[str, Any] = {"links": []}
            for (name, column_type), is_real, value in zip(result.columns, real, row, strict=True):
                if value is not None:
                    item[name] = json_value(
                        column_type, value, real=is_real, date_format=date_format
                    )
            items.append(item)
        return _resource(
            {
                "links": self._page_links(SUITEQL_PATH, limit, offset, total, {}),
                "count": len(items),
                "hasMore": offset + limit < total,
                "items": items,
                "offset": offset,
                "totalResults": total,
            },
            collection=True,
        )

    def _run(self, q: str) -> Result:
        version = self.records.store.version
        cached = self._results.get(q)
        if cached is not None and cached[0] == version:
            self._results.move_to_end(q)
            return cached[1]
        query = parse(q)
        result = run(query, self._table)
        self._results[q] = (version, result)
        if len(self._results) > RESULT_CACHE_SIZE:
            self._results.popitem(last=False)
        return result

    def _table(self, name: str) -> RecordTable:
        table = self.tables.get(name)
        if table is None:
            raise SuiteQLError(f"Record '{name}' was not found.")
        return table

    # metadata catalog --------------------------------------------------------

    async def metadata_catalog(self, request: Request) -> Response:
        select = request.query_params.get("select")
        wanted = [n.strip() for n in select.split(",") if n.strip()] if select else None
        for name in wanted or []:
            record_type(name)
        return _resource(catalog(self.base_url, wanted), collection=True)

    async def metadata(self, request: Request) -> Response:
        rtype = record_type(request.path_params["record_type"])
        accept = request.headers.get("accept", "")
        if SCHEMA_JSON in accept:
            return _json(record_schema(rtype), SCHEMA_JSON)
        if SWAGGER_JSON in accept:
            return _json(record_openapi(rtype, self.base_url), SWAGGER_JSON)
        return _resource(catalog_entry(self.base_url, rtype.name))

    # simulator settings -------------------------------------------------------

    def control_routes(self) -> list[BaseRoute]:
        async def show(request: Request) -> Response:
            return JSONResponse(asdict(self.settings))

        async def change(request: Request) -> Response:
            try:
                body: Any = await request.json()
            except ValueError:
                return JSONResponse({"error": "body must be JSON"}, status_code=400)
            if not isinstance(body, dict) or set(body) - {"date_format", "legacy_list_names"}:
                return JSONResponse(
                    {"error": "body: {date_format?: str, legacy_list_names?: bool}"},
                    status_code=400,
                )
            try:
                date_format = check_date_format(
                    str(body.get("date_format", self.settings.date_format))
                )
            except SuiteQLError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            self.settings = SuiteQLSettings(
                date_format,
                bool(body.get("legacy_list_names", self.settings.legacy_list_names)),
            )
            self.tables = tables(self.records.store, self.settings)
            self._results.clear()
            return await show(request)

        return [
            Route("/_sim/suiteql", show, methods=["GET"]),
            Route("/_sim/suiteql", change, methods=["POST"]),
        ]

    def _page_links(
        self, path: str, limit: int, offset: int, total: int, extra: dict[str, str]
    ) -> list[dict[str, str]]:
        def link(rel: str, at: int) -> dict[str, str]:
            query = urlencode({**extra, "limit": limit, "offset": at})
            return {"rel": rel, "href": f"{self.base_url}{path}?{query}"}

        last = max(0, (total - 1) // limit * limit)
        links = []
        if offset > 0:
            links.append(link("previous", max(0, offset - limit)))
        links.append(link("first", 0))
        if offset + limit < total:
            links.append(link("next", offset + limit))
        links.append(link("last", last))
        links.append(link("self", offset))
        return links


def _paging(request: Request) -> tuple[int, int]:
    """``limit`` and ``offset`` by NetSuite's rules, or its 400 ``INVALID_PARAMETER``."""
    params = request.query_params
    try:
        limit = int(params.get("limit", MAX_LIMIT))
        offset = int(params.get("offset", 0))
    except ValueError:
        raise NetSuiteError(
            400, "INVALID_PARAMETER", "The limit and offset query parameters must be integers."
        ) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise NetSuiteError(
            400,
            "INVALID_PARAMETER",
            f"Invalid limit {limit}: the limit must be between 1 and {MAX_LIMIT}.",
        )
    if offset < 0 or offset % limit:
        raise NetSuiteError(
            400,
            "INVALID_PARAMETER",
            f"Invalid offset {offset}: the offset must be a non-negative multiple of the "
            f"limit ({limit}).",
        )
    return limit, offset


def _resource(body: Any, *, collection: bool = False) -> Response:
    """A body with NetSuite's media type (``type=collection`` for lists and SuiteQL pages)."""
    kind = "collection" if collection else "singular"
    return _json(body, f"{RESOURCE_JSON}; type={kind}")


def _json(body: Any, media_type: str) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")).encode(),
        media_type=media_type,
    )


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except ValueError:
        raise NetSuiteError(400, "USER_ERROR", "The request body is not valid JSON.") from None
