"""The end-to-end lifecycle stage of a contract, derived across the systems.

No single system knows where a contract is in quote-to-cash: the contract
system knows its status and version, billing whether it is live and invoiced,
the ERP whether revenue has been recognized. :func:`derive_stage` combines what
each says into one :class:`Stage`, most decisive fact first:

==============  ============================================================
TERMINATED      contract Terminated, or Expired without a renewal, or the
                subscription canceled
RENEWED         a later contract renews this one (its ``renewal_of``)
SUSPENDED       the subscription is paused or past due
AMENDED         live, and amended since activation (version > 1)
RECOGNIZED      the ERP has recognized revenue on the schedule
INVOICED        billing has finalized at least one invoice for it
ACTIVATED       billing has a live subscription for it
APPROVED        Activated in the contract system, not yet live in billing
DRAFT           Draft or in approval in the contract system
==============  ============================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from domain.money import Money
from domain.records import ContractStatus, InvoiceStatus, SubscriptionStatus


class Stage(StrEnum):
    DRAFT = "DRAFT"
    APPROVED = "APPROVED"
    ACTIVATED = "ACTIVATED"
    INVOICED = "INVOICED"
    RECOGNIZED = "RECOGNIZED"
    AMENDED = "AMENDED"
    SUSPENDED = "SUSPENDED"
    RENEWED = "RENEWED"
    TERMINATED = "TERMINATED"


FINALIZED_INVOICE_STATUSES = frozenset(
    {InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE}
)
SUSPENDED_SUBSCRIPTION_STATUSES = frozenset(
    {SubscriptionStatus.PAUSED, SubscriptionStatus.PAST_DUE}
)
DRAFT_CONTRACT_STATUSES = frozenset({ContractStatus.DRAFT, ContractStatus.IN_APPROVAL})
ENDED_CONTRACT_STATUSES = frozenset({ContractStatus.TERMINATED, ContractStatus.EXPIRED})


@dataclass(frozen=True)
class LifecycleFacts:
    """What the three systems say about one contract (None: that system has nothing).

    Statuses are the domain enums (their values compare equal, so plain strings
    such as ``"Activated"`` work too); ``recognized`` is the revenue the ERP has
    recognized on the contract's schedule (None: no schedule, or no currency).
    """

    contract_status: ContractStatus | str
    contract_version: int
    renewed: bool = False
    subscription_status: SubscriptionStatus | str | None = None
    invoice_statuses: tuple[InvoiceStatus | str, ...] = ()
    recognized: Money | Decimal | None = None

    @property
    def recognized_amount(self) -> Decimal:
        recognized = self.recognized
        if recognized is None:
            return Decimal(0)
        return recognized.amount if isinstance(recognized, Money) else recognized


def derive_stage(facts: LifecycleFacts) -> Stage:
    """The single stage that best describes the contract end to end."""
    status = facts.contract_status
    if status in DRAFT_CONTRACT_STATUSES:
        return Stage.DRAFT
    if facts.renewed:
        return Stage.RENEWED
    if status in ENDED_CONTRACT_STATUSES or (
        facts.subscription_status == SubscriptionStatus.CANCELED
    ):
        return Stage.TERMINATED
    if facts.subscription_status is None:
        return Stage.APPROVED
    if facts.subscription_status in SUSPENDED_SUBSCRIPTION_STATUSES:
        return Stage.SUSPENDED
    if facts.contract_version > 1:
        return Stage.AMENDED
    if facts.recognized_amount > 0:
        return Stage.RECOGNIZED
    if any(s in FINALIZED_INVOICE_STATUSES for s in facts.invoice_statuses):
        return Stage.INVOICED
    return Stage.ACTIVATED
