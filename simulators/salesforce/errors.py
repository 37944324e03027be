"""Salesforce REST error bodies and the vendor answers the shared middleware uses.

Salesforce answers every failure with a JSON *array* of
``{"message", "errorCode", "fields"?}`` objects. Handlers raise
:class:`SalesforceError`; the routes turn it into that body.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from simulators.control import VendorResponses

NOT_FOUND_MESSAGE = "The requested resource does not exist"


class SalesforceError(Exception):
    """A failure the simulator reports in Salesforce's own error format."""

    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        *,
        fields: Sequence[str] = (),
    ) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = list(fields)

    def response(self) -> Response:
        return error_response(self.status, self.error_code, self.message, fields=self.fields)


class MultipleChoices(SalesforceError):
    """300: an external id matched several records; the body lists their URLs."""

    def __init__(self, urls: Sequence[str]) -> None:
        super().__init__(300, "MULTIPLE_CHOICES", f"More than one record found: {list(urls)}")
        self.urls = list(urls)

    def response(self) -> Response:
        return JSONResponse(self.urls, status_code=300)


def error_response(
    status: int, error_code: str, message: str, *, fields: Sequence[str] = ()
) -> JSONResponse:
    body: dict[str, object] = {"message": message, "errorCode": error_code}
    if fields:
        body["fields"] = list(fields)
    return JSONResponse([body], status_code=status)


def not_found() -> SalesforceError:
    return SalesforceError(404, "NOT_FOUND", NOT_FOUND_MESSAGE)


def malformed_query(message: str) -> SalesforceError:
    return SalesforceError(400, "MALFORMED_QUERY", message)


def invalid_field(message: str, *, fields: Sequence[str] = ()) -> SalesforceError:
    return SalesforceError(400, "INVALID_FIELD", message, fields=fields)


def vendor_responses(token: str) -> VendorResponses:
    """Bearer-token auth and Salesforce's 401 / 500 / 503 bodies."""
    expected = f"Bearer {token}"

    def authorized(request: Request) -> bool:
        return request.headers.get("authorization") == expected

    return VendorResponses(
        authorized=authorized,
        unauthorized=lambda: error_response(
            401, "INVALID_SESSION_ID", "Session expired or invalid"
        ),
        server_error=lambda: error_response(
            500,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact "
            "support: 1234567890-12345 (-123456789)",
        ),
        unavailable=lambda: error_response(
            503,
            "SERVER_UNAVAILABLE",
            "Server is unavailable for maintenance. Please try again later.",
        ),
    )
