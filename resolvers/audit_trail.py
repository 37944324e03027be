"""The audit of mutations from the graph: who is calling, and appending their record.

:func:`actor_of` is the caller (the request's :class:`~domain.access.Identity`,
set by :mod:`api.authentication`; anonymous when there is none);
:func:`audit_call` appends the record of a mutation that does not go through
:class:`domain.flows.commands.Commands` (which audits its own calls), and of a
mutation its permission refused (:mod:`resolvers.permissions`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from domain.audit import ANONYMOUS, Actor, Outcome, outcome, redact
from resolvers.resources import resources_of
from store.audit import AuditEntry, AuditLog

if TYPE_CHECKING:
    from resolvers.context import AppInfo

__all__ = ["actor_of", "audit_call"]


def actor_of(info: AppInfo) -> Actor:
    """Who is calling: the request's identity (name and roles), else anonymous."""
    identity = info.context.identity
    if identity is None:
        return ANONYMOUS
    return Actor(identity.name, identity.role or None)


async def audit_call(
    info: AppInfo,
    input: Mapping[str, Any],
    kind: Outcome,
    details: Iterable[str] = (),
    *,
    subject: str | None = None,
    correlation_id: str | None = None,
) -> None:
    """Append the audit record of this mutation call (its own transaction)."""
    who = actor_of(info)
    await AuditLog(resources_of(info).engine).append(
        AuditEntry(
            actor=who.name,
            role=who.role,
            mutation=info.field_name,
            subject=subject,
            input=redact(input),
            outcome=outcome(kind, details),
            correlation_id=correlation_id,
        )
    )
