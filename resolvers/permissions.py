"""Who may read or call what, declared on the schema with strawberry permission classes.

Every root field and every mutation declares one of the classes below
(``permission_classes=[...]``), and so does every sensitive field of an object
type: e-mail addresses, upstream URLs and upstream error texts. The caller is the
request's :class:`~domain.access.Identity` (:mod:`api.authentication` sets it);
``admin`` passes every check.

A denied field resolves to null with an error whose ``extensions.code`` is
``FORBIDDEN`` and whose message names the roles that may see it, never the
value. A denied mutation also writes its audit record (``REFUSED:FORBIDDEN``).
Rules that need data to decide (segregation of duties, exception queues) are
checked in the mutations, with :mod:`domain.access`.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from strawberry.permission import BasePermission

from domain.access import ALL_ROLES, Identity, Role
from domain.audit import Outcome
from resolvers.audit_trail import audit_call

if TYPE_CHECKING:
    from resolvers.context import AppInfo

__all__ = [
    "FORBIDDEN",
    "AdminOnly",
    "Administers",
    "Approves",
    "CanRead",
    "Finance",
    "FinanceOrSalesOps",
    "RolePermission",
    "SalesOps",
    "SeesContactDetails",
    "SeesInternals",
    "SeesUpstreamErrors",
    "WorksExceptions",
    "identity_of",
]

FORBIDDEN = "FORBIDDEN"


def identity_of(info: AppInfo) -> Identity | None:
    """The caller of this request (None: nobody authenticated it, or no context)."""
    identity: Identity | None = getattr(info.context, "identity", None)
    return identity


class RolePermission(BasePermission):
    """Granted when the caller holds one of ``roles`` (or ``admin``)."""

    roles: ClassVar[frozenset[Role]] = frozenset()
    error_extensions = {"code": FORBIDDEN}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        named = sorted({Role.ADMIN, *cls.roles})
        cls.message = f"Forbidden: this needs one of the roles {', '.join(named)}."

    def has_permission(self, source: Any, info: AppInfo, **kwargs: Any) -> bool:
        identity = identity_of(info)
        return identity is not None and identity.has_any(self.roles)


class AuditedPermission(RolePermission):
    """A mutation's permission: a refusal is written to the audit log, like any other."""

    async def has_permission(  # type: ignore[override]
        self, source: Any, info: AppInfo, **kwargs: Any
    ) -> bool:
        if super().has_permission(source, info, **kwargs):
            return True
        # Inputs are dataclasses: the record keeps them as plain JSON-able data.
        asked = {
            k: asdict(v) if is_dataclass(v) and not isinstance(v, type) else v
            for k, v in kwargs.items()
        }
        await audit_call(info, asked, Outcome.REFUSED, [FORBIDDEN])
        return False


# --- reads -----------------------------------------------------------------------------


class CanRead(RolePermission):
    """Every role reads."""

    roles = ALL_ROLES


class SeesContactDetails(RolePermission):
    """E-mail addresses: the people who work with customers and their money."""

    roles = frozenset({Role.SALES_OPS, Role.FINANCE})


class SeesUpstreamErrors(RolePermission):
    """Upstream error texts (sanitized): everyone who writes, to see why a write failed."""

    roles = frozenset({Role.SALES_OPS, Role.APPROVER, Role.FINANCE})


class SeesInternals(RolePermission):
    """Upstream URLs, hosts and error texts: operators only."""

    roles = frozenset({Role.ADMIN})


# --- writes ----------------------------------------------------------------------------


class SalesOps(AuditedPermission):
    """Customer and contract writes up to submit."""

    roles = frozenset({Role.SALES_OPS})


class Approves(AuditedPermission):
    roles = frozenset({Role.APPROVER})


class Finance(AuditedPermission):
    """Billing and revenue: activation, suspension, termination, postings, recognition."""

    roles = frozenset({Role.FINANCE})


class FinanceOrSalesOps(AuditedPermission):
    """Refreshing the consistency of one subject."""

    roles = frozenset({Role.FINANCE, Role.SALES_OPS})


class WorksExceptions(AuditedPermission):
    """Exception items; which queue a caller may work is decided per item."""

    roles = frozenset({Role.FINANCE, Role.SALES_OPS})


class Administers(AuditedPermission):
    """Operators: replaying transactions."""

    roles = frozenset({Role.ADMIN})


class AdminOnly(RolePermission):
    """Reads for admins only: the audit log."""

    roles = frozenset({Role.ADMIN})
