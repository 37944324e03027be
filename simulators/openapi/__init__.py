"""OpenAPI 3 documents of the simulators: served live, committed as files, checked in tests.

Each simulator builds its document in code (e.g.
:func:`simulators.salesforce.openapi.salesforce_document`) and serves it at
``GET /_sim/openapi.json`` with :func:`openapi_routes`; the same documents are
committed here as ``{name}.json`` (``crm.json``, ``contracts.json`` ...) for
tools that want a file. ``python -m simulators.openapi`` rewrites the files
from :data:`DOCUMENTS`; ``tests/simulators/test_openapi.py`` checks that each
committed file equals its generated document.

To add a simulator: a zero-argument function returning its document, listed in
:data:`DOCUMENTS`; ``extra_control=openapi_routes(doc)`` when building the app;
:func:`control_paths` adds the shared ``/_sim`` routes to the document.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

OPENAPI_PATH = "/_sim/openapi.json"
OPENAPI_VERSION = "3.1.0"
DIRECTORY = Path(__file__).parent

OpenApiDocument = dict[str, Any]

DOCUMENTS: dict[str, str] = {
    "crm": "simulators.crm.app:openapi_document",
    "contracts": "simulators.contracts.app:openapi_document",
    "billing": "simulators.billing.openapi:billing_document",
    "erp": "simulators.erp.openapi:erp_document",
}
"""File stem → ``module:function`` building that simulator's document."""


def build(name: str) -> OpenApiDocument:
    """The document :data:`DOCUMENTS` names ``name``, freshly generated."""
    module, attr = DOCUMENTS[name].split(":")
    builder: Callable[[], OpenApiDocument] = getattr(importlib.import_module(module), attr)
    return builder()


def dumps(document: Mapping[str, Any]) -> str:
    """The committed form: two-space indented, keys in build order, final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def committed_path(name: str) -> Path:
    return DIRECTORY / f"{name}.json"


def write_all() -> list[Path]:
    """Rewrite every committed document from its builder."""
    paths = []
    for name in DOCUMENTS:
        path = committed_path(name)
        path.write_text(dumps(build(name)), encoding="utf-8")
        paths.append(path)
    return paths


def openapi_routes(document: Mapping[str, Any]) -> list[BaseRoute]:
    """``GET /_sim/openapi.json`` answering ``document`` (for ``extra_control``)."""

    async def serve(request: Request) -> Response:
        return JSONResponse(document)

    return [Route(OPENAPI_PATH, serve, methods=["GET"])]


def _json(schema: Mapping[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def control_paths() -> dict[str, Any]:
    """The shared ``/_sim`` control routes (:mod:`simulators.control`), tag ``simulator``."""
    settings = {"type": "object", "additionalProperties": True}
    limits = {
        "type": "object",
        "required": ["enabled", "limits"],
        "properties": {
            "enabled": {"type": "boolean"},
            "limits": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["kind", "enabled"],
                    "properties": {
                        "kind": {"type": "string", "enum": ["rate", "concurrency", "daily"]},
                        "enabled": {"type": "boolean"},
                        "scope": {"type": "string"},
                        "used": {"type": "integer"},
                        "refused": {"type": "integer"},
                    },
                    "additionalProperties": True,
                },
            },
        },
    }
    faults = {
        "type": "object",
        "properties": {
            "latency_ms": {"type": "integer", "minimum": 0},
            "error_rate": {"type": "number", "minimum": 0, "maximum": 1},
            "down": {"type": "boolean"},
        },
    }
    stats = {
        "type": "object",
        "required": ["requests", "by_route"],
        "properties": {
            "requests": {"type": "integer"},
            "by_route": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
    }
    tag = ["simulator"]
    paths: dict[str, Any] = {
        "/_sim/limits": {
            "get": {
                "tags": tag,
                "operationId": "simGetLimits",
                "summary": "Vendor limits: settings and usage",
                "responses": {"200": _json(limits)},
            },
            "post": {
                "tags": tag,
                "operationId": "simSetLimits",
                "summary": 'Merge settings: {"enabled": bool, "limits": {name: {...}}}',
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "enabled": {"type": "boolean"},
                                    "limits": {"type": "object", "additionalProperties": settings},
                                },
                            }
                        }
                    },
                },
                "responses": {"200": _json(limits), "400": _json(settings, "Bad settings")},
            },
            "delete": {
                "tags": tag,
                "operationId": "simResetLimits",
                "summary": "Back to the vendor defaults, usage cleared",
                "responses": {"200": _json(limits)},
            },
        },
        "/_sim/faults": {
            "get": {
                "tags": tag,
                "operationId": "simGetFaults",
                "responses": {"200": _json(faults)},
            },
            "post": {
                "tags": tag,
                "operationId": "simSetFaults",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": faults}},
                },
                "responses": {"200": _json(faults), "400": _json(settings, "Bad faults")},
            },
            "delete": {
                "tags": tag,
                "operationId": "simResetFaults",
                "responses": {"200": _json(faults)},
            },
        },
        "/_sim/stats": {
            "get": {"tags": tag, "operationId": "simGetStats", "responses": {"200": _json(stats)}},
            "delete": {
                "tags": tag,
                "operationId": "simResetStats",
                "responses": {"200": _json(stats)},
            },
        },
        OPENAPI_PATH: {
            "get": {
                "tags": tag,
                "operationId": "simOpenApi",
                "summary": "This document",
                "responses": {"200": _json(settings)},
            },
        },
    }
    for item in paths.values():
        for operation in item.values():
            operation["security"] = []  # the control routes take no credentials
    return paths
