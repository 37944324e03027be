"""The crosswalk: one canonical id per customer and its id in every system.

The canonical id is the CRM Account Id (the CRM owns customer identity). The
other systems carry it themselves: a Stripe customer in
``metadata.crm_account_id``, a NetSuite customer as its ``externalId``. So the
crosswalk can always be rebuilt from the systems:

* :func:`link` is the pure part: given every account, billing customer and ERP
  customer, it returns an entry per account (LINKED, INCOMPLETE or AMBIGUOUS,
  with its problems) and a :class:`CrosswalkReport` (missing counterparts,
  ambiguous claims, and orphans: billing or ERP customers whose
  cross-reference names no CRM account, or none at all).
* :class:`CrosswalkBuilder` reads the three systems concurrently through their
  adapters, links, and replaces the stored crosswalk (any
  :class:`CrosswalkWriter`, e.g. ``store.crosswalk.CrosswalkRepository``),
  reporting progress through ``on_progress(step, done, total)``.

When several records claim one CRM id the entry keeps none of them (the
system's id is None) and lists the candidates: the crosswalk never guesses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from domain.crosswalk_types import (
    CrosswalkEntry,
    CrosswalkRun,
    LinkProblem,
    LinkStatus,
)
from sources.systems import System

__all__ = [
    "AmbiguousLink",
    "CrosswalkBuilder",
    "CrosswalkReport",
    "CrosswalkResult",
    "CrosswalkWriter",
    "ProgressCallback",
    "link",
]


class AccountLike(Protocol):
    """What the crosswalk reads of a CRM account (``domain.records.Customer``)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...


class BillingCustomerLike(Protocol):
    """What it reads of a billing customer (``domain.records.BillingCustomer``)."""

    @property
    def id(self) -> str: ...
    @property
    def crm_account_id(self) -> str | None: ...


class ErpCustomerLike(Protocol):
    """What it reads of an ERP customer (``domain.records.ErpCustomer``)."""

    @property
    def id(self) -> str: ...
    @property
    def external_id(self) -> str | None: ...


class CrmAccounts(Protocol):
    async def all_accounts(self) -> Sequence[AccountLike]: ...


class BillingCustomers(Protocol):
    async def all_customers(self) -> Sequence[BillingCustomerLike]: ...


class ErpCustomers(Protocol):
    async def all_customers(self) -> Sequence[ErpCustomerLike]: ...


class CrosswalkWriter(Protocol):
    """Where a rebuild stores its result (``store.crosswalk.CrosswalkRepository``)."""

    async def replace_all(
        self, entries: Iterable[CrosswalkEntry], run: CrosswalkRun | None = None
    ) -> int | None: ...


ProgressCallback = Callable[[str, int, int], None]
"""``on_progress(step, done, total)``; steps are ``crm``, ``billing``, ``erp``,
``link`` and ``store``; a ``total`` of 0 means "not known yet"."""


@dataclass(frozen=True)
class AmbiguousLink:
    """Several records of ``system`` claim one CRM account."""

    crm_id: str
    system: System
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class CrosswalkReport:
    """What kept customers from being LINKED, and records that link to nothing."""

    missing_billing: tuple[str, ...]
    """CRM ids no billing customer carries."""
    missing_erp: tuple[str, ...]
    """CRM ids no ERP customer carries."""
    ambiguous: tuple[AmbiguousLink, ...]
    orphan_billing: tuple[str, ...]
    """Billing customer ids whose ``crm_account_id`` is missing or names no account."""
    orphan_erp: tuple[str, ...]
    """ERP customer ids whose ``externalId`` is missing or names no account."""
    counts: dict[LinkStatus, int]

    @property
    def orphans(self) -> int:
        return len(self.orphan_billing) + len(self.orphan_erp)


@dataclass(frozen=True)
class CrosswalkResult:
    entries: tuple[CrosswalkEntry, ...]
    report: CrosswalkReport
    started_at: datetime
    finished_at: datetime


def _claims(
    records: Sequence[tuple[str, str | None]], known: set[str]
) -> tuple[dict[str, list[str]], list[str]]:
    """Record ids by the CRM id they claim; records claiming nothing known are orphans."""
    by_crm: dict[str, list[str]] = {}
    orphans: list[str] = []
    seen: set[str] = set()
    for record_id, crm_id in records:
        if record_id in seen:  # a record listed twice (overlapping pages) is one record
            continue
        seen.add(record_id)
        if crm_id and crm_id in known:
            by_crm.setdefault(crm_id, []).append(record_id)
        else:
            orphans.append(record_id)
    return by_crm, sorted(orphans)


def link(
    accounts: Sequence[AccountLike],
    billing: Sequence[BillingCustomerLike],
    erp: Sequence[ErpCustomerLike],
    *,
    now: datetime | None = None,
) -> tuple[tuple[CrosswalkEntry, ...], CrosswalkReport]:
    """Entries for every account (in CRM order) and the report; pure."""
    stamp = now or datetime.now(UTC)
    unique: dict[str, AccountLike] = {}
    for account in accounts:
        unique.setdefault(account.id, account)
    known = set(unique)
    billing_by, orphan_billing = _claims([(c.id, c.crm_account_id) for c in billing], known)
    erp_by, orphan_erp = _claims([(c.id, c.external_id) for c in erp], known)
    entries: list[CrosswalkEntry] = []
    missing_billing: list[str] = []
    missing_erp: list[str] = []
    ambiguous: list[AmbiguousLink] = []
    counts = dict.fromkeys(LinkStatus, 0)
    for crm_id, account in unique.items():
        problems: list[LinkProblem] = []
        ids: dict[System, str | None] = {}
        for system, claims, missing in (
            (System.BILLING, billing_by.get(crm_id, []), missing_billing),
            (System.ERP, erp_by.get(crm_id, []), missing_erp),
        ):
            ids[system] = claims[0] if len(claims) == 1 else None
            if not claims:
                missing.append(crm_id)
                problems.append(
                    LinkProblem(f"MISSING_{system}", system.value, f"no {system} customer")
                )
            elif len(claims) > 1:
                candidates = tuple(sorted(claims))
                ambiguous.append(AmbiguousLink(crm_id, system, candidates))
                problems.append(
                    LinkProblem(
                        f"AMBIGUOUS_{system}",
                        system.value,
                        f"{len(claims)} {system} customers claim this account",
                        candidates,
                    )
                )
        if any(p.code.startswith("AMBIGUOUS") for p in problems):
            status = LinkStatus.AMBIGUOUS
        elif problems:
            status = LinkStatus.INCOMPLETE
        else:
            status = LinkStatus.LINKED
        counts[status] += 1
        entries.append(
            CrosswalkEntry(
                canonical_id=crm_id,
                crm_id=crm_id,
                name=account.name,
                status=status,
                billing_customer_id=ids[System.BILLING],
                erp_customer_id=ids[System.ERP],
                problems=tuple(problems),
                updated_at=stamp,
            )
        )
    report = CrosswalkReport(
        missing_billing=tuple(missing_billing),
        missing_erp=tuple(missing_erp),
        ambiguous=tuple(ambiguous),
        orphan_billing=tuple(orphan_billing),
        orphan_erp=tuple(orphan_erp),
        counts=counts,
    )
    return tuple(entries), report


T = TypeVar("T")


class CrosswalkBuilder:
    """Rebuilds the crosswalk from the three systems (and stores it, given a repository)."""

    def __init__(
        self,
        crm: CrmAccounts,
        billing: BillingCustomers,
        erp: ErpCustomers,
        repository: CrosswalkWriter | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._crm = crm
        self._billing = billing
        self._erp = erp
        self._repository = repository
        self._clock = clock

    async def rebuild(self, on_progress: ProgressCallback | None = None) -> CrosswalkResult:
        """Read all three systems concurrently, link, and replace the stored crosswalk.

        A source error propagates (the other reads are cancelled) and the stored
        crosswalk is left as it was.
        """
        progress = on_progress or _no_progress
        started = self._clock()

        async def fetch(step: str, read: Callable[[], Awaitable[Sequence[T]]]) -> Sequence[T]:
            progress(step, 0, 0)
            records = await read()
            progress(step, len(records), len(records))
            return records

        tasks = (
            asyncio.ensure_future(fetch("crm", self._crm.all_accounts)),
            asyncio.ensure_future(fetch("billing", self._billing.all_customers)),
            asyncio.ensure_future(fetch("erp", self._erp.all_customers)),
        )
        try:
            accounts, billing, erp = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        progress("link", 0, len(accounts))
        entries, report = link(accounts, billing, erp, now=started)
        progress("link", len(accounts), len(accounts))
        finished = self._clock()
        if self._repository is not None:
            progress("store", 0, len(entries))
            await self._repository.replace_all(
                entries,
                CrosswalkRun(
                    started_at=started,
                    finished_at=finished,
                    linked=report.counts[LinkStatus.LINKED],
                    incomplete=report.counts[LinkStatus.INCOMPLETE],
                    ambiguous=report.counts[LinkStatus.AMBIGUOUS],
                    orphans=report.orphans,
                ),
            )
            progress("store", len(entries), len(entries))
        return CrosswalkResult(entries, report, started, finished)


def _no_progress(step: str, done: int, total: int) -> None:
    return None
