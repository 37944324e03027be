"""Fields whose value is already known resolve now, without a coroutine.

An ``async def`` resolver costs a coroutine, strawberry's async wrapper, and a
task when graphql-core gathers it with its siblings — even when the data it
awaits arrived long ago. A resolver written with :func:`then` returns its value
at once when the data it needs is settled, and an awaitable only when it is
not. Data is settled ahead of the fields that read it where a parent resolver
can do it for a whole page in one step (``Customer.contracts`` settles its
contracts' billing, schedules, stages and postings: :func:`settle`), so a
dashboard's rows complete synchronously, level by level.

A resolver that uses :func:`then` is a plain ``def`` declared with
``strawberry.field(graphql_type=...)``: its Python return type is
``T | Awaitable[T]``, which graphql-core handles either way.

A parent that settled the data can go one step further and :func:`prepare`
an object's resolver fields: the values their resolvers would return, when
there is no failure for them to report. The executor
(:class:`~resolvers.executor.PlainFieldsExecutor`) then completes those fields
like plain attributes, without calling the resolver; a field not prepared (or
with arguments, or guarded by a permission class) is resolved as always.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeAlias, TypeVar

from resolvers.dataloaders.loader import Attempt, SourceLoader
from sources.errors import SourceError

T = TypeVar("T")
R = TypeVar("R")
V = TypeVar("V")

Maybe: TypeAlias = T | Awaitable[T]
"""A resolver's value: now if it is known, else later."""

PREPARED = "_prepared"
"""The attribute holding an object's prepared field values (by Python field name)."""


def prepare(target: object, **values: Any) -> None:
    """Prepare resolver fields of ``target`` (Python names → the value each resolver
    would return). Only for values with nothing to report: a failure is reported
    by the field's resolver, at its path."""
    known: dict[str, Any] | None = getattr(target, PREPARED, None)
    if known is None:
        setattr(target, PREPARED, values)
    else:
        known.update(values)


def then(future: asyncio.Future[T], use: Callable[[T], R]) -> Maybe[R]:
    """``use(result)`` now if ``future`` is done, else an awaitable of it.

    A failed future raises now, as awaiting it would.
    """
    if future.done():
        return use(future.result())
    return _later(future, use)


async def _later(future: asyncio.Future[T], use: Callable[[T], R]) -> R:
    return use(await future)


def attempt_then(loader: SourceLoader[V], key: str, use: Callable[[Attempt[V]], R]) -> Maybe[R]:
    """``use`` of what loading ``key`` gave (as :func:`~resolvers.dataloaders.loader.attempt`
    tells it: the value, or the error that kept the system from answering), now
    when the load is settled, else an awaitable of it."""
    future = loader.load(key)
    if future.done():
        return use(outcome(future, loader.hop))
    return _attempt_later(future, loader.hop, use)


async def _attempt_later(
    future: asyncio.Future[Any], hop: str, use: Callable[[Attempt[Any]], R]
) -> R:
    await asyncio.wait((future,))
    return use(outcome(future, hop))


def settled(loader: SourceLoader[V], key: str) -> Attempt[V] | None:
    """What loading ``key`` gave, if it is settled as a value or a source failure
    (None: still pending, or failed unexpectedly — its field will raise that)."""
    future = loader.load(key)
    if not future.done() or future.cancelled():
        return None
    error = future.exception()
    if error is not None and not isinstance(error, SourceError):
        return None
    return outcome(future, loader.hop)


def outcome(future: asyncio.Future[Any], hop: str) -> Attempt[Any]:
    """What a settled load of ``hop`` gave: its value, or the :class:`SourceError` it
    failed with (any other failure is raised)."""
    error = future.exception()
    if error is None:
        return Attempt(future.result(), None, hop)
    if isinstance(error, SourceError):
        return Attempt(None, error, hop)
    raise error


async def settle(waits: Iterable[Awaitable[Any]]) -> None:
    """Wait until every one of ``waits`` is done, failed ones included.

    Failures are not raised here: each field that reads a failed value reports
    it at its own path, as it would have without the settling.
    """
    pending = [asyncio.ensure_future(w) for w in waits]
    for future in pending:
        # One at a time: the loads of a batch settle together, so after the first
        # wake-up most are done (a callback per future would cost one each).
        if not future.done():
            await asyncio.wait((future,))
    for future in pending:
        if not future.cancelled():
            future.exception()  # observed: the fields report it
