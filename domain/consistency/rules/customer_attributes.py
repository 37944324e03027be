"""``customer.attributes``: name, currency and parent agree across CRM, billing and ERP.

One check per account (subject: the CRM account). The CRM owns the values; each
other system is compared on what it holds:

==========  ==========================  ==========================================
attribute   billing (Stripe customer)   ERP customer
==========  ==========================  ==========================================
name        ``name`` (if set)           ``companyName`` (if set)
currency    ``currency`` (if set)       ``currency`` (if set)
parent      — (Stripe has none)         the CRM id of its parent (None: no parent)
==========  ==========================  ==========================================

A system whose customer is missing or ambiguous (several records claim the
account) is left out — ``customer.links`` reports that — so a duplicated billing
customer compares nothing from billing. Names compare exactly after trimming
surrounding blanks; currencies case-insensitively.

``DRIFT`` shows every system's value of each differing attribute side by side
(``SystemValue.attribute`` says which); the repair is ``UPDATE_CUSTOMER`` (an
update from the CRM's values re-syncs billing and the ERP). ``UNKNOWN`` when a
system it would compare could not be read (the ERP parent counts only when
there is one ERP customer to ask about). ``CONSISTENT`` also when there was
nothing to compare against.
"""

from __future__ import annotations

from datetime import datetime

from domain.consistency.policy import Policy
from domain.consistency.rules.support import (
    make_check,
    repair,
    unreadable_message,
    unreadable_values,
)
from domain.consistency.types import (
    Check,
    CheckStatus,
    CustomerBundle,
    RuleName,
    SubjectKind,
    SystemValue,
    Unreadable,
)
from domain.transactions import TransactionKind
from sources.systems import System

RULE = RuleName.CUSTOMER_ATTRIBUTES
SYSTEMS = (System.CRM, System.BILLING, System.ERP)
ATTRIBUTES = ("name", "currency", "parent")


def _name(value: str | None) -> str | None:
    return value.strip() if value is not None else None


def _currency(value: str | None) -> str | None:
    return value.strip().upper() if value is not None else None


Held = dict[str, list[tuple[System, str | None, str]]]
"""attribute → [(system, comparable value, record id)], the CRM first."""


def _hold(
    held: Held, system: System, record_id: str, name: str | None, currency: str | None
) -> None:
    """What a counterpart holds of the name and currency (a system may hold neither)."""
    if name is not None:
        held["name"].append((system, _name(name), record_id))
    if currency is not None:
        held["currency"].append((system, _currency(currency), record_id))


def check(bundle: CustomerBundle, policy: Policy, now: datetime) -> list[Check]:
    """The account's name, currency and parent in every system that holds them."""
    account = bundle.account
    markers: list[Unreadable] = []
    held: Held = {
        "name": [(System.CRM, _name(account.name), account.id)],
        "currency": [(System.CRM, _currency(account.currency), account.id)],
        "parent": [(System.CRM, account.parent_id, account.id)],
    }
    billing = bundle.billing_customers
    if isinstance(billing, Unreadable):
        markers.append(billing)
    elif len(billing) == 1:
        customer = billing[0]
        _hold(held, System.BILLING, customer.id, customer.name, customer.currency)
    erp = bundle.erp_customers
    if isinstance(erp, Unreadable):
        markers.append(erp)
    elif len(erp) == 1:
        erp_customer = erp[0]
        _hold(held, System.ERP, erp_customer.id, erp_customer.name, erp_customer.currency)
        parent = bundle.erp_parent_account_id
        if isinstance(parent, Unreadable):
            markers.append(parent)
        else:
            held["parent"].append((System.ERP, parent, erp_customer.id))
    if markers:
        return [
            make_check(
                RULE,
                bundle,
                policy,
                kind=SubjectKind.CUSTOMER,
                subject_id=account.id,
                status=CheckStatus.UNKNOWN,
                message=unreadable_message(markers),
                systems=SYSTEMS,
                values=unreadable_values(markers),
            )
        ]
    values: list[SystemValue] = []
    differing: list[str] = []
    for attribute in ATTRIBUTES:
        entries = held[attribute]
        if len({value for _, value, _ in entries}) > 1:
            shown = ", ".join(f"{system} {value!r}" for system, value, _ in entries)
            differing.append(f"{attribute} differs: {shown}")
            values += [
                SystemValue(system, value, record_id=record, attribute=attribute)
                for system, value, record in entries
            ]
    if not differing:
        compared = sorted({s for entries in held.values() for s, _, _ in entries} - {System.CRM})
        return [
            make_check(
                RULE,
                bundle,
                policy,
                kind=SubjectKind.CUSTOMER,
                subject_id=account.id,
                status=CheckStatus.CONSISTENT,
                message=(
                    f"name, currency and parent agree with {' and '.join(compared)}"
                    if compared
                    else "no billing or ERP customer to compare with"
                ),
                systems=SYSTEMS,
            )
        ]
    return [
        make_check(
            RULE,
            bundle,
            policy,
            kind=SubjectKind.CUSTOMER,
            subject_id=account.id,
            status=CheckStatus.DRIFT,
            message="; ".join(differing),
            systems=SYSTEMS,
            values=values,
            repair=repair(
                TransactionKind.UPDATE_CUSTOMER,
                "Update the customer from the CRM's values: the flow re-syncs billing and the ERP",
            ),
        )
    ]
