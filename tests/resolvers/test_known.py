"""Values already known resolve now; the rest later, with the same outcome."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from resolvers.dataloaders.loader import Attempt, SourceLoader
from resolvers.dataloaders.trace import Trace
from resolvers.errors import SourceFailures
from resolvers.known import attempt_then, outcome, settle, then
from sources.errors import SourceNotFound, SourceUnavailable
from sources.systems import System


def loader(answers: dict[str, Any]) -> SourceLoader[str]:
    async def fetch(keys: list[str]) -> dict[str, Any]:
        return {k: answers[k] for k in keys if k in answers}

    return SourceLoader(System.ERP, "things", fetch, lambda: None, SourceFailures(), Trace())


async def test_then_uses_a_settled_value_at_once() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    future.set_result(20)
    assert then(future, lambda v: v + 1) == 21


async def test_then_waits_for_a_pending_value() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    later = then(future, lambda v: v + 1)
    assert inspect.isawaitable(later)
    future.set_result(1)
    assert await later == 2


async def test_then_raises_what_awaiting_would() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    future.set_exception(KeyError("gone"))
    with pytest.raises(KeyError):
        then(future, lambda v: v)


async def test_attempt_then_tells_missing_from_unreachable() -> None:
    down = SourceUnavailable(System.ERP, "down")
    things = loader({"a": "A", "b": down})
    first = attempt_then(things, "a", lambda found: found)
    assert inspect.isawaitable(first)  # not loaded yet: later
    assert await first == Attempt("A", None, "things")
    # Loaded now: at once, value, nothing, or the failure (with its hop).
    assert attempt_then(things, "a", lambda found: found) == Attempt("A", None, "things")
    await settle([things.load("b"), things.load("c")])
    assert attempt_then(things, "c", lambda found: found) == Attempt(None, None, "things")
    failed = attempt_then(things, "b", lambda found: found)
    assert isinstance(failed, Attempt)
    assert failed.error is down and not failed.known


async def test_outcome_raises_what_is_not_a_source_failure() -> None:
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    future.set_exception(RuntimeError("bug"))
    with pytest.raises(RuntimeError):
        outcome(future, "things")
    missing: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    missing.set_exception(SourceNotFound(System.ERP, "no such thing"))
    assert outcome(missing, "things").error is missing.exception()


async def test_settle_waits_for_all_and_raises_none() -> None:
    loop = asyncio.get_running_loop()
    ok: asyncio.Future[int] = loop.create_future()
    bad: asyncio.Future[int] = loop.create_future()
    loop.call_soon(ok.set_result, 1)
    loop.call_soon(bad.set_exception, SourceUnavailable(System.ERP, "down"))

    async def slow() -> int:
        await asyncio.sleep(0.01)
        return 3

    task = asyncio.ensure_future(slow())
    await settle([ok, bad, task])
    assert ok.done() and bad.done() and task.done()
    await settle([])  # nothing to wait for
