"""ERP-owned types: revenue schedules and AR postings."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.ownership import Record
from domain.records import ArPosting as PostingModel
from domain.records import RevenueSchedule as ScheduleModel
from resolvers.common import Money, SourceRef, money_or_none
from resolvers.context import AppInfo
from resolvers.dataloaders.loader import load
from resolvers.node import Node, global_id, node_type

if TYPE_CHECKING:
    from resolvers.contracts import Contract


@strawberry.type
class RevenueScheduleLine:
    id: str
    period: str = strawberry.field(description="YYYY-MM")
    amount: Money | None
    recognized: bool


@strawberry.type(description="An ERP revenue schedule for one contract version.")
class RevenueSchedule(Node):
    id: strawberry.ID
    key: strawberry.Private[str]
    contract_version: int
    total: Money | None
    recognized: Money | None
    deferred: Money | None
    start_date: date | None
    end_date: date | None
    contract_id: strawberry.Private[str]
    currency: strawberry.Private[str]

    @classmethod
    def build(cls, s: ScheduleModel) -> RevenueSchedule:
        return cls(
            id=global_id("RevenueSchedule", s.id),
            key=s.id,
            contract_version=s.contract_version,
            total=s.total,
            recognized=s.recognized,
            deferred=s.deferred,
            start_date=s.start,
            end_date=s.end,
            contract_id=s.contract_id,
            currency=s.currency or "",
        )

    @strawberry.field
    async def lines(self, info: AppInfo) -> list[RevenueScheduleLine] | None:
        found = await load(info, info.context.loaders.schedule_lines, self.key)
        if found is None:
            return None
        return [
            RevenueScheduleLine(
                id=line.id,
                period=line.period,
                amount=money_or_none(line.amount, self.currency),
                recognized=line.recognized,
            )
            for line in found
        ]

    @strawberry.field
    async def contract(
        self, info: AppInfo
    ) -> Annotated[Contract, strawberry.lazy("resolvers.contracts")] | None:
        from resolvers.contracts import Contract

        found = await load(info, info.context.loaders.contract, self.contract_id)
        return Contract.build(found) if found else None

    @strawberry.field
    def sources(self, info: AppInfo) -> list[SourceRef]:
        return [info.context.ref(Record.REVENUE_SCHEDULE, self.key)]


@strawberry.type(description="An invoice's posting to accounts receivable in the ERP.")
class ArPosting(Node):
    id: strawberry.ID
    key: strawberry.Private[str]
    number: str | None
    amount: Money | None
    amount_remaining: Money | None
    posted_on: date | None
    status: str | None
    invoice_id: str | None = strawberry.field(description="The billing invoice it posts.")

    @classmethod
    def build(cls, p: PostingModel) -> ArPosting:
        return cls(
            id=global_id("ArPosting", p.id),
            key=p.id,
            number=p.number,
            amount=p.total,
            amount_remaining=p.amount_remaining,
            posted_on=p.posted_on,
            status=p.status,
            invoice_id=p.external_id,
        )

    @strawberry.field
    def sources(self, info: AppInfo) -> list[SourceRef]:
        return [info.context.ref(Record.AR_POSTING, self.key)]


@node_type("RevenueSchedule")
async def _revenueschedule_nodes(info: AppInfo, ids: list[str]) -> list[RevenueSchedule | None]:
    found = await info.context.loaders.schedule.load_many(ids)
    return [RevenueSchedule.build(s) if s else None for s in found]


@node_type("ArPosting")
async def _arposting_nodes(info: AppInfo, ids: list[str]) -> list[ArPosting | None]:
    found = await info.context.loaders.posting_by_id.load_many(ids)
    return [ArPosting.build(p) if p else None for p in found]
