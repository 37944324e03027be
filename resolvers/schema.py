"""The Revgraph schema: the root Query and the extensions every request runs through."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from domain.consistency.types import CheckStatus, RuleName
from domain.exception_items import ExceptionQueue
from resolvers.audit import AuditQuery
from resolvers.billing import Invoice, Subscription
from resolvers.consistency import (
    ConsistencyCheck,
    ConsistencyPolicy,
    ConsistencySummary,
    ReconciliationRun,
    list_checks,
    policy_of,
    run_of,
    summary_of,
)
from resolvers.context import AppInfo
from resolvers.contracts import Contract, contract_by_number
from resolvers.customers import Customer, Freshness, list_customers
from resolvers.errors import SourceFailureReport
from resolvers.executor import PlainFieldsExecutor, lean_resolvers
from resolvers.extensions import ErrorPolicy, RequireOperationName, TraceReport
from resolvers.health import SourceHealth, source_health
from resolvers.limits import Limits, budget_extension, document_extension
from resolvers.mutations import Mutation
from resolvers.node import Node, key_of, resolve_nodes
from resolvers.operations import OperationsQuery
from resolvers.ownership import OwnershipRule, ownership_rules
from resolvers.pagination import Connection
from resolvers.permissions import CanRead
from resolvers.revenue import ArPosting, RevenueSchedule
from sources.errors import SourceError
from sources.systems import System


@strawberry.type
class Query(OperationsQuery, AuditQuery):
    @strawberry.field(
        description="Any entity by its global id (`freshness: LIVE` asks Billing itself "
        "for a subscription or invoice, bypassing the read model; it costs more).",
        permission_classes=[CanRead],
    )
    async def node(
        self, info: AppInfo, id: strawberry.ID, freshness: Freshness = Freshness.POLICY
    ) -> Node | None:
        (found,) = await _nodes(info, [id], freshness)
        return found

    @strawberry.field(
        description="Entities by global ids, in order (null where absent; `freshness` "
        "as for `node`).",
        permission_classes=[CanRead],
    )
    async def nodes(
        self, info: AppInfo, ids: list[strawberry.ID], freshness: Freshness = Freshness.POLICY
    ) -> list[Node | None]:
        return await _nodes(info, ids, freshness)

    @strawberry.field(
        description="Customers from the CRM ordered by name; filters combine with AND.",
        permission_classes=[CanRead],
    )
    async def customers(
        self,
        info: AppInfo,
        first: int | None = None,
        after: str | None = None,
        name_prefix: str | None = None,
        currency: str | None = None,
        segment: str | None = None,
        parent_id: strawberry.ID | None = None,
    ) -> Connection[Customer] | None:
        parent = key_of(parent_id, "Customer") if parent_id else None
        return await list_customers(info, first, after, name_prefix, currency, segment, parent)

    @strawberry.field(
        description="A contract by its number in the contract system (C-1042).",
        permission_classes=[CanRead],
    )
    async def contract(self, info: AppInfo, number: str) -> Contract | None:
        return await contract_by_number(info, number)

    @strawberry.field(
        description="Each system of record as the gateway last saw it.",
        permission_classes=[CanRead],
    )
    def source_health(self, info: AppInfo) -> list[SourceHealth]:
        return source_health(info)

    @strawberry.field(
        description="Checks from the cached consistency view, filtered (AND) by status, "
        "rule, system involved and owning queue; ordered by subject.",
        permission_classes=[CanRead],
    )
    async def consistency(
        self,
        info: AppInfo,
        status: CheckStatus | None = None,
        rule: RuleName | None = None,
        system: System | None = None,
        queue: ExceptionQueue | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ConsistencyCheck]:
        return await list_checks(
            info, status=status, rule=rule, system=system, queue=queue, first=first, after=after
        )

    @strawberry.field(
        description="Dashboard tiles of the consistency view (cached).",
        permission_classes=[CanRead],
    )
    async def consistency_summary(self, info: AppInfo) -> ConsistencySummary:
        return await summary_of(info)

    @strawberry.field(
        description="The consistency policy in force: thresholds, windows, queues.",
        permission_classes=[CanRead],
    )
    def consistency_policy(self, info: AppInfo) -> ConsistencyPolicy:
        return policy_of(info)

    @strawberry.field(
        description="A reconciliation run by id (default: the latest).",
        permission_classes=[CanRead],
    )
    async def reconciliation_run(
        self, info: AppInfo, id: int | None = None
    ) -> ReconciliationRun | None:
        return await run_of(info, id)

    @strawberry.field(
        description="Who owns what: the system of record of each field mutations can change.",
        permission_classes=[CanRead],
    )
    def ownership(self) -> list[OwnershipRule]:
        return ownership_rules()


async def _nodes(
    info: AppInfo, ids: list[strawberry.ID], freshness: Freshness
) -> list[Node | None]:
    try:
        return await resolve_nodes(info, ids, live=freshness is Freshness.LIVE)
    except SourceError as error:
        info.context.failures.record(error, "nodes", info.path.as_list())
        return [None] * len(ids)


class RevgraphSchema(strawberry.Schema):
    """Strawberry's schema, minus its habit of logging every error with a stack.

    Client mistakes and upstream outages are answered, not logged as crashes;
    :class:`~resolvers.extensions.ErrorPolicy` logs the unexpected ones, each
    with the error id the client sees.
    """

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


def build_schema(limits: Limits | None = None) -> strawberry.Schema:
    """The schema with its request pipeline (caches, limits, error policy)."""
    limits = limits or Limits()
    built = RevgraphSchema(
        query=Query,
        mutation=Mutation,
        types=[Customer, Contract, Subscription, Invoice, RevenueSchedule, ArPosting],
        execution_context_class=PlainFieldsExecutor,
        extensions=[
            document_extension(limits),
            RequireOperationName,
            budget_extension(limits),
            SourceFailureReport,
            TraceReport,
            ErrorPolicy,
        ],
    )
    lean_resolvers(
        built._schema,
        built.config,
        built.schema_converter.scalar_registry,
    )
    return built


schema = build_schema()


def schema_sdl() -> str:
    """The committed ``schema.graphql``: the SDL the code defines, newline-terminated.

    It starts with an explicit ``schema { ... }`` block: without one, tools that
    load the SDL (graphql-core's ``build_schema``, code generators) take the root
    types from their names, and read any type named ``Subscription`` as the
    subscription root.
    """
    graphql_schema = schema._schema
    roots = {
        "query": graphql_schema.query_type,
        "mutation": graphql_schema.mutation_type,
        "subscription": graphql_schema.subscription_type,
    }
    block = "".join(f"  {kind}: {root.name}\n" for kind, root in roots.items() if root)
    return f"schema {{\n{block}}}\n\n{schema.as_str()}\n"
