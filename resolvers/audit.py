"""The audit log in the graph: ``auditLog``, for admins.

``auditLog(actor, subject, since; first/after)`` pages the log newest first
(:mod:`store.audit`). It is read-only: no mutation changes or deletes an audit
record — the schema has none, and the store only ever inserts — and
``revgraph audit verify`` checks the hash chain that makes a change in the
database itself visible. Writing the records is :mod:`resolvers.audit_trail`'s.
"""

from __future__ import annotations

import json
from datetime import datetime

import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine

from resolvers.context import AppInfo
from resolvers.errors import UserInputError
from resolvers.pagination import DEFAULT_PAGE_SIZE, Connection, Edge, connection, page_size
from resolvers.permissions import AdminOnly
from resolvers.resources import resources_of
from store.audit import AuditLog, decode_position, encode_position
from store.audit import AuditRecord as AuditRecordData

__all__ = ["AuditQuery", "AuditRecord"]


def _engine(info: AppInfo) -> AsyncEngine:
    engine: AsyncEngine = resources_of(info).engine
    return engine


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
        "after). Read-only: no mutation changes or deletes them. Admins only.",
        permission_classes=[AdminOnly],
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
