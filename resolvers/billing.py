"""Billing-owned types: Subscription, Invoice and their lines."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.consistency.types import SubjectKind
from domain.ownership import Record
from domain.records import ArPosting as PostingModel
from domain.records import Invoice as InvoiceModel
from domain.records import Subscription as SubscriptionModel
from resolvers.common import Money, SourceRef
from resolvers.consistency import ConsistencyReport, report_of
from resolvers.context import AppInfo
from resolvers.dataloaders.loader import Attempt, SourceLoader, attempt, load
from resolvers.known import Maybe, attempt_then, prepare, settled
from resolvers.node import Node, global_id, node_type

if TYPE_CHECKING:
    from resolvers.contracts import Contract
    from resolvers.customers import Customer
    from resolvers.revenue import ArPosting


async def subscriptions_of(info: AppInfo, account_id: str) -> Attempt[list[SubscriptionModel]]:
    """A CRM account's subscriptions in billing (or why billing could not say)."""
    return await attempt(info.context.loaders.account_subscriptions, account_id)


async def invoices_of(info: AppInfo, account_id: str) -> Attempt[list[InvoiceModel]]:
    """A CRM account's invoices in billing (or why billing could not say)."""
    return await attempt(info.context.loaders.account_invoices, account_id)


async def _owner(
    info: AppInfo, customer_id: str | None, billing_customer_id: str
) -> Customer | None:
    """The (CRM) customer a billing record belongs to.

    Known from the parent when reached through a customer or contract; for one
    fetched by id, read from the billing customer's cross-reference.
    """
    from resolvers.customers import customer_by_id

    if customer_id is None:
        billing = await load(info, info.context.loaders.billing_customer, billing_customer_id)
        customer_id = billing.crm_account_id if billing else None
    return await customer_by_id(info, customer_id)


@strawberry.type
class SubscriptionItem:
    id: str
    product: str | None
    quantity: int
    unit_price: Money
    interval: str | None


@strawberry.type(
    name="BillingSubscription",
    description="A subscription in billing; it bills one contract version.",
)
class Subscription(Node):
    id: strawberry.ID
    key: strawberry.Private[str]
    status: str
    currency: str
    current_period_start: datetime | None
    current_period_end: datetime | None
    started_at: datetime | None
    canceled_at: datetime | None
    model: strawberry.Private[SubscriptionModel]
    recurring_amount: Money = strawberry.field(description="Per billing interval.")
    contract_version: int | None
    contract_id: strawberry.Private[str | None]
    billing_customer_id: strawberry.Private[str]
    customer_id: strawberry.Private[str | None]

    @classmethod
    def build(cls, sub: SubscriptionModel, customer_id: str | None) -> Subscription:
        return cls(
            id=global_id("Subscription", sub.id),
            key=sub.id,
            status=sub.status.value,
            currency=sub.currency,
            current_period_start=sub.current_period_start,
            current_period_end=sub.current_period_end,
            started_at=sub.started_at,
            canceled_at=sub.canceled_at,
            model=sub,
            recurring_amount=sub.recurring_amount,
            contract_version=sub.contract_version,
            contract_id=sub.contract_id,
            billing_customer_id=sub.customer_id,
            customer_id=customer_id,
        )

    @strawberry.field
    def items(self) -> list[SubscriptionItem]:
        # Built on demand: most queries don't ask for items.
        return [
            SubscriptionItem(
                id=i.id,
                product=i.product,
                quantity=i.quantity,
                unit_price=i.unit_price,
                interval=i.interval,
            )
            for i in self.model.items
        ]

    @strawberry.field
    async def contract(
        self, info: AppInfo
    ) -> Annotated[Contract, strawberry.lazy("resolvers.contracts")] | None:
        from resolvers.contracts import Contract

        if self.contract_id is None:
            return None
        found = await load(info, info.context.loaders.contract, self.contract_id)
        return Contract.build(found) if found else None

    @strawberry.field
    async def customer(
        self, info: AppInfo
    ) -> Annotated[Customer, strawberry.lazy("resolvers.customers")] | None:
        return await _owner(info, self.customer_id, self.billing_customer_id)

    @strawberry.field
    async def invoices(self, info: AppInfo) -> list[Invoice] | None:
        info.context.lookahead.expect(info)
        found = await load(info, info.context.loaders.invoices, self.billing_customer_id)
        if found is None:
            return None
        return [Invoice.build(i, self.customer_id) for i in found if i.subscription_id == self.key]

    @strawberry.field
    def sources(self, info: AppInfo) -> list[SourceRef]:
        return [info.context.ref(Record.SUBSCRIPTION, self.key)]


@strawberry.enum(description="Whether an invoice has reached accounts receivable in the ERP.")
class PostingStatus(Enum):
    POSTED = "POSTED"
    NOT_POSTED = "NOT_POSTED"
    UNKNOWN = "UNKNOWN"
    """The ERP could not be read: the invoice may or may not be posted."""


@strawberry.type
class InvoiceLine:
    id: str
    description: str | None
    quantity: int | None
    amount: Money
    period_start: datetime | None
    period_end: datetime | None


@strawberry.type(description="An invoice in billing; posted to AR in the ERP.")
class Invoice(Node):
    id: strawberry.ID
    key: strawberry.Private[str]
    number: str | None
    status: str
    currency: str
    total: Money
    amount_due: Money
    amount_paid: Money
    issued_at: datetime | None = strawberry.field(description="When it was finalized.")
    created_at: datetime
    due_date: date | None
    period_start: datetime | None
    period_end: datetime | None
    model: strawberry.Private[InvoiceModel]
    subscription_id: strawberry.Private[str | None]
    billing_customer_id: strawberry.Private[str]
    customer_id: strawberry.Private[str | None]

    @classmethod
    def build(cls, inv: InvoiceModel, customer_id: str | None) -> Invoice:
        return cls(
            id=global_id("Invoice", inv.id),
            key=inv.id,
            number=inv.number,
            status=inv.status.value,
            currency=inv.currency,
            total=inv.total,
            amount_due=inv.amount_due,
            amount_paid=inv.amount_paid,
            issued_at=inv.finalized_at,
            created_at=inv.created_at,
            due_date=inv.due_date,
            period_start=inv.period_start,
            period_end=inv.period_end,
            model=inv,
            subscription_id=inv.subscription_id,
            billing_customer_id=inv.customer_id,
            customer_id=customer_id,
        )

    @strawberry.field(
        description="Where the systems disagree about this invoice, from the cached view "
        "(`fresh: true` recomputes its customer live)."
    )
    async def consistency(self, info: AppInfo, fresh: bool = False) -> ConsistencyReport | None:
        return await report_of(info, SubjectKind.INVOICE, self.key, fresh)

    @strawberry.field(description="The first lines Stripe embeds in the invoice (up to 10).")
    def lines(self) -> list[InvoiceLine]:
        # Built on demand: most queries don't ask for lines.
        return [
            InvoiceLine(
                id=line.id,
                description=line.description,
                quantity=line.quantity,
                amount=line.amount,
                period_start=line.period_start,
                period_end=line.period_end,
            )
            for line in self.model.lines
        ]

    @strawberry.field(
        description="The AR posting of this invoice in the ERP; null when not posted, or "
        "when the ERP could not be read (`postingStatus` tells which).",
        graphql_type=Annotated["ArPosting", strawberry.lazy("resolvers.revenue")] | None,
    )
    def erp_posting(self, info: AppInfo) -> Maybe[ArPosting | None]:
        from resolvers.revenue import ArPosting

        def use(found: Attempt[PostingModel]) -> ArPosting | None:
            found.report(info)
            return ArPosting.build(found.value) if found.value else None

        return attempt_then(info.context.loaders.posting, self.key, use)

    def prepare_posting(self, postings: SourceLoader[PostingModel]) -> None:
        """Prepare ``erpPosting`` and ``postingStatus`` from a settled load of this
        invoice's posting (:func:`resolvers.known.prepare`); a failed load prepares
        only the status (``erpPosting``'s resolver reports the failure)."""
        found = settled(postings, self.key)
        if found is None:
            return
        if not found.known:
            prepare(self, posting_status=PostingStatus.UNKNOWN)
            return
        from resolvers.revenue import ArPosting

        posting = ArPosting.build(found.value) if found.value else None
        prepare(self, erp_posting=posting, posting_status=_posting_status(found))

    @strawberry.field(
        description="Whether the ERP holds an AR posting of this invoice.",
        graphql_type=PostingStatus,
    )
    def posting_status(self, info: AppInfo) -> Maybe[PostingStatus]:
        return attempt_then(info.context.loaders.posting, self.key, _posting_status)

    @strawberry.field
    async def subscription(self, info: AppInfo) -> Subscription | None:
        if self.subscription_id is None:
            return None
        subs = await load(info, info.context.loaders.subscriptions, self.billing_customer_id)
        match = next((s for s in subs or [] if s.id == self.subscription_id), None)
        return Subscription.build(match, self.customer_id) if match else None

    @strawberry.field
    async def customer(
        self, info: AppInfo
    ) -> Annotated[Customer, strawberry.lazy("resolvers.customers")] | None:
        return await _owner(info, self.customer_id, self.billing_customer_id)

    @strawberry.field
    def sources(self, info: AppInfo) -> list[SourceRef]:
        return [info.context.ref(Record.INVOICE, self.key)]


def _posting_status(found: Attempt[PostingModel]) -> PostingStatus:
    if not found.known:
        return PostingStatus.UNKNOWN
    return PostingStatus.POSTED if found.value else PostingStatus.NOT_POSTED


@node_type("Subscription")
async def _subscription_nodes(info: AppInfo, ids: list[str]) -> list[Subscription | None]:
    return await _subscriptions(info.context.loaders.subscription, ids)


@node_type("Subscription", live=True)
async def _live_subscription_nodes(info: AppInfo, ids: list[str]) -> list[Subscription | None]:
    return await _subscriptions(info.context.loaders.live_subscription, ids)


async def _subscriptions(
    loader: SourceLoader[SubscriptionModel], ids: list[str]
) -> list[Subscription | None]:
    found = await loader.load_many(ids)
    return [Subscription.build(s, None) if s else None for s in found]


@node_type("Invoice")
async def _invoice_nodes(info: AppInfo, ids: list[str]) -> list[Invoice | None]:
    return await _invoices(info.context.loaders.invoice, ids)


@node_type("Invoice", live=True)
async def _live_invoice_nodes(info: AppInfo, ids: list[str]) -> list[Invoice | None]:
    return await _invoices(info.context.loaders.live_invoice, ids)


async def _invoices(loader: SourceLoader[InvoiceModel], ids: list[str]) -> list[Invoice | None]:
    found = await loader.load_many(ids)
    return [Invoice.build(i, None) if i else None for i in found]
