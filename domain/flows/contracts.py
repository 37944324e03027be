"""Contract flows: create, submit, approve, activate, amend, renew, suspend, resume, terminate.

Each flow's first step is the contract system's (the owner), then billing and the
ERP follow. Every step is safe to run twice: creates are upserts on an external
id derived from the correlation id, status changes check the current status
first, Stripe calls carry the step's ``Idempotency-Key``, ERP writes are
``eid:`` upserts.

Inputs (JSON, journaled with the transaction) use these keys: ``contract_id``,
``version`` (the version the caller saw), ``effective_date`` (ISO),
``reason``, ``lines`` (``product_id``, ``product_name``, ``quantity``,
``unit_price`` as a string, optional ``billing_frequency``), and for create
``account_id``, ``start_date``, ``term_months``, ``currency``,
``billing_frequency``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from domain.flows.engine import FlowRun, FlowSpec, Plan, StepCall, StepFunction, StepOutcome
from domain.flows.services import (
    billing_customer_of,
    contract_with_lines,
    erp_customer_of,
    subscription_of,
)
from domain.money import Money
from domain.records import Contract, ContractLine, ContractStatus
from domain.revenue_schedule import spread
from domain.transactions import StepAction, TransactionKind
from sources.errors import SourceConflict, SourceNotFound
from sources.systems import System

__all__ = ["CONTRACT_FLOWS"]

KEY_FIELD = "Integration_Key__c"
_K = TransactionKind
_A = StepAction


def _line_fields(line: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "Product2Id": line["product_id"],
        "ProductName__c": line.get("product_name") or line["product_id"],
        "Quantity": int(line["quantity"]),
        "UnitPrice": Decimal(str(line["unit_price"])),
    }
    if line.get("billing_frequency"):
        fields["BillingFrequency__c"] = line["billing_frequency"]
    return fields


async def _create(run: FlowRun) -> Mapping[str, Any]:
    contract_id = await _create_contract(run, run.input)
    await run.set_subject(contract_id)
    return {"contract_id": contract_id}


async def _create_contract(run: FlowRun, data: Mapping[str, Any]) -> str:
    """A Draft contract with its lines, upserted on keys derived from the step."""
    contracts = run.clients.contracts

    async def create(call: StepCall) -> StepOutcome:
        fields = {
            "AccountId": data["account_id"],
            "StartDate": data["start_date"],
            "ContractTerm": int(data["term_months"]),
            "CurrencyIsoCode": data["currency"],
            "BillingFrequency__c": data.get("billing_frequency") or "Monthly",
        }
        if data.get("renewal_of"):
            fields["RenewalOf__c"] = data["renewal_of"]
        contract_id = await contracts.upsert_record("Contract", KEY_FIELD, call.key, fields)
        for n, line in enumerate(data.get("lines", ()), start=1):
            await contracts.upsert_record(
                "ContractLineItem",
                KEY_FIELD,
                f"{call.key}:{n}",
                {"ContractId": contract_id, **_line_fields(line)},
            )
        return StepOutcome(contract_id)

    result = await run.step(System.CONTRACTS, _A.CREATE_CONTRACT, create)
    contract_id: str = result["id"]
    return contract_id


def _ensure_status(
    run: FlowRun, target: ContractStatus, extra: Mapping[str, Any] | None = None
) -> StepFunction:
    contracts = run.clients.contracts
    contract_id = run.input["contract_id"]

    async def move(call: StepCall) -> StepOutcome:
        current = await contracts.get_contract(contract_id)
        if current.status != target:  # a resumed step may find the change already made
            await contracts.update_contract(contract_id, {"Status": target.value, **(extra or {})})
        return StepOutcome(contract_id, {"status": target.value})

    return move


async def _submit(run: FlowRun) -> Mapping[str, Any]:
    await run.step(
        System.CONTRACTS, _A.SUBMIT_CONTRACT, _ensure_status(run, ContractStatus.IN_APPROVAL)
    )
    return {"contract_id": run.input["contract_id"]}


async def _approve(run: FlowRun) -> Mapping[str, Any]:
    await run.step(
        System.CONTRACTS, _A.APPROVE_CONTRACT, _ensure_status(run, ContractStatus.ACTIVATED)
    )
    return {"contract_id": run.input["contract_id"]}


def _interval(frequency: str | None) -> str:
    return "year" if frequency == "Annual" else "month"


def _items(contract: Contract, lines: Sequence[ContractLine]) -> list[dict[str, Any]]:
    return [
        {
            "price_data": {
                "currency": contract.currency.lower(),
                "product_data": {"name": line.product_name or line.product_id or "Product"},
                "unit_amount": Money.exact(line.unit_price, contract.currency).to_minor(),
                "recurring": {
                    "interval": _interval(line.billing_frequency or contract.billing_frequency)
                },
            },
            "quantity": line.quantity,
            "metadata": {"contract_line_id": line.id},
        }
        for line in lines
    ]


def _term(contract: Contract) -> tuple[date, date]:
    if contract.start_date is None or contract.end_date is None:
        raise SourceConflict(System.CONTRACTS, f"contract {contract.id} has no term dates")
    return contract.start_date, contract.end_date


async def _schedule_step(run: FlowRun, contract: Contract, action: StepAction) -> None:
    """The ERP revenue schedule of the contract's current version (ratable over the term)."""
    erp = run.clients.erp

    async def upsert(call: StepCall) -> StepOutcome:
        start, end = _term(contract)
        customer = await erp_customer_of(run.clients, contract.account_id)
        schedule_id = await erp.upsert_schedule(
            contract.id,
            contract.version,
            customer_id=customer,
            currency=contract.currency,
            lines=spread(contract.total_value, start, end),
            start=start,
            end=end,
        )
        return StepOutcome(schedule_id, {"contract_version": contract.version})

    await run.step(System.ERP, action, upsert)


async def _activate(run: FlowRun) -> Mapping[str, Any]:
    contract, lines = await contract_with_lines(run.clients, run.input["contract_id"])
    billing = run.clients.billing

    async def subscribe(call: StepCall) -> StepOutcome:
        customer = await billing_customer_of(run.clients, contract.account_id)
        sub = await billing.create_subscription(
            {
                "customer": customer,
                "items": _items(contract, lines),
                "metadata": {"contract_id": contract.id, "contract_version": str(contract.version)},
            },
            # Keyed by the contract version, not the call: activations of one version
            # under different mutation keys still make one subscription.
            idempotency_key=f"activate:{contract.id}:{contract.version}",
        )
        return StepOutcome(sub.id, {"contract_version": contract.version})

    sub = await run.step(System.BILLING, _A.CREATE_SUBSCRIPTION, subscribe)
    await _schedule_step(run, contract, _A.CREATE_REVENUE_SCHEDULE)
    return {"contract_id": contract.id, "subscription_id": sub["id"]}


async def _amend(run: FlowRun) -> Mapping[str, Any]:
    data = run.input
    contracts = run.clients.contracts
    contract_id = data["contract_id"]
    seen = int(data["version"])
    effective = date.fromisoformat(data["effective_date"])

    async def amend(call: StepCall) -> StepOutcome:
        current = await contracts.get_contract(contract_id)
        if current.version == seen + 1:  # a resumed step: the amendment is in already
            return StepOutcome(contract_id, {"version": current.version})
        amended = await contracts.amend_contract(
            contract_id,
            reason=data.get("reason") or "Amendment",
            effective_date=effective,
            lines=[_line_fields(line) for line in data["lines"]],
            expected_version=seen,
        )
        return StepOutcome(contract_id, {"version": amended.version})

    await run.step(System.CONTRACTS, _A.UPDATE_CONTRACT, amend)
    contract, lines = await contract_with_lines(run.clients, contract_id)
    billing = run.clients.billing

    async def reprice(call: StepCall) -> StepOutcome:
        sub = await subscription_of(run.clients, contract)
        if sub is None:
            raise SourceNotFound(System.BILLING, f"no subscription bills contract {contract_id}")
        items: list[dict[str, Any]] = [{"id": item.id, "deleted": "true"} for item in sub.items]
        items += _items(contract, lines)
        updated = await billing.update_subscription(
            sub.id,
            {
                "items": items,
                "proration_behavior": "create_prorations",
                "metadata": {"contract_version": str(contract.version)},
            },
            idempotency_key=call.key,
        )
        return StepOutcome(updated.id, {"contract_version": contract.version})

    await run.step(System.BILLING, _A.UPDATE_SUBSCRIPTION, reprice)
    erp = run.clients.erp

    async def revise(call: StepCall) -> StepOutcome:
        _, end = _term(contract)
        schedule_id = await erp.revise_schedule(
            contract.id,
            contract.version,
            total=contract.total_value,
            effective=effective,
            end=end,
        )
        return StepOutcome(schedule_id, {"contract_version": contract.version})

    await run.step(System.ERP, _A.REVISE_REVENUE_SCHEDULE, revise)
    return {"contract_id": contract_id, "version": contract.version}


def _subscription_change(run: FlowRun, params: Mapping[str, Any]) -> StepFunction:
    async def change(call: StepCall) -> StepOutcome:
        contract = await run.clients.contracts.get_contract(run.input["contract_id"])
        sub = await subscription_of(run.clients, contract)
        if sub is None:
            raise SourceNotFound(System.BILLING, f"no subscription bills contract {contract.id}")
        updated = await run.clients.billing.update_subscription(
            sub.id, params, idempotency_key=call.key
        )
        return StepOutcome(updated.id, {"status": updated.status.value})

    return change


async def _suspend(run: FlowRun) -> Mapping[str, Any]:
    change = _subscription_change(run, {"pause_collection": {"behavior": "void"}})
    await run.step(System.BILLING, _A.PAUSE_SUBSCRIPTION, change)
    return {"contract_id": run.input["contract_id"]}


async def _resume(run: FlowRun) -> Mapping[str, Any]:
    change = _subscription_change(run, {"pause_collection": ""})
    await run.step(System.BILLING, _A.RESUME_SUBSCRIPTION, change)
    return {"contract_id": run.input["contract_id"]}


async def _terminate(run: FlowRun) -> Mapping[str, Any]:
    effective = date.fromisoformat(run.input["effective_date"])
    await run.step(
        System.CONTRACTS,
        _A.TERMINATE_CONTRACT,
        _ensure_status(
            run, ContractStatus.TERMINATED, {"TerminatedDate__c": effective.isoformat()}
        ),
    )
    contract = await run.clients.contracts.get_contract(run.input["contract_id"])

    async def cancel(call: StepCall) -> StepOutcome:
        sub = await subscription_of(run.clients, contract)
        if sub is None:  # approved but never activated: nothing bills it
            return StepOutcome(None, {"canceled": False})
        canceled = await run.clients.billing.cancel_subscription(sub.id)
        return StepOutcome(canceled.id, {"canceled": True})

    await run.step(System.BILLING, _A.CANCEL_SUBSCRIPTION, cancel)

    async def truncate(call: StepCall) -> StepOutcome:
        schedule_id = await run.clients.erp.truncate_schedule(contract.id, effective)
        return StepOutcome(schedule_id, {"truncated_at": effective.isoformat()})

    await run.step(System.ERP, _A.TRUNCATE_REVENUE_SCHEDULE, truncate)
    return {"contract_id": contract.id}


async def _renew(run: FlowRun) -> Mapping[str, Any]:
    """A renewal is a new Draft contract for the next term with the current lines."""
    contract, lines = await contract_with_lines(run.clients, run.input["contract_id"])
    _, end = _term(contract)
    term = int(run.input.get("term_months") or contract.term_months or 12)
    renewal_input = {
        "account_id": contract.account_id,
        "start_date": (end + timedelta(days=1)).isoformat(),
        "term_months": term,
        "currency": contract.currency,
        "billing_frequency": contract.billing_frequency,
        "renewal_of": contract.id,
        "lines": [
            {
                "product_id": line.product_id,
                "product_name": line.product_name,
                "quantity": line.quantity,
                "unit_price": str(Decimal(line.unit_price)),
                "billing_frequency": line.billing_frequency,
            }
            for line in lines
        ],
    }
    renewal_id = await _create_contract(run, renewal_input)
    return {"contract_id": contract.id, "renewal_id": renewal_id}


def _steps(*steps: tuple[System, StepAction]) -> Plan:
    return lambda _: steps


_CONTRACTS, _BILLING, _ERP = System.CONTRACTS, System.BILLING, System.ERP

CONTRACT_FLOWS: dict[str, FlowSpec] = {
    spec.kind: spec
    for spec in (
        FlowSpec(_K.CREATE_CONTRACT, _create, _steps((_CONTRACTS, _A.CREATE_CONTRACT))),
        FlowSpec(_K.SUBMIT_CONTRACT, _submit, _steps((_CONTRACTS, _A.SUBMIT_CONTRACT))),
        FlowSpec(_K.APPROVE_CONTRACT, _approve, _steps((_CONTRACTS, _A.APPROVE_CONTRACT))),
        FlowSpec(
            _K.ACTIVATE_CONTRACT,
            _activate,
            _steps((_BILLING, _A.CREATE_SUBSCRIPTION), (_ERP, _A.CREATE_REVENUE_SCHEDULE)),
        ),
        FlowSpec(
            _K.AMEND_CONTRACT,
            _amend,
            _steps(
                (_CONTRACTS, _A.UPDATE_CONTRACT),
                (_BILLING, _A.UPDATE_SUBSCRIPTION),
                (_ERP, _A.REVISE_REVENUE_SCHEDULE),
            ),
        ),
        FlowSpec(_K.RENEW_CONTRACT, _renew, _steps((_CONTRACTS, _A.CREATE_CONTRACT))),
        FlowSpec(_K.SUSPEND_CONTRACT, _suspend, _steps((_BILLING, _A.PAUSE_SUBSCRIPTION))),
        FlowSpec(_K.RESUME_CONTRACT, _resume, _steps((_BILLING, _A.RESUME_SUBSCRIPTION))),
        FlowSpec(
            _K.TERMINATE_CONTRACT,
            _terminate,
            _steps(
                (_CONTRACTS, _A.TERMINATE_CONTRACT),
                (_BILLING, _A.CANCEL_SUBSCRIPTION),
                (_ERP, _A.TRUNCATE_REVENUE_SCHEDULE),
            ),
        ),
    )
}
