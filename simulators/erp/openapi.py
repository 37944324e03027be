"""The ERP simulator's OpenAPI 3 document (committed as ``simulators/openapi/erp.json``).

Built from the routes in :mod:`simulators.erp.app` and the record types in
:data:`simulators.erp.records.RECORD_TYPES`: one path pair per record type
(collection and record, each record's schema the one the metadata catalog
serves), SuiteQL, the metadata catalog and the simulator's ``/_sim`` routes.
"""

from __future__ import annotations

from typing import Any

from simulators.erp.present import CATALOG_PATH, RESOURCE_JSON, SCHEMA_JSON, record_schema
from simulators.erp.records import RECORD_TYPES
from simulators.openapi import OPENAPI_VERSION, OpenApiDocument, control_paths

JSON = "application/json"
RECORD_PATH = "/services/rest/record/v1"
SUITEQL_PATH = "/services/rest/query/v1/suiteql"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _schema31(schema: Any) -> Any:
    """A NetSuite-style schema (``nullable``, ``$schema``) as an OpenAPI 3.1 one."""
    if isinstance(schema, list):
        return [_schema31(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _schema31(v) for k, v in schema.items() if k not in ("$schema", "nullable")}
    if schema.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


_ERROR = {
    "type": "object",
    "required": ["type", "title", "status", "o:errorDetails"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "o:errorDetails": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["detail", "o:errorCode"],
                "properties": {"detail": {"type": "string"}, "o:errorCode": {"type": "string"}},
            },
        },
    },
}
_LINKS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["rel", "href"],
        "properties": {"rel": {"type": "string"}, "href": {"type": "string"}},
    },
}
_PAGE: dict[str, Any] = {
    "type": "object",
    "required": ["links", "count", "hasMore", "items", "offset", "totalResults"],
    "properties": {
        "links": _LINKS,
        "count": {"type": "integer"},
        "hasMore": {"type": "boolean"},
        "offset": {"type": "integer"},
        "totalResults": {"type": "integer"},
        "items": {"type": "array", "items": {"type": "object"}},
    },
}
_ROW = {
    "type": "object",
    "required": ["links"],
    "properties": {"links": {"type": "array"}},
    "additionalProperties": {"type": ["string", "number", "integer"]},
    "description": (
        "One row: column → value, NULL columns left out. Real tables send every value as a "
        "string; the legacy `invoice` table numbers as JSON numbers."
    ),
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {RESOURCE_JSON: {"schema": _ref("error")}}}


def _errors(*statuses: int) -> dict[str, Any]:
    names = {
        400: "Invalid request (USER_ERROR, INVALID_PARAMETER, INVALID_VALUE, DUP_RCRD ...)",
        401: "Invalid login (INVALID_LOGIN)",
        404: "No such record (NONEXISTENT_ID)",
        429: "Too many concurrent requests (CONCURRENCY_LIMIT_EXCEEDED)",
    }
    out = {str(status): _error(names[status]) for status in statuses}
    out["default"] = _error("Server errors (UNEXPECTED_ERROR, SERVICE_UNAVAILABLE)")
    return out


def _paging() -> list[dict[str, Any]]:
    return [
        {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
        {"name": "offset", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 0}},
    ]  # fmt: skip


def _ok(schema: dict[str, Any], media: str = RESOURCE_JSON) -> dict[str, Any]:
    return {"description": "OK", "content": {media: {"schema": schema}}}


def _written(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"Location": {"schema": {"type": "string"}, "description": "The record"}},
    }


def _record_paths(name: str) -> dict[str, Any]:
    schema = _ref(name)
    body = {"required": True, "content": {JSON: {"schema": schema}}}
    key = {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "Internal id, or eid:<externalId>",
        "schema": {"type": "string"},
    }
    fields = {"name": "fields", "in": "query", "required": False, "schema": {"type": "string"}}
    q = {"name": "q", "in": "query", "required": False, "schema": {"type": "string"}}
    prefix = "".join(p.capitalize() for p in name.split("_"))
    return {
        f"{RECORD_PATH}/{name}": {
            "get": {"operationId": f"list{prefix}", "parameters": [q, *_paging()],
                    "responses": {"200": _ok(_PAGE), **_errors(400, 401, 429)}},
            "post": {"operationId": f"create{prefix}", "requestBody": body,
                     "responses": {"204": _written("Created"), **_errors(400, 401, 429)}},
        },
        f"{RECORD_PATH}/{name}/{{id}}": {
            "parameters": [key],
            "get": {"operationId": f"get{prefix}", "parameters": [fields],
                    "responses": {"200": _ok(schema), **_errors(400, 401, 404, 429)}},
            "patch": {"operationId": f"update{prefix}", "requestBody": body,
                      "responses": {"204": {"description": "Updated"},
                                    **_errors(400, 401, 404, 429)}},
            "put": {"operationId": f"upsert{prefix}", "requestBody": body,
                    "summary": "Upsert by external id (id must be eid:<externalId>)",
                    "responses": {"204": _written("Created or replaced"),
                                  **_errors(400, 401, 429)}},
            "delete": {"operationId": f"delete{prefix}",
                       "responses": {"204": {"description": "Deleted"},
                                     **_errors(400, 401, 404, 429)}},
        },
    }  # fmt: skip


def erp_document() -> OpenApiDocument:
    """The ERP simulator's document."""
    paths: dict[str, Any] = {
        SUITEQL_PATH: {
            "post": {
                "operationId": "suiteql",
                "summary": "Run a SuiteQL query; one page of rows",
                "parameters": [
                    {"name": "Prefer", "in": "header", "required": True,
                     "schema": {"type": "string", "const": "transient"}},
                    *_paging(),
                ],
                "requestBody": {"required": True, "content": {JSON: {"schema": {
                    "type": "object", "required": ["q"], "properties": {"q": {"type": "string"}},
                }}}},
                "responses": {
                    "200": _ok({**_PAGE, "properties": {
                        **_PAGE["properties"], "items": {"type": "array", "items": _ROW},
                    }}),
                    **_errors(400, 401, 429),
                },
            }
        },
        CATALOG_PATH: {
            "get": {
                "operationId": "metadataCatalog",
                "summary": "The record types, with links to their metadata",
                "parameters": [{"name": "select", "in": "query", "required": False,
                                "schema": {"type": "string"}}],
                "responses": {"200": _ok({"type": "object", "required": ["items"], "properties": {
                    "items": {"type": "array", "items": {
                        "type": "object", "required": ["name", "links"],
                        "properties": {"name": {"type": "string"}, "links": _LINKS},
                    }},
                }}), **_errors(400, 401, 429)},
            }
        },
        f"{CATALOG_PATH}/{{record_type}}": {
            "get": {
                "operationId": "metadataCatalogRecord",
                "summary": (
                    "A record type's JSON Schema (Accept: application/schema+json), OpenAPI "
                    "document (Accept: application/swagger+json) or catalog entry"
                ),
                "parameters": [{"name": "record_type", "in": "path", "required": True,
                                "schema": {"type": "string", "enum": list(RECORD_TYPES)}}],
                "responses": {"200": {"description": "OK", "content": {
                    SCHEMA_JSON: {"schema": {"type": "object"}},
                    "application/swagger+json": {"schema": {"type": "object"}},
                    RESOURCE_JSON: {"schema": {"type": "object"}},
                }}, **_errors(400, 401, 429)},
            }
        },
    }  # fmt: skip
    for name in RECORD_TYPES:
        paths.update(_record_paths(name))
    paths.update(control_paths())
    ok = {"description": "OK", "content": {JSON: {"schema": {"type": "object"}}}}
    paths["/_sim/suiteql"] = {
        "get": {"tags": ["simulator"], "operationId": "simGetSuiteQL", "security": [],
                "responses": {"200": ok}},
        "post": {"tags": ["simulator"], "operationId": "simSetSuiteQL", "security": [],
                 "summary": '{"date_format": "M/D/YYYY", "legacy_list_names": bool}',
                 "requestBody": {"required": True,
                                 "content": {JSON: {"schema": {"type": "object"}}}},
                 "responses": {"200": ok, "400": ok}},
    }  # fmt: skip
    schemas: dict[str, Any] = {"error": _ERROR}
    for name, rtype in RECORD_TYPES.items():
        schema = _schema31(record_schema(rtype))
        schema.pop("required", None)  # required on create, not in every answer (fields=)
        schemas[name] = schema
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Revgraph ERP simulator (NetSuite SuiteTalk REST + SuiteQL)",
            "version": "v1",
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
