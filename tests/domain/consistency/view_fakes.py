"""Fakes for the view and sweep tests: a world of verdicts, a reader over it, a clock.

The fake ``evaluate`` does not judge records: it returns the verdicts the
:class:`World` held for the account when the bundle was read (so a test decides
what a recompute finds by changing the world, and a slow read keeps what it saw).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.consistency.types import (
    Check,
    CheckStatus,
    ContractBundle,
    CustomerBundle,
    RuleName,
    SubjectKind,
)
from domain.exception_items import ExceptionQueue
from domain.money import Money
from domain.records import Contract, ContractStatus, Customer
from sources.systems import System

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class Clock:
    """Each reading is one second after the previous one."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def verdict(
    customer: str,
    kind: SubjectKind,
    subject: str,
    rule: RuleName,
    status: CheckStatus = CheckStatus.CONSISTENT,
) -> Check:
    bad = status is not CheckStatus.CONSISTENT
    return Check(
        rule=rule,
        subject_kind=kind,
        subject_id=subject,
        customer_id=customer,
        status=status,
        message=f"{rule}: {status}",
        systems=(System.CRM, System.BILLING),
        variance=Money(Decimal("1.25"), "USD") if bad else None,
        queue=ExceptionQueue.SALES_OPS if bad else None,
    )


@dataclass
class Account:
    """What the systems hold for one account, as verdicts per subject."""

    status: CheckStatus = CheckStatus.CONSISTENT
    contracts: dict[str, CheckStatus] = field(default_factory=dict)

    def checks(self, customer: str) -> list[Check]:
        found = [
            verdict(customer, SubjectKind.CUSTOMER, customer, RuleName.CUSTOMER_LINKS, self.status)
        ]
        found += [
            verdict(customer, SubjectKind.CONTRACT, c, RuleName.CONTRACT_VALUE, s)
            for c, s in self.contracts.items()
        ]
        return found


def contract(contract_id: str, account_id: str) -> ContractBundle:
    return ContractBundle(
        contract=Contract(
            id=contract_id,
            number=contract_id,
            account_id=account_id,
            status=ContractStatus.ACTIVATED,
            currency="USD",
            total_value=Money(Decimal("100"), "USD"),
        ),
        lines=(),
        subscriptions=(),
        schedules=(),
    )


class World:
    """Accounts by id; a reader and an ``evaluate`` over them."""

    def __init__(self, accounts: dict[str, Account] | None = None) -> None:
        self.accounts: dict[str, Account] = dict(accounts or {})
        self.seen: dict[int, list[Check]] = {}
        self.customer_reads: list[str] = []
        self.page_calls: list[str | None] = []
        self.gate: asyncio.Event | None = None
        """When set, reads wait for it (to interleave a slow read with others)."""
        self.fail_on_page: int | None = None
        self.fail_reads = False
        """Single-customer reads raise (the CRM is down)."""
        self.after_page: Callable[[int], Any] | None = None

    def bundle(self, account_id: str, read_at: datetime) -> CustomerBundle:
        found = self.accounts[account_id]
        bundle = CustomerBundle(
            account=Customer(id=account_id, name=f"Account {account_id}", currency="USD"),
            read_at=read_at,
            billing_customers=(),
            erp_customers=(),
            erp_parent_account_id=None,
            contracts=tuple(contract(c, account_id) for c in found.contracts),
            invoices=(),
        )
        self.seen[id(bundle)] = found.checks(account_id)
        return bundle

    def evaluate(self, bundle: CustomerBundle, policy: Any, now: datetime) -> list[Check]:
        assert policy == "policy"
        return self.seen[id(bundle)]

    async def customer(
        self, account_id: str, *, now: datetime | None = None
    ) -> CustomerBundle | None:
        self.customer_reads.append(account_id)
        if self.fail_reads:
            raise RuntimeError("CRM down")
        if account_id not in self.accounts:
            return None
        bundle = self.bundle(account_id, now or T0)
        if self.gate is not None:
            await self.gate.wait()
        return bundle

    async def pages(
        self, *, after: str | None = None, page_size: int = 200
    ) -> AsyncIterator[tuple[list[CustomerBundle], str | None]]:
        self.page_calls.append(after)
        ids = sorted(i for i in self.accounts if after is None or i > after)
        n = 0
        while True:
            chunk, ids = ids[:page_size], ids[page_size:]
            if not chunk:
                return
            n += 1
            if self.fail_on_page == n:
                raise RuntimeError(f"page {n} failed")
            bundles = [self.bundle(i, T0) for i in chunk]
            if self.gate is not None:
                await self.gate.wait()
            yield bundles, chunk[-1]
            if self.after_page is not None:
                await self.after_page(n)
            if len(chunk) < page_size:
                return
