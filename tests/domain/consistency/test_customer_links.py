"""customer.links: one billing and one ERP customer per CRM account."""

from __future__ import annotations

from typing import Any

import pytest

from domain.consistency.rules import customer_links
from domain.consistency.types import CheckStatus, Repair, RuleName, SubjectKind, SystemValue
from domain.exception_items import ExceptionQueue
from sources.systems import System

from .builders import ACCOUNT, DEFAULT, NOW, billing_customer, bundle, down, erp_customer, only

B, E = System.BILLING, System.ERP


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({}, CheckStatus.CONSISTENT, "one billing and one ERP customer"),
        ({"erp_customers": ()}, CheckStatus.MISSING, "no ERP customer"),
        ({"billing_customers": ()}, CheckStatus.MISSING, "no BILLING customer"),
        (
            {"billing_customers": (billing_customer(), billing_customer(id="cus_0"))},
            CheckStatus.DRIFT,
            "ambiguous: 2 BILLING customers claim the account (cus_0, cus_1)",
        ),
        (
            {"erp_customers": (erp_customer(), erp_customer(id="502"))},
            CheckStatus.DRIFT,
            "ambiguous: 2 ERP customers claim the account (501, 502)",
        ),
        (
            {"billing_customers": (), "erp_customers": (erp_customer(), erp_customer(id="502"))},
            CheckStatus.MISSING,
            "no BILLING customer; ambiguous: 2 ERP customers claim the account (501, 502)",
        ),
        (
            {"billing_customers": down(B)},
            CheckStatus.UNKNOWN,
            "BILLING could not be read (timeout)",
        ),
        ({"erp_customers": down(E)}, CheckStatus.UNKNOWN, "ERP could not be read (timeout)"),
        (
            {"billing_customers": (), "erp_customers": down(E)},
            CheckStatus.UNKNOWN,  # never MISSING while a system it needs is unreadable
            "ERP could not be read (timeout)",
        ),
        (
            {"billing_customers": down(B), "erp_customers": down(E)},
            CheckStatus.UNKNOWN,
            "BILLING could not be read (timeout); ERP could not be read (timeout)",
        ),
    ],
)
def test_links(changes: dict[str, Any], status: CheckStatus, message: str) -> None:
    check = only(customer_links.check(bundle(**changes), DEFAULT, NOW))
    assert (check.rule, check.subject_kind, check.subject_id) == (
        RuleName.CUSTOMER_LINKS,
        SubjectKind.CUSTOMER,
        ACCOUNT,
    )
    assert (check.status, check.message) == (status, message)
    assert check.systems == (System.CRM, B, E)
    assert check.customer_id == ACCOUNT
    assert check.queue == (None if status is CheckStatus.CONSISTENT else ExceptionQueue.SALES_OPS)


def test_an_ambiguous_match_lists_every_claimant() -> None:
    duplicated = bundle(billing_customers=(billing_customer(), billing_customer(id="cus_2")))
    check = only(customer_links.check(duplicated, DEFAULT, NOW))
    assert [(v.system, v.value) for v in check.values] == [
        (System.CRM, ACCOUNT),
        (B, "cus_1"),
        (B, "cus_2"),
        (E, "501"),
    ]
    assert check.repair is None  # an operator merges the duplicate


def test_a_missing_erp_customer_is_repaired_by_a_resync() -> None:
    check = only(customer_links.check(bundle(erp_customers=()), DEFAULT, NOW))
    assert check.repair is not None
    assert check.repair.kind == "UPDATE_CUSTOMER"
    assert check.repair.correlation_id is None
    assert SystemValue(E, None, attribute="customer_id") in check.values


def test_a_parked_flow_on_the_customer_is_named_in_the_repair() -> None:
    parked = bundle(erp_customers=(), parked={ACCOUNT: "corr-7"})
    check = only(customer_links.check(parked, DEFAULT, NOW))
    assert check.repair == Repair(
        "UPDATE_CUSTOMER",
        "Re-sync the account (updateCustomer with its name, currency and parent): "
        "the ERP step upserts the ERP customer by externalId",
        "corr-7",
    )


def test_a_missing_billing_customer_has_no_flow_to_repair_it() -> None:
    check = only(customer_links.check(bundle(billing_customers=()), DEFAULT, NOW))
    assert check.repair is None


def test_unreadable_systems_are_marked_side_by_side() -> None:
    check = only(customer_links.check(bundle(erp_customers=down(E)), DEFAULT, NOW))
    assert SystemValue(E, None, readable=False) in check.values
    assert check.repair is None
