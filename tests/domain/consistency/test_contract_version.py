"""contract.version: billing and the ERP are at the contract's version."""

from __future__ import annotations

from typing import Any

import pytest

from domain.consistency.rules import contract_version
from domain.consistency.types import CheckStatus, Repair, RuleName, SubjectKind, SystemValue
from domain.exception_items import ExceptionQueue
from domain.records import ContractStatus, SubscriptionStatus
from sources.systems import System

from .builders import (
    ACCOUNT,
    CONTRACT,
    DEFAULT,
    NOW,
    bundle,
    contract,
    contract_bundle,
    down,
    only,
    schedule,
    schedule_bundle,
    subscription,
)

V2 = contract(version=2)
SUB_V2 = subscription(contract_version=2)
SCHED_V1 = schedule_bundle(schedule(version=1))
SCHED_V2 = schedule_bundle(schedule(version=2, schedule_id="102"))


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({}, CheckStatus.CONSISTENT, "every system is at version 1"),
        (
            {"the_contract": V2, "subscriptions": (SUB_V2,), "schedules": (SCHED_V1,)},
            CheckStatus.DRIFT,
            "the contract is at version 2; ERP revenue schedule 101 is at version 1",
        ),
        (
            {"the_contract": V2, "subscriptions": (subscription(),), "schedules": (SCHED_V2,)},
            CheckStatus.DRIFT,
            "the contract is at version 2; BILLING subscription sub_1 is at version 1",
        ),
        (
            {"subscriptions": (subscription(contract_version=None),)},
            CheckStatus.DRIFT,
            "the contract is at version 1; BILLING subscription sub_1 is at version None",
        ),
        (
            {"the_contract": V2, "subscriptions": (subscription(),), "schedules": (SCHED_V1,)},
            CheckStatus.DRIFT,
            "the contract is at version 2; BILLING subscription sub_1 is at version 1; "
            "ERP revenue schedule 101 is at version 1",
        ),
        # The current schedule is the highest version.
        (
            {"the_contract": V2, "subscriptions": (SUB_V2,), "schedules": (SCHED_V1, SCHED_V2)},
            CheckStatus.CONSISTENT,
            "every system is at version 2",
        ),
        # A missing side is contract.activation's finding: only what exists is compared.
        ({"subscriptions": ()}, CheckStatus.CONSISTENT, "every system is at version 1"),
        (
            {"the_contract": V2, "subscriptions": (SUB_V2,), "schedules": ()},
            CheckStatus.CONSISTENT,
            "every system is at version 2",
        ),
        # An ended subscription does not bill an Activated contract.
        (
            {
                "subscriptions": (
                    subscription(status=SubscriptionStatus.CANCELED, contract_version=7),
                )
            },
            CheckStatus.CONSISTENT,
            "every system is at version 1",
        ),
        # A Terminated contract's canceled subscription is still its subscription.
        (
            {
                "the_contract": contract(status=ContractStatus.TERMINATED),
                "subscriptions": (
                    subscription(status=SubscriptionStatus.CANCELED, contract_version=7),
                ),
            },
            CheckStatus.DRIFT,
            "the contract is at version 1; BILLING subscription sub_1 is at version 7",
        ),
        (
            {"subscriptions": down(System.BILLING)},
            CheckStatus.UNKNOWN,
            "BILLING could not be read (timeout)",
        ),
        (
            {"the_contract": V2, "schedules": down(System.ERP)},
            CheckStatus.UNKNOWN,
            "ERP could not be read (timeout)",
        ),
    ],
)
def test_version(changes: dict[str, Any], status: CheckStatus, message: str) -> None:
    check = only(
        contract_version.check(bundle(contracts=(contract_bundle(**changes),)), DEFAULT, NOW)
    )
    assert (check.rule, check.subject_kind, check.subject_id, check.customer_id) == (
        RuleName.CONTRACT_VERSION,
        SubjectKind.CONTRACT,
        CONTRACT,
        ACCOUNT,
    )
    assert (check.status, check.message) == (status, message)
    assert check.queue == (None if status is CheckStatus.CONSISTENT else ExceptionQueue.FINANCE_OPS)
    assert (check.repair is not None) is (status is CheckStatus.DRIFT)


def test_versions_side_by_side_and_the_parked_amendment_in_the_repair() -> None:
    item = contract_bundle(V2, subscriptions=(SUB_V2,), schedules=(SCHED_V1,))
    check = only(
        contract_version.check(
            bundle(contracts=(item,), parked={CONTRACT: "amend-1"}), DEFAULT, NOW
        )
    )
    assert check.values == (
        SystemValue(System.CONTRACTS, "2", record_id=CONTRACT, attribute="version"),
        SystemValue(System.BILLING, "2", record_id="sub_1", attribute="version"),
        SystemValue(System.ERP, "1", record_id="101", attribute="version"),
    )
    assert check.repair == Repair(
        "AMEND_CONTRACT",
        "Re-run the amendment's follow-up steps: re-price the subscription and revise the "
        "revenue schedule to the contract's version",
        "amend-1",
    )


@pytest.mark.parametrize(
    "item",
    [
        contract_bundle(subscriptions=(), schedules=()),
        contract_bundle(contract(status=ContractStatus.DRAFT)),
        contract_bundle(contract(status=ContractStatus.EXPIRED)),
    ],
)
def test_no_check_without_a_counterpart_or_for_contracts_never_billed(item: Any) -> None:
    assert contract_version.check(bundle(contracts=(item,)), DEFAULT, NOW) == []


def test_an_unreadable_contract_system_is_one_unknown_check_on_the_customer() -> None:
    check = only(contract_version.check(bundle(contracts=down(System.CONTRACTS)), DEFAULT, NOW))
    assert (check.subject_kind, check.status) == (SubjectKind.CUSTOMER, CheckStatus.UNKNOWN)
