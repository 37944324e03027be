"""The Apex REST amendment service: ``POST /services/apexrest/rg/v1/contracts/{id}/amend``.

Body::

    {"reason": "Upsell", "effectiveDate": "2026-03-01",
     "lines": [{"Product2Id", "ProductName__c", "Quantity", "UnitPrice"}, ...],
     "expectedVersion": 1}            # optional optimistic-concurrency guard

Only an Activated contract can be amended. The amendment bumps ``Version__c``,
writes the new version's lines (the previous versions' lines stay, as
history), records a ``ContractVersion__c`` and recomputes ``TotalValue__c``;
the answer (200) is the updated contract. ``expectedVersion`` lets a caller
that retries an amendment whose answer it lost see 409 VERSION_CONFLICT
instead of amending twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from simulators.contracts.lifecycle import (
    CONTRACT,
    LINE,
    VERSION,
    integrity_error,
    lines_total,
    version_record,
)
from simulators.salesforce.errors import SalesforceError
from simulators.salesforce.ids import new_record_ids
from simulators.salesforce.org import SalesforceOrg
from simulators.salesforce.routes import read_json, salesforce_route
from simulators.salesforce.values import money, now_datetime, parse_date, to_decimal
from simulators.storage import Document

AMEND_PATH = "/services/apexrest/rg/v1/contracts/{contract_id}/amend"
LINE_PREFIX = "811"
_LINE_KEYS = ("Product2Id", "ProductName__c", "Quantity", "UnitPrice")


@dataclass(frozen=True)
class Amendment:
    reason: str
    effective_date: str
    lines: list[dict[str, Any]]
    expected_version: int | None


def _invalid(message: str, field: str) -> SalesforceError:
    return SalesforceError(400, "INVALID_INPUT", message, fields=[field])


def parse_amendment(body: Any) -> Amendment:
    """Validate the request body; INVALID_INPUT naming the offending key."""
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object", "body")
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 255:
        raise _invalid("reason must be a non-empty string of at most 255 characters", "reason")
    effective = body.get("effectiveDate")
    if not isinstance(effective, str) or parse_date(effective) is None:
        raise _invalid("effectiveDate must be a date (YYYY-MM-DD)", "effectiveDate")
    expected = body.get("expectedVersion")
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
        raise _invalid("expectedVersion must be an integer", "expectedVersion")
    raw_lines = body.get("lines")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise _invalid("lines must be a non-empty list", "lines")
    return Amendment(
        reason.strip(), effective, [_line(i, raw) for i, raw in enumerate(raw_lines)], expected
    )


def _line(index: int, raw: Any) -> dict[str, Any]:
    where = f"lines[{index}]"
    if not isinstance(raw, dict):
        raise _invalid(f"{where} must be an object", where)
    unknown = sorted(set(raw) - set(_LINE_KEYS))
    if unknown:
        raise _invalid(f"{where} has unknown keys: {', '.join(unknown)}", f"{where}.{unknown[0]}")
    for key in ("Product2Id", "ProductName__c"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise _invalid(f"{where}.{key} must be a non-empty string", f"{where}.{key}")
    quantity = raw.get("Quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise _invalid(f"{where}.Quantity must be a positive integer", f"{where}.Quantity")
    price = raw.get("UnitPrice")
    if isinstance(price, bool) or not isinstance(price, int | float) or price < 0:
        raise _invalid(f"{where}.UnitPrice must be a non-negative number", f"{where}.UnitPrice")
    return {
        "Product2Id": raw["Product2Id"],
        "ProductName__c": raw["ProductName__c"],
        "Quantity": quantity,
        "UnitPrice": money(to_decimal(price)),
    }


async def amend(org: SalesforceOrg, contract_id: str, amendment: Amendment) -> Document:
    """Apply ``amendment`` to an Activated contract; returns the updated contract."""
    sobject = org.sobject(CONTRACT)
    store = org.store
    async with org.writing():
        contract = org.get(sobject, contract_id)
        status = contract.get("Status")
        if status != "Activated":
            raise integrity_error(
                f"Contract {contract.get('ContractNumber')} is {status}: only an Activated "
                "contract can be amended",
                "Status",
            )
        version = int(contract.get("Version__c") or 1)
        if amendment.expected_version is not None and amendment.expected_version != version:
            raise SalesforceError(
                409,
                "VERSION_CONFLICT",
                f"Contract {contract.get('ContractNumber')} is at version {version}, "
                f"not {amendment.expected_version}",
                fields=["Version__c"],
            )
        start, end = contract.get("StartDate"), contract.get("EndDate")
        if (start and amendment.effective_date < start) or (end and amendment.effective_date > end):
            raise integrity_error(
                f"effectiveDate {amendment.effective_date} is outside the contract term "
                f"{start}..{end}",
                "effectiveDate",
            )
        new_version = version + 1
        frequency = contract.get("BillingFrequency__c")
        ids = new_record_ids(store, LINE, LINE_PREFIX, len(amendment.lines))
        lines = [
            {
                "Id": line_id,
                "ContractId": contract_id,
                **line,
                "BillingFrequency__c": frequency,
                "Version__c": new_version,
            }
            for line_id, line in zip(ids, amendment.lines, strict=True)
        ]
        total: Decimal = lines_total(contract, lines)
        updated = {
            **contract,
            "Version__c": new_version,
            "TotalValue__c": money(total),
            "LastModifiedDate": now_datetime(),
        }
        await store.put_many(LINE, [(line["Id"], line) for line in lines])
        await store.put(CONTRACT, contract_id, updated)
        record_id, record = version_record(
            store, updated, reason=amendment.reason, effective_date=amendment.effective_date
        )
        await store.put(VERSION, record_id, record)
        org.changed(sobject, "updated", updated)
    return updated


def amendment_routes(org: SalesforceOrg) -> list[BaseRoute]:
    async def post(request: Request) -> Response:
        amendment = parse_amendment(await read_json(request))
        contract = await amend(org, request.path_params["contract_id"], amendment)
        return JSONResponse(org.render(org.sobject(CONTRACT), contract))

    return [salesforce_route(AMEND_PATH, {"POST": post})]


def amendment_openapi() -> dict[str, Any]:
    """The amendment endpoint in the OpenAPI document (``extra_paths``)."""
    line = {
        "type": "object",
        "required": list(_LINE_KEYS),
        "properties": {
            "Product2Id": {"type": "string", "minLength": 1},
            "ProductName__c": {"type": "string", "minLength": 1},
            "Quantity": {"type": "integer", "minimum": 1},
            "UnitPrice": {"type": "number", "minimum": 0},
        },
        "additionalProperties": False,
    }
    body = {
        "type": "object",
        "required": ["reason", "effectiveDate", "lines"],
        "properties": {
            "reason": {"type": "string", "minLength": 1, "maxLength": 255},
            "effectiveDate": {"type": "string", "format": "date"},
            "lines": {"type": "array", "minItems": 1, "items": line},
            "expectedVersion": {
                "type": "integer",
                "description": "Refused with 409 VERSION_CONFLICT unless the contract is "
                "at this version",
            },
        },
    }
    json = "application/json"
    return {
        AMEND_PATH: {
            "post": {
                "tags": [CONTRACT],
                "operationId": "amendContract",
                "summary": "Amend an Activated contract: new version, lines and total",
                "parameters": [
                    {
                        "name": "contract_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ],
                "requestBody": {"required": True, "content": {json: {"schema": body}}},
                "responses": {
                    "200": {
                        "description": "The amended contract",
                        "headers": {
                            "Sforce-Limit-Info": {"$ref": "#/components/headers/SforceLimitInfo"}
                        },
                        "content": {json: {"schema": {"$ref": "#/components/schemas/Contract"}}},
                    },
                    "default": {"$ref": "#/components/responses/Error"},
                },
            }
        }
    }
