"""Records as SuiteTalk REST sends them, and the metadata catalog that describes them.

A record GET answers the stored record the way NetSuite shows it:

* fields without a value are left out (NetSuite sends no ``null``s);
* a reference to another record is ``{"links": [{"rel": "self", "href": ...}],
  "id": "12", "refName": "Customer 12"}``; a list value that is a record
  (``currency``, a journal line's ``account``) likewise, with its name as
  ``refName``; an enumerated value (an invoice's ``status``) is
  ``{"id": "A", "refName": "Open"}``;
* sublists (a journal entry's ``line``) are ``{"items": [...]}`` of lines shown
  the same way.

The metadata catalog lists the record types, each with links to its
metadata; per record type it answers a JSON Schema (``application/schema+json``)
or an OpenAPI 3 document (``application/swagger+json``) built from the same
field declarations (:data:`simulators.erp.records.RECORD_TYPES`) that validate
writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulators.erp.records import (
    CUSTOMER,
    JOURNAL_LINE_FIELDS,
    RECORD_TYPES,
    FieldKind,
    FieldSpec,
    RecordType,
)
from simulators.storage import Document, DocumentStore

RECORD_PATH = "/services/rest/record/v1"
CATALOG_PATH = f"{RECORD_PATH}/metadata-catalog"
RESOURCE_JSON = "application/vnd.oracle.resource+json"
SCHEMA_JSON = "application/schema+json"
SWAGGER_JSON = "application/swagger+json"

# List values that are records of their own in NetSuite (they get links); the rest
# (an invoice's status) are enumerations.
_LIST_RECORDS = {"currency": "currency", "account": "account"}


def _link(base_url: str, record_type: str, record_id: str) -> dict[str, str]:
    return {"rel": "self", "href": f"{base_url}{RECORD_PATH}/{record_type}/{record_id}"}


class RecordPresenter:
    """Stored records → REST record bodies (references resolved for ``refName``)."""

    def __init__(self, store: DocumentStore, base_url: str) -> None:
        self.store = store
        self.base_url = base_url

    def record(self, rtype: RecordType, doc: Document) -> dict[str, Any]:
        out: dict[str, Any] = {"links": [_link(self.base_url, rtype.name, str(doc["id"]))]}
        out["id"] = str(doc["id"])
        out.update(self._fields(rtype.by_name, doc, skip={"id"}))
        return out

    def _fields(
        self, specs: Mapping[str, FieldSpec], doc: Mapping[str, Any], *, skip: set[str]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in doc.items():
            if name in skip or value is None:
                continue
            spec = specs.get(name)
            out[name] = value if spec is None else self._value(spec, value)
        return out

    def _value(self, spec: FieldSpec, value: Any) -> Any:
        if spec.kind is FieldKind.REF and isinstance(value, dict) and "id" in value:
            assert spec.target is not None
            ref_id = str(value["id"])
            ref: dict[str, Any] = {"links": [_link(self.base_url, spec.target, ref_id)]}
            ref["id"] = ref_id
            name = self._ref_name(spec.target, ref_id)
            if name is not None:
                ref["refName"] = name
            return ref
        if spec.kind is FieldKind.LIST and isinstance(value, dict) and "id" in value:
            list_id = str(value["id"])
            ref_name = value.get("refName")
            if ref_name is None and spec.values is not None:
                ref_name = spec.values.get(list_id)
            shown: dict[str, Any] = {}
            record_type = _LIST_RECORDS.get(spec.name)
            if record_type is not None:
                shown["links"] = [_link(self.base_url, record_type, list_id)]
            shown["id"] = list_id
            if ref_name is not None:
                shown["refName"] = ref_name
            return shown
        if spec.kind is FieldKind.SUBLIST and isinstance(value, dict):
            lines = {s.name: s for s in JOURNAL_LINE_FIELDS}
            return {
                "items": [
                    self._fields(lines, item, skip=set())
                    for item in value.get("items") or []
                    if isinstance(item, dict)
                ]
            }
        return value

    def _ref_name(self, record_type: str, ref_id: str) -> str | None:
        doc = self.store.get(record_type, ref_id)
        if doc is None:
            return None
        if record_type == CUSTOMER:
            name = doc.get("companyName") or doc.get("entityId")
        else:
            name = doc.get("name") or doc.get("externalId")
        return str(name) if name is not None else None


# -- the metadata catalog ------------------------------------------------------------


def catalog(base_url: str, select: list[str] | None = None) -> dict[str, Any]:
    """``GET /metadata-catalog``: every record type (or those selected) with its links."""
    names = [n for n in RECORD_TYPES if select is None or n in select]
    return {"items": [catalog_entry(base_url, name) for name in names]}


def catalog_entry(base_url: str, name: str) -> dict[str, Any]:
    href = f"{base_url}{CATALOG_PATH}/{name}"
    return {
        "name": name,
        "links": [
            {"rel": "canonical", "href": href, "mediaType": "application/json"},
            {"rel": "alternate", "href": href, "mediaType": SWAGGER_JSON},
            {"rel": "describes", "href": href, "mediaType": SCHEMA_JSON},
        ],
    }


_LINKS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "readOnly": True,
    "items": {
        "type": "object",
        "properties": {"rel": {"type": "string"}, "href": {"type": "string", "format": "uri"}},
    },
}


def _reference_schema(title: str) -> dict[str, Any]:
    return {
        "title": title,
        "type": "object",
        "properties": {
            "links": _LINKS_SCHEMA,
            "id": {"title": "Internal ID", "type": "string"},
            "externalId": {"title": "External ID", "type": "string"},
            "refName": {"title": "Reference Name", "type": "string", "readOnly": True},
        },
    }


def field_schema(spec: FieldSpec) -> dict[str, Any]:
    """The JSON Schema of one field, NetSuite style (``nullable``, ``x-ns-*``)."""
    kind = spec.kind
    schema: dict[str, Any]
    if kind is FieldKind.TEXT:
        schema = {"type": "string"}
        if spec.pattern is not None:
            schema["pattern"] = f"^{spec.pattern}$"
    elif kind is FieldKind.NUMBER:
        schema = {"type": "number", "format": "double"}
    elif kind is FieldKind.INTEGER:
        schema = {"type": "integer", "format": "int64"}
    elif kind is FieldKind.BOOL:
        schema = {"type": "boolean"}
    elif kind is FieldKind.DATE:
        schema = {"type": "string", "format": "date"}
    elif kind is FieldKind.DATETIME:
        schema = {"type": "string", "format": "date-time"}
    elif kind is FieldKind.REF:
        schema = _reference_schema(spec.target or spec.name)
    elif kind is FieldKind.LIST:
        schema = _reference_schema(spec.name)
        if spec.values:
            schema["properties"]["id"]["enum"] = list(spec.values)
            schema["properties"]["refName"]["enum"] = list(spec.values.values())
    else:
        line = {s.name: field_schema(s) for s in JOURNAL_LINE_FIELDS}
        schema = {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": line,
                        "required": [s.name for s in JOURNAL_LINE_FIELDS if s.required],
                    },
                }
            },
        }
    schema = {"title": spec.name, **schema}
    if not spec.required:
        schema["nullable"] = True
    if spec.read_only:
        schema["readOnly"] = True
    if spec.kind is FieldKind.REF:
        schema["x-ns-recordType"] = spec.target
    return schema


def record_schema(rtype: RecordType) -> dict[str, Any]:
    """``GET /metadata-catalog/{type}`` with ``Accept: application/schema+json``."""
    properties: dict[str, Any] = {
        "links": _LINKS_SCHEMA,
        "id": {"title": "Internal ID", "type": "string", "readOnly": True},
    }
    properties.update({spec.name: field_schema(spec) for spec in rtype.fields})
    return {
        "$schema": "https://json-schema.org/draft-06/schema#",
        "title": rtype.name,
        "type": "object",
        "properties": properties,
        "required": [s.name for s in rtype.fields if s.required],
    }


def record_openapi(rtype: RecordType, base_url: str) -> dict[str, Any]:
    """``GET /metadata-catalog/{type}`` with ``Accept: application/swagger+json``."""
    name = rtype.name
    ref = {"$ref": f"#/components/schemas/{name}"}
    error = {"description": "NetSuite error", "content": {"application/json": {"schema": {}}}}
    item = f"{RECORD_PATH}/{name}/{{id}}"
    path_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.0.1",
        "info": {"title": f"NetSuite REST Record API: {name}", "version": "v1"},
        "servers": [{"url": base_url}],
        "paths": {
            f"{RECORD_PATH}/{name}": {
                "get": {
                    "summary": f"List {name} records.",
                    "responses": {
                        "200": {
                            "description": "A page of record ids",
                            "content": {RESOURCE_JSON: {}},
                        },
                        "default": error,
                    },
                },
                "post": {
                    "summary": f"Create a {name} record.",
                    "requestBody": {"content": {"application/json": {"schema": ref}}},
                    "responses": {"204": {"description": "Created"}, "default": error},
                },
            },
            item: {
                "parameters": [path_id],
                "get": {
                    "summary": f"Get a {name} record.",
                    "responses": {
                        "200": {
                            "description": "The record",
                            "content": {RESOURCE_JSON: {"schema": ref}},
                        },
                        "default": error,
                    },
                },
                "patch": {
                    "summary": f"Update a {name} record.",
                    "requestBody": {"content": {"application/json": {"schema": ref}}},
                    "responses": {"204": {"description": "Updated"}, "default": error},
                },
                "delete": {
                    "summary": f"Delete a {name} record.",
                    "responses": {"204": {"description": "Deleted"}, "default": error},
                },
            },
        },
        "components": {"schemas": {name: _openapi_schema(record_schema(rtype))}},
    }


def _openapi_schema(schema: Any) -> Any:
    """A JSON Schema as an OpenAPI 3.0 schema object (no ``$schema``)."""
    if isinstance(schema, dict):
        return {k: _openapi_schema(v) for k, v in schema.items() if k != "$schema"}
    if isinstance(schema, list):
        return [_openapi_schema(v) for v in schema]
    return schema
