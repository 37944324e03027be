"""Salesforce error bodies → :mod:`sources.errors`.

Salesforce answers failures with ``[{"message", "errorCode", "fields"}]``.
:data:`ERROR_CLASSES` is consulted first, for the codes that say more about what
the caller should do next than the HTTP status — the org's daily API request
allocation used up arrives as 403 but means "throttled" (and not retried: the
allocation does not come back within a request), a row lock means "try again";
the status decides the rest
(:func:`sources.errors.error_for_status`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from sources.errors import (
    SourceAuthError,
    SourceConflict,
    SourceError,
    SourceNotFound,
    SourceQuotaExhausted,
    SourceServerError,
    SourceUnavailable,
)
from sources.systems import System

ERROR_CLASSES: dict[str, type[SourceError]] = {
    "INVALID_SESSION_ID": SourceAuthError,
    "INSUFFICIENT_ACCESS_OR_READONLY": SourceAuthError,
    "NOT_FOUND": SourceNotFound,
    "ENTITY_IS_DELETED": SourceNotFound,
    "REQUEST_LIMIT_EXCEEDED": SourceQuotaExhausted,
    "UNABLE_TO_LOCK_ROW": SourceServerError,
    "UNKNOWN_EXCEPTION": SourceServerError,
    "SERVER_UNAVAILABLE": SourceUnavailable,
    "DUPLICATE_VALUE": SourceConflict,
    "VERSION_CONFLICT": SourceConflict,
}


def salesforce_errors(response: httpx.Response) -> list[dict[str, Any]]:
    """The error objects of a Salesforce error body ([] when it is not one)."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return []
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        return []
    return [e for e in body if isinstance(e, dict) and "errorCode" in e]


ErrorClass = Callable[..., type[SourceError]]
"""``(status, *codes) -> class``: :meth:`sources.base.SourceClient.error_class`."""


def translate_salesforce_error(
    system: System, response: httpx.Response, error_class: ErrorClass
) -> SourceError:
    """The :class:`SourceError` for a failed Salesforce response, keeping code and message."""
    errors = salesforce_errors(response)
    status = response.status_code
    if not errors:
        # Not Salesforce talking (a proxy's HTML 502, an empty 503): classify by status.
        text = response.text.strip()[:300] or response.reason_phrase
        return error_class(status)(system, text, status=status)
    first = errors[0]
    code = str(first.get("errorCode"))
    messages = []
    for error in errors:
        message = str(error.get("message", "")).strip()
        fields = error.get("fields")
        if isinstance(fields, list) and fields:
            message = f"{message} (fields: {', '.join(map(str, fields))})"
        messages.append(message)
    cls = error_class(status, code)
    return cls(system, "; ".join(messages), status=status, vendor_code=code)
