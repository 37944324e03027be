"""What flows work with beyond their journal: the adapters, the crosswalk, shared reads."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from domain.clients import Clients
from domain.records import Contract, ContractLine, Subscription
from sources.errors import SourceNotFound
from sources.systems import System
from store.crosswalk import CrosswalkRepository


@dataclass(frozen=True)
class FlowServices:
    clients: Clients
    crosswalk: CrosswalkRepository


async def billing_customer_of(clients: Clients, account_id: str) -> str:
    """The billing customer stamped with this CRM account (``metadata.crm_account_id``)."""
    found = await clients.billing.search_customers_by_crm_id(account_id)
    if not found:
        raise SourceNotFound(System.BILLING, f"no billing customer for CRM account {account_id}")
    return found[0].id


async def erp_customer_of(clients: Clients, account_id: str) -> str:
    """The ERP customer whose externalId is this CRM account."""
    found = await clients.erp.customers_by_external_ids([account_id])
    customer = found.get(account_id)
    if customer is None:
        raise SourceNotFound(System.ERP, f"no ERP customer for CRM account {account_id}")
    return customer.id


async def contract_with_lines(
    clients: Clients, contract_id: str
) -> tuple[Contract, list[ContractLine]]:
    """A contract and its current version's lines (both read at once)."""
    contract, lines = await asyncio.gather(
        clients.contracts.get_contract(contract_id),
        clients.contracts.lines_by_contract_ids([contract_id]),
    )
    return contract, [line for line in lines[contract_id] if line.version == contract.version]


async def subscription_of(clients: Clients, contract: Contract) -> Subscription | None:
    """The billing subscription that bills ``contract`` (metadata ``contract_id``), if any;
    the live one when there are several."""
    customer = await billing_customer_of(clients, contract.account_id)
    subs = (await clients.billing.subscriptions_for_customers([customer]))[customer]
    mine = [s for s in subs if s.contract_id == contract.id]
    mine.sort(key=lambda s: (s.canceled_at is None, s.created_at))
    return mine[-1] if mine else None
