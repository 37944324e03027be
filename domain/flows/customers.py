"""Customer flows: onboard (CRM → billing → ERP → crosswalk) and update (CRM, then follow).

Inputs: ``name``, ``currency``, optional ``parent_id``, ``segment``,
``billing_email``; update adds ``account_id`` and carries only the fields that
change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.crosswalk_types import CrosswalkEntry, LinkStatus
from domain.flows.engine import FlowRun, FlowSpec, StepCall, StepOutcome
from domain.flows.services import billing_customer_of
from domain.transactions import StepAction, TransactionKind
from sources.systems import System

__all__ = ["CUSTOMER_FLOWS"]

ACCOUNT_KEY_FIELD = "External_Id__c"
_A = StepAction

_CRM_FIELDS = {
    "name": "Name",
    "parent_id": "ParentId",
    "currency": "CurrencyIsoCode",
    "segment": "Segment__c",
    "billing_email": "Billing_Email__c",
}


def _crm_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {vendor: data[name] for name, vendor in _CRM_FIELDS.items() if name in data}


def _erp_fields(data: Mapping[str, Any], parent_erp_id: str | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "name" in data:
        fields["companyName"] = data["name"]
    if "currency" in data:
        fields["currency"] = {"refName": data["currency"]}
    if parent_erp_id is not None:
        fields["parent"] = {"id": parent_erp_id}
    return fields


async def _erp_parent(run: FlowRun, data: Mapping[str, Any]) -> str | None:
    if not data.get("parent_id"):
        return None
    found = await run.clients.erp.customers_by_external_ids([data["parent_id"]])
    parent = found.get(data["parent_id"])
    return parent.id if parent else None


async def _create(run: FlowRun) -> Mapping[str, Any]:
    data = run.input
    clients = run.clients

    async def account(call: StepCall) -> StepOutcome:
        account_id = await clients.crm.upsert_record(
            "Account", ACCOUNT_KEY_FIELD, call.key, _crm_fields(data)
        )
        return StepOutcome(account_id)

    account_id: str = (await run.step(System.CRM, _A.CREATE_ACCOUNT, account))["id"]
    await run.set_subject(account_id)

    async def billing_customer(call: StepCall) -> StepOutcome:
        params: dict[str, Any] = {"name": data["name"], "metadata": {"crm_account_id": account_id}}
        if data.get("billing_email"):
            params["email"] = data["billing_email"]
        customer = await clients.billing.create_customer(params, idempotency_key=call.key)
        return StepOutcome(customer.id)

    billing_id: str = (
        await run.step(System.BILLING, _A.CREATE_BILLING_CUSTOMER, billing_customer)
    )["id"]

    async def erp_customer(call: StepCall) -> StepOutcome:
        fields = {"externalId": account_id, **_erp_fields(data, await _erp_parent(run, data))}
        return StepOutcome(await clients.erp.upsert_record("customer", account_id, fields))

    erp_id: str = (await run.step(System.ERP, _A.CREATE_ERP_CUSTOMER, erp_customer))["id"]
    await run.services.crosswalk.upsert(
        [
            CrosswalkEntry(
                canonical_id=account_id,
                crm_id=account_id,
                name=data["name"],
                status=LinkStatus.LINKED,
                billing_customer_id=billing_id,
                erp_customer_id=erp_id,
            )
        ]
    )
    return {"account_id": account_id}


def _follows_in_billing(data: Mapping[str, Any]) -> bool:
    return "name" in data or "billing_email" in data


def _erp_changes(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: data[k] for k in ("name", "currency", "parent_id") if k in data}


async def _update(run: FlowRun) -> Mapping[str, Any]:
    data = run.input
    clients = run.clients
    account_id = data["account_id"]

    async def account(call: StepCall) -> StepOutcome:
        # Setting fields to values: running it twice leaves the same account.
        await clients.crm.update_account(account_id, _crm_fields(data))
        return StepOutcome(account_id)

    await run.step(System.CRM, _A.UPDATE_ACCOUNT, account)
    if _follows_in_billing(data):

        async def billing_customer(call: StepCall) -> StepOutcome:
            customer_id = await billing_customer_of(clients, account_id)
            params: dict[str, Any] = {}
            if "name" in data:
                params["name"] = data["name"]
            if data.get("billing_email"):
                params["email"] = data["billing_email"]
            await clients.billing.update_customer(customer_id, params, idempotency_key=call.key)
            return StepOutcome(customer_id)

        await run.step(System.BILLING, _A.UPDATE_BILLING_CUSTOMER, billing_customer)
    erp_changes = _erp_changes(data)
    if erp_changes:

        async def erp_customer(call: StepCall) -> StepOutcome:
            fields = _erp_fields(erp_changes, await _erp_parent(run, erp_changes))
            return StepOutcome(await clients.erp.upsert_record("customer", account_id, fields))

        await run.step(System.ERP, _A.UPDATE_ERP_CUSTOMER, erp_customer)
    return {"account_id": account_id}


def _create_plan(_: Mapping[str, Any]) -> list[tuple[System, str]]:
    return [
        (System.CRM, _A.CREATE_ACCOUNT),
        (System.BILLING, _A.CREATE_BILLING_CUSTOMER),
        (System.ERP, _A.CREATE_ERP_CUSTOMER),
    ]


def _update_plan(data: Mapping[str, Any]) -> list[tuple[System, str]]:
    plan: list[tuple[System, str]] = [(System.CRM, _A.UPDATE_ACCOUNT)]
    if _follows_in_billing(data):
        plan.append((System.BILLING, _A.UPDATE_BILLING_CUSTOMER))
    if _erp_changes(data):
        plan.append((System.ERP, _A.UPDATE_ERP_CUSTOMER))
    return plan


CUSTOMER_FLOWS: dict[str, FlowSpec] = {
    TransactionKind.CREATE_CUSTOMER: FlowSpec(
        TransactionKind.CREATE_CUSTOMER, _create, _create_plan
    ),
    TransactionKind.UPDATE_CUSTOMER: FlowSpec(
        TransactionKind.UPDATE_CUSTOMER, _update, _update_plan
    ),
}
