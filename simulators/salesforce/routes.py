"""The Salesforce REST routes, and the app factory both Salesforce-shaped simulators use.

Under ``/services/data/v60.0`` (every path also with a trailing slash, as
Salesforce and clients such as simple-salesforce use them):

* ``GET  /`` — the resources of this API version;
* ``GET  /limits`` — the org's limits (``DailyApiRequests`` ...);
* ``GET  /sobjects`` — global describe; ``GET /sobjects/{Object}`` basic info;
  ``GET /sobjects/{Object}/describe`` — fields, types, picklists, references;
* ``GET  /sobjects/{Object}/{id}[?fields=A,B]`` — one record (404 NOT_FOUND);
* ``PATCH /sobjects/{Object}/{id}`` — update, 204; ``DELETE`` — delete, 204;
* ``POST /sobjects/{Object}`` — create, 201 ``{"id", "success", "errors"}``;
* ``GET|PATCH|DELETE /sobjects/{Object}/{ExternalIdField}/{value}`` — read,
  upsert (201 created / 200 updated, ``{"id", "success", "errors", "created"}``)
  or delete by external id (300 with the records' URLs if several match);
* ``GET  /composite/sobjects/{Object}?ids=a,b&fields=A,B`` (or ``POST`` with
  ``{"ids", "fields"}``) — records in id order, ``null`` for unknown ids, at
  most 2000 ids;
* ``POST|PATCH /composite/sobjects`` ``{"allOrNone", "records"}`` and
  ``DELETE /composite/sobjects?ids=a,b&allOrNone=`` — sObject Collections, at
  most 200 records (EXCEEDED_ID_LIMIT), one result per record;
* ``GET  /query?q=SOQL`` and ``/queryAll?q=SOQL`` (page size from
  ``Sforce-Query-Options: batchSize=N``) and ``GET /query/{locator}-{offset}``
  for the pages after it.

Any other path under ``/services`` answers NOT_FOUND, and a known path with
another method METHOD_NOT_ALLOWED, both in Salesforce's error body. Every
answer carries ``Sforce-Limit-Info`` (:mod:`simulators.salesforce.limits`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote_plus

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from simulators.config import SimulatorConfig
from simulators.control import build_simulator
from simulators.limits import Limits
from simulators.openapi import openapi_routes
from simulators.salesforce import describe
from simulators.salesforce.errors import (
    NOT_FOUND_MESSAGE,
    SalesforceError,
    error_response,
    vendor_responses,
)
from simulators.salesforce.limits import SalesforceLimitsGate, limits_resource, salesforce_limits
from simulators.salesforce.openapi import salesforce_document
from simulators.salesforce.org import API_PREFIX, SalesforceOrg, batch_size_from
from simulators.salesforce.requestlog import RequestLog, RequestLogMiddleware

Handler = Callable[[Request], Awaitable[Response]]

MAX_COMPOSITE_IDS = 2000
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def salesforce_route(path: str, handlers: Mapping[str, Handler]) -> Route:
    """A route dispatching by method, with Salesforce's 405 and error bodies."""

    async def endpoint(request: Request) -> Response:
        handler = handlers.get(request.method)
        if handler is None:
            allowed = ",".join(handlers)
            return error_response(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}",
            )
        try:
            return await handler(request)
        except SalesforceError as exc:
            return exc.response()

    route = Route(path, endpoint, methods=_ALL_METHODS)
    # Salesforce answers with or without a trailing slash (simple-salesforce sends
    # ``.../query/``, ``.../sobjects/Account/``): one route, so stats count both as one.
    pattern = route.path_regex.pattern
    assert pattern.endswith("$"), pattern
    route.path_regex = re.compile(pattern[:-1].rstrip("/") + "/?$")
    return route


async def read_json(request: Request) -> Any:
    """The request body as JSON (JSON_PARSER_ERROR if it is not)."""
    try:
        return json.loads(await request.body())
    except ValueError as exc:
        raise SalesforceError(400, "JSON_PARSER_ERROR", f"Unexpected body: {exc}") from exc


def _fields_param(request: Request) -> list[str] | None:
    raw = request.query_params.get("fields")
    if raw is None:
        return None
    return [f for f in (part.strip() for part in raw.split(",")) if f]


def _composite_ids(ids: Sequence[str], fields: Sequence[str] | None) -> None:
    if not ids or not fields:
        raise SalesforceError(
            400, "MISSING_ARGUMENT", "Both 'ids' and 'fields' parameters are required"
        )
    if len(ids) > MAX_COMPOSITE_IDS:
        raise SalesforceError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_COMPOSITE_IDS} records "
            "into this call",
        )


def _split(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def _last_segment(request: Request) -> str:
    """The URL's last path segment, decoded as simple-salesforce encodes external ids
    (``quote_plus``: ``+`` is a space, ``%2B`` a plus)."""
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    return unquote_plus(raw.decode("latin-1").rstrip("/").rsplit("/", 1)[-1])


def _bool_param(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").strip().lower() == "true"


def rest_routes(org: SalesforceOrg, limits: Limits) -> list[BaseRoute]:
    """The standard REST API of ``org``."""

    async def resources(request: Request) -> Response:
        names = ("sobjects", "query", "queryAll", "limits", "composite")
        return JSONResponse({name: f"{API_PREFIX}/{name}" for name in names})

    async def get_limits(request: Request) -> Response:
        return JSONResponse(limits_resource(limits))

    async def global_describe(request: Request) -> Response:
        return JSONResponse(describe.global_describe(org))

    async def sobject_info(request: Request) -> Response:
        sobject = org.sobject(request.path_params["sobject"])
        return JSONResponse({"objectDescribe": describe.basic(sobject), "recentItems": []})

    async def sobject_describe(request: Request) -> Response:
        sobject = org.sobject(request.path_params["sobject"])
        return JSONResponse(describe.describe(org, sobject))

    async def get_record(request: Request) -> Response:
        sobject = org.sobject(request.path_params["sobject"])
        fields = _fields_param(request)
        resolved = sobject.resolve_fields(fields) if fields is not None else None
        doc = org.get(sobject, request.path_params["record_id"])
        return JSONResponse(org.render(sobject, doc, resolved))

    async def patch_record(request: Request) -> Response:
        sobject = org.sobject(request.path_params["sobject"])
        await org.update(sobject, request.path_params["record_id"], await read_json(request))
        return Response(status_code=204)

    async def delete_record(request: Request) -> Response:
        sobject = org.sobject(request.path_params["sobject"])
        await org.delete(sobject, request.path_params["record_id"])
        return Response(status_code=204)

    async def create_record(request: Request) -> Response:
        sobject = org.sobject(request.path_params["sobject"])
        doc = await org.insert(sobject, await read_json(request))
        return JSONResponse({"id": doc["Id"], "success": True, "errors": []}, status_code=201)

    def by_external_id(request: Request) -> tuple[Any, Any, str]:
        sobject = org.sobject(request.path_params["sobject"])
        spec = org.external_id_field(sobject, request.path_params["field"])
        return sobject, spec, _last_segment(request)

    async def get_by_external_id(request: Request) -> Response:
        sobject, spec, value = by_external_id(request)
        fields = _fields_param(request)
        resolved = sobject.resolve_fields(fields) if fields is not None else None
        docs = org.find_by(sobject, spec, value)
        if len(docs) > 1:
            raise org.multiple_choices(sobject, docs)
        if not docs:
            raise SalesforceError(404, "NOT_FOUND", NOT_FOUND_MESSAGE)
        return JSONResponse(org.render(sobject, docs[0], resolved))

    async def upsert(request: Request) -> Response:
        sobject, spec, value = by_external_id(request)
        doc, created = await org.upsert(sobject, spec.name, value, await read_json(request))
        body = {"id": doc["Id"], "success": True, "errors": [], "created": created}
        return JSONResponse(body, status_code=201 if created else 200)

    async def delete_by_external_id(request: Request) -> Response:
        sobject, spec, value = by_external_id(request)
        docs = org.find_by(sobject, spec, value)
        if len(docs) > 1:
            raise org.multiple_choices(sobject, docs)
        if not docs:
            raise SalesforceError(404, "NOT_FOUND", NOT_FOUND_MESSAGE)
        await org.delete(sobject, docs[0]["Id"])
        return Response(status_code=204)

    def composite_records(sobject: Any, ids: Sequence[str], fields: Sequence[str]) -> Response:
        resolved = sobject.resolve_fields(fields)
        docs = [org.store.get(sobject.name, record_id) for record_id in ids]
        return JSONResponse(
            [None if doc is None else org.render(sobject, doc, resolved) for doc in docs]
        )

    async def composite_read(request: Request) -> Response:
        sobject = org.sobject(request.path_params["sobject"])
        ids = _split(request.query_params.get("ids"))
        fields = _fields_param(request)
        _composite_ids(ids, fields)
        assert fields is not None
        return composite_records(sobject, ids, fields)

    async def composite_read_post(request: Request) -> Response:
        sobject = org.sobject(request.path_params["sobject"])
        body = await read_json(request)
        ids = body.get("ids") if isinstance(body, dict) else None
        fields = body.get("fields") if isinstance(body, dict) else None
        if not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)) or not (
            isinstance(fields, list) and all(isinstance(f, str) for f in fields)
        ):
            raise SalesforceError(
                400, "JSON_PARSER_ERROR", "Expected {'ids': [string], 'fields': [string]}"
            )
        _composite_ids(ids, fields)
        return composite_records(sobject, ids, fields)

    async def collection_create(request: Request) -> Response:
        return JSONResponse(await org.save_collection(await read_json(request), creating=True))

    async def collection_update(request: Request) -> Response:
        return JSONResponse(await org.save_collection(await read_json(request), creating=False))

    async def collection_delete(request: Request) -> Response:
        ids = _split(request.query_params.get("ids"))
        if not ids:
            raise SalesforceError(400, "MISSING_ARGUMENT", "The 'ids' parameter is required")
        results = await org.delete_collection(ids, all_or_none=_bool_param(request, "allOrNone"))
        return JSONResponse(results)

    async def query(request: Request) -> Response:
        soql = request.query_params.get("q")
        if not soql:
            raise SalesforceError(400, "MALFORMED_QUERY", "A query string (q) is required")
        size = batch_size_from(request.headers.get("sforce-query-options"))
        return JSONResponse(org.query(soql, size))

    async def query_more(request: Request) -> Response:
        return JSONResponse(org.query_more(request.path_params["locator"]))

    sobject_path = f"{API_PREFIX}/sobjects/{{sobject}}"
    return [
        salesforce_route(API_PREFIX, {"GET": resources}),
        salesforce_route(f"{API_PREFIX}/limits", {"GET": get_limits}),
        salesforce_route(f"{API_PREFIX}/query", {"GET": query}),
        salesforce_route(f"{API_PREFIX}/query/{{locator}}", {"GET": query_more}),
        salesforce_route(f"{API_PREFIX}/queryAll", {"GET": query}),
        salesforce_route(f"{API_PREFIX}/queryAll/{{locator}}", {"GET": query_more}),
        salesforce_route(f"{API_PREFIX}/sobjects", {"GET": global_describe}),
        salesforce_route(sobject_path, {"GET": sobject_info, "POST": create_record}),
        salesforce_route(f"{sobject_path}/describe", {"GET": sobject_describe}),
        salesforce_route(
            f"{sobject_path}/{{record_id}}",
            {"GET": get_record, "PATCH": patch_record, "DELETE": delete_record},
        ),
        salesforce_route(
            f"{sobject_path}/{{field}}/{{value}}",
            {"GET": get_by_external_id, "PATCH": upsert, "DELETE": delete_by_external_id},
        ),
        salesforce_route(
            f"{API_PREFIX}/composite/sobjects",
            {"POST": collection_create, "PATCH": collection_update, "DELETE": collection_delete},
        ),
        salesforce_route(
            f"{API_PREFIX}/composite/sobjects/{{sobject}}",
            {"GET": composite_read, "POST": composite_read_post},
        ),
    ]


async def _unknown_resource(request: Request) -> Response:
    return SalesforceError(404, "NOT_FOUND", "The requested resource does not exist").response()


def build_salesforce_simulator(
    name: str,
    org: SalesforceOrg,
    config: SimulatorConfig,
    *,
    extra_routes: Sequence[BaseRoute] = (),
    openapi: Mapping[str, Any] | None = None,
) -> Starlette:
    """A simulator app serving ``org``'s REST API plus ``extra_routes`` (Apex REST ...).

    Also serves ``/_sim/requests`` (see :mod:`simulators.salesforce.requestlog`),
    ``/_sim/limits`` (the API request allocation, enforced when
    ``config.limits_enabled``), ``/_sim/openapi.json`` (``openapi``, by default
    the document of ``org``'s standard REST API) and, when ``org`` announces its
    changes, ``/_sim/webhooks`` (:mod:`simulators.webhooks`).
    """
    limits = salesforce_limits(enabled=config.limits_enabled)
    document = openapi or salesforce_document(name, list(org.sobjects.values()))
    routes: list[BaseRoute] = [
        *extra_routes,
        *rest_routes(org, limits),
        Route("/services/{rest:path}", _unknown_resource, methods=_ALL_METHODS),
    ]
    log = RequestLog()
    app = build_simulator(
        name,
        routes,
        vendor_responses(config.token),
        extra_control=[
            *log.control_routes(),
            *openapi_routes(document),
            *(org.events.sender.control_routes() if org.events is not None else []),
        ],
        limits=limits,
        gate=lambda inner: SalesforceLimitsGate(inner, limits),
    )
    app.add_middleware(RequestLogMiddleware, log=log)
    app.state.org = org
    return app
