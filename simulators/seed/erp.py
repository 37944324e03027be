"""ERP side of the seed: NetSuite customers, revenue schedules and AR postings."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from simulators.seed.billing import InvoiceFact
from simulators.seed.calendar import REFERENCE_MONTH, TODAY, add_months, month_key, ns_datetime
from simulators.seed.contracts import CENT, ContractPlan, VersionPlan, money
from simulators.seed.crm import AccountPlan
from simulators.seed.ids import IdFactory

Doc = dict[str, Any]
CURRENCY_IDS = {"USD": "1", "GBP": "2", "EUR": "4"}
"""NetSuite's internal ids of the currencies (as in a default US account)."""


def schedule_external_id(contract_id: str, version: int) -> str:
    return f"{contract_id}:v{version}"


def split_evenly(total: Decimal, periods: int) -> list[Decimal]:
    """``periods`` amounts rounded to cents; the last takes the remainder so they sum exactly."""
    share = (total / periods).quantize(CENT, ROUND_HALF_UP)
    return [share] * (periods - 1) + [total - share * (periods - 1)]


class ErpBuilder:
    def __init__(self, ids: IdFactory) -> None:
        self._ids = ids

    def customer(
        self, account: AccountPlan, *, name: str, parent_id: str | None
    ) -> tuple[str, Doc]:
        erp_id = self._ids.netsuite("customer", 1000)
        return erp_id, {
            "id": erp_id,
            "externalId": account.id,
            "entityId": f"CUST{erp_id}",
            "companyName": name,
            "email": account.email,
            "currency": {"id": CURRENCY_IDS[account.currency], "refName": account.currency},
            "parent": {"id": parent_id} if parent_id else None,
            "isInactive": False,
            "dateCreated": ns_datetime(account.created, account.hour),
            "lastModifiedDate": ns_datetime(account.created, account.hour),
        }

    def schedule(
        self, plan: ContractPlan, version: VersionPlan, total: Decimal, customer_id: str
    ) -> tuple[tuple[str, Doc], list[tuple[str, Doc]]]:
        """A revenue schedule of ``total`` over the term, one line per month."""
        schedule_id = self._ids.netsuite("customrecord_rg_revsched", 100)
        lines: list[tuple[str, Doc]] = []
        recognized = Decimal(0)
        for month, amount in enumerate(split_evenly(total, plan.term)):
            period = month_key(add_months(plan.start, month))
            done = period < REFERENCE_MONTH
            if done:
                recognized += amount
            line_id = self._ids.netsuite("customrecord_rg_revsched_line", 100_000)
            lines.append(
                (
                    line_id,
                    {
                        "id": line_id,
                        "custrecord_rg_schedule": {"id": schedule_id},
                        "custrecord_rg_period": period,
                        "custrecord_rg_amount": money(amount),
                        "custrecord_rg_recognized": done,
                    },
                )
            )
        schedule = {
            "id": schedule_id,
            "externalId": schedule_external_id(plan.id, version.number),
            "custrecord_rg_contract": plan.id,
            "custrecord_rg_contract_version": version.number,
            "custrecord_rg_customer": {"id": customer_id},
            "custrecord_rg_total": money(total),
            "custrecord_rg_recognized_total": money(recognized),
            "currency": {"refName": plan.account.currency},
            "custrecord_rg_start": plan.start.isoformat(),
            "custrecord_rg_end": plan.end.isoformat(),
        }
        return (schedule_id, schedule), lines

    def posting(self, fact: InvoiceFact, customer_id: str) -> tuple[str, Doc]:
        """The AR ``invoice`` record posting one finalized Stripe invoice."""
        posting_id = self._ids.netsuite("invoice", 500_000)
        paid = fact.status == "paid"
        return posting_id, {
            "id": posting_id,
            "externalId": fact.id,
            "tranId": fact.number,
            "entity": {"id": customer_id},
            "currency": {"refName": fact.currency},
            "total": money(Decimal(fact.total) / 100),
            "amountRemaining": money(Decimal(fact.remaining) / 100),
            "tranDate": fact.issued.isoformat(),
            "dueDate": fact.due.isoformat(),
            "status": {"id": "B", "refName": "Paid In Full"}
            if paid
            else {"id": "A", "refName": "Open"},
            "memo": f"Stripe invoice {fact.number}",
            "lastModifiedDate": ns_datetime(min(fact.due, TODAY)),
        }
