"""One hop to one system, batched: :class:`SourceLoader` and how resolvers use it.

A loader wraps an adapter batch read (``ids → {id: value}``) and answers in key
order, with a default for keys the system does not know. A value may also be a
:class:`~sources.errors.SourceError`: the read failed for that key only (a
fan-out system such as Billing reads each customer separately), so only that
key's loads fail — the other keys of the batch keep their data.

Every batch is traced (:mod:`resolvers.dataloaders.trace`) with the reason it
was sent: the field that asked, or the look-ahead rule that asked ahead of the
graph. Once a system is unreachable in a request (timeout, refused, down),
later batches to it fail fast without another round trip.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from strawberry.types import Info

from resolvers.dataloaders.trace import FIELD, Call, Trace
from resolvers.dataloaders.window import BatchWindow
from resolvers.errors import SourceFailures
from sources.errors import SourceError
from sources.systems import System

V = TypeVar("V")
V_co = TypeVar("V_co", covariant=True)
Found = Mapping[str, Any]
"""What a fetch returns: value (or a SourceError for that key alone) by key."""
Fetch = Callable[[list[str]], Awaitable[Found]]
AfterBatch = Callable[[Found], None]

AHEAD_TICKS = 2
"""The window of a batch a look-ahead rule opened (its keys arrive together)."""

_origin: ContextVar[str] = ContextVar("revgraph_load_origin", default=FIELD)
"""Why the batch being fetched was sent; loads made while fetching inherit it."""
_cause: ContextVar[Call | None] = ContextVar("revgraph_load_cause", default=None)
"""The call whose result is being handled; batches opened meanwhile depend on it."""


class SourceLoader(BatchWindow[str, V_co], Generic[V_co]):
    """One hop (``hop``) to one system (None: the gateway's own store), batched and traced."""

    def __init__(
        self,
        system: System | None,
        hop: str,
        fetch: Fetch,
        default: Callable[[], V_co | None],
        failures: SourceFailures,
        trace: Trace,
    ) -> None:
        super().__init__()
        self.system = system
        self.hop = hop
        self._fetch = fetch
        self._default = default
        self._failures = failures
        self._trace = trace
        self._origins: deque[tuple[str, Call | None]] = deque()
        self._asked_by: str | None = None
        self.after_batch: AfterBatch | None = None
        """Called with each batch's result before the loads resolve (the look-ahead)."""

    def load_ahead(self, keys: Iterable[str], origin: str, cause: Call | None = None) -> None:
        """Start loading ``keys`` now, for fields that will read them later.

        ``origin`` names the look-ahead rule (it labels the batch in the trace);
        ``cause`` is the call whose result gave the keys, when the caller knows it.
        A failure is left for the field that reads the value to report.
        """
        self._asked_by = origin
        token = _cause.set(cause) if cause is not None else None
        try:
            for key in keys:
                self.load(key)
        finally:
            self._asked_by = None
            if token is not None:
                _cause.reset(token)

    def on_open(self) -> int:
        origin = self._asked_by or _origin.get()
        self._origins.append((origin, _cause.get()))
        # A look-ahead rule loads all its keys in one go: no need to wait for more.
        return self.ticks if origin == FIELD else AHEAD_TICKS

    async def batch_load_fn(self, keys: Sequence[str]) -> list[Any]:
        origin, cause = self._origins.popleft() if self._origins else (FIELD, None)
        _origin.set(origin)
        _cause.set(cause)  # loads made while fetching (a derived hop's) share the cause
        if self.system is None:
            return self._answer(keys, await self._fetch(list(keys)))
        if down := self._failures.down(self.system):
            raise down
        call = self._trace.open(self.system, self.hop, len(keys), origin, cause)
        try:
            found = await self._fetch(list(keys))
        except BaseException:
            self._trace.close(call, ok=False)
            raise
        self._trace.close(call, ok=not any(isinstance(v, SourceError) for v in found.values()))
        _cause.set(call)
        return self._answer(keys, found)

    def _answer(self, keys: Sequence[str], found: Found) -> list[Any]:
        if self.after_batch is not None:
            self.after_batch(found)
        return [found[k] if k in found else self._default() for k in keys]


@dataclass(frozen=True)
class Attempt(Generic[V_co]):
    """What a load gave: the value, or the error that kept the system from answering.

    ``error`` None with ``value`` None means "the system said nothing exists";
    an error means "the system could not be asked" — never the same null.
    """

    value: V_co | None
    error: SourceError | None = None
    hop: str = ""

    @property
    def known(self) -> bool:
        return self.error is None

    def report(self, info: Info[Any, Any]) -> None:
        """Report the failure (if any) at the path of the field ``info`` resolves."""
        if self.error is not None:
            info.context.failures.record(self.error, self.hop, info.path.as_list())


async def attempt(loader: SourceLoader[V], key: str) -> Attempt[V]:
    """Load ``key``; a source failure is returned, not raised (nor reported yet)."""
    try:
        value: V | None = await loader.load(key)
    except SourceError as error:
        return Attempt(None, error, loader.hop)
    return Attempt(value, None, loader.hop)


async def load(info: Info[Any, Any], loader: SourceLoader[V], key: str) -> V | None:
    """The loader's value for ``key``; None (reported at this field's path) if it failed."""
    result = await attempt(loader, key)
    result.report(info)
    return result.value


async def per_key(
    ids: Sequence[str], read: Callable[[str], Awaitable[V]]
) -> dict[str, V | SourceError]:
    """One read per id, concurrently; a failed read fails only its own id.

    For systems with no multi-id read (Billing): the batch is a fan-out, and one
    customer's failed list must not cost the others theirs.
    """
    unique = list(dict.fromkeys(ids))
    results = await asyncio.gather(*(read(i) for i in unique), return_exceptions=True)
    found: dict[str, V | SourceError] = {}
    for key, result in zip(unique, results, strict=True):
        if isinstance(result, SourceError):
            found[key] = result
        elif isinstance(result, BaseException):
            raise result
        else:
            found[key] = result
    return found
