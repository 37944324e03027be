"""``contract.version``: billing and the ERP are at the contract's version.

One check per Activated or Terminated contract that has a billing subscription
or an ERP revenue schedule (subject: the contract). The contract system owns
the version; it is compared with

* the subscription's ``metadata.contract_version`` (the subscription
  :func:`~domain.consistency.rules.support.billing_subscription` picks: the
  newest live one, for a Terminated contract the newest of any status), and
* the current revenue schedule's version (the highest ``contract_version``
  among the contract's schedules).

A side that does not exist is not compared (``contract.activation`` reports it
missing); with neither there is no check. A subscription without a version
stamp counts as a different version. Any differing side is ``DRIFT``, each
system's version side by side: the typical case is an amendment that updated
billing but not the ERP. Repair: ``AMEND_CONTRACT``, re-running the amendment's
follow-up steps (the subscription re-price, the schedule revision), with the
parked flow's correlation id when one waits on the contract. Subscriptions or
schedules unreadable: ``UNKNOWN``.
"""

from __future__ import annotations

from datetime import datetime

from domain.consistency.policy import Policy
from domain.consistency.rules.support import (
    billing_subscription,
    current_schedule,
    make_check,
    per_contract,
    repair,
    unreadable_message,
    unreadable_value,
)
from domain.consistency.types import (
    Check,
    CheckStatus,
    ContractBundle,
    CustomerBundle,
    RuleName,
    SubjectKind,
    SystemValue,
    Unreadable,
)
from domain.transactions import TransactionKind
from sources.systems import System

RULE = RuleName.CONTRACT_VERSION
SYSTEMS = (System.CONTRACTS, System.BILLING, System.ERP)


def check(bundle: CustomerBundle, policy: Policy, now: datetime) -> list[Check]:
    """Every activated or terminated contract with a subscription or a schedule."""
    return per_contract(RULE, bundle, policy, SYSTEMS, lambda item: _check(bundle, policy, item))


def _check(bundle: CustomerBundle, policy: Policy, item: ContractBundle) -> Check | None:
    contract = item.contract

    def result(
        status: CheckStatus, message: str, values: list[SystemValue], fix: bool = False
    ) -> Check:
        return make_check(
            RULE,
            bundle,
            policy,
            kind=SubjectKind.CONTRACT,
            subject_id=contract.id,
            status=status,
            message=message,
            systems=SYSTEMS,
            values=values,
            repair=repair(
                TransactionKind.AMEND_CONTRACT,
                "Re-run the amendment's follow-up steps: re-price the subscription and "
                "revise the revenue schedule to the contract's version",
            )
            if fix
            else None,
        )

    contract_value = SystemValue(
        System.CONTRACTS, str(contract.version), record_id=contract.id, attribute="version"
    )
    markers = [o for o in (item.subscriptions, item.schedules) if isinstance(o, Unreadable)]
    if markers:
        return result(
            CheckStatus.UNKNOWN,
            unreadable_message(markers),
            [contract_value, *(unreadable_value(m, "version") for m in markers)],
        )
    assert not isinstance(item.subscriptions, Unreadable)
    assert not isinstance(item.schedules, Unreadable)
    values = [contract_value]
    differing: list[str] = []
    subscription = billing_subscription(contract, item.subscriptions)
    if subscription is not None:
        version = subscription.contract_version
        values.append(
            SystemValue(
                System.BILLING,
                None if version is None else str(version),
                record_id=subscription.id,
                attribute="version",
            )
        )
        if version != contract.version:
            differing.append(f"BILLING subscription {subscription.id} is at version {version}")
    current = current_schedule(item.schedules)
    if current is not None:
        schedule = current.schedule
        values.append(
            SystemValue(
                System.ERP,
                str(schedule.contract_version),
                record_id=schedule.id,
                attribute="version",
            )
        )
        if schedule.contract_version != contract.version:
            differing.append(
                f"ERP revenue schedule {schedule.id} is at version {schedule.contract_version}"
            )
    if subscription is None and current is None:
        return None
    if differing:
        return result(
            CheckStatus.DRIFT,
            f"the contract is at version {contract.version}; " + "; ".join(differing),
            values,
            fix=True,
        )
    return result(
        CheckStatus.CONSISTENT,
        f"every system is at version {contract.version}",
        values,
    )
