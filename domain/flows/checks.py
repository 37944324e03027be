"""The checks a mutation passes before anything is written: ownership and the lifecycle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.clients import Clients
from domain.flows.commands import UserError
from domain.flows.services import subscription_of
from domain.ownership import Entity, route_write
from domain.records import ContractStatus
from domain.transitions import Action, ContractSnapshot, Refusal, check, state_of
from sources.errors import SourceNotFound

__all__ = ["contract_check", "customer_fields_check", "new_contract_check"]

FREQUENCIES = ("Monthly", "Annual")


async def contract_check(
    clients: Clients, action: Action, contract_id: str, version: int
) -> list[UserError]:
    """Refusals of ``action`` on the contract as it is now (read live from its systems)."""
    try:
        contract = await clients.contracts.get_contract(contract_id)
    except SourceNotFound:
        snapshot = None
    else:
        subscription_status = None
        if contract.status == ContractStatus.ACTIVATED:
            try:
                subscription = await subscription_of(clients, contract)
            except SourceNotFound:  # no billing customer yet: nothing bills it
                subscription = None
            subscription_status = subscription.status if subscription else None
        snapshot = ContractSnapshot(
            state_of(contract.status, subscription_status), contract.version
        )
    verdict = check(action, snapshot, version)
    if isinstance(verdict, Refusal):
        return [UserError(verdict.code.value, verdict.message, verdict.field or "id")]
    return []


async def customer_fields_check(
    data: Mapping[str, Any],
    fields: Sequence[str] = (),
    clients: Clients | None = None,
) -> list[UserError]:
    """Fields another system owns are refused, each naming its owner; an update needs a
    customer that exists."""
    errors = [
        UserError(foreign.code, foreign.message, foreign.field)
        for foreign in route_write(Entity.CUSTOMER, fields).foreign
    ]
    if errors:
        return errors
    if clients is not None and "account_id" in data:
        found = await clients.crm.accounts_by_ids([data["account_id"]])
        if data["account_id"] not in found:
            return [UserError("NOT_FOUND", "no such customer", "id")]
    return []


async def new_contract_check(clients: Clients, data: Mapping[str, Any]) -> list[UserError]:
    """A new contract needs a customer the CRM knows, in that customer's currency
    (billing bills one currency per customer), and a frequency billing supports."""
    errors: list[UserError] = []
    frequencies = [data.get("billing_frequency")] + [
        line.get("billing_frequency") for line in data.get("lines", ())
    ]
    if any(f is not None and f not in FREQUENCIES for f in frequencies):
        errors.append(
            UserError("BAD_INPUT", "billingFrequency must be Monthly or Annual", "billingFrequency")
        )
    found = await clients.crm.accounts_by_ids([data["account_id"]])
    account = found.get(data["account_id"])
    if account is None:
        errors.append(UserError("NOT_FOUND", "no such customer", "customerId"))
    elif account.currency and account.currency != data["currency"]:
        errors.append(
            UserError(
                "CURRENCY_MISMATCH",
                f"the customer is billed in {account.currency}, not {data['currency']}",
                "currency",
            )
        )
    return errors
