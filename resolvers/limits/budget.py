"""The operation's budget: input sizes and cost, checked against the variables before it runs.

Runs after the document is validated (and after the operation is chosen), so
it sees a valid document; refuses with ``BAD_USER_INPUT`` (an argument over its
size limit, :mod:`.inputs`) or ``COST_LIMIT_EXCEEDED`` (:mod:`.cost`) before
any resolver — and so any upstream call — runs. An accepted operation's cost
is reported in the response's ``extensions.cost`` (unless it is 0), and spent
from the caller's budget per minute (``Context.charge``, :mod:`api.quotas`):
an operation the budget cannot pay for does not run (``COST_BUDGET_EXCEEDED``).

Both checks depend only on the document, the operation and the variables, so an
accepted operation's cost is kept (:data:`Verdicts`, bounded like the document
cache): a dashboard refreshing the same query walks its syntax tree once, not on
every refresh. Refusals are not kept; they are cheap to find again and should
not crowd out accepted operations.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgspec
from graphql import ExecutionResult, GraphQLError, get_operation_ast
from strawberry.extensions import SchemaExtension

from resolvers.limits.cache import ByteBoundedLRU
from resolvers.limits.config import Limits
from resolvers.limits.cost import operation_cost
from resolvers.limits.fragments import fragment_order
from resolvers.limits.inputs import input_errors

Verdicts = ByteBoundedLRU[int]
"""Accepted operations' costs, by operation name, variables and document text."""

_ENCODER = msgspec.json.Encoder(order="sorted")


def verdict_cache(limits: Limits) -> Verdicts:
    """The cache one schema's :class:`OperationBudget` instances share."""
    return Verdicts(
        max_bytes=limits.cache_max_bytes // 4,
        max_entries=limits.cache_max_entries * 4,
        max_entry_bytes=limits.cache_max_document_chars * 2,
    )


def _verdict_key(query: str | None, operation: str | None, variables: Any) -> str | None:
    """The key an operation's verdict is kept under; None when it is not to be kept."""
    if query is None:
        return None
    try:
        encoded = _ENCODER.encode(variables or {}).decode()
    except (TypeError, msgspec.EncodeError):  # variables built in process, not JSON
        return None
    return f"{operation or ''}\0{encoded}\0{query}"


class OperationBudget(SchemaExtension):
    """Input limits and the cost budget (see the module); goes after the document checks."""

    def __init__(self, *, limits: Limits, verdicts: Verdicts) -> None:
        self.limits = limits
        self.verdicts = verdicts
        self.cost: int | None = None

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        operation = (
            get_operation_ast(document, context.operation_name)
            if document is not None and not context.pre_execution_errors
            else None
        )
        key = (
            _verdict_key(context.query, context.operation_name, context.variables)
            if operation is not None
            else None
        )
        known = self.verdicts.get(key) if key is not None else None
        if known is not None:
            self.cost = known
        elif document is not None and operation is not None:
            schema = context.schema._schema
            variables = context.variables or {}
            order = fragment_order(document)
            errors = input_errors(schema, operation, order.ordered, variables, self.limits)
            if not errors:
                cost = operation_cost(schema, operation, order.ordered, variables, self.limits)
                self.cost = cost
                if cost > self.limits.max_cost:
                    errors = [
                        GraphQLError(
                            f"The operation costs {cost}; the limit is "
                            f"{self.limits.max_cost}. Ask for smaller pages or fewer fields.",
                            extensions={
                                "code": "COST_LIMIT_EXCEEDED",
                                "cost": cost,
                                "limit": self.limits.max_cost,
                            },
                        )
                    ]
                elif key is not None:
                    self.verdicts.put(key, cost, len(key))
            if errors:
                context.pre_execution_errors = errors
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        """Spend the operation's cost from the caller's budget per minute, or refuse it
        (``COST_BUDGET_EXCEEDED``, HTTP 429 with ``Retry-After``) before it runs."""
        context = self.execution_context
        charge = getattr(context.context, "charge", None)
        if self.cost and charge is not None and context.result is None:
            wait = await charge(self.cost)
            if wait is not None:
                seconds = max(1, math.ceil(wait))
                context.result = ExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            f"This operation costs {self.cost}, more than is left of your "
                            f"budget this minute; retry in {seconds} s.",
                            extensions={
                                "code": "COST_BUDGET_EXCEEDED",
                                "cost": self.cost,
                                "retryAfter": seconds,
                            },
                        )
                    ],
                )
                response = getattr(context.context, "response", None)
                if response is not None:
                    response.status_code = 429
                    response.headers["Retry-After"] = str(seconds)
        yield

    def get_results(self) -> dict[str, Any]:
        # Nothing to report for an operation that costs nothing (``{ __typename }``,
        # introspection): its response stays exactly what the spec shows.
        if not self.cost:
            return {}
        return {"cost": {"requested": self.cost, "limit": self.limits.max_cost}}
