"""NetSuite's error bodies, and the exception the simulator raises to produce them.

Every SuiteTalk REST error looks like::

    {"type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1",
     "title": "Bad Request", "status": 400,
     "o:errorDetails": [{"detail": "...", "o:errorCode": "INVALID_VALUE"}]}

with the media type ``application/vnd.oracle.resource+json; type=error``.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

ERROR_MEDIA_TYPE = "application/vnd.oracle.resource+json; type=error"

# RFC 9110 sections NetSuite links its problem types to.
_TYPES: dict[int, tuple[str, str]] = {
    400: ("15.5.1", "Bad Request"),
    401: ("15.5.2", "Unauthorized"),
    403: ("15.5.4", "Forbidden"),
    404: ("15.5.5", "Not Found"),
    405: ("15.5.6", "Method Not Allowed"),
    415: ("15.5.16", "Unsupported Media Type"),
    500: ("15.6.1", "Internal Server Error"),
    503: ("15.6.4", "Service Unavailable"),
}

INVALID_LOGIN_DETAIL = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI "
    "at Setup > Users/Roles > User Management > View Login Audit Trail."
)


class NetSuiteError(Exception):
    """A request the simulator refuses, as NetSuite would: status, error code, detail."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail

    def response(self) -> JSONResponse:
        return error_response(self.status, self.code, self.detail)


def error_response(status: int, code: str, detail: str) -> JSONResponse:
    """A response with NetSuite's error body."""
    section, title = _TYPES.get(status, ("15.5.1", "Bad Request"))
    problem = f"https://www.rfc-editor.org/rfc/rfc9110.html#section-{section}"
    if status == 429:  # not in RFC 9110
        problem = "https://www.rfc-editor.org/rfc/rfc6585.html#section-4"
        title = "Too Many Requests"
    body = {
        "type": problem,
        "title": title,
        "status": status,
        "o:errorDetails": [{"detail": detail, "o:errorCode": code}],
    }
    return JSONResponse(body, status_code=status, media_type=ERROR_MEDIA_TYPE)


def unauthorized() -> JSONResponse:
    return error_response(401, "INVALID_LOGIN", INVALID_LOGIN_DETAIL)


def server_error() -> JSONResponse:
    return error_response(
        500,
        "UNEXPECTED_ERROR",
        "An unexpected error occurred. Error ID: sim-unexpected-error",
    )


def unavailable() -> JSONResponse:
    return error_response(
        503,
        "SERVICE_UNAVAILABLE",
        "The NetSuite service is temporarily unavailable. Please try again later.",
    )
