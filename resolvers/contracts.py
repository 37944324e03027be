"""Contract-system types: Contract, its lines and amendments, and its cross-system stage."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import strawberry

from domain.consistency.types import SubjectKind
from domain.lifecycle import LifecycleFacts, Stage, derive_stage
from domain.ownership import Record
from domain.records import Contract as ContractModel
from domain.records import Invoice as InvoiceModel
from domain.records import RevenueSchedule as ScheduleModel
from domain.records import Subscription as SubscriptionModel
from resolvers.billing import Invoice, Subscription, invoices_of, subscriptions_of
from resolvers.common import Money, SourceRef, money_or_none
from resolvers.consistency import ConsistencyReport, report_of
from resolvers.context import AppInfo, Derived
from resolvers.dataloaders.loader import Attempt, attempt, load
from resolvers.known import Maybe, outcome, prepare, settle, then
from resolvers.node import Node, global_id, node_type
from resolvers.operations import Transaction, transactions_connection
from resolvers.pagination import Connection
from sources.errors import SourceError
from sources.systems import System

if TYPE_CHECKING:
    from resolvers.customers import Customer
    from resolvers.revenue import RevenueSchedule


class _Billed(NamedTuple):
    subscription: SubscriptionModel | None
    invoices: list[InvoiceModel] | None
    """None when billing could not be read."""
    subscriptions: Attempt[list[SubscriptionModel]]
    all_invoices: Attempt[list[InvoiceModel]]

    def report(self, info: AppInfo, *, invoices: bool = True) -> None:
        """Report billing failures at the path of the field ``info`` resolves."""
        self.subscriptions.report(info)
        if invoices:
            self.all_invoices.report(info)


@strawberry.enum(description="Whether the ERP holds a revenue schedule for a contract.")
class ScheduleStatus(Enum):
    SCHEDULED = "SCHEDULED"
    NOT_SCHEDULED = "NOT_SCHEDULED"
    UNKNOWN = "UNKNOWN"


strawberry.enum(Stage, description="Where a contract is in quote-to-cash, across all systems.")


@strawberry.enum(description="Status in the contract system.")
class ContractStatus(Enum):
    DRAFT = "Draft"
    IN_APPROVAL = "InApproval"
    ACTIVATED = "Activated"
    TERMINATED = "Terminated"
    EXPIRED = "Expired"


@strawberry.type
class ContractLine:
    id: str
    product_id: str | None
    product_name: str | None
    quantity: int
    unit_price: Money
    billing_frequency: str | None


@strawberry.type(description="One version in the contract's amendment history.")
class ContractAmendment:
    id: str
    version: int
    effective_date: date | None
    reason: str | None
    total_value: Money | None


@strawberry.type(description="A contract, owned by the contract/CPQ system.")
class Contract(Node):
    id: strawberry.ID
    key: strawberry.Private[str]
    number: str
    status: str = strawberry.field(description="As the contract system says (Draft, Activated...).")
    version: int
    start_date: date | None
    end_date: date | None
    term_months: int | None
    currency: str
    billing_frequency: str | None
    total_value: Money
    activated_at: datetime | None
    terminated_on: date | None
    account_id: strawberry.Private[str]
    renewal_of: strawberry.Private[str | None]

    @classmethod
    def build(cls, c: ContractModel) -> Contract:
        return cls(
            id=global_id("Contract", c.id),
            key=c.id,
            number=c.number,
            status=c.status.value,
            version=c.version,
            start_date=c.start_date,
            end_date=c.end_date,
            term_months=c.term_months,
            currency=c.currency,
            billing_frequency=c.billing_frequency,
            total_value=c.total_value,
            activated_at=c.activated_at,
            terminated_on=c.terminated_on,
            account_id=c.account_id,
            renewal_of=c.renewal_of,
        )

    @strawberry.field
    async def customer(
        self, info: AppInfo
    ) -> Annotated[Customer, strawberry.lazy("resolvers.customers")] | None:
        from resolvers.customers import customer_by_id

        return await customer_by_id(info, self.account_id)

    @strawberry.field(description="The lines of the current version.")
    async def lines(self, info: AppInfo) -> list[ContractLine] | None:
        found = await load(info, info.context.loaders.contract_lines, self.key)
        if found is None:
            return None
        return [
            ContractLine(
                id=line.id,
                product_id=line.product_id,
                product_name=line.product_name,
                quantity=line.quantity,
                unit_price=Money.exact(line.unit_price, self.currency),
                billing_frequency=line.billing_frequency,
            )
            for line in found
            if line.version == self.version
        ]

    @strawberry.field(description="Every version, oldest first.")
    async def amendments(self, info: AppInfo) -> list[ContractAmendment] | None:
        found = await load(info, info.context.loaders.contract_versions, self.key)
        if found is None:
            return None
        return [
            ContractAmendment(
                id=v.id,
                version=v.version,
                effective_date=v.effective_date,
                reason=v.reason,
                total_value=money_or_none(v.total_value, self.currency),
            )
            for v in found
        ]

    def _billing(self, info: AppInfo) -> asyncio.Future[_Billed]:
        return info.context.once((Derived.BILLED, self.key), lambda: self._load_billing(info))

    async def _load_billing(self, info: AppInfo) -> _Billed:
        # Both lists are requested before either is awaited: one billing hop.
        subs, found = await asyncio.gather(
            subscriptions_of(info, self.account_id), invoices_of(info, self.account_id)
        )
        return self._billed_from(subs, found)

    def _billed_from(
        self, subs: Attempt[list[SubscriptionModel]], found: Attempt[list[InvoiceModel]]
    ) -> _Billed:
        """This contract's subscription (the latest, if re-created) and its invoices."""
        mine = [s for s in subs.value or [] if s.contract_id == self.key]
        sub = max(mine, key=lambda s: s.created_at) if mine else None
        invoices = None
        if subs.known and found.known:
            invoices = [
                i for i in found.value or [] if sub is not None and i.subscription_id == sub.id
            ]
        return _Billed(sub, invoices, subs, found)

    def _schedule(self, info: AppInfo) -> asyncio.Future[Attempt[ScheduleModel]]:
        return info.context.once((Derived.SCHEDULE, self.key), lambda: self._load_schedule(info))

    async def _load_schedule(self, info: AppInfo) -> Attempt[ScheduleModel]:
        return _latest_schedule(await attempt(info.context.loaders.schedules, self.key))

    # The fields below read derived data through `then`: at once when it is settled
    # (Customer.contracts settles a page's in one step), else when it arrives.

    @strawberry.field(
        description="The billing subscription for this contract.",
        graphql_type=Subscription | None,
    )
    def subscription(self, info: AppInfo) -> Maybe[Subscription | None]:
        def use(billed: _Billed) -> Subscription | None:
            billed.report(info, invoices=False)
            return self._subscription_of(billed)

        return then(self._billing(info), use)

    def _subscription_of(self, billed: _Billed) -> Subscription | None:
        sub = billed.subscription
        return Subscription.build(sub, self.account_id) if sub else None

    @strawberry.field(
        description="Invoices billed for this contract, newest first.",
        graphql_type=list[Invoice] | None,
    )
    def invoices(self, info: AppInfo) -> Maybe[list[Invoice] | None]:
        def use(billed: _Billed) -> list[Invoice] | None:
            billed.report(info)
            return self._invoices_of(billed)

        return then(self._billing(info), use)

    def _invoices_of(self, billed: _Billed) -> list[Invoice] | None:
        found = billed.invoices
        return None if found is None else [Invoice.build(i, self.account_id) for i in found]

    @strawberry.field(
        description="The latest revenue schedule in the ERP.",
        graphql_type=Annotated["RevenueSchedule", strawberry.lazy("resolvers.revenue")] | None,
    )
    def revenue_schedule(self, info: AppInfo) -> Maybe[RevenueSchedule | None]:
        def use(found: Attempt[ScheduleModel]) -> RevenueSchedule | None:
            found.report(info)
            return _schedule_of(found)

        return then(self._schedule(info), use)

    @strawberry.field(
        description="Whether the ERP has a revenue schedule for this contract; UNKNOWN "
        "when the ERP could not be read (then `revenueSchedule` is null without meaning "
        "NOT_SCHEDULED).",
        graphql_type=ScheduleStatus,
    )
    def revenue_schedule_status(self, info: AppInfo) -> Maybe[ScheduleStatus]:
        return then(self._schedule(info), _schedule_status)

    @strawberry.field(
        description="End-to-end lifecycle stage, derived from all systems; null only "
        "when a system this contract's stage depends on could not be read for it.",
        graphql_type=Stage | None,
    )
    def stage(self, info: AppInfo) -> Maybe[Stage | None]:
        stage = self.derive_stage(info)
        if stage.done() and stage.result() is not None:
            return stage.result()
        return self._stage_or_why_not(info)

    async def _stage_or_why_not(self, info: AppInfo) -> Stage | None:
        stage = await self.derive_stage(info)
        if stage is None:
            billed, schedule, renewal = await asyncio.gather(
                self._billing(info), self._schedule(info), self._renewal(info)
            )
            for failed in (billed.subscriptions, billed.all_invoices, schedule, renewal):
                failed.report(info)
        return stage

    def derive_stage(self, info: AppInfo) -> asyncio.Future[Stage | None]:
        """The cross-system stage (None if a system it needs could not be read).

        Started at once, so stages of many contracts share their hops.
        """
        return info.context.once((Derived.STAGE, self.key), lambda: self._derive_stage(info))

    async def _derive_stage(self, info: AppInfo) -> Stage | None:
        scheduled = self._schedule(info)  # started now: the ERP hop overlaps billing's
        renewal = self._renewal(info)
        billed = await self._billing(info)
        return self._stage_from(billed, await scheduled, await renewal)

    def _stage_from(
        self, billed: _Billed, found: Attempt[ScheduleModel], renewed: Attempt[bool]
    ) -> Stage | None:
        if billed.invoices is None or not found.known or renewed.value is None:
            return None  # an input of this contract's stage is unknown
        schedule = found.value
        facts = LifecycleFacts(
            contract_status=self.status,
            contract_version=self.version,
            renewed=renewed.value,
            subscription_status=billed.subscription.status if billed.subscription else None,
            invoice_statuses=tuple(i.status for i in billed.invoices or ()),
            recognized=schedule.recognized if schedule else None,
        )
        return derive_stage(facts)

    async def _renewal(self, info: AppInfo) -> Attempt[bool]:
        return self._renewed_from(
            await attempt(info.context.loaders.contracts_by_account, self.account_id)
        )

    def _renewed_from(self, siblings: Attempt[list[ContractModel]]) -> Attempt[bool]:
        """Whether a later contract renews this one (or why the contract system could not say)."""
        if not siblings.known:
            return Attempt(None, siblings.error, siblings.hop)
        return Attempt(any(c.renewal_of == self.key for c in siblings.value or []))

    def _prepare(self, info: AppInfo, below: frozenset[str]) -> None:
        """Prepare the fields ``below`` asks for whose data is settled and has no
        failure to report (:func:`resolvers.known.prepare`): the executor then
        completes them without calling their resolvers."""
        values: dict[str, Any] = {}
        if below & _BILLED_BELOW and _succeeded(billing := self._billing(info)):
            billed = billing.result()
            if "subscription" in below and billed.subscriptions.known:
                values["subscription"] = self._subscription_of(billed)
            if "invoices" in below and billed.invoices is not None:
                invoices = self._invoices_of(billed) or []
                if below & _POSTINGS_BELOW:
                    for invoice in invoices:
                        invoice.prepare_posting(info.context.loaders.posting)
                values["invoices"] = invoices
        if below & _SCHEDULE_BELOW and _succeeded(schedule := self._schedule(info)):
            found = schedule.result()
            values["revenue_schedule_status"] = _schedule_status(found)
            if found.known:
                values["revenue_schedule"] = _schedule_of(found)
        stage = self.derive_stage(info) if "stage" in below else None
        if stage is not None and _succeeded(stage) and stage.result() is not None:
            values["stage"] = stage.result()  # (a null stage: its resolver says why)
        prepare(self, **values)

    def _settle(self, info: AppInfo, page: _Page) -> asyncio.Future[Any] | None:
        """Put this contract's derived data, read from ``page``'s settled loads, in
        the request's memo (where a field started deriving it already, that stays);
        the derivation still to wait for, if any."""
        context, loaders = info.context, info.context.loaders
        billed = schedule = None
        if page.billing:
            billed = context.provide(
                (Derived.BILLED, self.key),
                lambda: self._billed_from(
                    outcome(page.subscriptions[self.account_id], loaders.account_subscriptions.hop),
                    outcome(page.invoices[self.account_id], loaders.account_invoices.hop),
                ),
            )
        if page.schedules:
            schedule = context.provide(
                (Derived.SCHEDULE, self.key),
                lambda: _latest_schedule(outcome(page.schedules[self.key], loaders.schedules.hop)),
            )
        if not page.stage:
            return None
        assert billed is not None and schedule is not None  # a stage needs both
        if not (_succeeded(billed) and _succeeded(schedule)):
            return self.derive_stage(info)
        return context.provide(
            (Derived.STAGE, self.key),
            lambda: self._stage_from(
                billed.result(),
                schedule.result(),
                self._renewed_from(
                    outcome(page.siblings[self.account_id], loaders.contracts_by_account.hop)
                ),
            ),
        )

    @strawberry.field
    def sources(self, info: AppInfo) -> list[SourceRef]:
        return [info.context.ref(Record.CONTRACT, self.key)]

    @strawberry.field(
        description="Where the systems disagree about this contract, from the cached view "
        "(`fresh: true` recomputes its customer live)."
    )
    async def consistency(self, info: AppInfo, fresh: bool = False) -> ConsistencyReport | None:
        return await report_of(info, SubjectKind.CONTRACT, self.key, fresh)

    @strawberry.field(
        description="The transactions (flows) that changed this contract, newest first; "
        "read from the gateway's journal, no upstream call."
    )
    async def timeline(
        self, info: AppInfo, first: int | None = None, after: str | None = None
    ) -> Connection[Transaction] | None:
        return await transactions_connection(info, first=first, after=after, subject=self.key)


_BILLED_BELOW = frozenset({"subscription", "invoices", "erpPosting", "postingStatus"})
_SCHEDULE_BELOW = frozenset({"revenueSchedule", "revenueScheduleStatus"})
_POSTINGS_BELOW = frozenset({"erpPosting", "postingStatus"})


@dataclass
class _Page:
    """The loads a page of contracts' derived data is read from (futures by key)."""

    stage: bool
    billing: bool
    subscriptions: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    invoices: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    siblings: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    schedules: dict[str, asyncio.Future[Any]] = field(default_factory=dict)


async def settle_contracts(info: AppInfo, contracts: Sequence[Contract]) -> None:
    """Settle, in one step, what the fields below ``info``'s field read of ``contracts``.

    Their billing, schedules, stages and their invoices' postings (as far as
    the selection asks for them) are loaded together — the hops the fields
    would have caused, batched as before — and derived here once the loads are
    in, so each contract's fields then resolve at once (:mod:`resolvers.known`)
    instead of each field (and each derivation) awaiting on its own. Failures
    are left for the fields to report.
    """
    below = info.context.lookahead.below(info)
    stage = "stage" in below
    loaders = info.context.loaders
    accounts = list(dict.fromkeys(c.account_id for c in contracts))
    page = _Page(stage=stage, billing=stage or bool(below & _BILLED_BELOW))
    if page.billing:
        page.subscriptions = {a: loaders.account_subscriptions.load(a) for a in accounts}
        page.invoices = {a: loaders.account_invoices.load(a) for a in accounts}
    if stage:
        page.siblings = {a: loaders.contracts_by_account.load(a) for a in accounts}
    if stage or below & _SCHEDULE_BELOW:
        page.schedules = {c.key: loaders.schedules.load(c.key) for c in contracts}
    await settle(
        [
            *page.subscriptions.values(),
            *page.invoices.values(),
            *page.siblings.values(),
            *page.schedules.values(),
        ]
    )
    await settle(
        [waiting for c in contracts if (waiting := c._settle(info, page)) is not None]
        + [c._billing(info) for c in contracts if page.billing]
    )
    if below & _POSTINGS_BELOW:
        posting = info.context.loaders.posting
        await settle(
            posting.load(invoice.id)
            for contract in contracts
            if _succeeded(billed := contract._billing(info))
            for invoice in billed.result().invoices or ()
        )
    for contract in contracts:
        contract._prepare(info, below)


def _succeeded(future: asyncio.Future[Any]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


def _schedule_of(found: Attempt[ScheduleModel]) -> RevenueSchedule | None:
    from resolvers.revenue import RevenueSchedule

    return RevenueSchedule.build(found.value) if found.value else None


def _latest_schedule(found: Attempt[list[ScheduleModel]]) -> Attempt[ScheduleModel]:
    """The latest of a contract's revenue schedules (or why the ERP could not say)."""
    schedules = found.value
    latest = max(schedules, key=lambda s: s.contract_version) if schedules else None
    return Attempt(latest, found.error, found.hop)


def _schedule_status(found: Attempt[ScheduleModel]) -> ScheduleStatus:
    if not found.known:
        return ScheduleStatus.UNKNOWN
    return ScheduleStatus.SCHEDULED if found.value else ScheduleStatus.NOT_SCHEDULED


async def contract_by_number(info: AppInfo, number: str) -> Contract | None:
    """The contract with this number, or None (also when the contract system failed)."""
    try:
        async with info.context.trace.call(System.CONTRACTS, "contractByNumber"):
            found = await info.context.clients.contracts.contract_by_number(number)
    except SourceError as error:
        info.context.failures.record(error, "contractByNumber", info.path.as_list())
        return None
    if found is None:
        return None
    info.context.loaders.contract.prime(found.id, found)
    return Contract.build(found)


@node_type("Contract")
async def _contract_nodes(info: AppInfo, ids: list[str]) -> list[Contract | None]:
    found = await info.context.loaders.contract.load_many(list(ids))
    return [Contract.build(c) if c else None for c in found]
