"""customer.attributes: name, currency and parent agree where each system holds them."""

from __future__ import annotations

from typing import Any

import pytest

from domain.consistency.rules import customer_attributes
from domain.consistency.types import CheckStatus, RuleName, SubjectKind, SystemValue
from domain.exception_items import ExceptionQueue
from sources.systems import System

from .builders import (
    ACCOUNT,
    DEFAULT,
    NOW,
    account,
    billing_customer,
    bundle,
    down,
    erp_customer,
    only,
)

C, B, E = System.CRM, System.BILLING, System.ERP


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({}, CheckStatus.CONSISTENT, "name, currency and parent agree with BILLING and ERP"),
        (
            {"account": account(name="Acme Holdings")},
            CheckStatus.DRIFT,
            "name differs: CRM 'Acme Holdings', BILLING 'Acme Corp', ERP 'Acme Corp'",
        ),
        (
            {"erp_customers": (erp_customer(currency="EUR"),)},
            CheckStatus.DRIFT,
            "currency differs: CRM 'USD', BILLING 'USD', ERP 'EUR'",
        ),
        (
            {"account": account(parent_id="001P")},
            CheckStatus.DRIFT,
            "parent differs: CRM '001P', ERP None",
        ),
        (
            {"erp_parent_account_id": "001P"},
            CheckStatus.DRIFT,
            "parent differs: CRM None, ERP '001P'",
        ),
        (
            {"account": account(parent_id="001P"), "erp_parent_account_id": "001P"},
            CheckStatus.CONSISTENT,
            "name, currency and parent agree with BILLING and ERP",
        ),
        # Blanks around a name and the case of a currency do not count.
        (
            {"billing_customers": (billing_customer(name=" Acme Corp ", currency="usd"),)},
            CheckStatus.CONSISTENT,
            "name, currency and parent agree with BILLING and ERP",
        ),
        # Billing without a name or currency: nothing to compare there.
        (
            {"billing_customers": (billing_customer(name=None, currency=None),)},
            CheckStatus.CONSISTENT,
            "name, currency and parent agree with ERP",
        ),
        # A missing ERP customer is customer.links' finding: compare with billing only.
        (
            {"erp_customers": (), "erp_parent_account_id": "001X"},
            CheckStatus.CONSISTENT,
            "name, currency and parent agree with BILLING",
        ),
        (
            {"erp_customers": (), "billing_customers": (billing_customer(name="Old"),)},
            CheckStatus.DRIFT,
            "name differs: CRM 'Acme Corp', BILLING 'Old'",
        ),
        # Ambiguous billing: nothing from billing is compared.
        (
            {
                "billing_customers": (
                    billing_customer(name="Old"),
                    billing_customer(id="cus_2", currency="EUR"),
                )
            },
            CheckStatus.CONSISTENT,
            "name, currency and parent agree with ERP",
        ),
        (
            {"billing_customers": (), "erp_customers": ()},
            CheckStatus.CONSISTENT,
            "no billing or ERP customer to compare with",
        ),
        (
            {"billing_customers": down(B)},
            CheckStatus.UNKNOWN,
            "BILLING could not be read (timeout)",
        ),
        ({"erp_customers": down(E)}, CheckStatus.UNKNOWN, "ERP could not be read (timeout)"),
        (
            {"erp_parent_account_id": down(E)},
            CheckStatus.UNKNOWN,
            "ERP could not be read (timeout)",
        ),
        (
            {
                "account": account(name="Renamed"),
                "erp_customers": down(E),
                "erp_parent_account_id": down(E),
            },
            CheckStatus.UNKNOWN,  # never a verdict while a system it needs is unreadable
            "ERP could not be read (timeout)",
        ),
        # The parent is only asked about when there is one ERP customer.
        (
            {"erp_customers": (), "erp_parent_account_id": down(E)},
            CheckStatus.CONSISTENT,
            "name, currency and parent agree with BILLING",
        ),
    ],
)
def test_attributes(changes: dict[str, Any], status: CheckStatus, message: str) -> None:
    check = only(customer_attributes.check(bundle(**changes), DEFAULT, NOW))
    assert (check.rule, check.subject_kind, check.subject_id) == (
        RuleName.CUSTOMER_ATTRIBUTES,
        SubjectKind.CUSTOMER,
        ACCOUNT,
    )
    assert (check.status, check.message) == (status, message)
    assert check.systems == (C, B, E)
    assert check.queue == (None if status is CheckStatus.CONSISTENT else ExceptionQueue.SALES_OPS)
    assert (check.repair is not None) is (status is CheckStatus.DRIFT)


def test_each_differing_attribute_is_shown_side_by_side() -> None:
    drifted = bundle(
        account=account(name="New", parent_id="001P"),
        erp_customers=(erp_customer(currency="EUR"),),
    )
    check = only(customer_attributes.check(drifted, DEFAULT, NOW))
    assert check.message == (
        "name differs: CRM 'New', BILLING 'Acme Corp', ERP 'Acme Corp'; "
        "currency differs: CRM 'USD', BILLING 'USD', ERP 'EUR'; "
        "parent differs: CRM '001P', ERP None"
    )
    assert check.values == (
        SystemValue(C, "New", record_id=ACCOUNT, attribute="name"),
        SystemValue(B, "Acme Corp", record_id="cus_1", attribute="name"),
        SystemValue(E, "Acme Corp", record_id="501", attribute="name"),
        SystemValue(C, "USD", record_id=ACCOUNT, attribute="currency"),
        SystemValue(B, "USD", record_id="cus_1", attribute="currency"),
        SystemValue(E, "EUR", record_id="501", attribute="currency"),
        SystemValue(C, "001P", record_id=ACCOUNT, attribute="parent"),
        SystemValue(E, None, record_id="501", attribute="parent"),
    )
    assert check.repair is not None
    assert check.repair.kind == "UPDATE_CUSTOMER"


def test_unknown_marks_each_unreadable_system_once() -> None:
    check = only(
        customer_attributes.check(
            bundle(erp_customers=down(E), erp_parent_account_id=down(E)), DEFAULT, NOW
        )
    )
    assert check.values == (SystemValue(E, None, readable=False),)
    assert check.repair is None
