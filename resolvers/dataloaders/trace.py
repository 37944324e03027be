"""The per-request trace of upstream calls: which system, which hop, when.

Every batch a loader sends, and every direct call a root field makes, is one
:class:`Call` with its start and end relative to the start of the request and
the reason it was made (``origin``: a field of the graph, or a named
look-ahead rule of :mod:`resolvers.dataloaders.prefetch`). From the calls the
trace computes the dependent round trips the request needed: the longest chain
of calls each of which waited for the one before. A call sent from another
call's result (a look-ahead rule run on a batch that arrived) depends on that
call; any other call is taken to depend on every call that had ended before it
started (conservative: it may have needed any of them). That is the number the
look-ahead exists to keep small, and what the tests assert.

A client sees the trace by sending ``"extensions": {"trace": true}`` with its
request (see :class:`resolvers.extensions.TraceReport`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sources.systems import System

FIELD = "field"
"""The origin of a load a resolver made for the field it resolves."""


@dataclass
class Call:
    """One batch sent to one system (a fan-out system's concurrent requests included)."""

    system: System
    hop: str
    keys: int
    origin: str
    started: float
    finished: float | None = None
    ok: bool = True
    parent: Call | None = None
    """The call whose result this one was sent from, when known."""

    def as_json(self) -> dict[str, Any]:
        return {
            "system": str(self.system),
            "hop": self.hop,
            "keys": self.keys,
            "origin": self.origin,
            "startMs": round(self.started * 1000, 2),
            "endMs": None if self.finished is None else round(self.finished * 1000, 2),
            "ok": self.ok,
        }


@dataclass
class Trace:
    """The upstream calls of one request, in the order they started."""

    started: float = field(default_factory=time.perf_counter)
    calls: list[Call] = field(default_factory=list)

    def now(self) -> float:
        return time.perf_counter() - self.started

    def open(
        self, system: System, hop: str, keys: int, origin: str = FIELD, parent: Call | None = None
    ) -> Call:
        call = Call(system, hop, keys, origin, self.now(), parent=parent)
        self.calls.append(call)
        return call

    def close(self, call: Call, *, ok: bool = True) -> None:
        call.finished = self.now()
        call.ok = ok

    @asynccontextmanager
    async def call(
        self, system: System, hop: str, keys: int = 1, origin: str = FIELD
    ) -> AsyncIterator[Call]:
        """Trace a direct call (a root field's own request) around its ``async with`` body."""
        traced = self.open(system, hop, keys, origin)
        ok = False
        try:
            yield traced
            ok = True
        finally:
            self.close(traced, ok=ok)

    def round_trips(self) -> int:
        """The longest chain of calls each of which waited for the one before."""
        done = sorted((c for c in self.calls if c.finished is not None), key=lambda c: c.started)
        depth: dict[int, int] = {}
        for call in done:
            if call.parent is not None and id(call.parent) in depth:
                depth[id(call)] = 1 + depth[id(call.parent)]
                continue
            before = (
                depth[id(c)]
                for c in done
                if id(c) in depth and c.finished is not None and c.finished <= call.started
            )
            depth[id(call)] = 1 + max(before, default=0)
        return max(depth.values(), default=0)

    def as_json(self) -> dict[str, Any]:
        return {
            "roundTrips": self.round_trips(),
            "calls": [c.as_json() for c in self.calls],
        }
