"""``customer.links``: every CRM account has exactly one billing and one ERP customer.

One check per account (subject: the CRM account):

===========================================  ========  ===================================
finding                                      status    repair
===========================================  ========  ===================================
one billing and one ERP customer             CONSISTENT
billing or ERP customers unreadable          UNKNOWN   —
no ERP customer                              MISSING   ``UPDATE_CUSTOMER``: re-sync (its
                                                       ERP step upserts the customer by
                                                       externalId from name, currency,
                                                       parent) — offered only while the
                                                       billing side is linked, since the
                                                       flow's billing step needs one
no billing customer                          MISSING   — (billing customers are created
                                                       only by onboarding; an operator
                                                       creates and stamps one)
two or more claim the account (either side)  DRIFT     — (an operator merges or unstamps
                                                       the duplicate); message says
                                                       ambiguous, values list every id
===========================================  ========  ===================================

Both sides are reported in one message when both are off; the status is the
worse of the two. ERP customers are matched by ``externalId`` and billing
customers by ``metadata.crm_account_id`` (what the bundle holds), so a record
with neither stamp is an orphan for the crosswalk, not for this rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.consistency.policy import Policy
from domain.consistency.rules.support import (
    make_check,
    repair,
    unreadable_message,
    unreadable_value,
    worst,
)
from domain.consistency.types import (
    Check,
    CheckStatus,
    CustomerBundle,
    Observed,
    Repair,
    RuleName,
    SubjectKind,
    SystemValue,
    Unreadable,
)
from domain.records import BillingCustomer, ErpCustomer
from domain.transactions import TransactionKind
from sources.systems import System

RULE = RuleName.CUSTOMER_LINKS
SYSTEMS = (System.CRM, System.BILLING, System.ERP)


def _side(
    system: System, found: Sequence[BillingCustomer | ErpCustomer]
) -> tuple[CheckStatus, str | None, list[SystemValue]]:
    ids = sorted(c.id for c in found)
    values = [SystemValue(system, i, record_id=i, attribute="customer_id") for i in ids]
    if not ids:
        values = [SystemValue(system, None, attribute="customer_id")]
        return CheckStatus.MISSING, f"no {system} customer", values
    if len(ids) > 1:
        return (
            CheckStatus.DRIFT,
            f"ambiguous: {len(ids)} {system} customers claim the account ({', '.join(ids)})",
            values,
        )
    return CheckStatus.CONSISTENT, None, values


def check(bundle: CustomerBundle, policy: Policy, now: datetime) -> list[Check]:
    """The account's links to billing and the ERP."""
    account = bundle.account
    crm = SystemValue(System.CRM, account.id, record_id=account.id, attribute="customer_id")
    sides: list[tuple[System, Observed[Sequence[BillingCustomer | ErpCustomer]]]] = [
        (System.BILLING, bundle.billing_customers),
        (System.ERP, bundle.erp_customers),
    ]
    markers = [found for _, found in sides if isinstance(found, Unreadable)]
    if markers:
        values = [crm]
        for system, found in sides:
            values += (
                [unreadable_value(found)]
                if isinstance(found, Unreadable)
                else _side(system, found)[2]
            )
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
                values=values,
            )
        ]
    statuses: list[CheckStatus] = []
    problems: list[str] = []
    values = [crm]
    fix: Repair | None = None
    for system, found in sides:
        assert not isinstance(found, Unreadable)
        status, problem, side_values = _side(system, found)
        statuses.append(status)
        values += side_values
        if problem:
            problems.append(problem)
    billing_status, erp_status = statuses
    if erp_status is CheckStatus.MISSING and billing_status is CheckStatus.CONSISTENT:
        fix = repair(
            TransactionKind.UPDATE_CUSTOMER,
            "Re-sync the account (updateCustomer with its name, currency and parent): "
            "the ERP step upserts the ERP customer by externalId",
        )
    status = worst(statuses)
    message = "; ".join(problems) if problems else "one billing and one ERP customer"
    return [
        make_check(
            RULE,
            bundle,
            policy,
            kind=SubjectKind.CUSTOMER,
            subject_id=account.id,
            status=status,
            message=message,
            systems=SYSTEMS,
            values=values,
            repair=fix,
        )
    ]
