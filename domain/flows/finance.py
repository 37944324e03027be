"""Finance flows: post a billing invoice to the ERP's AR, recognize a period's revenue.

``POST_INVOICE`` input: ``invoice_id`` (the billing invoice). It is started by
the ``postInvoice`` mutation and by billing's ``invoice.finalized`` webhook,
both under the correlation id derived from the invoice, so a webhook and a
mutation (or two deliveries) post it once. ``RECOGNIZE_REVENUE`` input:
``period`` (``YYYY-MM``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from domain.flows.engine import FlowRun, FlowSpec, StepCall, StepOutcome
from domain.transactions import StepAction, TransactionKind
from sources.errors import SourceConflict, SourceNotFound
from sources.systems import System

__all__ = ["FINANCE_FLOWS", "posting_correlation_id"]


def posting_correlation_id(invoice_id: str) -> str:
    """One posting transaction per invoice, whoever starts it."""
    return f"post:{invoice_id}"


async def _post(run: FlowRun) -> Mapping[str, Any]:
    clients = run.clients
    invoice_id = run.input["invoice_id"]

    async def post(call: StepCall) -> StepOutcome:
        invoice = await clients.billing.get_invoice(invoice_id)
        if invoice.status.value == "draft":
            raise SourceConflict(System.BILLING, f"invoice {invoice_id} is not finalized yet")
        customer = await clients.billing.get_customer(invoice.customer_id)
        account_id = customer.crm_account_id
        if not account_id:
            raise SourceNotFound(
                System.BILLING, f"billing customer {customer.id} has no crm_account_id"
            )
        erp = (await clients.erp.customers_by_external_ids([account_id])).get(account_id)
        if erp is None:
            raise SourceNotFound(System.ERP, f"no ERP customer for CRM account {account_id}")
        posting_id = await clients.erp.upsert_posting(invoice, customer_id=erp.id)
        return StepOutcome(posting_id, {"invoice_id": invoice_id})

    result = await run.step(System.ERP, StepAction.POST_INVOICE, post)
    return {"invoice_id": invoice_id, "posting_id": result["id"]}


async def _recognize(run: FlowRun) -> Mapping[str, Any]:
    period = run.input["period"]

    async def recognize(call: StepCall) -> StepOutcome:
        recognized = await run.clients.erp.recognize_period(period)
        totals: dict[str, Decimal] = {}
        for line in recognized:
            amount = line.amount
            totals[amount.currency] = totals.get(amount.currency, Decimal(0)) + amount.amount
        return StepOutcome(
            None,
            {
                "lines": len(recognized),
                "schedules": len({r.schedule_id for r in recognized}),
                "totals": {currency: str(total) for currency, total in sorted(totals.items())},
            },
        )

    result = await run.step(System.ERP, StepAction.RECOGNIZE_REVENUE, recognize)
    return {"period": period, **result}


FINANCE_FLOWS: dict[str, FlowSpec] = {
    TransactionKind.POST_INVOICE: FlowSpec(
        TransactionKind.POST_INVOICE, _post, lambda _: [(System.ERP, StepAction.POST_INVOICE)]
    ),
    TransactionKind.RECOGNIZE_REVENUE: FlowSpec(
        TransactionKind.RECOGNIZE_REVENUE,
        _recognize,
        lambda _: [(System.ERP, StepAction.RECOGNIZE_REVENUE)],
    ),
}
