"""The status rules of transactions and steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.transactions import (
    FINISHED,
    IllegalTransition,
    Step,
    StepStatus,
    TransactionStatus,
    check_step_transition,
    check_transaction_transition,
    sources_of,
    step_sources_of,
)
from sources.systems import System

T, S = TransactionStatus, StepStatus


@pytest.mark.parametrize("finished", sorted(FINISHED))
@pytest.mark.parametrize("target", list(TransactionStatus))
def test_a_finished_transaction_is_never_reopened(
    finished: TransactionStatus, target: TransactionStatus
) -> None:
    with pytest.raises(IllegalTransition, match=f"is {finished}; it cannot become {target}"):
        check_transaction_transition("c-1", finished, target)


def test_transaction_moves() -> None:
    check_transaction_transition("c", T.PENDING, T.RUNNING)
    check_transaction_transition("c", T.RUNNING, T.NEEDS_ATTENTION)
    check_transaction_transition("c", T.NEEDS_ATTENTION, T.RUNNING)  # retryException
    with pytest.raises(IllegalTransition):
        check_transaction_transition("c", T.RUNNING, T.PENDING)
    assert sources_of(T.RUNNING) == {T.PENDING, T.RUNNING, T.NEEDS_ATTENTION}
    assert sources_of(T.PENDING) == frozenset()


def test_step_moves() -> None:
    assert step_sources_of(S.RUNNING) == {S.PENDING, S.RUNNING, S.FAILED}
    assert step_sources_of(S.SUCCEEDED) == {S.RUNNING}
    with pytest.raises(IllegalTransition, match=r"step c#2 is SUCCEEDED"):
        check_step_transition("c", 2, S.SUCCEEDED, S.RUNNING)
    with pytest.raises(IllegalTransition):
        check_step_transition("c", 2, S.PENDING, S.SUCCEEDED)


def test_step_is_delayed_after_its_slo() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    step = Step("c", 1, System.ERP, "POST_INVOICE", S.RUNNING, 1, started_at=at)
    assert not step.is_delayed(timedelta(seconds=30), at + timedelta(seconds=30))
    assert step.is_delayed(timedelta(seconds=30), at + timedelta(seconds=31))
    done = Step("c", 1, System.ERP, "POST_INVOICE", S.SUCCEEDED, 1, started_at=at)
    assert not done.is_delayed(timedelta(0), at + timedelta(days=1))
