"""The consistency cache's numbers as ``revgraph reconcile`` prints them: the store's
:class:`~store.consistency.ConsistencySummary` (what the ``consistencySummary``
query answers) plus the unreconciled checks per rule *and status*.

The summary counts the unreconciled checks per rule but not per status within a
rule, so :func:`read_report` walks the indexes of the non-consistent statuses
(keyset pages of :data:`~store.consistency.MAX_PAGE`): a cost in proportion to the
unreconciled checks, never to the whole cache, and fine for a one-off report (not
for every scrape: ``/metrics`` reads the summary alone).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.consistency.types import CheckStatus, RuleName
from store.consistency import MAX_PAGE, ConsistencyStore, ConsistencySummary

__all__ = ["UNRECONCILED_STATUSES", "ConsistencyReport", "read_report"]

UNRECONCILED_STATUSES: tuple[CheckStatus, ...] = tuple(
    s for s in CheckStatus if s is not CheckStatus.CONSISTENT
)


@dataclass(frozen=True, slots=True)
class ConsistencyReport:
    summary: ConsistencySummary
    unreconciled: dict[RuleName, dict[CheckStatus, int]]
    """Non-consistent checks per rule and status (every rule and status, zeros included)."""


async def read_report(store: ConsistencyStore) -> ConsistencyReport:
    """The summary, then the unreconciled checks per rule (not one atomic read: a
    customer recomputed in between may show in one and not the other)."""
    summary = await store.summary()
    counts: dict[RuleName, dict[CheckStatus, int]] = {
        rule: dict.fromkeys(UNRECONCILED_STATUSES, 0) for rule in RuleName
    }
    for status in UNRECONCILED_STATUSES:
        if not summary.by_status.get(status):
            continue
        after: str | None = None
        while True:
            page = await store.list(status=status, first=MAX_PAGE, after=after)
            for item in page.items:
                counts[item.check.rule][status] += 1
            if not page.has_next_page or page.end_cursor is None:
                break
            after = page.end_cursor
    return ConsistencyReport(summary=summary, unreconciled=counts)
