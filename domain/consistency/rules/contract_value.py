"""``contract.value``: the contract's value, billing over the term and the ERP schedule agree.

One check per Activated or Terminated contract with a counterpart at the
contract's version (subject: the contract). Three amounts in the contract's
currency:

* **CONTRACTS** — ``TotalValue__c``, the reference;
* **BILLING** — what the subscription bills over the term
  (:func:`~domain.consistency.rules.support.billing_over_term`: Σ unit price *
  quantity * billing periods in the term; yearly prices count term/12 periods),
  compared only when the subscription bills the contract's version;
* **ERP** — the current revenue schedule's total, compared only when the
  schedule is at the contract's version and, for a Terminated contract, not
  truncated (its end is the contract's end: a termination ends the schedule
  early by design, so its total is no longer the contract's value).

A counterpart at another version is ``contract.version``'s finding, so it is not
compared here (an amendment that never reached the ERP is reported once, as a
version drift, not also as a value drift); with no counterpart at the
contract's version there is no check.

Each compared amount's variance (its amount - the contract's) must be within
the policy's ``contract.value`` threshold against the contract's value;
otherwise ``DRIFT``. The check's ``variance`` is the largest variance by
magnitude (zero when all agree). A counterpart in another currency, or an
amount that cannot be computed (no term, an interval not countable in months,
a schedule without a currency), is ``DRIFT`` without a variance. Subscriptions
or schedules unreadable: ``UNKNOWN``. No repair: which side is wrong is a
judgement (a credit note, a schedule correction), for the owning queue.
"""

from __future__ import annotations

from datetime import datetime

from domain.consistency.policy import Policy
from domain.consistency.rules.support import (
    billing_over_term,
    billing_subscription,
    current_schedule,
    money_text,
    per_contract,
    unreadable_message,
    unreadable_value,
    verdict_on,
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
from domain.money import Money
from domain.records import ContractStatus
from sources.systems import System

RULE = RuleName.CONTRACT_VALUE
SYSTEMS = (System.CONTRACTS, System.BILLING, System.ERP)


def check(bundle: CustomerBundle, policy: Policy, now: datetime) -> list[Check]:
    """Every activated or terminated contract with a counterpart at its version."""
    return per_contract(RULE, bundle, policy, SYSTEMS, lambda item: _check(bundle, policy, item))


def _check(bundle: CustomerBundle, policy: Policy, item: ContractBundle) -> Check | None:
    contract = item.contract
    reference = contract.total_value
    threshold = policy.threshold(RULE)

    result = verdict_on(RULE, bundle, policy, SubjectKind.CONTRACT, contract.id, SYSTEMS)

    contract_value = SystemValue(
        System.CONTRACTS,
        money_text(reference),
        money=reference,
        record_id=contract.id,
        attribute="total_value",
    )
    markers = [o for o in (item.subscriptions, item.schedules) if isinstance(o, Unreadable)]
    if markers:
        return result(
            CheckStatus.UNKNOWN,
            unreadable_message(markers),
            [contract_value, *(unreadable_value(m, "value") for m in markers)],
        )
    assert not isinstance(item.subscriptions, Unreadable)
    assert not isinstance(item.schedules, Unreadable)

    # (system, amount or None when it cannot be computed, record id, attribute, why not)
    compared: list[tuple[System, Money | None, str, str, str]] = []
    subscription = billing_subscription(contract, item.subscriptions)
    if subscription is not None and subscription.contract_version == contract.version:
        compared.append(
            (
                System.BILLING,
                billing_over_term(subscription, item),
                subscription.id,
                "billing_over_term",
                "its billing over the term cannot be computed (term or interval unknown)",
            )
        )
    current = current_schedule(item.schedules)
    if current is not None and current.schedule.contract_version == contract.version:
        schedule = current.schedule
        truncated = (
            contract.status is ContractStatus.TERMINATED
            and schedule.end is not None
            and contract.end_date is not None
            and schedule.end < contract.end_date
        )
        if not truncated:
            compared.append(
                (
                    System.ERP,
                    schedule.total,
                    schedule.id,
                    "schedule_total",
                    "the revenue schedule has no currency",
                )
            )
    if not compared:
        return None

    values = [contract_value]
    problems: list[str] = []
    variances: list[Money] = []
    for system, amount, record_id, attribute, unknown in compared:
        values.append(
            SystemValue(
                system,
                None if amount is None else money_text(amount),
                money=amount,
                record_id=record_id,
                attribute=attribute,
            )
        )
        if amount is None:
            problems.append(f"{system} {record_id}: {unknown}")
        elif amount.currency != reference.currency:
            problems.append(
                f"{system} {record_id} is in {amount.currency}, the contract in "
                f"{reference.currency}"
            )
        else:
            variance = amount - reference
            variances.append(variance)
            if not threshold.within(variance, reference):
                problems.append(
                    f"{system} {attribute.replace('_', ' ')} {amount} differs from the "
                    f"contract value {reference} by {variance} "
                    f"(tolerance {threshold.describe(reference.currency)})"
                )
    largest = max(variances, key=lambda v: abs(v.amount), default=None)
    if problems:
        return result(CheckStatus.DRIFT, "; ".join(problems), values, largest)
    names = " and ".join(str(system) for system, *_ in compared)
    return result(
        CheckStatus.CONSISTENT,
        f"{names} {'agree' if len(compared) > 1 else 'agrees'} with the contract value {reference}",
        values,
        largest,
    )
