"""The contract lifecycle as one state machine: which action is legal from which state.

Every contract mutation is checked here before anything is written anywhere:
an illegal transition (amend a Draft, activate a terminated contract) or a
stale expected version is a :class:`Refusal`, which the mutation returns as a
userError, and nothing changes in any system. The checks are pure: the caller
reads the contract's current state and version from the systems first.

The states combine the contract system's ``Status`` with billing, because the
contract org knows only Draft → InApproval → Activated → Terminated | Expired
(and InApproval back to Draft, ``simulators/contracts/lifecycle.py``):

===========  ==============================  =======================================
state        contract system                 billing
===========  ==============================  =======================================
DRAFT        Draft                           —
IN_APPROVAL  InApproval                      —
APPROVED     Activated                       no live subscription yet
ACTIVE       Activated                       live subscription
SUSPENDED    Activated                       subscription paused
TERMINATED   Terminated                      canceled
EXPIRED      Expired                         —
===========  ==============================  =======================================

=========  =================================  ============  =======================
action     from                               to            version
=========  =================================  ============  =======================
create     (no contract)                      DRAFT         1
submit     DRAFT                              IN_APPROVAL   unchanged
reject     IN_APPROVAL                        DRAFT         unchanged
approve    IN_APPROVAL                        APPROVED      unchanged
activate   APPROVED                           ACTIVE        unchanged
amend      ACTIVE                             ACTIVE        + 1
renew      ACTIVE, EXPIRED                    unchanged     unchanged (a new Draft
                                                            contract renews it)
suspend    ACTIVE                             SUSPENDED     unchanged
resume     SUSPENDED                          ACTIVE        unchanged
terminate  APPROVED, ACTIVE, SUSPENDED        TERMINATED    unchanged
=========  =================================  ============  =======================

Every action on an existing contract carries the version the caller last saw
(optimistic concurrency); a different current version is VERSION_CONFLICT.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.records import ContractStatus, SubscriptionStatus


class ContractState(StrEnum):
    DRAFT = "DRAFT"
    IN_APPROVAL = "IN_APPROVAL"
    APPROVED = "APPROVED"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"
    EXPIRED = "EXPIRED"


class Action(StrEnum):
    CREATE = "create"
    SUBMIT = "submit"
    REJECT = "reject"
    APPROVE = "approve"
    ACTIVATE = "activate"
    AMEND = "amend"
    RENEW = "renew"
    SUSPEND = "suspend"
    RESUME = "resume"
    TERMINATE = "terminate"


CONTRACT_STATUS: dict[ContractState, ContractStatus] = {
    ContractState.DRAFT: ContractStatus.DRAFT,
    ContractState.IN_APPROVAL: ContractStatus.IN_APPROVAL,
    ContractState.APPROVED: ContractStatus.ACTIVATED,
    ContractState.ACTIVE: ContractStatus.ACTIVATED,
    ContractState.SUSPENDED: ContractStatus.ACTIVATED,
    ContractState.TERMINATED: ContractStatus.TERMINATED,
    ContractState.EXPIRED: ContractStatus.EXPIRED,
}
"""The contract system's ``Status`` in each state."""


@dataclass(frozen=True, slots=True)
class Transition:
    """``action`` is legal from ``sources``; it leads to ``target`` (None: state unchanged)."""

    sources: frozenset[ContractState | None]
    target: ContractState | None
    new_version: bool = False
    """The action makes a new contract version (amendment)."""


_S = ContractState
TRANSITIONS: dict[Action, Transition] = {
    Action.CREATE: Transition(frozenset({None}), _S.DRAFT),
    Action.SUBMIT: Transition(frozenset({_S.DRAFT}), _S.IN_APPROVAL),
    Action.REJECT: Transition(frozenset({_S.IN_APPROVAL}), _S.DRAFT),
    Action.APPROVE: Transition(frozenset({_S.IN_APPROVAL}), _S.APPROVED),
    Action.ACTIVATE: Transition(frozenset({_S.APPROVED}), _S.ACTIVE),
    Action.AMEND: Transition(frozenset({_S.ACTIVE}), _S.ACTIVE, new_version=True),
    Action.RENEW: Transition(frozenset({_S.ACTIVE, _S.EXPIRED}), None),
    Action.SUSPEND: Transition(frozenset({_S.ACTIVE}), _S.SUSPENDED),
    Action.RESUME: Transition(frozenset({_S.SUSPENDED}), _S.ACTIVE),
    Action.TERMINATE: Transition(frozenset({_S.APPROVED, _S.ACTIVE, _S.SUSPENDED}), _S.TERMINATED),
}


def state_of(
    contract_status: ContractStatus | str,
    subscription_status: SubscriptionStatus | str | None = None,
) -> ContractState:
    """The lifecycle state from the contract's status and its billing subscription's.

    An Activated contract is APPROVED until billing has a subscription for it
    that is not over (a canceled or expired-incomplete one does not count),
    SUSPENDED while that subscription is paused, else ACTIVE.
    """
    status = ContractStatus(contract_status)
    if status is not ContractStatus.ACTIVATED:
        return {
            ContractStatus.DRAFT: _S.DRAFT,
            ContractStatus.IN_APPROVAL: _S.IN_APPROVAL,
            ContractStatus.TERMINATED: _S.TERMINATED,
            ContractStatus.EXPIRED: _S.EXPIRED,
        }[status]
    if subscription_status is None or subscription_status in (
        SubscriptionStatus.CANCELED,
        SubscriptionStatus.INCOMPLETE_EXPIRED,
    ):
        return _S.APPROVED
    if subscription_status == SubscriptionStatus.PAUSED:
        return _S.SUSPENDED
    return _S.ACTIVE


@dataclass(frozen=True, slots=True)
class ContractSnapshot:
    """What the caller read: the contract's state and current version."""

    state: ContractState
    version: int


class RefusalCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    VERSION_CONFLICT = "VERSION_CONFLICT"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an action may not run; a userError ``{field, code, message}`` as it stands."""

    code: RefusalCode
    message: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Allowed:
    """The action may run: the state and version the contract will have after it."""

    action: Action
    source: ContractState | None
    target: ContractState
    version: int


def check(
    action: Action, current: ContractSnapshot | None, expected_version: int | None = None
) -> Allowed | Refusal:
    """Whether ``action`` may run on a contract now in ``current`` (None: no such contract).

    ``expected_version`` is the version the caller last saw; mutations always
    pass it (None skips the check). Refusals are checked in this order: the
    contract exists (or, for create, does not), the version matches, the action
    is legal from the current state.
    """
    transition = TRANSITIONS[action]
    if current is None:
        if None in transition.sources:
            assert transition.target is not None
            return Allowed(action, None, transition.target, 1)
        return Refusal(RefusalCode.NOT_FOUND, f"No such contract to {action}")
    if expected_version is not None and expected_version != current.version:
        return Refusal(
            RefusalCode.VERSION_CONFLICT,
            f"The contract is at version {current.version}, not {expected_version}: "
            "read it again and retry",
            "version",
        )
    if current.state not in transition.sources:
        if action is Action.CREATE:
            message = "The contract already exists"
        else:
            legal = ", ".join(sorted(s for s in transition.sources if s is not None))
            message = f"Cannot {action} a contract that is {current.state} (only {legal})"
        return Refusal(RefusalCode.ILLEGAL_TRANSITION, message)
    return Allowed(
        action,
        current.state,
        transition.target or current.state,
        current.version + 1 if transition.new_version else current.version,
    )


def legal_actions(state: ContractState) -> frozenset[Action]:
    """The actions allowed from ``state`` (what an app may offer)."""
    return frozenset(a for a, t in TRANSITIONS.items() if state in t.sources)
