"""Who may do what: roles, the identity of a caller, and segregation of duties.

Five roles, each a set of things a person in that job does:

=============  ===============================================================
``viewer``     reads (no e-mails, no upstream URLs or error texts)
``sales_ops``  customer and contract writes up to submit (create, update,
               submit, amend, renew), their exceptions (``SALES_OPS``), e-mails
``approver``   approving contracts
``finance``    billing and revenue: activate, suspend, resume, terminate, post
               invoices, recognize revenue, reconcile, their exceptions
               (``FINANCE_OPS``), e-mails
``admin``      everything: keys, the audit log, upstream details, ``PLATFORM``
               exceptions
=============  ===============================================================

Every role reads. An :class:`Identity` holds one or more roles (a JWT may carry
several); ``admin`` satisfies any requirement. Which field or mutation needs
which roles is declared in the schema (``resolvers.permissions``); this module
holds the vocabulary and the rules that need data to decide:
:func:`separation_of_duties` (the approver of a contract is neither its creator
nor its last amender) and :data:`QUEUE_ROLES` (who may work an exception queue).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from domain.exception_items import ExceptionQueue

__all__ = [
    "ALL_ROLES",
    "QUEUE_ROLES",
    "Identity",
    "Role",
    "may_work_queue",
    "parse_roles",
    "separation_of_duties",
]


class Role(StrEnum):
    VIEWER = "viewer"
    SALES_OPS = "sales_ops"
    APPROVER = "approver"
    FINANCE = "finance"
    ADMIN = "admin"


ALL_ROLES: frozenset[Role] = frozenset(Role)


def parse_roles(values: Iterable[object]) -> frozenset[Role]:
    """The known roles among ``values`` (case-insensitive); unknown names are ignored,
    so an identity provider's other roles do not lock a caller out."""
    known = {role.value: role for role in Role}
    return frozenset(
        known[str(v).strip().lower()] for v in values if str(v).strip().lower() in known
    )


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated caller.

    ``name`` is what the audit log shows (an API key's name, a token's subject);
    ``via`` says how it was established (``api_key``, ``jwt``, ``anonymous``);
    ``key_id`` is what per-caller limits count against.
    """

    name: str
    roles: frozenset[Role]
    via: str
    key_id: str

    def has_any(self, roles: Iterable[Role]) -> bool:
        """Whether this caller holds one of ``roles`` (``admin`` holds them all)."""
        return Role.ADMIN in self.roles or not self.roles.isdisjoint(roles)

    @property
    def role(self) -> str:
        """The roles as the audit log shows them: sorted, comma-separated."""
        return ",".join(sorted(r.value for r in self.roles))


QUEUE_ROLES: dict[ExceptionQueue, frozenset[Role]] = {
    ExceptionQueue.FINANCE_OPS: frozenset({Role.FINANCE}),
    ExceptionQueue.SALES_OPS: frozenset({Role.SALES_OPS}),
    ExceptionQueue.PLATFORM: frozenset(),  # admin only
}
"""Who may retry or resolve the items of each exception queue (admin: all)."""


def may_work_queue(identity: Identity, queue: ExceptionQueue) -> bool:
    return identity.has_any(QUEUE_ROLES.get(queue, frozenset()))


def separation_of_duties(
    approver: str, creator: str | None, last_amender: str | None
) -> str | None:
    """Why ``approver`` may not approve a contract, or None if they may.

    The approver of a contract is neither the person who created it nor the one
    who last amended it, whatever roles they hold (admins included). Unknown
    creators (contracts made outside the gateway) constrain nothing.
    """
    if creator is not None and approver == creator:
        return "the approver of a contract cannot be the person who created it"
    if last_amender is not None and approver == last_amender:
        return "the approver of a contract cannot be the person who last amended it"
    return None
