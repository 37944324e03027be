"""What the rules share: building checks, ranking statuses, picking the records to compare.

Conventions every rule follows (and the tests hold them to):

* **UNKNOWN wins.** If a system the check needs could not be read, the check is
  ``UNKNOWN`` whatever the others say (never ``CONSISTENT`` or ``MISSING``), with
  that system's :class:`SystemValue` marked unreadable and the reason in the message.
* Otherwise the worst finding decides: ``MISSING`` > ``DRIFT`` > ``PENDING`` >
  ``CONSISTENT`` (:func:`worst`).
* A non-consistent check carries the rule's queue from the policy (``UNKNOWN`` and
  ``PENDING`` too: the owner is who watches it); a :class:`Repair` only on
  ``DRIFT`` and ``MISSING``, with the correlation id of a flow parked on the
  subject when there is one.
* A rule reports only on subjects it applies to (a Draft contract has no
  activation check); what another rule owns it leaves alone (``contract.version``
  does not report a missing schedule).
* When the contract system (or billing's invoice list) could not be read, the
  contract rules (or ``invoice.posting``) cannot name their subjects: each reports
  one ``UNKNOWN`` check on the *customer* instead (:func:`unknown_for_customer`),
  so an outage is visible rather than silent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from domain.consistency.policy import Policy
from domain.consistency.types import (
    Check,
    CheckStatus,
    ContractBundle,
    CustomerBundle,
    Repair,
    RuleName,
    ScheduleBundle,
    SubjectKind,
    SystemValue,
    Unreadable,
)
from domain.money import Money
from domain.records import Contract, ContractStatus, Subscription, SubscriptionStatus
from domain.transactions import TransactionKind
from sources.systems import System

__all__ = [
    "BILLED_STATUSES",
    "ENDED_SUBSCRIPTIONS",
    "Rule",
    "billing_over_term",
    "billing_subscription",
    "current_schedule",
    "is_live",
    "make_check",
    "money_text",
    "repair",
    "unknown_for_customer",
    "unreadable_message",
    "unreadable_value",
    "unreadable_values",
    "worst",
]

Rule = Callable[[CustomerBundle, Policy, datetime], list[Check]]
"""A rule: one customer's bundle, the policy and the time of evaluation → its checks."""

_SEVERITY = {
    CheckStatus.CONSISTENT: 0,
    CheckStatus.PENDING: 1,
    CheckStatus.DRIFT: 2,
    CheckStatus.MISSING: 3,
    CheckStatus.UNKNOWN: 4,
}

BILLED_STATUSES = frozenset({ContractStatus.ACTIVATED, ContractStatus.TERMINATED})
"""Contract statuses whose contract went through activation (billing and ERP follow)."""

ENDED_SUBSCRIPTIONS = frozenset(
    {SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED}
)
"""Subscription statuses that no longer bill (``domain.transitions.state_of``)."""


def worst(statuses: Iterable[CheckStatus]) -> CheckStatus:
    """The most severe status (UNKNOWN > MISSING > DRIFT > PENDING > CONSISTENT)."""
    return max(statuses, key=_SEVERITY.__getitem__, default=CheckStatus.CONSISTENT)


def make_check(
    rule: RuleName,
    bundle: CustomerBundle,
    policy: Policy,
    *,
    kind: SubjectKind,
    subject_id: str,
    status: CheckStatus,
    message: str,
    systems: Sequence[System],
    values: Sequence[SystemValue] = (),
    variance: Money | None = None,
    repair: Repair | None = None,
) -> Check:
    """A check with the policy's queue (unless consistent) and the repair only where it applies.

    ``repair`` is kept on DRIFT and MISSING and gets the correlation id of a flow
    parked on the subject (``bundle.parked``) unless it has one already.
    """
    if status not in (CheckStatus.DRIFT, CheckStatus.MISSING):
        repair = None
    elif repair is not None and repair.correlation_id is None and subject_id in bundle.parked:
        repair = Repair(repair.kind, repair.description, bundle.parked[subject_id])
    return Check(
        rule=rule,
        subject_kind=kind,
        subject_id=subject_id,
        customer_id=bundle.account.id,
        status=status,
        message=message,
        systems=tuple(systems),
        values=tuple(values),
        variance=variance,
        queue=None if status is CheckStatus.CONSISTENT else policy.queue(rule),
        repair=repair,
    )


def unreadable_value(marker: Unreadable, attribute: str | None = None) -> SystemValue:
    """The side-by-side entry of a system that could not be read."""
    return SystemValue(marker.system, None, readable=False, attribute=attribute)


def unreadable_values(markers: Iterable[Unreadable]) -> list[SystemValue]:
    """One unreadable entry per distinct system among ``markers``."""
    systems = dict.fromkeys(marker.system for marker in markers)
    return [SystemValue(system, None, readable=False) for system in systems]


def unreadable_message(markers: Iterable[Unreadable]) -> str:
    """``"BILLING could not be read (timeout)"``, one clause per distinct system."""
    seen: dict[System, str] = {}
    for marker in markers:
        seen.setdefault(marker.system, marker.reason)
    return "; ".join(f"{system} could not be read ({reason})" for system, reason in seen.items())


def unknown_for_customer(
    rule: RuleName,
    bundle: CustomerBundle,
    policy: Policy,
    marker: Unreadable,
    systems: Sequence[System],
    what: str,
) -> list[Check]:
    """The one UNKNOWN check a rule reports when it cannot even list its subjects."""
    return [
        make_check(
            rule,
            bundle,
            policy,
            kind=SubjectKind.CUSTOMER,
            subject_id=bundle.account.id,
            status=CheckStatus.UNKNOWN,
            message=f"{unreadable_message([marker])}: no {what} of this customer was checked",
            systems=systems,
            values=(unreadable_value(marker),),
        )
    ]


Verdict = Callable[..., Check]
"""``verdict(status, message, values, variance=None)``: a check on one subject."""


def verdict_on(
    rule: RuleName,
    bundle: CustomerBundle,
    policy: Policy,
    kind: SubjectKind,
    subject_id: str,
    systems: Sequence[System],
) -> Verdict:
    """The checks a rule reports on one subject differ only in what it found."""

    def verdict(
        status: CheckStatus,
        message: str,
        values: Sequence[SystemValue],
        variance: Money | None = None,
    ) -> Check:
        return make_check(
            rule,
            bundle,
            policy,
            kind=kind,
            subject_id=subject_id,
            status=status,
            message=message,
            systems=systems,
            values=values,
            variance=variance,
        )

    return verdict


def per_contract(
    rule: RuleName,
    bundle: CustomerBundle,
    policy: Policy,
    systems: Sequence[System],
    judge: Callable[[ContractBundle], Check | None],
    *,
    billed_only: bool = True,
) -> list[Check]:
    """``judge`` each of the customer's contracts (only activated or terminated ones
    with ``billed_only``); one UNKNOWN check when the contracts could not be read."""
    if isinstance(bundle.contracts, Unreadable):
        return unknown_for_customer(rule, bundle, policy, bundle.contracts, systems, "contract")
    judged = (
        judge(item)
        for item in bundle.contracts
        if not billed_only or item.contract.status in BILLED_STATUSES
    )
    return [found for found in judged if found is not None]


def is_live(subscription: Subscription) -> bool:
    """The subscription still bills (not canceled, not expired-incomplete)."""
    return subscription.status not in ENDED_SUBSCRIPTIONS


def billing_subscription(
    contract: Contract, subscriptions: Sequence[Subscription]
) -> Subscription | None:
    """The subscription that bills ``contract``: the newest live one for an Activated
    contract (an ended one does not count, as in ``state_of``), the newest of any
    status for a Terminated one (its subscription is canceled by then)."""
    candidates = [
        s for s in subscriptions if contract.status is not ContractStatus.ACTIVATED or is_live(s)
    ]
    return max(candidates, key=lambda s: (s.created_at, s.id), default=None)


def current_schedule(schedules: Sequence[ScheduleBundle]) -> ScheduleBundle | None:
    """The contract's current revenue schedule: the highest ``contract_version``."""
    return max(
        schedules,
        key=lambda b: (b.schedule.contract_version, b.schedule.id),
        default=None,
    )


_MONTHS_PER_INTERVAL = {"month": Decimal(1), "year": Decimal(12)}
_FREQUENCY_INTERVAL = {"Monthly": "month", "Annual": "year"}


def _periods(term_months: int, interval: str | None, count: int | None) -> Decimal | None:
    months = _MONTHS_PER_INTERVAL.get(interval or "")
    if months is None:
        return None
    return Decimal(term_months) / (months * (count or 1))


def billing_over_term(subscription: Subscription, contract: ContractBundle) -> Money | None:
    """What the subscription bills over the contract's term, rounded to the minor unit.

    Σ item unit price * quantity * billing periods in the term (months for monthly
    prices, term/12 for yearly ones, divided by ``interval_count``) — the contract
    system's ``TotalValue__c`` formula applied to billing's prices. Without items,
    the recurring amount at the contract's billing frequency. None when the term
    is unknown or an interval cannot be counted in months (weekly, daily).
    """
    term = contract.contract.term_months
    if not term:
        return None
    total = Money.zero(subscription.currency)
    if subscription.items:
        for item in subscription.items:
            periods = _periods(term, item.interval, item.interval_count)
            if periods is None or item.unit_price.currency != subscription.currency:
                return None
            total += item.unit_price * item.quantity * periods
    else:
        interval = _FREQUENCY_INTERVAL.get(contract.contract.billing_frequency or "")
        periods = _periods(term, interval, 1)
        if periods is None:
            return None
        total = subscription.recurring_amount * periods
    return total.quantize()


def money_text(amount: Money) -> str:
    """An amount as a display value: ``"1234.50"`` (the currency travels in ``money``)."""
    return f"{amount.amount:.{max(amount.exponent, -int(amount.amount.as_tuple().exponent))}f}"


def repair(kind: TransactionKind, description: str) -> Repair:
    return Repair(kind.value, description)
