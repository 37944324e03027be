"""Operational metrics of the durable flows, as dashboards and ``/metrics`` see them.

:class:`FlowMetrics` is what :class:`store.flow_metrics.FlowMetricsRepository`
computes from the journal, the idempotency keys, the webhook inbox and the
exception queue; the graph serves it as ``flowMetrics(since)`` and
:mod:`api.metrics` exports it to Prometheus. Percentiles are nearest-rank
(:func:`percentile`), computed here so both store backends agree exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.exception_items import ExceptionQueue
from sources.systems import System

__all__ = [
    "CycleTime",
    "FlowMetrics",
    "PostingOutcomes",
    "StepLatency",
    "percentile",
]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q`` percentile (0 < q ≤ 1) of ``values``; None when empty."""
    if not 0 < q <= 1:
        raise ValueError(f"percentile takes 0 < q <= 1, not {q}")
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True)
class StepLatency:
    """Latency of the steps that succeeded in one system."""

    system: System
    steps: int
    """Succeeded steps with a latency (all of them, not only the sampled ones)."""
    avg_ms: float | None = None
    max_ms: int | None = None
    p50_ms: int | None = None
    """Over the most recent steps (a bounded sample, see the repository)."""
    p95_ms: int | None = None


@dataclass(frozen=True)
class CycleTime:
    """Activation cycle time: contract approved → revenue schedule created in the ERP."""

    count: int
    p50_s: float | None = None
    avg_s: float | None = None
    max_s: float | None = None


@dataclass(frozen=True)
class PostingOutcomes:
    """POST_INVOICE transactions that finished: COMPLETED of COMPLETED + FAILED."""

    completed: int
    failed: int

    @property
    def finished(self) -> int:
        return self.completed + self.failed

    @property
    def success_rate(self) -> float | None:
        """Completed share of the finished ones; None when none finished."""
        return self.completed / self.finished if self.finished else None


@dataclass(frozen=True)
class FlowMetrics:
    """The flow metrics since an instant (None: everything the store still holds).

    Open exceptions are the current count, whatever ``since`` says.
    """

    since: datetime | None
    computed_at: datetime
    step_latency: tuple[StepLatency, ...]
    """One entry per system, every system listed."""
    idempotent_replays: int
    """Keyed mutations answered from their key's first result instead of running again."""
    webhook_duplicates: int
    """Webhook deliveries of an event already received (deduplicated)."""
    activation_cycle: CycleTime
    postings: PostingOutcomes
    open_exceptions: tuple[tuple[ExceptionQueue, int], ...]
    """Unresolved items per queue, every queue listed."""

    @property
    def duplicates_prevented(self) -> int:
        return self.idempotent_replays + self.webhook_duplicates
