"""The consistency view in the graph: reports per entity, listings and tiles for dashboards.

Everything here is served from the cached view (``store/consistency.py``):
``fromCache`` and ``checkedAt`` say how fresh an answer is, and ``fresh: true``
recomputes one customer live. Recomputing happens elsewhere (webhooks, flows,
sweeps: ``api/consistency_keeper.py``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from domain.consistency.types import Check, CheckStatus, RuleName, SubjectKind
from resolvers.common import ExceptionQueue, Money
from resolvers.context import AppInfo
from resolvers.errors import UserInputError
from resolvers.pagination import Connection, Edge, connection, page_size
from resolvers.permissions import SeesUpstreamErrors
from resolvers.resources import resources_of
from resolvers.sanitize import sanitize_optional
from sources.errors import SourceError
from sources.systems import System
from store.consistency import CheckPage, Report, StoredCheck, cursor_of
from store.reconciliation import ReconciliationRun as RunRecord

strawberry.enum(
    CheckStatus,
    description="CONSISTENT, PENDING (inside its window), DRIFT, "
    "MISSING, or UNKNOWN (a system could not be read: never a verdict).",
)
strawberry.enum(SubjectKind, description="What a consistency check is about.")
# Rule names contain dots (customer.links): GraphQL gets the members' names
# (CUSTOMER_LINKS), and `ruleName` gives the dotted name.
strawberry.enum(RuleName, name="ConsistencyRule", description="A consistency rule.")


@strawberry.type(description="What one system holds for the compared attribute.")
class ConsistencyValue:
    system: System
    attribute: str | None = strawberry.field(description="The attribute compared, if several.")
    value: str | None
    money: Money | None
    record_id: str | None = strawberry.field(description="The record it was read from.")
    readable: bool = strawberry.field(description="False when the system could not be read.")


@strawberry.type(description="The flow that would bring the systems in line.")
class ConsistencyRepair:
    kind: str = strawberry.field(description="A TransactionKind, e.g. AMEND_CONTRACT.")
    description: str
    correlation_id: str | None = strawberry.field(
        description="A parked transaction to retry or replay, when there is one."
    )


@strawberry.type(description="One rule's verdict on one subject, each system's value side by side.")
class ConsistencyCheck:
    rule: RuleName
    rule_name: str = strawberry.field(description="The rule's dotted name (customer.links).")
    subject_kind: SubjectKind
    subject_id: str
    customer_id: str = strawberry.field(description="The CRM account the subject belongs to.")
    status: CheckStatus
    message: str
    systems: list[System]
    values: list[ConsistencyValue]
    variance: Money | None
    queue: ExceptionQueue | None = strawberry.field(description="Who owns fixing it.")
    repair: ConsistencyRepair | None
    checked_at: datetime
    first_seen: datetime | None = strawberry.field(
        description="Since when it has been unreconciled (null when consistent)."
    )

    @classmethod
    def build(cls, stored: StoredCheck) -> ConsistencyCheck:
        check: Check = stored.check
        repair = check.repair
        return cls(
            rule=check.rule,
            rule_name=check.rule.value,
            subject_kind=check.subject_kind,
            subject_id=check.subject_id,
            customer_id=check.customer_id,
            status=check.status,
            message=check.message,
            systems=list(check.systems),
            values=[
                ConsistencyValue(
                    system=v.system,
                    attribute=v.attribute,
                    value=v.value,
                    money=v.money,
                    record_id=v.record_id,
                    readable=v.readable,
                )
                for v in check.values
            ],
            variance=check.variance,
            queue=check.queue,
            repair=ConsistencyRepair(
                kind=repair.kind,
                description=repair.description,
                correlation_id=repair.correlation_id,
            )
            if repair
            else None,
            checked_at=stored.computed_at,
            first_seen=stored.first_seen,
        )


@strawberry.type(description="A subject's checks and their worst status.")
class ConsistencyReport:
    subject_kind: SubjectKind
    subject_id: str
    status: CheckStatus = strawberry.field(description="The worst of its checks.")
    checked_at: datetime
    from_cache: bool = strawberry.field(description="False when computed live for this answer.")
    checks: list[ConsistencyCheck]

    @classmethod
    def build(cls, report: Report) -> ConsistencyReport:
        return cls(
            subject_kind=report.subject_kind,
            subject_id=report.subject_id,
            status=report.status,
            checked_at=report.computed_at,
            from_cache=report.from_cache,
            checks=[ConsistencyCheck.build(c) for c in report.checks],
        )


@strawberry.type
class StatusCount:
    status: CheckStatus
    count: int


@strawberry.type
class RuleCount:
    rule: RuleName
    rule_name: str
    count: int = strawberry.field(description="Unreconciled (not CONSISTENT) checks of this rule.")
    checks: int = strawberry.field(description="Checks of this rule, whatever their status.")


@strawberry.type(description="Dashboard tiles: counts, variance, the oldest unresolved.")
class ConsistencySummary:
    total: int
    unreconciled: int = strawberry.field(description="Checks that are not CONSISTENT.")
    by_status: list[StatusCount]
    by_rule: list[RuleCount]
    variance: list[Money] = strawberry.field(
        description="Σ |variance| of unreconciled checks, per currency."
    )
    oldest_unresolved: datetime | None
    customers: int = strawberry.field(description="Customers in the view.")
    checked_at: datetime | None = strawberry.field(description="The newest verdict's time.")
    from_cache: bool


@strawberry.type(description="A rule's effective policy.")
class RulePolicy:
    rule: RuleName
    rule_name: str
    queue: ExceptionQueue
    absolute: list[Money] = strawberry.field(description="Absolute thresholds per currency.")
    percent: str | None
    combine: str | None = strawberry.field(description="AND or OR of the two thresholds.")
    posting_window_seconds: int | None
    activation_slo_seconds: int | None


@strawberry.type(description="The consistency policy in force (validated at start-up).")
class ConsistencyPolicy:
    source: str
    rules: list[RulePolicy]


@strawberry.type(description="One reconciliation sweep, to poll while it runs.")
class ReconciliationRun:
    id: int
    status: str = strawberry.field(description="RUNNING, COMPLETED, FAILED or INTERRUPTED.")
    started_at: datetime
    finished_at: datetime | None
    processed: int = strawberry.field(description="Customers recomputed so far.")
    total: int | None = strawberry.field(description="Customers to recompute, when known.")
    counts: list[StatusCount]
    error: str | None = strawberry.field(
        description="Why the run stopped, sanitized (every role but viewer).",
        permission_classes=[SeesUpstreamErrors],
    )

    @classmethod
    def build(cls, run: RunRecord) -> ReconciliationRun:
        return cls(
            id=run.id,
            status=str(run.status),
            started_at=run.started_at,
            finished_at=run.finished_at,
            processed=run.processed,
            total=run.total,
            counts=[
                StatusCount(status=CheckStatus(k), count=v)
                for k, v in sorted(run.counts.items())
                if k in CheckStatus.__members__
            ],
            error=sanitize_optional(run.error),
        )


# --- reads ---------------------------------------------------------------------------


def keeper_of(info: AppInfo) -> Any:
    return resources_of(info).consistency


def _failed(info: AppInfo, error: SourceError) -> None:
    info.context.failures.record(error, "consistency", info.path.as_list())


async def report_of(
    info: AppInfo, kind: SubjectKind, subject_id: str, fresh: bool
) -> ConsistencyReport | None:
    """A subject's report from the view; a live recompute that cannot ask a system is
    reported in ``errors`` (the field is null, never an empty verdict)."""
    try:
        found = await keeper_of(info).view.report(kind, subject_id, fresh=fresh)
    except SourceError as error:
        _failed(info, error)
        return None
    return ConsistencyReport.build(found) if found else None


def _page(page: CheckPage, after: str | None) -> Connection[ConsistencyCheck]:
    edges = [
        Edge(cursor=cursor_of(item.check), node=ConsistencyCheck.build(item)) for item in page.items
    ]
    return connection(edges, has_next=page.has_next_page, has_previous=after is not None)


async def list_checks(
    info: AppInfo,
    *,
    status: CheckStatus | None,
    rule: RuleName | None,
    system: System | None,
    queue: ExceptionQueue | None,
    first: int | None,
    after: str | None,
) -> Connection[ConsistencyCheck]:
    size = page_size(first)
    try:
        page = await keeper_of(info).view.list(
            status=status, rule=rule, system=system, queue=queue, first=size, after=after
        )
    except ValueError as error:
        raise UserInputError(f"Bad argument: {error}", argument="after") from error
    return _page(page, after)


async def summary_of(info: AppInfo) -> ConsistencySummary:
    found = await keeper_of(info).view.summary()
    return ConsistencySummary(
        total=found.total,
        unreconciled=found.unreconciled,
        by_status=[StatusCount(status=s, count=found.by_status.get(s, 0)) for s in CheckStatus],
        by_rule=[
            RuleCount(
                rule=r,
                rule_name=r.value,
                count=found.unreconciled_by_rule.get(r, 0),
                checks=found.by_rule.get(r, 0),
            )
            for r in RuleName
        ],
        variance=list(found.variance),
        oldest_unresolved=found.oldest_unresolved,
        customers=found.customers,
        checked_at=found.computed_at,
        from_cache=found.from_cache,
    )


def policy_of(info: AppInfo) -> ConsistencyPolicy:
    effective = keeper_of(info).view.policy.effective()
    return ConsistencyPolicy(
        source=str(effective["source"]),
        rules=[
            RulePolicy(
                rule=RuleName(rule["rule"]),
                rule_name=rule["rule"],
                queue=ExceptionQueue(rule["queue"]),
                absolute=[
                    Money.exact(Decimal(amount), currency)
                    for currency, amount in sorted((rule.get("absolute") or {}).items())
                ],
                percent=rule.get("percent"),
                combine=rule.get("combine"),
                posting_window_seconds=rule.get("posting_window_seconds"),
                activation_slo_seconds=rule.get("activation_slo_seconds"),
            )
            for rule in effective["rules"]
        ],
    )


async def run_of(info: AppInfo, run_id: int | None) -> ReconciliationRun | None:
    runs = keeper_of(info).runs
    found = await (runs.get(run_id) if run_id is not None else runs.latest())
    return ReconciliationRun.build(found) if found else None


__all__ = [
    "ConsistencyCheck",
    "ConsistencyPolicy",
    "ConsistencyReport",
    "ConsistencySummary",
    "ReconciliationRun",
    "list_checks",
    "policy_of",
    "report_of",
    "run_of",
    "summary_of",
]
