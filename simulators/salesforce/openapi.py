"""The OpenAPI 3 document of a Salesforce-shaped simulator, built from its objects.

:func:`salesforce_document` describes the REST API of
:mod:`simulators.salesforce.routes` for an org's :class:`SObjectType` s: one
schema per object (its fields, typed, nullable) and per-object paths for the
sObject resources, plus the generic query, limits, describe and collection
resources and the shared ``/_sim`` routes. Org-specific endpoints (the
contracts amendment) come in through ``extra_paths``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulators.openapi import OPENAPI_VERSION, OpenApiDocument, control_paths
from simulators.salesforce.org import (
    API_PREFIX,
    API_VERSION,
    MAX_BATCH_SIZE,
    MAX_COLLECTION_RECORDS,
    MIN_BATCH_SIZE,
)
from simulators.salesforce.schema import ID_TYPES, FieldSpec, FieldType, SObjectType

MAX_COMPOSITE_IDS = 2000  # routes.MAX_COMPOSITE_IDS (routes imports this module)
ID_PATTERN = "^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$"
DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$"
REF = "#/components"


def ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"{REF}/{kind}/{name}"}


def json_content(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def ok(schema: Mapping[str, Any], description: str = "OK") -> dict[str, Any]:
    """A success answer: JSON body and the ``Sforce-Limit-Info`` header."""
    return {
        "description": description,
        "headers": {"Sforce-Limit-Info": ref("headers", "SforceLimitInfo")},
        "content": json_content(schema),
    }


NO_CONTENT = {
    "description": "Done; no body",
    "headers": {"Sforce-Limit-Info": {"$ref": f"{REF}/headers/SforceLimitInfo"}},
}
ERRORS = {"default": ref("responses", "Error")}


def field_schema(spec: FieldSpec) -> dict[str, Any]:
    kind = spec.type
    schema: dict[str, Any]
    if kind in ID_TYPES:
        schema = {"type": "string", "pattern": ID_PATTERN}
    elif kind == FieldType.PICKLIST and spec.picklist:
        schema = {"type": "string", "enum": [*spec.picklist, None]}
    elif kind == FieldType.EMAIL:
        schema = {"type": "string", "format": "email"}
    elif kind == FieldType.INT:
        schema = {"type": "integer"}
    elif kind in (FieldType.DOUBLE, FieldType.CURRENCY):
        schema = {"type": "number"}
    elif kind == FieldType.DATE:
        schema = {"type": "string", "format": "date"}
    elif kind == FieldType.DATETIME:
        schema = {"type": "string", "pattern": DATETIME_PATTERN}
    elif kind == FieldType.BOOLEAN:
        schema = {"type": "boolean"}
    else:
        schema = {"type": "string"}
    if spec.name != "Id":
        schema["type"] = [schema["type"], "null"]
    if spec.reference_to:
        schema["description"] = (
            f"Id of a {spec.reference_to} (relationship {spec.relationship_name})"
        )
    if not spec.createable and not spec.updateable:
        schema["readOnly"] = True
    return schema


def record_schema(sobject: SObjectType) -> dict[str, Any]:
    """A record as GET returns it: ``attributes`` then (some of) its fields."""
    return {
        "type": "object",
        "required": ["attributes"],
        "properties": {
            "attributes": ref("schemas", "Attributes"),
            **{spec.name: field_schema(spec) for spec in sobject.fields},
        },
        "additionalProperties": False,
    }


def write_schema(sobject: SObjectType, *, creating: bool) -> dict[str, Any]:
    fields = [s for s in sobject.fields if (s.createable if creating else s.updateable)]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {spec.name: field_schema(spec) for spec in fields},
        "additionalProperties": False,
    }
    required = [s.name for s in fields if creating and s.required and s.default is None]
    if required:
        schema["required"] = required
    return schema


def _param(
    name: str,
    where: str,
    schema: Mapping[str, Any],
    *,
    required: bool = True,
    description: str = "",
) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": where, "required": required, "schema": schema}
    if description:
        param["description"] = description
    return param


FIELDS_PARAM = _param(
    "fields",
    "query",
    {"type": "string"},
    required=False,
    description="Comma-separated field names; all fields when absent",
)


def sobject_paths(sobject: SObjectType) -> dict[str, Any]:
    name = sobject.name
    base = f"{API_PREFIX}/sobjects/{name}"
    record = ref("schemas", name)
    id_param = _param("id", "path", {"type": "string"}, description=f"A {name} Id")
    tag = [name]
    paths: dict[str, Any] = {}
    info: dict[str, Any] = {
        "get": {
            "tags": tag,
            "operationId": f"get{name}Info",
            "summary": f"Basic {name} info",
            "responses": {"200": ok(ref("schemas", "SObjectInfo")), **ERRORS},
        },
    }
    if sobject.createable:
        info["post"] = {
            "tags": tag,
            "operationId": f"create{name}",
            "summary": f"Create a {name}",
            "requestBody": {
                "required": True,
                "content": json_content(ref("schemas", f"{name}Create")),
            },
            "responses": {"201": ok(ref("schemas", "SaveResult"), "Created"), **ERRORS},
        }
    paths[base] = info
    paths[f"{base}/describe"] = {
        "get": {
            "tags": tag,
            "operationId": f"describe{name}",
            "summary": f"Describe {name}",
            "responses": {"200": ok(ref("schemas", "SObjectDescribe")), **ERRORS},
        },
    }
    item: dict[str, Any] = {
        "parameters": [id_param],
        "get": {
            "tags": tag,
            "operationId": f"get{name}",
            "summary": f"A {name} by Id",
            "parameters": [FIELDS_PARAM],
            "responses": {"200": ok(record), **ERRORS},
        },
    }
    if sobject.updateable:
        item["patch"] = {
            "tags": tag,
            "operationId": f"update{name}",
            "summary": f"Update a {name}",
            "requestBody": {
                "required": True,
                "content": json_content(ref("schemas", f"{name}Update")),
            },
            "responses": {"204": NO_CONTENT, **ERRORS},
        }
    if sobject.deletable:
        item["delete"] = {
            "tags": tag,
            "operationId": f"delete{name}",
            "summary": f"Delete a {name}",
            "responses": {"204": NO_CONTENT, **ERRORS},
        }
    paths[f"{base}/{{id}}"] = item
    for spec in sobject.external_id_fields:
        value_param = _param(
            "value", "path", {"type": "string"}, description=f"The {spec.name} value"
        )
        choices = {
            "description": "Several records have this value: their URLs",
            "content": json_content({"type": "array", "items": {"type": "string"}}),
        }
        by_ext: dict[str, Any] = {
            "parameters": [value_param],
            "get": {
                "tags": tag,
                "operationId": f"get{name}By{spec.name}",
                "summary": f"A {name} by {spec.name}",
                "parameters": [FIELDS_PARAM],
                "responses": {"200": ok(record), "300": choices, **ERRORS},
            },
            "patch": {
                "tags": tag,
                "operationId": f"upsert{name}By{spec.name}",
                "summary": f"Upsert a {name} by {spec.name}",
                "requestBody": {
                    "required": True,
                    "content": json_content(ref("schemas", f"{name}Create")),
                },
                "responses": {
                    "200": ok(ref("schemas", "UpsertResult"), "Updated"),
                    "201": ok(ref("schemas", "UpsertResult"), "Created"),
                    "300": choices,
                    **ERRORS,
                },
            },
        }
        if sobject.deletable:
            by_ext["delete"] = {
                "tags": tag,
                "operationId": f"delete{name}By{spec.name}",
                "responses": {"204": NO_CONTENT, "300": choices, **ERRORS},
            }
        paths[f"{base}/{spec.name}/{{value}}"] = by_ext
    paths[f"{API_PREFIX}/composite/sobjects/{name}"] = {
        "get": {
            "tags": ["composite", name],
            "operationId": f"retrieve{name}Collection",
            "summary": f"Up to {MAX_COMPOSITE_IDS} {name} records by Id, null for unknown ids",
            "parameters": [
                _param("ids", "query", {"type": "string"}, description="Comma-separated Ids"),
                _param(
                    "fields", "query", {"type": "string"}, description="Comma-separated field names"
                ),
            ],
            "responses": {
                "200": ok({"type": "array", "items": {"anyOf": [record, {"type": "null"}]}}),
                **ERRORS,
            },
        },
        "post": {
            "tags": ["composite", name],
            "operationId": f"retrieve{name}CollectionPost",
            "summary": f"The same read with the ids in the body (up to {MAX_COMPOSITE_IDS})",
            "requestBody": {
                "required": True,
                "content": json_content(
                    {
                        "type": "object",
                        "required": ["ids", "fields"],
                        "properties": {
                            "ids": {"type": "array", "items": {"type": "string"}},
                            "fields": {"type": "array", "items": {"type": "string"}},
                        },
                    }
                ),
            },
            "responses": {
                "200": ok({"type": "array", "items": {"anyOf": [record, {"type": "null"}]}}),
                **ERRORS,
            },
        },
    }
    return paths


def common_schemas() -> dict[str, Any]:
    error = {
        "type": "object",
        "required": ["message", "errorCode"],
        "properties": {
            "message": {"type": "string"},
            "errorCode": {"type": "string"},
            "fields": {"type": "array", "items": {"type": "string"}},
        },
    }
    record_error = {
        "type": "object",
        "required": ["statusCode", "message"],
        "properties": {
            "statusCode": {"type": "string"},
            "message": {"type": "string"},
            "fields": {"type": "array", "items": {"type": "string"}},
        },
    }
    save_result = {
        "type": "object",
        "required": ["success", "errors"],
        "properties": {
            "id": {"type": "string", "pattern": ID_PATTERN},
            "success": {"type": "boolean"},
            "errors": {"type": "array", "items": ref("schemas", "RecordError")},
        },
    }
    any_record = {
        "type": "object",
        "required": ["attributes"],
        "properties": {"attributes": ref("schemas", "Attributes")},
        "additionalProperties": True,
        "description": "The selected fields; a relationship (Parent.Name) is a nested "
        "record or null",
    }
    basic = {
        "type": "object",
        "required": [
            "name",
            "label",
            "keyPrefix",
            "createable",
            "updateable",
            "deletable",
            "queryable",
            "urls",
        ],
        "properties": {
            "name": {"type": "string"},
            "label": {"type": "string"},
            "labelPlural": {"type": "string"},
            "keyPrefix": {"type": "string"},
            "custom": {"type": "boolean"},
            "createable": {"type": "boolean"},
            "updateable": {"type": "boolean"},
            "deletable": {"type": "boolean"},
            "queryable": {"type": "boolean"},
            "urls": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    field = {
        "type": "object",
        "required": [
            "name",
            "label",
            "type",
            "nillable",
            "createable",
            "updateable",
            "externalId",
            "referenceTo",
            "picklistValues",
        ],
        "properties": {
            "name": {"type": "string"},
            "label": {"type": "string"},
            "type": {"type": "string", "enum": [str(t) for t in FieldType]},
            "nillable": {"type": "boolean"},
            "createable": {"type": "boolean"},
            "updateable": {"type": "boolean"},
            "externalId": {"type": "boolean"},
            "referenceTo": {"type": "array", "items": {"type": "string"}},
            "relationshipName": {"type": ["string", "null"]},
            "picklistValues": {"type": "array", "items": {"type": "object"}},
        },
    }
    return {
        "Error": {"type": "array", "items": error},
        "RecordError": record_error,
        "Attributes": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"type": "string"}, "url": {"type": "string"}},
        },
        "SaveResult": save_result,
        "UpsertResult": {
            "allOf": [
                save_result,
                {
                    "type": "object",
                    "required": ["created"],
                    "properties": {"created": {"type": "boolean"}},
                },
            ],
        },
        "QueryResult": {
            "type": "object",
            "required": ["totalSize", "done", "records"],
            "properties": {
                "totalSize": {"type": "integer", "minimum": 0},
                "done": {"type": "boolean"},
                "nextRecordsUrl": {"type": "string"},
                "records": {"type": "array", "items": any_record},
            },
        },
        "CollectionRequest": {
            "type": "object",
            "required": ["records"],
            "properties": {
                "allOrNone": {"type": "boolean", "default": False},
                "records": {
                    "type": "array",
                    "maxItems": MAX_COLLECTION_RECORDS,
                    "items": {
                        "type": "object",
                        "required": ["attributes"],
                        "properties": {"attributes": ref("schemas", "Attributes")},
                        "additionalProperties": True,
                    },
                },
            },
        },
        "CollectionResult": {"type": "array", "items": save_result},
        "SObjectBasic": basic,
        "SObjectInfo": {
            "type": "object",
            "required": ["objectDescribe", "recentItems"],
            "properties": {
                "objectDescribe": basic,
                "recentItems": {"type": "array", "items": any_record},
            },
        },
        "SObjectDescribe": {
            "allOf": [
                basic,
                {
                    "type": "object",
                    "required": ["fields"],
                    "properties": {
                        "fields": {"type": "array", "items": field},
                        "childRelationships": {"type": "array", "items": {"type": "object"}},
                    },
                },
            ],
        },
        "GlobalDescribe": {
            "type": "object",
            "required": ["encoding", "maxBatchSize", "sobjects"],
            "properties": {
                "encoding": {"type": "string"},
                "maxBatchSize": {"type": "integer"},
                "sobjects": {"type": "array", "items": basic},
            },
        },
        "Limits": {
            "type": "object",
            "required": ["DailyApiRequests"],
            "additionalProperties": {
                "type": "object",
                "required": ["Max", "Remaining"],
                "properties": {"Max": {"type": "integer"}, "Remaining": {"type": "integer"}},
            },
        },
    }


def generic_paths() -> dict[str, Any]:
    query_options = _param(
        "Sforce-Query-Options",
        "header",
        {"type": "string", "example": "batchSize=200"},
        required=False,
        description=f"batchSize=N: page size, {MIN_BATCH_SIZE}..{MAX_BATCH_SIZE}",
    )
    soql = _param("q", "query", {"type": "string", "minLength": 1}, description="A SOQL query")
    locator = _param(
        "locator", "path", {"type": "string"}, description="From nextRecordsUrl: {locator}-{offset}"
    )
    query_result = ok(ref("schemas", "QueryResult"))
    collection = {"required": True, "content": json_content(ref("schemas", "CollectionRequest"))}
    paths: dict[str, Any] = {
        API_PREFIX: {
            "get": {
                "tags": ["org"],
                "operationId": "listResources",
                "responses": {
                    "200": ok({"type": "object", "additionalProperties": {"type": "string"}}),
                    **ERRORS,
                },
            }
        },
        f"{API_PREFIX}/limits": {
            "get": {
                "tags": ["org"],
                "operationId": "getLimits",
                "summary": "The org's limits: DailyApiRequests Max and Remaining ...",
                "responses": {"200": ok(ref("schemas", "Limits")), **ERRORS},
            }
        },
        f"{API_PREFIX}/sobjects": {
            "get": {
                "tags": ["org"],
                "operationId": "describeGlobal",
                "responses": {"200": ok(ref("schemas", "GlobalDescribe")), **ERRORS},
            }
        },
        f"{API_PREFIX}/query": {
            "get": {
                "tags": ["query"],
                "operationId": "query",
                "summary": "Run a SOQL query",
                "parameters": [soql, query_options],
                "responses": {"200": query_result, **ERRORS},
            }
        },
        f"{API_PREFIX}/query/{{locator}}": {
            "get": {
                "tags": ["query"],
                "operationId": "queryMore",
                "summary": "The next page of a query",
                "parameters": [locator, query_options],
                "responses": {"200": query_result, **ERRORS},
            }
        },
        f"{API_PREFIX}/queryAll": {
            "get": {
                "tags": ["query"],
                "operationId": "queryAll",
                "summary": "A SOQL query including deleted records (none are kept)",
                "parameters": [soql, query_options],
                "responses": {"200": query_result, **ERRORS},
            }
        },
        f"{API_PREFIX}/queryAll/{{locator}}": {
            "get": {
                "tags": ["query"],
                "operationId": "queryAllMore",
                "parameters": [locator],
                "responses": {"200": query_result, **ERRORS},
            }
        },
        f"{API_PREFIX}/composite/sobjects": {
            "post": {
                "tags": ["composite"],
                "operationId": "createCollection",
                "summary": f"Create up to {MAX_COLLECTION_RECORDS} records",
                "requestBody": collection,
                "responses": {"200": ok(ref("schemas", "CollectionResult")), **ERRORS},
            },
            "patch": {
                "tags": ["composite"],
                "operationId": "updateCollection",
                "summary": f"Update up to {MAX_COLLECTION_RECORDS} records (with Id)",
                "requestBody": collection,
                "responses": {"200": ok(ref("schemas", "CollectionResult")), **ERRORS},
            },
            "delete": {
                "tags": ["composite"],
                "operationId": "deleteCollection",
                "summary": f"Delete up to {MAX_COLLECTION_RECORDS} records",
                "parameters": [
                    _param("ids", "query", {"type": "string"}, description="Comma-separated Ids"),
                    _param("allOrNone", "query", {"type": "boolean"}, required=False),
                ],
                "responses": {"200": ok(ref("schemas", "CollectionResult")), **ERRORS},
            },
        },
    }
    return paths


def salesforce_document(
    title: str,
    sobjects: Sequence[SObjectType],
    *,
    description: str = "",
    extra_paths: Mapping[str, Any] | None = None,
) -> OpenApiDocument:
    """The document of a Salesforce-shaped simulator serving ``sobjects``."""
    schemas = common_schemas()
    paths = generic_paths()
    for sobject in sobjects:
        schemas[sobject.name] = record_schema(sobject)
        if sobject.createable:
            schemas[f"{sobject.name}Create"] = write_schema(sobject, creating=True)
        if sobject.updateable:
            schemas[f"{sobject.name}Update"] = write_schema(sobject, creating=False)
        paths.update(sobject_paths(sobject))
    paths.update(extra_paths or {})
    paths.update(control_paths())
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": f"Revgraph {title} simulator (Salesforce REST API {API_VERSION})",
            "version": API_VERSION.removeprefix("v"),
            "description": description
            or "A simulated Salesforce org. Every path under /services also answers with a "
            "trailing slash. Errors are Salesforce's JSON array of {message, errorCode, fields}.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": [{"name": s.name} for s in sobjects]
        + [{"name": n} for n in ("query", "composite", "org", "simulator")],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The org's session id / access token",
                },
            },
            "headers": {
                "SforceLimitInfo": {
                    "description": "API requests used / allowed in the current day",
                    "required": True,
                    "schema": {"type": "string", "pattern": r"^api-usage=\d+/\d+$"},
                },
            },
            "responses": {
                "Error": {
                    "description": "Salesforce's error body",
                    "content": json_content(ref("schemas", "Error")),
                },
            },
            "schemas": schemas,
        },
    }
