"""The correlation id that follows one client request into every upstream call."""

import uuid
from contextvars import ContextVar

HEADER = "X-Correlation-ID"

_current: ContextVar[str | None] = ContextVar("revgraph_correlation_id", default=None)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def current_correlation_id() -> str:
    """The id of the request being served, or a fresh one for work outside a request."""
    value = _current.get()
    if value is None:
        value = new_correlation_id()
        _current.set(value)
    return value


def set_correlation_id(value: str) -> None:
    _current.set(value)
