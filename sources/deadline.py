"""One deadline per client request, honoured by every upstream call and retry.

The gateway opens a :func:`deadline` around each GraphQL request; it lives in a
context variable, so every task the request spawns (resolvers, DataLoader
batches, the adapters' concurrent calls) sees it. :class:`~sources.base.SourceClient`
caps each attempt's timeout at :func:`remaining` and starts no retry that could
not finish before the deadline; once it has passed, calls fail at once as
:class:`~sources.errors.SourceTimeout` and the response carries what was done.
Work outside a request (CLI jobs, flows) has no deadline unless it opens one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("revgraph_deadline", default=None)


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Calls made inside must finish within ``seconds`` from now (None: no deadline).

    A deadline never extends an outer one: the earlier of the two holds.
    """
    if seconds is None:
        yield
        return
    at = time.monotonic() + seconds
    outer = _deadline.get()
    token = _deadline.set(at if outer is None else min(at, outer))
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left before the current deadline (may be negative); None without one."""
    at = _deadline.get()
    return None if at is None else at - time.monotonic()
