"""Keeps the billing read model current: the catch-up from Billing's event log.

Webhooks (through the inbox) write each change as it happens; this task reads
``/v1/events`` every ``REVGRAPH_READS_CATCH_UP_S`` from the last event seen, so
a delivery that failed or never came is applied anyway, and each successful
pass confirms the whole model current as of its start
(:mod:`domain.billing_read_model`). A failing pass (Billing down) is logged
and tried again next time; the model keeps serving, its ``asOf`` ageing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from domain.billing_read_model import BillingReadModel
from sources.errors import SourceError

log = logging.getLogger(__name__)


class ReadModelKeeper:
    """Runs the billing read model's catch-up in the background."""

    def __init__(self, model: BillingReadModel, every_s: float) -> None:
        self.model = model
        self.every_s = every_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="billing read model catch-up")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                applied = await self.model.catch_up()
                if applied:
                    log.info("billing read model: %d missed events applied", applied)
            except SourceError as exc:
                log.warning("billing read model: catch-up failed (%s); retrying", exc)
            except Exception:  # the store failing: keep trying, never die silently
                log.exception("billing read model: catch-up failed")
            await asyncio.sleep(self.every_s)
