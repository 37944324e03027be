"""Errors raised by the source adapters, classified by what the caller does next.

::

    SourceError                      anything an upstream did wrong
    ├── RetryableSourceError         try again later (same request may succeed)
    │   ├── SourceUnavailable        connection refused / reset, HTTP 503
    │   ├── SourceTimeout            no answer within the source's timeout
    │   ├── SourceThrottled          429, a vendor's rate / concurrency limit: slow down
    │   │   └── SourceQuotaExhausted a daily allocation is used up (not retried)
    │   └── SourceServerError        other 5xx
    ├── PermanentSourceError         do not retry: the request or config is wrong
    │   ├── SourceAuthError          401 / 403: credentials
    │   ├── SourceRequestError       400 / 422: the vendor rejected the request
    │   ├── SourceConflict           409, idempotency-key reuse with other params
    │   └── SourceResponseError      the answer does not have the shape the adapter
    │                                reads (its wire model): a vendor change, not a blip
    └── SourceNotFound               404: the record does not exist

Every error keeps the vendor's own error code and message so callers (and the
exception queue) can show what the system actually said, and the vendor's
``Retry-After`` (``retry_after``, seconds) when it sent one. ``retryable`` is the
class's, unless the vendor said otherwise for this answer (Stripe's
``Stripe-Should-Retry``): then the instance carries the vendor's word.

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
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{system}: {message}")
        self.system = system
        self.message = message
        self.status = status
        self.vendor_code = vendor_code
        self.retry_after = retry_after
        """Seconds the vendor asked us to wait before trying again (``Retry-After``)."""


class RetryableSourceError(SourceError):
    """The same request may succeed later."""

    retryable = True


class SourceUnavailable(RetryableSourceError):
    """The system refused the connection or said it is unavailable."""


class SourceCircuitOpen(SourceUnavailable):
    """The system failed so often that calls fail fast for a while (no request sent).

    Not retried: the breaker (:mod:`sources.breaker`) decides when to try again.
    """


class SourceTimeout(RetryableSourceError):
    """The system did not answer within its timeout."""


class SourceThrottled(RetryableSourceError):
    """The system refused the call for one of its limits (HTTP 429: Stripe's rate
    limiter, NetSuite's concurrency governance), or the gateway's own limiter could
    not send it before the request's deadline. Nothing was done; the same call
    succeeds later (``retry_after`` says when, if the vendor said).

    Not a sign the system is unwell: it does not count against the circuit breaker.
    """


class SourceQuotaExhausted(SourceThrottled):
    """A limit that does not come back within a request: Salesforce's daily API
    request allocation (403 ``REQUEST_LIMIT_EXCEEDED``). Not retried."""

    retryable = False


class SourceServerError(RetryableSourceError):
    """The system failed (5xx)."""


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
    if status == 429:
        return SourceThrottled
    if status >= 500:
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
