"""``revenue.rollforward``: a contract's current revenue schedule adds up.

One check per contract with a revenue schedule (subject: the contract; the
current schedule is the one at the highest ``contract_version``). All within the
ERP, all in the schedule's currency:

1. Σ line amounts = the schedule's total;
2. recognized + deferred = total (the header's roll-forward);
3. Σ recognized line amounts = the header's recognized total;
4. nothing is recognized beyond the term: no recognized line has a period after
   the schedule's end nor after the contract's ``EndDate``.

(1)-(3) are amount comparisons under the policy's ``revenue.rollforward``
threshold against the schedule total (exact by default). A termination ends the
schedule early (its end becomes the termination date) and that is the end
checked; the contract's ``TerminatedDate__c`` is not: revenue recognized for a
period the schedule still holds is not this rule's business.

Any breach is ``DRIFT`` with the breached figures side by side and the largest
amount variance; a schedule without a currency (no amounts) is ``DRIFT``.
Schedules or the current schedule's lines unreadable: ``UNKNOWN``. No schedule:
no check (``contract.activation`` says whether one is due). No repair: fixing a
revenue plan is an accountant's call (``FINANCE_OPS`` by default).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from domain.consistency.policy import Policy
from domain.consistency.rules.support import (
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
from domain.revenue_schedule import period_of
from sources.systems import System

RULE = RuleName.REVENUE_ROLLFORWARD
SYSTEMS = (System.ERP,)


def check(bundle: CustomerBundle, policy: Policy, now: datetime) -> list[Check]:
    """Every contract of the customer that has a revenue schedule."""
    return per_contract(
        RULE,
        bundle,
        policy,
        (System.CONTRACTS, System.ERP),
        lambda item: _check(bundle, policy, item),
        billed_only=False,
    )


def _check(bundle: CustomerBundle, policy: Policy, item: ContractBundle) -> Check | None:
    contract = item.contract

    result = verdict_on(RULE, bundle, policy, SubjectKind.CONTRACT, contract.id, SYSTEMS)

    if isinstance(item.schedules, Unreadable):
        return result(
            CheckStatus.UNKNOWN,
            unreadable_message([item.schedules]),
            [unreadable_value(item.schedules, "schedule")],
        )
    current = current_schedule(item.schedules)
    if current is None:
        return None
    schedule = current.schedule
    if isinstance(current.lines, Unreadable):
        return result(
            CheckStatus.UNKNOWN,
            f"lines of revenue schedule {schedule.id}: {unreadable_message([current.lines])}",
            [unreadable_value(current.lines, "lines")],
        )
    total, recognized, deferred = schedule.total, schedule.recognized, schedule.deferred
    if total is None or recognized is None or deferred is None:
        return result(
            CheckStatus.DRIFT,
            f"revenue schedule {schedule.id} has no currency: its amounts cannot be read",
            [SystemValue(System.ERP, None, record_id=schedule.id, attribute="total")],
        )
    currency = total.currency
    lines = current.lines
    # Exact sums (no rounding to the minor unit: a stray sub-cent amount shows).
    line_sum = Money(sum((line.amount for line in lines), Decimal(0)), currency)
    recognized_sum = Money(
        sum((line.amount for line in lines if line.recognized), Decimal(0)), currency
    )
    threshold = policy.threshold(RULE)

    def shown(attribute: str, amount: Money) -> SystemValue:
        return SystemValue(
            System.ERP, money_text(amount), money=amount, record_id=schedule.id, attribute=attribute
        )

    values = [shown("total", total)]
    problems: list[str] = []
    variances: list[Money] = []
    comparisons = (
        ("lines_total", line_sum, total, "the lines add up to"),
        ("recognized_plus_deferred", recognized + deferred, total, "recognized + deferred is"),
        ("recognized_lines", recognized_sum, recognized, "the recognized lines add up to"),
    )
    for attribute, amount, expected, what in comparisons:
        variance = amount - expected
        variances.append(variance)
        if not threshold.within(variance, total):
            problems.append(f"{what} {amount}, not {expected}")
            if attribute == "recognized_lines":
                values.append(shown("recognized", recognized))
            values.append(shown(attribute, amount))
            if attribute == "recognized_plus_deferred":
                values.append(shown("deferred", deferred))

    ends = [d for d in (schedule.end, contract.end_date) if d is not None]
    if ends:
        last = period_of(min(ends))
        beyond = sorted(line.period for line in lines if line.recognized and line.period > last)
        if beyond:
            problems.append(
                f"{len(beyond)} line(s) recognized after the term ends in {last} "
                f"({', '.join(beyond)})"
            )
            values.append(
                SystemValue(
                    System.ERP, ", ".join(beyond), record_id=schedule.id, attribute="beyond_term"
                )
            )
    largest = max(variances, key=lambda v: abs(v.amount))
    if problems:
        return result(
            CheckStatus.DRIFT,
            f"revenue schedule {schedule.id} (version {schedule.contract_version}): "
            + "; ".join(problems),
            values,
            largest,
        )
    return result(
        CheckStatus.CONSISTENT,
        f"revenue schedule {schedule.id} rolls forward: {recognized} recognized + "
        f"{deferred} deferred = {total}",
        values,
        largest,
    )
