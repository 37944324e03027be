"""``contract.activation``: an activated contract has a live subscription and a revenue schedule.

One check per contract that went through activation (subject: the contract).
What is expected, by the contract system's status:

==========  =======================================  ===============================
status      billing                                  ERP
==========  =======================================  ===============================
Activated   a live subscription (not canceled or     a revenue schedule (any
            expired-incomplete: ``state_of`` would   version: ``contract.version``
            say APPROVED without one)                compares versions)
Terminated  nothing (canceled is fine; a contract    a revenue schedule, when billing
            terminated before billing started has    has (had) a subscription for it:
            none)                                    the contract was live, its
                                                     revenue is booked (truncated)
Expired     nothing                                  nothing (expired contracts are
Draft, ...                                           not checked: no check at all)
==========  =======================================  ===============================

Something expected and absent is ``PENDING`` while ``now - activated_at`` is within
the policy's ``activation_slo`` (the activation flow may still be running), and
``MISSING`` after it (or when the activation time is unknown). Several live
subscriptions for one contract are ``DRIFT`` (ambiguous). Subscriptions or
schedules unreadable: ``UNKNOWN``.

Repair: ``ACTIVATE_CONTRACT`` for an Activated contract (re-running activation
creates what is missing; its billing step is keyed by contract version so an
existing subscription is reused); none for a Terminated one (the state machine
refuses to activate it again: an operator creates the schedule).
"""

from __future__ import annotations

from datetime import datetime

from domain.consistency.policy import Policy, duration_text
from domain.consistency.rules.support import (
    is_live,
    make_check,
    per_contract,
    repair,
    unreadable_message,
    unreadable_value,
    worst,
)
from domain.consistency.types import (
    Check,
    CheckStatus,
    ContractBundle,
    CustomerBundle,
    Repair,
    RuleName,
    SubjectKind,
    SystemValue,
    Unreadable,
)
from domain.records import ContractStatus
from domain.transactions import TransactionKind
from sources.systems import System

RULE = RuleName.CONTRACT_ACTIVATION
SYSTEMS = (System.CONTRACTS, System.BILLING, System.ERP)


def check(bundle: CustomerBundle, policy: Policy, now: datetime) -> list[Check]:
    """Every activated or terminated contract of the customer."""
    return per_contract(
        RULE, bundle, policy, SYSTEMS, lambda item: _check(bundle, policy, now, item)
    )


def _check(bundle: CustomerBundle, policy: Policy, now: datetime, item: ContractBundle) -> Check:
    contract = item.contract
    activated = contract.status is ContractStatus.ACTIVATED
    status_value = SystemValue(
        System.CONTRACTS, contract.status.value, record_id=contract.id, attribute="status"
    )

    def result(
        status: CheckStatus, message: str, values: list[SystemValue], fix: Repair | None = None
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
            values=[status_value, *values],
            repair=fix,
        )

    markers = [o for o in (item.subscriptions, item.schedules) if isinstance(o, Unreadable)]
    if markers:
        return result(
            CheckStatus.UNKNOWN,
            unreadable_message(markers),
            [
                unreadable_value(m, "subscription" if m is item.subscriptions else "schedule")
                for m in markers
            ],
        )
    assert not isinstance(item.subscriptions, Unreadable)
    assert not isinstance(item.schedules, Unreadable)
    subscriptions = sorted(item.subscriptions, key=lambda s: s.id)
    live = [s for s in subscriptions if is_live(s)]
    schedules = sorted(item.schedules, key=lambda b: b.schedule.id)

    overdue = contract.activated_at is None or now - contract.activated_at > policy.activation_slo
    absent = CheckStatus.MISSING if overdue else CheckStatus.PENDING
    slo = duration_text(policy.activation_slo)
    window = (
        "activation time unknown"
        if contract.activated_at is None
        else f"{'past' if overdue else 'within'} the activation SLO of {slo} "
        f"from {contract.activated_at.isoformat()}"
    )
    statuses: list[CheckStatus] = []
    problems: list[str] = []
    values: list[SystemValue] = []

    if activated:
        values += [
            SystemValue(System.BILLING, s.status.value, record_id=s.id, attribute="subscription")
            for s in subscriptions
        ] or [SystemValue(System.BILLING, None, attribute="subscription")]
        if not live:
            statuses.append(absent)
            ended = f" ({len(subscriptions)} ended)" if subscriptions else ""
            problems.append(f"no live BILLING subscription{ended}")
        elif len(live) > 1:
            statuses.append(CheckStatus.DRIFT)
            problems.append(
                f"ambiguous: {len(live)} live BILLING subscriptions bill the contract "
                f"({', '.join(s.id for s in live)})"
            )
    schedule_expected = activated or bool(subscriptions)
    if schedule_expected:
        values += [
            SystemValue(
                System.ERP,
                str(b.schedule.contract_version),
                record_id=b.schedule.id,
                attribute="schedule",
            )
            for b in schedules
        ] or [SystemValue(System.ERP, None, attribute="schedule")]
        if not schedules:
            statuses.append(absent)
            problems.append("no ERP revenue schedule")

    status = worst(statuses)
    if status is CheckStatus.CONSISTENT:
        if activated:
            message = "live subscription and revenue schedule in place"
        elif schedule_expected:
            message = "terminated: revenue schedule in place"
        else:
            message = "terminated before billing started: nothing expected"
        return result(status, message, values)
    message = "; ".join(problems)
    if absent in statuses and status in (CheckStatus.PENDING, CheckStatus.MISSING):
        message += f" ({window})"
    fix = (
        repair(
            TransactionKind.ACTIVATE_CONTRACT,
            "Re-run the activation: it creates the missing subscription or revenue schedule",
        )
        if activated
        else None
    )
    return result(status, message, values, fix)
