"""The retry budget bounds retries to a fraction of a source's traffic."""

from sources.retry_budget import RetryBudget


def test_retries_are_bounded_by_the_ratio_once_the_burst_is_spent() -> None:
    budget = RetryBudget(ratio=0.2, burst=10, tokens=10)
    allowed = 0
    for _ in range(1000):
        budget.deposit()
        if budget.withdraw():
            allowed += 1
    # 10 from the burst, then one retry per five first attempts.
    assert allowed <= 10 + 1000 * 0.2 + 1
    assert budget.denied == 1000 - allowed > 0


def test_a_quiet_source_keeps_its_burst() -> None:
    budget = RetryBudget(ratio=0.2, burst=3, tokens=0)
    for _ in range(100):
        budget.deposit()
    assert budget.tokens == 3
