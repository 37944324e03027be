"""contract.activation: activated contracts have a live subscription and a revenue schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.consistency.rules import contract_activation
from domain.consistency.types import CheckStatus, RuleName, SubjectKind, SystemValue
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
    schedule_bundle,
    subscription,
)

ACTIVATED_AT = datetime(2026, 1, 1, 12, tzinfo=UTC)
INSIDE = ACTIVATED_AT + timedelta(hours=23)
AFTER = ACTIVATED_AT + timedelta(hours=25)
CANCELED = subscription(status=SubscriptionStatus.CANCELED)
TERMINATED = contract(status=ContractStatus.TERMINATED)


@pytest.mark.parametrize(
    ("changes", "now", "status", "message"),
    [
        ({}, NOW, CheckStatus.CONSISTENT, "live subscription and revenue schedule in place"),
        (
            {"subscriptions": (subscription(status=SubscriptionStatus.PAUSED),)},
            NOW,
            CheckStatus.CONSISTENT,
            "live subscription and revenue schedule in place",
        ),
        (
            {"subscriptions": (subscription(status=SubscriptionStatus.PAST_DUE),)},
            NOW,
            CheckStatus.CONSISTENT,
            "live subscription and revenue schedule in place",
        ),
        (
            {"subscriptions": ()},
            INSIDE,
            CheckStatus.PENDING,
            "no live BILLING subscription (within the activation SLO of 24h from "
            "2026-01-01T12:00:00+00:00)",
        ),
        (
            {"subscriptions": ()},
            AFTER,
            CheckStatus.MISSING,
            "no live BILLING subscription (past the activation SLO of 24h from "
            "2026-01-01T12:00:00+00:00)",
        ),
        (
            {"subscriptions": (CANCELED,)},
            AFTER,
            CheckStatus.MISSING,
            "no live BILLING subscription (1 ended) (past the activation SLO of 24h from "
            "2026-01-01T12:00:00+00:00)",
        ),
        (
            {"schedules": ()},
            INSIDE,
            CheckStatus.PENDING,
            "no ERP revenue schedule (within the activation SLO of 24h from "
            "2026-01-01T12:00:00+00:00)",
        ),
        (
            {"schedules": ()},
            AFTER,
            CheckStatus.MISSING,
            "no ERP revenue schedule (past the activation SLO of 24h from "
            "2026-01-01T12:00:00+00:00)",
        ),
        (
            {"subscriptions": (), "schedules": ()},
            AFTER,
            CheckStatus.MISSING,
            "no live BILLING subscription; no ERP revenue schedule (past the activation SLO "
            "of 24h from 2026-01-01T12:00:00+00:00)",
        ),
        (
            {"the_contract": contract(activated_at=None), "schedules": ()},
            INSIDE,
            CheckStatus.MISSING,
            "no ERP revenue schedule (activation time unknown)",
        ),
        (
            {"subscriptions": (subscription(), subscription(id="sub_2"))},
            NOW,
            CheckStatus.DRIFT,
            "ambiguous: 2 live BILLING subscriptions bill the contract (sub_1, sub_2)",
        ),
        # Terminated: billing may be canceled; the schedule stays expected if it was billed.
        (
            {"the_contract": TERMINATED, "subscriptions": (CANCELED,)},
            NOW,
            CheckStatus.CONSISTENT,
            "terminated: revenue schedule in place",
        ),
        (
            {"the_contract": TERMINATED, "subscriptions": (CANCELED,), "schedules": ()},
            NOW,
            CheckStatus.MISSING,
            "no ERP revenue schedule (past the activation SLO of 24h from "
            "2026-01-01T12:00:00+00:00)",
        ),
        (
            {"the_contract": TERMINATED, "subscriptions": (), "schedules": ()},
            NOW,
            CheckStatus.CONSISTENT,
            "terminated before billing started: nothing expected",
        ),
        # Unreadable: UNKNOWN, whatever the other system says.
        (
            {"subscriptions": down(System.BILLING)},
            NOW,
            CheckStatus.UNKNOWN,
            "BILLING could not be read (timeout)",
        ),
        (
            {"subscriptions": (), "schedules": down(System.ERP)},
            NOW,
            CheckStatus.UNKNOWN,
            "ERP could not be read (timeout)",
        ),
        (
            {"the_contract": TERMINATED, "schedules": down(System.ERP)},
            NOW,
            CheckStatus.UNKNOWN,
            "ERP could not be read (timeout)",
        ),
    ],
)
def test_activation(
    changes: dict[str, Any], now: datetime, status: CheckStatus, message: str
) -> None:
    check = only(
        contract_activation.check(bundle(contracts=(contract_bundle(**changes),)), DEFAULT, now)
    )
    assert (check.rule, check.subject_kind, check.subject_id, check.customer_id) == (
        RuleName.CONTRACT_ACTIVATION,
        SubjectKind.CONTRACT,
        CONTRACT,
        ACCOUNT,
    )
    assert (check.status, check.message) == (status, message)
    assert check.systems == (System.CONTRACTS, System.BILLING, System.ERP)
    assert check.queue == (None if status is CheckStatus.CONSISTENT else ExceptionQueue.FINANCE_OPS)
    if status in (CheckStatus.CONSISTENT, CheckStatus.PENDING, CheckStatus.UNKNOWN):
        assert check.repair is None


@pytest.mark.parametrize(
    "status", [ContractStatus.DRAFT, ContractStatus.IN_APPROVAL, ContractStatus.EXPIRED]
)
def test_contracts_that_were_never_or_are_no_longer_live_are_not_checked(
    status: ContractStatus,
) -> None:
    item = contract_bundle(contract(status=status), subscriptions=(), schedules=())
    assert contract_activation.check(bundle(contracts=(item,)), DEFAULT, NOW) == []


def test_a_missing_piece_of_an_activated_contract_is_repaired_by_activation() -> None:
    item = contract_bundle(schedules=())
    check = only(
        contract_activation.check(
            bundle(contracts=(item,), parked={CONTRACT: "corr-1"}), DEFAULT, NOW
        )
    )
    assert check.repair is not None
    assert (check.repair.kind, check.repair.correlation_id) == ("ACTIVATE_CONTRACT", "corr-1")
    assert SystemValue(System.ERP, None, attribute="schedule") in check.values


def test_a_terminated_contract_has_no_flow_to_repair_its_schedule() -> None:
    item = contract_bundle(TERMINATED, subscriptions=(CANCELED,), schedules=())
    check = only(contract_activation.check(bundle(contracts=(item,)), DEFAULT, NOW))
    assert check.status is CheckStatus.MISSING
    assert check.repair is None


def test_the_values_show_what_each_system_holds() -> None:
    check = only(contract_activation.check(bundle(), DEFAULT, NOW))
    assert check.values == (
        SystemValue(System.CONTRACTS, "Activated", record_id=CONTRACT, attribute="status"),
        SystemValue(System.BILLING, "active", record_id="sub_1", attribute="subscription"),
        SystemValue(System.ERP, "1", record_id="101", attribute="schedule"),
    )


def test_an_unreadable_contract_system_is_one_unknown_check_on_the_customer() -> None:
    check = only(contract_activation.check(bundle(contracts=down(System.CONTRACTS)), DEFAULT, NOW))
    assert (check.subject_kind, check.subject_id, check.status) == (
        SubjectKind.CUSTOMER,
        ACCOUNT,
        CheckStatus.UNKNOWN,
    )
    assert check.message == (
        "CONTRACTS could not be read (timeout): no contract of this customer was checked"
    )
    assert check.values == (SystemValue(System.CONTRACTS, None, readable=False),)


def test_one_check_per_applicable_contract() -> None:
    items = (
        contract_bundle(),
        contract_bundle(contract(id="800D", status=ContractStatus.DRAFT), (), ()),
        contract_bundle(
            contract(id="800E"),
            subscriptions=(subscription(id="sub_e", contract_id="800E"),),
            schedules=(schedule_bundle(),),
        ),
    )
    checks = contract_activation.check(bundle(contracts=items), DEFAULT, NOW)
    assert [c.subject_id for c in checks] == [CONTRACT, "800E"]
