"""Who owns what: the system of record for each kind of data, and where records live.

A mutation goes to the owner and nowhere else directly; the other systems are
brought in line by flows. ``record_url`` gives the address of a record in its
system's own API, which the graph exposes in every entity's ``sources``.
"""

from __future__ import annotations

from enum import StrEnum

from sources.systems import System


class Record(StrEnum):
    """A kind of record in one system."""

    CRM_ACCOUNT = "crm.account"
    CONTRACT = "contracts.contract"
    BILLING_CUSTOMER = "billing.customer"
    SUBSCRIPTION = "billing.subscription"
    INVOICE = "billing.invoice"
    ERP_CUSTOMER = "erp.customer"
    AR_POSTING = "erp.invoice"
    REVENUE_SCHEDULE = "erp.revenue_schedule"


SYSTEM_OF: dict[Record, System] = {
    Record.CRM_ACCOUNT: System.CRM,
    Record.CONTRACT: System.CONTRACTS,
    Record.BILLING_CUSTOMER: System.BILLING,
    Record.SUBSCRIPTION: System.BILLING,
    Record.INVOICE: System.BILLING,
    Record.ERP_CUSTOMER: System.ERP,
    Record.AR_POSTING: System.ERP,
    Record.REVENUE_SCHEDULE: System.ERP,
}

_PATHS: dict[Record, str] = {
    Record.CRM_ACCOUNT: "/services/data/v60.0/sobjects/Account/{id}",
    Record.CONTRACT: "/services/data/v60.0/sobjects/Contract/{id}",
    Record.BILLING_CUSTOMER: "/v1/customers/{id}",
    Record.SUBSCRIPTION: "/v1/subscriptions/{id}",
    Record.INVOICE: "/v1/invoices/{id}",
    Record.ERP_CUSTOMER: "/services/rest/record/v1/customer/{id}",
    Record.AR_POSTING: "/services/rest/record/v1/invoice/{id}",
    Record.REVENUE_SCHEDULE: "/services/rest/record/v1/customrecord_rg_revsched/{id}",
}

OWNER: dict[str, System] = {
    "customer identity, name, hierarchy, segment": System.CRM,
    "contract terms, lines, status, versions": System.CONTRACTS,
    "subscriptions, invoices, payments": System.BILLING,
    "revenue schedules, AR postings, balances": System.ERP,
}


def record_url(base_urls: dict[System, str], record: Record, record_id: str) -> str:
    """The record's address in its own system's API."""
    system = SYSTEM_OF[record]
    return base_urls[system].rstrip("/") + _PATHS[record].format(id=record_id)
