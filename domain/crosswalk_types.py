"""The crosswalk's records: an entry per canonical customer, its problems, a rebuild run.

Defined in the domain (``domain.crosswalk`` computes them); ``store.crosswalk``
persists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["CrosswalkEntry", "CrosswalkPage", "CrosswalkRun", "LinkProblem", "LinkStatus"]


class LinkStatus(StrEnum):
    LINKED = "LINKED"
    """One billing customer and one ERP customer carry this CRM id."""
    INCOMPLETE = "INCOMPLETE"
    """No billing customer or no ERP customer carries it (and none is ambiguous)."""
    AMBIGUOUS = "AMBIGUOUS"
    """Several billing customers, or several ERP customers, claim it."""


@dataclass(frozen=True)
class LinkProblem:
    """Why an entry is not LINKED: ``MISSING_BILLING``, ``MISSING_ERP``,
    ``AMBIGUOUS_BILLING`` or ``AMBIGUOUS_ERP``, with the competing ids if any."""

    code: str
    system: str
    message: str
    candidates: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "system": self.system,
            "message": self.message,
            "candidates": list(self.candidates),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinkProblem:
        return cls(data["code"], data["system"], data["message"], tuple(data.get("candidates", ())))


@dataclass(frozen=True)
class CrosswalkEntry:
    """One canonical customer. An ambiguous system's id is None (never guessed);
    its candidates are in ``problems``."""

    canonical_id: str
    crm_id: str
    name: str
    status: LinkStatus
    billing_customer_id: str | None = None
    erp_customer_id: str | None = None
    problems: tuple[LinkProblem, ...] = ()
    updated_at: datetime | None = None

    @property
    def billing_ids(self) -> tuple[str, ...]:
        """The billing customer, or every candidate when several claim this customer."""
        if self.billing_customer_id:
            return (self.billing_customer_id,)
        return tuple(
            c for p in self.problems if p.code == "AMBIGUOUS_BILLING" for c in p.candidates
        )


@dataclass(frozen=True)
class CrosswalkRun:
    """One rebuild: when, and how many entries of each status (plus orphans)."""

    started_at: datetime
    finished_at: datetime
    linked: int
    incomplete: int
    ambiguous: int
    orphans: int
    id: int | None = None


@dataclass(frozen=True)
class CrosswalkPage:
    entries: tuple[CrosswalkEntry, ...]
    next_after: str | None = field(default=None)
    """Pass as ``after`` for the next page; None on the last page."""
