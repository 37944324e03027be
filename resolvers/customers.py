"""CRM-owned types: Customer (a CRM account, the canonical customer) and its queries."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum

import strawberry

from domain.consistency.types import SubjectKind
from domain.lifecycle import Stage
from domain.ownership import Record
from domain.records import Customer as CustomerRecord
from resolvers.billing import Invoice, Subscription
from resolvers.common import Money, SourceRef, money_or_none
from resolvers.consistency import ConsistencyReport, report_of
from resolvers.context import AppInfo
from resolvers.contracts import Contract, ContractStatus, settle_contracts
from resolvers.dataloaders.loader import load
from resolvers.errors import UserInputError
from resolvers.node import Node, global_id, node_type
from resolvers.pagination import (
    Connection,
    Edge,
    connection,
    decode_cursor,
    encode_cursor,
    page_size,
    slice_connection,
)
from resolvers.permissions import SeesContactDetails
from sources.errors import SourceError
from sources.systems import System


@strawberry.enum(description="How fresh an answer must be.")
class Freshness(Enum):
    POLICY = "POLICY"
    """As the source's read policy serves it (Billing: its read model, when fresh)."""
    LIVE = "LIVE"
    """Asked of the system during this request (costs more: see `extensions.cost`)."""


@strawberry.enum(description="Invoice status in billing.")
class InvoiceStatus(Enum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


@strawberry.type(description="A customer: a CRM account, the canonical customer identity.")
class Customer(Node):
    id: strawberry.ID
    key: strawberry.Private[str]
    name: str
    currency: str | None
    segment: str | None
    billing_email: str | None = strawberry.field(
        description="Where invoices go (sales_ops, finance, admin).",
        permission_classes=[SeesContactDetails],
    )
    parent_id: strawberry.Private[str | None]

    @classmethod
    def build(cls, a: CustomerRecord) -> Customer:
        return cls(
            id=global_id("Customer", a.id),
            key=a.id,
            name=a.name,
            currency=a.currency,
            segment=a.segment,
            billing_email=a.billing_email,
            parent_id=a.parent_id,
        )

    @strawberry.field
    async def parent(self, info: AppInfo) -> Customer | None:
        return await customer_by_id(info, self.parent_id)

    @strawberry.field
    async def children(
        self, info: AppInfo, first: int | None = None, after: str | None = None
    ) -> Connection[Customer] | None:
        page_size(first)
        found = await load(info, info.context.loaders.children, self.key)
        return None if found is None else slice_connection(found, first, after, Customer.build)

    @strawberry.field
    async def contracts(
        self,
        info: AppInfo,
        first: int | None = None,
        after: str | None = None,
        status: ContractStatus | None = None,
        stage: Stage | None = None,
    ) -> Connection[Contract] | None:
        page_size(first)
        info.context.lookahead.customer_contracts(info, self.key)
        found = await load(info, info.context.loaders.contracts_by_account, self.key)
        if found is None:
            return None
        contracts = [Contract.build(c) for c in found]
        if status is not None:
            contracts = [c for c in contracts if c.status == status.value]
        if stage is not None:
            # Stages come from billing and the ERP: one batched hop for all of them.
            stages = [await stage for stage in [c.derive_stage(info) for c in contracts]]
            contracts = [c for c, s in zip(contracts, stages, strict=True) if s == stage]
        page = slice_connection(contracts, first, after, lambda c: c)
        await settle_contracts(info, [edge.node for edge in page.edges])
        return page

    @strawberry.field(
        description="Subscriptions in billing, newest first (`freshness: LIVE` asks Billing "
        "itself, bypassing the read model; it costs more)."
    )
    async def subscriptions(
        self,
        info: AppInfo,
        first: int | None = None,
        after: str | None = None,
        freshness: Freshness = Freshness.POLICY,
    ) -> Connection[Subscription] | None:
        page_size(first)
        loaders = info.context.loaders
        loader = (
            loaders.live_account_subscriptions
            if freshness is Freshness.LIVE
            else loaders.account_subscriptions
        )
        found = await load(info, loader, self.key)
        if found is None:
            return None
        newest = sorted(found, key=lambda s: s.created_at, reverse=True)
        return slice_connection(newest, first, after, lambda s: Subscription.build(s, self.key))

    @strawberry.field(
        description="Invoices newest first; issued bounds compare `createdAt` "
        "(`freshness: LIVE` asks Billing itself, bypassing the read model; it costs more)."
    )
    async def invoices(
        self,
        info: AppInfo,
        first: int | None = None,
        after: str | None = None,
        status: InvoiceStatus | None = None,
        issued_after: datetime | None = None,
        issued_before: datetime | None = None,
        freshness: Freshness = Freshness.POLICY,
    ) -> Connection[Invoice] | None:
        page_size(first)
        info.context.lookahead.expect(info)
        loaders = info.context.loaders
        live = freshness is Freshness.LIVE
        loader = loaders.live_account_invoices if live else loaders.account_invoices
        found = await load(info, loader, self.key)
        if found is None:
            return None
        invoices = sorted(
            (Invoice.build(i, self.key) for i in found), key=lambda i: i.created_at, reverse=True
        )
        if status is not None:
            invoices = [i for i in invoices if i.status == status.value]
        if issued_after is not None:
            invoices = [i for i in invoices if i.created_at >= _aware(issued_after)]
        if issued_before is not None:
            invoices = [i for i in invoices if i.created_at < _aware(issued_before)]
        return slice_connection(invoices, first, after, lambda i: i)

    @strawberry.field(description="Open AR in the ERP: Σ amount remaining of its postings.")
    async def ar_balance(self, info: AppInfo) -> Money | None:
        entry = await load(info, info.context.loaders.crosswalk, self.key)
        erp_id = entry.erp_customer_id if entry else None
        if erp_id is None:
            return None
        postings = await load(info, info.context.loaders.erp_postings_by_customer, erp_id)
        if postings is None:
            return None
        total = sum((p.amount_remaining.amount for p in postings if p.amount_remaining), Decimal(0))
        return money_or_none(total, self.currency)

    @strawberry.field(
        description="Where the systems disagree about this customer, from the cached view "
        "(`fresh: true` recomputes its customer live)."
    )
    async def consistency(self, info: AppInfo, fresh: bool = False) -> ConsistencyReport | None:
        return await report_of(info, SubjectKind.CUSTOMER, self.key, fresh)

    @strawberry.field(description="This customer in each system that holds it.")
    async def sources(self, info: AppInfo) -> list[SourceRef]:
        refs = [info.context.ref(Record.CRM_ACCOUNT, self.key)]
        entry = await load(info, info.context.loaders.crosswalk, self.key)
        if entry and entry.billing_customer_id:
            refs.append(info.context.ref(Record.BILLING_CUSTOMER, entry.billing_customer_id))
        if entry and entry.erp_customer_id:
            refs.append(info.context.ref(Record.ERP_CUSTOMER, entry.erp_customer_id))
        return refs


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def customer_by_id(info: AppInfo, account_id: str | None) -> Customer | None:
    """The customer for a CRM account id, through the request's account loader."""
    if account_id is None:
        return None
    found = await load(info, info.context.loaders.account, account_id)
    return Customer.build(found) if found else None


async def list_customers(
    info: AppInfo,
    first: int | None,
    after: str | None,
    name_prefix: str | None,
    currency: str | None,
    segment: str | None,
    parent_id: str | None,
) -> Connection[Customer] | None:
    """One page of customers, paged in the CRM itself by (Name, Id) keyset cursors."""
    size = page_size(first)
    cursor: tuple[str, str] | None = None
    if after is not None:
        try:
            name, account_id = json.loads(decode_cursor("customer", after))
            cursor = (str(name), str(account_id))
        except (ValueError, TypeError) as exc:
            raise UserInputError(
                "`after` is not a cursor from this list", argument="after"
            ) from exc
    try:
        async with info.context.trace.call(System.CRM, "customers") as listed:
            accounts = await info.context.clients.crm.search_accounts(
                name_prefix=name_prefix,
                currency=currency,
                segment=segment,
                parent_id=parent_id,
                limit=size + 1,
                after_name_id=cursor,
            )
    except SourceError as error:
        info.context.failures.record(error, "customers", info.path.as_list())
        return None
    page = accounts[:size]
    for account in page:
        # Prime the loader so `parent`/`node` of a listed customer costs no request.
        info.context.loaders.account.prime(account.id, account)
    info.context.lookahead.customers_arrived(info, (a.id for a in page), listed)
    edges = [
        Edge(cursor=encode_cursor("customer", json.dumps([a.name, a.id])), node=Customer.build(a))
        for a in page
    ]
    return connection(edges, has_next=len(accounts) > size, has_previous=cursor is not None)


@node_type("Customer")
async def _customer_nodes(info: AppInfo, ids: list[str]) -> list[Customer | None]:
    found = await info.context.loaders.account.load_many(list(ids))
    return [Customer.build(a) if a else None for a in found]
