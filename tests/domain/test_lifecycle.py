"""The cross-system lifecycle stage of a contract."""

from decimal import Decimal

import pytest

from domain.lifecycle import LifecycleFacts, Stage, derive_stage


@pytest.mark.parametrize(
    ("facts", "stage"),
    [
        (LifecycleFacts("Draft", 1), Stage.DRAFT),
        (LifecycleFacts("InApproval", 1), Stage.DRAFT),
        (LifecycleFacts("Activated", 1), Stage.APPROVED),
        (LifecycleFacts("Activated", 1, subscription_status="active"), Stage.ACTIVATED),
        (
            LifecycleFacts(
                "Activated", 1, subscription_status="active", invoice_statuses=("draft",)
            ),
            Stage.ACTIVATED,
        ),
        (
            LifecycleFacts(
                "Activated", 1, subscription_status="active", invoice_statuses=("open",)
            ),
            Stage.INVOICED,
        ),
        (
            LifecycleFacts(
                "Activated",
                1,
                subscription_status="active",
                invoice_statuses=("paid",),
                recognized=Decimal("10.00"),
            ),
            Stage.RECOGNIZED,
        ),
        (
            LifecycleFacts(
                "Activated", 2, subscription_status="active", recognized=Decimal("10.00")
            ),
            Stage.AMENDED,
        ),
        (LifecycleFacts("Activated", 2, subscription_status="past_due"), Stage.SUSPENDED),
        (LifecycleFacts("Activated", 1, subscription_status="paused"), Stage.SUSPENDED),
        (LifecycleFacts("Activated", 1, subscription_status="canceled"), Stage.TERMINATED),
        (LifecycleFacts("Terminated", 1, subscription_status="active"), Stage.TERMINATED),
        (LifecycleFacts("Expired", 1), Stage.TERMINATED),
        (LifecycleFacts("Expired", 1, renewed=True), Stage.RENEWED),
        (LifecycleFacts("Draft", 1, renewed=True), Stage.DRAFT),
    ],
)
def test_stage_takes_the_most_decisive_fact(facts: LifecycleFacts, stage: Stage) -> None:
    assert derive_stage(facts) is stage
