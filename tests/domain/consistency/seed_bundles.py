"""Customer bundles straight from the seed generator's documents (no simulators, no HTTP).

The seed writes vendor-shaped documents (``simulators/SHAPES.md``); this helper
reads them into :mod:`domain.records` the way the adapters do — Stripe minor
units and epoch seconds, Salesforce datetimes, NetSuite references and 2-decimal
numbers (read through their text, never as binary floats) — and groups them per
CRM account the way :mod:`domain.consistency.gather` does: billing customers by
``metadata.crm_account_id``, ERP customers by ``externalId``, subscriptions by
``metadata.contract_id``, schedules by contract, postings by ``externalId``.
The adapters' wire models stay private to ``sources/``, hence this small reader.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from domain.consistency.types import ContractBundle, CustomerBundle, InvoiceBundle, ScheduleBundle
from domain.money import Money
from domain.records import (
    ArPosting,
    BillingCustomer,
    Contract,
    ContractLine,
    ContractStatus,
    Customer,
    ErpCustomer,
    Invoice,
    InvoiceStatus,
    RevenueSchedule,
    RevenueScheduleLine,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
)
from simulators.seed import SeedData

Doc = Mapping[str, Any]
READ_AT = datetime(2026, 12, 1, tzinfo=UTC)


def _decimal(value: Any) -> Decimal:
    """A vendor JSON number (the seed holds 2-decimal floats) through its text."""
    return Decimal(str(value))


def _epoch(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _sf_datetime(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _ref(value: Any) -> Any:
    return value.get("id") if isinstance(value, Mapping) else value


def _ref_name(value: Any) -> Any:
    return value.get("refName") if isinstance(value, Mapping) else value


def account(doc: Doc) -> Customer:
    return Customer(
        id=doc["Id"],
        name=doc["Name"],
        currency=doc["CurrencyIsoCode"].upper(),
        parent_id=doc.get("ParentId"),
        segment=doc.get("Segment__c"),
    )


def contract(doc: Doc) -> Contract:
    currency = doc["CurrencyIsoCode"].upper()
    return Contract(
        id=doc["Id"],
        number=doc["ContractNumber"],
        account_id=doc["AccountId"],
        status=ContractStatus(doc["Status"]),
        currency=currency,
        total_value=Money.exact(_decimal(doc["TotalValue__c"]), currency),
        version=doc["Version__c"],
        start_date=_date(doc.get("StartDate")),
        end_date=_date(doc.get("EndDate")),
        term_months=doc.get("ContractTerm"),
        billing_frequency=doc.get("BillingFrequency__c"),
        activated_at=_sf_datetime(doc.get("ActivatedDate")),
        terminated_on=_date(doc.get("TerminatedDate__c")),
        renewal_of=doc.get("RenewalOf__c"),
    )


def contract_line(doc: Doc) -> ContractLine:
    return ContractLine(
        id=doc["Id"],
        contract_id=doc["ContractId"],
        version=doc["Version__c"],
        product_id=doc.get("Product2Id"),
        product_name=doc.get("ProductName__c"),
        quantity=doc["Quantity"],
        unit_price=_decimal(doc["UnitPrice"]),
        billing_frequency=doc.get("BillingFrequency__c"),
    )


def billing_customer(doc: Doc) -> BillingCustomer:
    return BillingCustomer(
        id=doc["id"],
        created_at=datetime.fromtimestamp(doc["created"], UTC),
        name=doc.get("name"),
        email=doc.get("email"),
        currency=doc["currency"].upper() if doc.get("currency") else None,
        crm_account_id=(doc.get("metadata") or {}).get("crm_account_id"),
    )


def subscription(doc: Doc) -> Subscription:
    currency = doc["currency"].upper()
    items = tuple(
        SubscriptionItem(
            id=item["id"],
            product=item["price"].get("product"),
            quantity=item["quantity"],
            unit_price=Money.from_minor(item["price"]["unit_amount"], currency),
            interval=(item["price"].get("recurring") or {}).get("interval"),
            interval_count=(item["price"].get("recurring") or {}).get("interval_count"),
        )
        for item in doc["items"]["data"]
    )
    metadata = doc.get("metadata") or {}
    version = str(metadata.get("contract_version", ""))
    return Subscription(
        id=doc["id"],
        customer_id=doc["customer"],
        status=SubscriptionStatus(doc["status"]),
        currency=currency,
        created_at=datetime.fromtimestamp(doc["created"], UTC),
        recurring_amount=sum(
            (item.unit_price * item.quantity for item in items), Money.zero(currency)
        ),
        items=items,
        started_at=_epoch(doc.get("start_date")),
        canceled_at=_epoch(doc.get("canceled_at")),
        contract_id=metadata.get("contract_id"),
        contract_version=int(version) if version.isdigit() else None,
    )


def invoice(doc: Doc) -> Invoice:
    currency = doc["currency"].upper()

    def money(key: str) -> Money:
        return Money.from_minor(doc[key], currency)

    transitions = doc.get("status_transitions") or {}
    return Invoice(
        id=doc["id"],
        customer_id=doc["customer"],
        status=InvoiceStatus(doc["status"]),
        currency=currency,
        subtotal=money("subtotal"),
        total=money("total"),
        amount_due=money("amount_due"),
        amount_paid=money("amount_paid"),
        amount_remaining=money("amount_remaining"),
        created_at=datetime.fromtimestamp(doc["created"], UTC),
        number=doc.get("number"),
        subscription_id=doc.get("subscription"),
        finalized_at=_epoch(transitions.get("finalized_at")),
        paid_at=_epoch(transitions.get("paid_at")),
    )


def erp_customer(doc: Doc) -> ErpCustomer:
    currency = _ref_name(doc.get("currency"))
    return ErpCustomer(
        id=doc["id"],
        external_id=doc.get("externalId"),
        entity_id=doc.get("entityId"),
        name=doc.get("companyName"),
        email=doc.get("email"),
        currency=currency.upper() if currency else None,
        parent_id=_ref(doc.get("parent")),
        inactive=bool(doc.get("isInactive")),
    )


def schedule(doc: Doc) -> RevenueSchedule:
    currency = _ref_name(doc.get("currency"))
    total = _decimal(doc["custrecord_rg_total"])
    recognized = _decimal(doc["custrecord_rg_recognized_total"])
    return RevenueSchedule(
        id=doc["id"],
        contract_id=doc["custrecord_rg_contract"],
        contract_version=int(doc["custrecord_rg_contract_version"]),
        currency=currency,
        total=Money.exact(total, currency),
        recognized=Money.exact(recognized, currency),
        deferred=Money.exact(total - recognized, currency),
        external_id=doc.get("externalId"),
        customer_id=_ref(doc.get("custrecord_rg_customer")),
        start=_date(doc.get("custrecord_rg_start")),
        end=_date(doc.get("custrecord_rg_end")),
    )


def schedule_line(doc: Doc) -> RevenueScheduleLine:
    return RevenueScheduleLine(
        id=doc["id"],
        schedule_id=_ref(doc["custrecord_rg_schedule"]),
        period=doc["custrecord_rg_period"],
        amount=_decimal(doc["custrecord_rg_amount"]),
        recognized=bool(doc["custrecord_rg_recognized"]),
    )


def posting(doc: Doc) -> ArPosting:
    currency = _ref_name(doc.get("currency"))
    return ArPosting(
        id=doc["id"],
        external_id=doc.get("externalId"),
        number=doc.get("tranId"),
        customer_id=_ref(doc.get("entity")),
        currency=currency,
        total=Money.exact(_decimal(doc["total"]), currency),
        amount_remaining=Money.exact(_decimal(doc["amountRemaining"]), currency),
        posted_on=_date(doc.get("tranDate")),
        status=_ref_name(doc.get("status")),
    )


def bundles(data: SeedData, read_at: datetime = READ_AT) -> list[CustomerBundle]:
    """One bundle per CRM account of the seed, every system readable, in CRM order."""
    records = data.records

    def docs(system: str, kind: str) -> list[Doc]:
        return [doc for _, doc in records[system][kind]]

    billing_by_account: dict[str, list[BillingCustomer]] = defaultdict(list)
    for bc in map(billing_customer, docs("BILLING", "customer")):
        if bc.crm_account_id:
            billing_by_account[bc.crm_account_id].append(bc)
    erp_customers = [erp_customer(d) for d in docs("ERP", "customer")]
    erp_by_id = {c.id: c for c in erp_customers}
    erp_by_account: dict[str, list[ErpCustomer]] = defaultdict(list)
    for ec in erp_customers:
        if ec.external_id:
            erp_by_account[ec.external_id].append(ec)
    contracts_by_account: dict[str, list[Contract]] = defaultdict(list)
    for k in map(contract, docs("CONTRACTS", "Contract")):
        contracts_by_account[k.account_id].append(k)
    lines_by_contract: dict[str, list[ContractLine]] = defaultdict(list)
    for cl in map(contract_line, docs("CONTRACTS", "ContractLineItem")):
        lines_by_contract[cl.contract_id].append(cl)
    subs_by_contract: dict[str, list[Subscription]] = defaultdict(list)
    for sub in map(subscription, docs("BILLING", "subscription")):
        if sub.contract_id:
            subs_by_contract[sub.contract_id].append(sub)
    sched_lines: dict[str, list[RevenueScheduleLine]] = defaultdict(list)
    for sl in map(schedule_line, docs("ERP", "customrecord_rg_revsched_line")):
        sched_lines[sl.schedule_id].append(sl)
    scheds_by_contract: dict[str, list[ScheduleBundle]] = defaultdict(list)
    for rs in map(schedule, docs("ERP", "customrecord_rg_revsched")):
        scheds_by_contract[rs.contract_id].append(ScheduleBundle(rs, tuple(sched_lines[rs.id])))
    invoices_by_customer: dict[str, list[Invoice]] = defaultdict(list)
    for i in map(invoice, docs("BILLING", "invoice")):
        invoices_by_customer[i.customer_id].append(i)
    postings_by_invoice: dict[str, list[ArPosting]] = defaultdict(list)
    for p in map(posting, docs("ERP", "invoice")):
        if p.external_id:
            postings_by_invoice[p.external_id].append(p)

    result: list[CustomerBundle] = []
    for acct in map(account, docs("CRM", "Account")):
        erp = erp_by_account.get(acct.id, [])
        parent_erp = erp_by_id.get(erp[0].parent_id or "") if len(erp) == 1 else None
        billing = billing_by_account.get(acct.id, [])
        result.append(
            CustomerBundle(
                account=acct,
                read_at=read_at,
                billing_customers=tuple(billing),
                erp_customers=tuple(erp),
                erp_parent_account_id=parent_erp.external_id if parent_erp else None,
                contracts=tuple(
                    ContractBundle(
                        contract=c,
                        lines=tuple(
                            line for line in lines_by_contract[c.id] if line.version == c.version
                        ),
                        subscriptions=tuple(subs_by_contract[c.id]),
                        schedules=tuple(scheds_by_contract[c.id]),
                    )
                    for c in contracts_by_account[acct.id]
                ),
                invoices=tuple(
                    InvoiceBundle(i, tuple(postings_by_invoice[i.id]))
                    for b in billing
                    for i in invoices_by_customer[b.id]
                ),
            )
        )
    return result
