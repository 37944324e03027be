"""Which customer a change touches, so its consistency is recomputed (not the world's).

A webhook or a finished flow names a record in some system; the view is kept
per CRM account. :func:`account_of_event` and :func:`account_of_transaction`
find that account from what the event or transaction carries, asking the
cache for contracts and invoices it already knows and the systems otherwise
(:class:`OwnerLookup`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from domain.clients import Clients
from domain.consistency.types import SubjectKind
from domain.transactions import Transaction, TransactionKind
from domain.webhooks import WebhookEvent
from sources.errors import SourceNotFound
from sources.systems import System

__all__ = ["OwnerLookup", "account_of_event", "account_of_transaction"]

Owner = Callable[[SubjectKind, str], Awaitable[str | None]]


class OwnerLookup:
    """The CRM account of a contract or invoice: from the cache, else from the systems."""

    def __init__(self, clients: Clients, cached: Owner | None = None) -> None:
        self._clients = clients
        self._cached = cached

    async def __call__(self, kind: SubjectKind, subject_id: str) -> str | None:
        if kind is SubjectKind.CUSTOMER:
            return subject_id
        if self._cached is not None:
            known = await self._cached(kind, subject_id)
            if known:
                return known
        try:
            if kind is SubjectKind.CONTRACT:
                return (await self._clients.contracts.get_contract(subject_id)).account_id
            invoice = await self._clients.billing.get_invoice(subject_id)
            customer = await self._clients.billing.get_customer(invoice.customer_id)
        except SourceNotFound:
            return None
        return customer.crm_account_id


_CUSTOMER_KINDS = {TransactionKind.CREATE_CUSTOMER, TransactionKind.UPDATE_CUSTOMER}


async def account_of_transaction(tx: Transaction, owner: Owner) -> str | None:
    """The account a finished flow changed (None: a period-wide one, or not created)."""
    if tx.subject.startswith("new:"):
        return None
    if tx.kind in _CUSTOMER_KINDS:
        return tx.subject
    if tx.kind == TransactionKind.POST_INVOICE:
        return await owner(SubjectKind.INVOICE, tx.subject)
    if tx.kind == TransactionKind.RECOGNIZE_REVENUE:
        return None
    return await owner(SubjectKind.CONTRACT, tx.subject)


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _ref(value: Any) -> str | None:
    """A reference as the ERP writes it (``{"id": ...}``) or a plain id."""
    found = _get(value, "id") if isinstance(value, Mapping) else value
    return found if isinstance(found, str) and found else None


async def account_of_event(event: WebhookEvent, owner: Owner) -> str | None:
    """The account a webhook's change belongs to, or None when it cannot tell."""
    payload = event.payload
    if event.source is System.BILLING:
        obj = _get(payload, "data", "object")
        kind = _get(obj, "object")
        if kind == "customer":
            account = _get(obj, "metadata", "crm_account_id")
            return account if isinstance(account, str) and account else None
        if kind == "subscription":
            contract = _get(obj, "metadata", "contract_id")
            return await owner(SubjectKind.CONTRACT, contract) if contract else None
        if kind == "invoice":
            return await owner(SubjectKind.INVOICE, event.subject)
        return None
    record = _get(payload, "record")
    object_type = _get(payload, "object_type")
    if event.source is System.CRM and object_type == "Account":
        return event.subject
    if event.source is System.CONTRACTS:
        if object_type == "Contract":
            account = _get(record, "AccountId")
            return account if isinstance(account, str) else None
        contract = _get(record, "ContractId") or _get(record, "Contract__c")
        return await owner(SubjectKind.CONTRACT, contract) if isinstance(contract, str) else None
    if event.source is System.ERP:
        if object_type == "customer":
            account = _get(record, "externalId")
            return account if isinstance(account, str) and account else None
        if object_type == "invoice":
            invoice = _get(record, "externalId")
            return await owner(SubjectKind.INVOICE, invoice) if isinstance(invoice, str) else None
        if object_type == "customrecord_rg_revsched":
            contract = _ref(_get(record, "custrecord_rg_contract"))
            return await owner(SubjectKind.CONTRACT, contract) if contract else None
    return None
