"""The contract state machine: every legal and every illegal transition."""

from __future__ import annotations

import itertools

import pytest

from domain.transitions import (
    CONTRACT_STATUS,
    Action,
    Allowed,
    ContractSnapshot,
    ContractState,
    Refusal,
    RefusalCode,
    check,
    legal_actions,
    state_of,
)
from simulators.contracts.lifecycle import TRANSITIONS as ORG_TRANSITIONS

S = ContractState
# (action, from) → (to, version delta); written out here, independently of the module.
LEGAL: dict[tuple[Action, ContractState], tuple[ContractState, int]] = {
    (Action.SUBMIT, S.DRAFT): (S.IN_APPROVAL, 0),
    (Action.REJECT, S.IN_APPROVAL): (S.DRAFT, 0),
    (Action.APPROVE, S.IN_APPROVAL): (S.APPROVED, 0),
    (Action.ACTIVATE, S.APPROVED): (S.ACTIVE, 0),
    (Action.AMEND, S.ACTIVE): (S.ACTIVE, 1),
    (Action.RENEW, S.ACTIVE): (S.ACTIVE, 0),
    (Action.RENEW, S.EXPIRED): (S.EXPIRED, 0),
    (Action.SUSPEND, S.ACTIVE): (S.SUSPENDED, 0),
    (Action.RESUME, S.SUSPENDED): (S.ACTIVE, 0),
    (Action.TERMINATE, S.APPROVED): (S.TERMINATED, 0),
    (Action.TERMINATE, S.ACTIVE): (S.TERMINATED, 0),
    (Action.TERMINATE, S.SUSPENDED): (S.TERMINATED, 0),
}
PAIRS = list(itertools.product(Action, ContractState))


@pytest.mark.parametrize(("action", "state"), [p for p in PAIRS if p in LEGAL])
def test_legal(action: Action, state: ContractState) -> None:
    target, delta = LEGAL[action, state]
    assert check(action, ContractSnapshot(state, 3), expected_version=3) == Allowed(
        action, state, target, 3 + delta
    )


@pytest.mark.parametrize(("action", "state"), [p for p in PAIRS if p not in LEGAL])
def test_illegal(action: Action, state: ContractState) -> None:
    result = check(action, ContractSnapshot(state, 2), expected_version=2)
    assert isinstance(result, Refusal)
    assert result.code is RefusalCode.ILLEGAL_TRANSITION
    if action is not Action.CREATE:
        assert f"Cannot {action} a contract that is {state}" in result.message


def test_create_only_when_there_is_no_contract() -> None:
    assert check(Action.CREATE, None) == Allowed(Action.CREATE, None, S.DRAFT, 1)
    refused = check(Action.CREATE, ContractSnapshot(S.DRAFT, 1))
    assert isinstance(refused, Refusal) and refused.message == "The contract already exists"


@pytest.mark.parametrize("action", [a for a in Action if a is not Action.CREATE])
def test_actions_on_a_missing_contract(action: Action) -> None:
    result = check(action, None, expected_version=1)
    assert isinstance(result, Refusal) and result.code is RefusalCode.NOT_FOUND


@pytest.mark.parametrize(("action", "state"), list(LEGAL))
def test_a_stale_version_is_a_conflict(action: Action, state: ContractState) -> None:
    result = check(action, ContractSnapshot(state, 4), expected_version=3)
    assert result == Refusal(
        RefusalCode.VERSION_CONFLICT,
        "The contract is at version 4, not 3: read it again and retry",
        "version",
    )


def test_version_conflict_is_reported_before_an_illegal_transition() -> None:
    result = check(Action.AMEND, ContractSnapshot(S.TERMINATED, 4), expected_version=3)
    assert isinstance(result, Refusal) and result.code is RefusalCode.VERSION_CONFLICT


def test_without_an_expected_version_there_is_no_version_check() -> None:
    assert isinstance(check(Action.AMEND, ContractSnapshot(S.ACTIVE, 4)), Allowed)


def test_legal_actions() -> None:
    assert legal_actions(S.ACTIVE) == {
        Action.AMEND,
        Action.RENEW,
        Action.SUSPEND,
        Action.TERMINATE,
    }
    assert legal_actions(S.TERMINATED) == frozenset()
    for state in ContractState:
        assert legal_actions(state) == {a for a, s in LEGAL if s is state}


@pytest.mark.parametrize(("action", "state"), list(LEGAL))
def test_every_status_change_is_one_the_contract_org_accepts(
    action: Action, state: ContractState
) -> None:
    target, _ = LEGAL[action, state]
    old, new = CONTRACT_STATUS[state], CONTRACT_STATUS[target]
    if old != new:
        assert new in ORG_TRANSITIONS[old]


@pytest.mark.parametrize(
    ("status", "subscription", "state"),
    [
        ("Draft", None, S.DRAFT),
        ("InApproval", None, S.IN_APPROVAL),
        ("Activated", None, S.APPROVED),
        ("Activated", "canceled", S.APPROVED),
        ("Activated", "incomplete_expired", S.APPROVED),
        ("Activated", "active", S.ACTIVE),
        ("Activated", "past_due", S.ACTIVE),
        ("Activated", "trialing", S.ACTIVE),
        ("Activated", "paused", S.SUSPENDED),
        ("Terminated", "canceled", S.TERMINATED),
        ("Expired", None, S.EXPIRED),
    ],
)
def test_state_of(status: str, subscription: str | None, state: ContractState) -> None:
    assert state_of(status, subscription) is state
    assert CONTRACT_STATUS[state] == status
