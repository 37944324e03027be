"""The audit log in the graph: ``auditLog`` to read it, and the audit of mutations.

``auditLog(actor, subject, since; first/after)`` pages the log newest first
(:mod:`store.audit`). It is read-only: no mutation changes or deletes an audit
record — the schema has none, and the store only ever inserts — and
``revgraph audit verify`` checks the hash chain that makes a change in the
database itself visible. Reading it is meant for admins: it becomes admin-only
with the authorization work (until then anyone who reaches the gateway can).

:func:`actor_of` is the caller (the request's ``identity``, once authentication
sets one; anonymous until then); :func:`audit_call` appends the record of a
mutation that does not go through :class:`domain.flows.commands.Commands` (which
audits its own calls).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.audit import ANONYMOUS, Actor, Outcome, outcome, redact
from resolvers.context import AppInfo
from resolvers.errors import UserInputError
from resolvers.operations import resources_of
from resolvers.pagination import DEFAULT_PAGE_SIZE, Connection, Edge, connection, page_size
from store.audit import AuditEntry, AuditLog, decode_position, encode_position
from store.audit import AuditRecord as AuditRecordData

__all__ = ["AuditQuery", "AuditRecord", "actor_of", "audit_call"]


def _engine(info: AppInfo) -> AsyncEngine:
    engine: AsyncEngine = resources_of(info).engine
    return engine


def actor_of(info: AppInfo) -> Actor:
    """Who is calling: the request's ``identity`` when one is set, else anonymous.

    An identity is an :class:`Actor`, or anything with a ``name`` (and a ``role``).
    """
    request = info.context.request
    identity = getattr(request.state, "identity", None) if request is not None else None
    if identity is None:
        return ANONYMOUS
    if isinstance(identity, Actor):
        return identity
    name = getattr(identity, "name", None)
    role = getattr(identity, "role", None)
    return Actor(str(name) if name else str(identity), str(role) if role else None)


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
    await AuditLog(_engine(info)).append(
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


@strawberry.type(description="One mutation call, accepted or refused, in the audit log.")
class AuditRecord:
    id: int = strawberry.field(description="Its position in the hash chain (1, 2, 3 ...).")
    at: datetime
    actor: str
    role: str | None
    mutation: str = strawberry.field(description="The mutation field called.")
    subject: str | None = strawberry.field(description="What it was about, when known.")
    input: str = strawberry.field(
        description="The input as JSON, with e-mails and secrets redacted."
    )
    outcome: str = strawberry.field(
        description="ACCEPTED, REFUSED or REPLAYED, then `:` and the error codes or a status."
    )
    correlation_id: str | None
    hash: str = strawberry.field(description="sha256 over the record and prevHash (hex).")
    prev_hash: str

    @classmethod
    def build(cls, record: AuditRecordData) -> AuditRecord:
        return cls(
            id=record.id,
            at=record.at,
            actor=record.actor,
            role=record.role,
            mutation=record.mutation,
            subject=record.subject,
            input=json.dumps(record.input, sort_keys=True, ensure_ascii=False),
            outcome=record.outcome,
            correlation_id=record.correlation_id,
            hash=record.hash,
            prev_hash=record.prev_hash,
        )


@strawberry.type
class AuditQuery:
    """The ``auditLog`` root field (mixed into the root ``Query``)."""

    @strawberry.field(
        description="Audit records newest first; filters combine with AND (`since`: at or "
        "after). Read-only: no mutation changes or deletes them. Admin-only once "
        "authorization lands."
    )
    async def audit_log(
        self,
        info: AppInfo,
        actor: str | None = None,
        subject: str | None = None,
        since: datetime | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditRecord] | None:
        size = DEFAULT_PAGE_SIZE if first is None else page_size(first)
        if size < 1:
            raise UserInputError("`first` must be at least 1", argument="first")
        if since is not None and since.tzinfo is None:
            raise UserInputError(
                "`since` needs a UTC offset (e.g. 2026-12-01T09:00:00Z)", argument="since"
            )
        try:
            position = decode_position(after) if after is not None else None
        except ValueError:
            raise UserInputError(
                "`after` is not a cursor from this list", argument="after"
            ) from None
        page = await AuditLog(_engine(info)).list(
            actor=actor, subject=subject, since=since, first=size, after=position
        )
        edges = [
            Edge(cursor=encode_position(r.id), node=AuditRecord.build(r)) for r in page.records
        ]
        return connection(
            edges, has_next=page.next_after is not None, has_previous=after is not None
        )
