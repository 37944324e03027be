"""Errors raised by the source adapters, classified by what the caller does next.

::

    SourceError                      anything an upstream did wrong
    ├── RetryableSourceError         try again later (same request may succeed)
    │   ├── SourceUnavailable        connection refused / reset, HTTP 503
    │   ├── SourceTimeout            no answer within the source's timeout
    │   └── SourceServerError        other 5xx, 429
    ├── PermanentSourceError         do not retry: the request or config is wrong
    │   ├── SourceAuthError          401 / 403: credentials
    │   ├── SourceRequestError       400 / 422: the vendor rejected the request
    │   ├── SourceConflict           409, idempotency-key reuse with other params
    │   └── SourceResponseError      the answer does not have the shape the adapter
    │                                reads (its wire model): a vendor change, not a blip
    └── SourceNotFound               404: the record does not exist

Every error keeps the vendor's own error code and message so callers (and the
exception queue) can show what the system actually said.

Each vendor declares how its error codes map onto these classes as a table
(``ERROR_CLASSES`` next to its adapter); :func:`classify` consults the table
first and falls back on the HTTP status (:func:`error_for_status`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sources.systems import System


class SourceError(Exception):
    """Base class: an upstream call failed."""

    retryable: bool = False

    def __init__(
        self,
        system: System,
        message: str,
        *,
        status: int | None = None,
        vendor_code: str | None = None,
    ) -> None:
        super().__init__(f"{system}: {message}")
        self.system = system
        self.message = message
        self.status = status
        self.vendor_code = vendor_code


class RetryableSourceError(SourceError):
    """The same request may succeed later."""

    retryable = True


class SourceUnavailable(RetryableSourceError):
    """The system refused the connection or said it is unavailable."""


class SourceTimeout(RetryableSourceError):
    """The system did not answer within its timeout."""


class SourceServerError(RetryableSourceError):
    """The system failed (5xx) or asked us to slow down (429)."""


class PermanentSourceError(SourceError):
    """Retrying the same request will not help."""


class SourceAuthError(PermanentSourceError):
    """Credentials were missing, wrong or lacked permission."""


class SourceRequestError(PermanentSourceError):
    """The vendor rejected the request as malformed or invalid."""


class SourceConflict(PermanentSourceError):
    """The request conflicts with the system's state (e.g. idempotency-key reuse)."""


class SourceResponseError(PermanentSourceError):
    """The system answered, but not in the shape its wire model describes."""


class SourceNotFound(SourceError):
    """The addressed record does not exist in the system."""


def error_for_status(status: int) -> type[SourceError]:
    """The error class for an HTTP status, before any vendor-specific refinement."""
    if status in (401, 403):
        return SourceAuthError
    if status == 404:
        return SourceNotFound
    if status == 409:
        return SourceConflict
    if status == 503:
        return SourceUnavailable
    if status == 429 or status >= 500:
        return SourceServerError
    return SourceRequestError


def classify(
    table: Mapping[str, type[SourceError]], codes: Iterable[str | None], status: int
) -> type[SourceError]:
    """The class for a vendor error: the first of ``codes`` found in the vendor's
    ``table``, else the one for the HTTP status."""
    for code in codes:
        if code and code in table:
            return table[code]
    return error_for_status(status)
