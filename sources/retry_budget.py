"""A retry budget per source: retries add at most a fraction to its traffic.

Each first attempt deposits ``ratio`` of a token (capped at ``burst``); each
retry spends a whole one. So in steady state retries are at most ``ratio`` of
the calls (20 % by default), however many requests fail at once, and a system
that fails everything gets its normal load plus a little, not three times it.
``burst`` lets a quiet source still retry its occasional failure.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RetryBudget:
    ratio: float = 0.2
    burst: float = 10.0
    tokens: float = 10.0
    denied: int = 0
    """Retries refused for lack of budget (for metrics)."""

    def deposit(self) -> None:
        """A first attempt went out."""
        self.tokens = min(self.burst, self.tokens + self.ratio)

    def withdraw(self) -> bool:
        """May a retry go out? Spends a token if so."""
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        self.denied += 1
        return False
