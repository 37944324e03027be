"""The answer read model: stored answers for the systems that batch, if an operator wants it.

CRM, Contracts and ERP answer each hop of a query in one batched request, so
they are read live by default. An operator can still put any of them behind
a read model (``REVGRAPH_READS_MODELS``): each hop's answer for each key
(a contract's schedules, an invoice's AR posting, an account's contracts...)
is stored when read live, shared by every replica, and served — with
``via: READ_MODEL`` and its ``asOf`` — while it is younger than
``REVGRAPH_READS_MAX_AGE_S`` and the system has reported no change since.

These systems' webhooks name a record, not the hops it appears in (an AR
posting changes the invoice's posting, the customer's postings and the AR
balance), so a change a system reports — a webhook, or a write the gateway
made there (:meth:`AnswerReadModel.changed`, from every flow step) — drops
every answer of that system read before it; the next query reads live once
and stores again. They have no event log to replay, so the age bound is what
heals a missed webhook. When the system cannot be asked, a stored answer is
served whatever its age, as Billing's read model does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import msgspec

from domain.billing_read_model import Served, Via
from domain.webhooks import WebhookEvent
from sources.errors import (
    SourceCircuitOpen,
    SourceError,
    SourceThrottled,
    SourceTimeout,
    SourceUnavailable,
)
from sources.systems import System
from store.portable import utcnow
from store.stored_answers import StoredAnswer, StoredAnswers

__all__ = ["SYSTEMS", "AnswerReadModel"]

log = logging.getLogger(__name__)

SYSTEMS = frozenset({System.CRM, System.CONTRACTS, System.ERP})
"""The systems this read model can serve (Billing has its own)."""

Fetch = Callable[[list[str]], Awaitable[Mapping[str, Any]]]
"""A hop's batch read: keys → value (or a SourceError for that key alone) by key."""
ServedFetch = Callable[[list[str]], Awaitable[dict[str, "Served[Any] | SourceError"]]]

_UNREACHABLE = (SourceUnavailable, SourceTimeout, SourceCircuitOpen, SourceThrottled)
"""Failures that say nothing about the data: a stored answer may stand in."""


class AnswerReadModel:
    """Stored hop answers for the ``systems`` an operator chose (see the module)."""

    def __init__(
        self,
        store: StoredAnswers,
        systems: frozenset[System],
        *,
        max_age_s: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        unknown = systems - SYSTEMS
        if unknown:
            raise ValueError(f"no answer read model for {sorted(unknown)}")
        self.store = store
        self.systems = systems
        self.max_age = timedelta(seconds=max_age_s)
        self.clock = clock

    def serves(self, system: System | None) -> bool:
        return system in self.systems

    def wrap(self, system: System, hop: str, fetch: Fetch, value_type: Any) -> ServedFetch:
        """``fetch`` answered from the store where it can be (``value_type``: what a
        key's value is, to decode stored answers)."""
        decoder = msgspec.json.Decoder(value_type | None)

        def from_store(found: StoredAnswer) -> Served[Any]:
            return Served(decoder.decode(found.payload), Via.READ_MODEL, found.as_of)

        async def served(keys: list[str]) -> dict[str, Served[Any] | SourceError]:
            stored = await self.store.answers(system, hop, keys)
            now = self.clock()
            answers: dict[str, Served[Any] | SourceError] = {}
            for key, found in stored.items():
                if now - found.as_of <= self.max_age:
                    answers[key] = from_store(found)
            missing = [key for key in keys if key not in answers]
            if not missing:
                return answers
            started = self.clock()
            try:
                live = await fetch(missing)
            except _UNREACHABLE as error:
                live = dict.fromkeys(missing, error)
            kept: dict[str, str] = {}
            for key in missing:
                value = live.get(key)
                if isinstance(value, SourceError):
                    old = stored.get(key)
                    unreachable = isinstance(value, _UNREACHABLE)
                    answers[key] = from_store(old) if unreachable and old is not None else value
                    continue
                answers[key] = Served(value, Via.LIVE, started)
                kept[key] = msgspec.json.encode(value).decode()
            await self.store.keep(system, hop, kept, started)
            return answers

        return served

    async def changed(self, system: System) -> None:
        """``system`` changed (a write through the gateway, or one it reported)."""
        if system in self.systems:
            await self.store.changed(system, self.clock())

    async def on_event(self, event: WebhookEvent) -> None:
        """Inbox handler: a change ``event.source`` reported."""
        await self.changed(event.source)
