"""Stripe's error bodies: ``{"error": {"type", "code", "message", "param"}}``.

Handlers raise :class:`StripeError`; the app turns it into the vendor body.
:class:`InvalidParams` marks a request rejected before it started executing,
whose result Stripe does not save under the request's idempotency key.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response


class StripeError(Exception):
    """An error answer in Stripe's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
        if self.param is not None:
            error["param"] = self.param
        return {"error": error}


class InvalidParams(StripeError):
    """The parameters failed validation: nothing ran, nothing is saved for replay."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(400, message, code=code, param=param)


def missing(kind: str, object_id: str, *, param: str = "id", status: int = 404) -> StripeError:
    """``No such customer: 'cus_x'``: 404 for the addressed object, 400 for a reference."""
    return StripeError(
        status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param
    )


def json_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    """A Stripe JSON answer (compact, so a replay can repeat the exact bytes)."""
    return Response(dumps(body), status_code=status, headers=headers, media_type="application/json")


def dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))
