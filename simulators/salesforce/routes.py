"""The Salesforce REST routes, and the app factory both Salesforce-shaped simulators use.

Under ``/services/data/v60.0``:

* ``GET  /sobjects/{Object}/{id}[?fields=A,B]`` — one record (404 NOT_FOUND);
* ``PATCH /sobjects/{Object}/{id}`` — update, 204;
* ``POST /sobjects/{Object}`` — create, 201 ``{"id", "success", "errors"}``;
* ``GET  /composite/sobjects/{Object}?ids=a,b&fields=A,B`` — records in id
  order, ``null`` for unknown ids, at most 2000 ids;
* ``GET  /query?q=SOQL`` (page size from ``Sforce-Query-Options: batchSize=N``)
  and ``GET /query/{locator}-{offset}`` for the pages after it.

Any other path under ``/services`` answers NOT_FOUND, and a known path with
another method METHOD_NOT_ALLOWED, both in Salesforce's error body.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from simulators.config import SimulatorConfig
from simulators.control import build_simulator
from simulators.salesforce.errors import SalesforceError, error_response, vendor_responses
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

    return Route(path, endpoint, methods=_ALL_METHODS)


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


def rest_routes(org: SalesforceOrg) -> list[BaseRoute]:
    """The standard REST API of ``org``."""

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

    async def create_record(request: Request) -> Response:
        sobject = org.sobject(request.path_params["sobject"])
        doc = await org.insert(sobject, await read_json(request))
        return JSONResponse({"id": doc["Id"], "success": True, "errors": []}, status_code=201)

    async def composite_read(request: Request) -> Response:
        sobject = org.sobject(request.path_params["sobject"])
        ids = [i.strip() for i in request.query_params.get("ids", "").split(",") if i.strip()]
        fields = _fields_param(request)
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
        resolved = sobject.resolve_fields(fields)
        docs = [org.store.get(sobject.name, record_id) for record_id in ids]
        return JSONResponse(
            [None if doc is None else org.render(sobject, doc, resolved) for doc in docs]
        )

    async def query(request: Request) -> Response:
        soql = request.query_params.get("q")
        if not soql:
            raise SalesforceError(400, "MALFORMED_QUERY", "A query string (q) is required")
        size = batch_size_from(request.headers.get("sforce-query-options"))
        return JSONResponse(org.query(soql, size))

    async def query_more(request: Request) -> Response:
        return JSONResponse(org.query_more(request.path_params["locator"]))

    return [
        salesforce_route(f"{API_PREFIX}/query", {"GET": query}),
        salesforce_route(f"{API_PREFIX}/query/{{locator}}", {"GET": query_more}),
        salesforce_route(f"{API_PREFIX}/sobjects/{{sobject}}", {"POST": create_record}),
        salesforce_route(
            f"{API_PREFIX}/sobjects/{{sobject}}/{{record_id}}",
            {"GET": get_record, "PATCH": patch_record},
        ),
        salesforce_route(f"{API_PREFIX}/composite/sobjects/{{sobject}}", {"GET": composite_read}),
    ]


async def _unknown_resource(request: Request) -> Response:
    return SalesforceError(404, "NOT_FOUND", "The requested resource does not exist").response()


def build_salesforce_simulator(
    name: str,
    org: SalesforceOrg,
    config: SimulatorConfig,
    *,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """A simulator app serving ``org``'s REST API plus ``extra_routes`` (Apex REST ...).

    Also serves ``/_sim/requests`` (see :mod:`simulators.salesforce.requestlog`).
    """
    routes: list[BaseRoute] = [
        *extra_routes,
        *rest_routes(org),
        Route("/services/{rest:path}", _unknown_resource, methods=_ALL_METHODS),
    ]
    log = RequestLog()
    app = build_simulator(
        name, routes, vendor_responses(config.token), extra_control=log.control_routes()
    )
    app.add_middleware(RequestLogMiddleware, log=log)
    app.state.org = org
    return app
