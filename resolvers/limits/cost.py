"""What an operation will cost, from the document and its variables, before it runs.

Every field costs 1, plus :attr:`Limits.live_read_cost` when it is read with
``freshness: LIVE`` (bypassing the read model spends the vendor's limit). A
list multiplies what is selected under it by the number of items it may hold:
a connection by its page size (``first``, default 20 — applied to its
``edges``, not to ``pageInfo``), ``nodes(ids:)`` by the number of ids, any
other list by a declared estimate (:attr:`Limits.list_estimate`, per
field in :attr:`Limits.list_estimates`). Nesting multiplies. Introspection is
free (it never leaves the process). Each fragment is costed once per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    value_from_ast_untyped,
)

from resolvers.limits.config import Limits

PAGE_ARGUMENT = "first"
COUNT_ARGUMENT = "ids"
FRESHNESS_ARGUMENT = "freshness"
LIVE = "LIVE"


@dataclass(frozen=True)
class _Cost:
    """A selection set's cost: ``listed`` is what its type's page size multiplies (a
    connection's ``edges``), ``other`` what it does not (``pageInfo``, any other type)."""

    listed: int = 0
    other: int = 0

    @property
    def total(self) -> int:
        return self.listed + self.other

    def __add__(self, other: _Cost) -> _Cost:
        return _Cost(self.listed + other.listed, self.other + other.other)


def is_connection(type_: GraphQLNamedType | None) -> bool:
    return (
        isinstance(type_, GraphQLObjectType)
        and type_.name.endswith("Connection")
        and "edges" in type_.fields
    )


class _Costing:
    def __init__(
        self,
        schema: GraphQLSchema,
        limits: Limits,
        variables: Mapping[str, Any],
        defaults: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.limits = limits
        self.variables = variables
        self.defaults = defaults
        self.fragments: dict[str, _Cost] = {}

    def value(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            name = node.name.value
            return self.variables.get(name, self.defaults.get(name))
        return value_from_ast_untyped(node, dict(self.variables))

    def page(self, field: FieldNode) -> int:
        for argument in field.arguments or ():
            if argument.name.value == PAGE_ARGUMENT:
                first = (
                    int(argument.value.value)
                    if isinstance(argument.value, IntValueNode)
                    else self.value(argument.value)
                )
                if isinstance(first, int) and not isinstance(first, bool):
                    return max(0, min(first, self.limits.max_page_size))
        return self.limits.default_page_size

    def live(self, field: FieldNode) -> bool:
        """Whether the field is asked for with ``freshness: LIVE``."""
        for argument in field.arguments or ():
            if argument.name.value == FRESHNESS_ARGUMENT:
                value = argument.value
                named = (
                    getattr(value, "value", None)
                    if not isinstance(value, VariableNode)
                    else (self.value(value))
                )
                return named == LIVE
        return False

    def count(self, field: FieldNode) -> int | None:
        for argument in field.arguments or ():
            if argument.name.value == COUNT_ARGUMENT:
                if isinstance(argument.value, ListValueNode):
                    return len(argument.value.values)
                ids = self.value(argument.value)
                return len(ids) if isinstance(ids, list) else 1
        return None

    def selection_set(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None
    ) -> _Cost:
        total = _Cost()
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                cost, is_list = self.field(selection, parent)
                listed = is_list and is_connection(parent)
                total = total + (_Cost(cost, 0) if listed else _Cost(0, cost))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total = total + self.selection_set(selection.selection_set, inner)
            elif isinstance(selection, FragmentSpreadNode):
                total = total + self.fragments.get(selection.name.value, _Cost())
        return total

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> tuple[int, bool]:
        """The field's cost, and whether it is a list."""
        name = node.name.value
        if name.startswith("__"):
            return 0, False
        definition = (
            parent.fields.get(name)
            if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
            else None
        )
        if definition is None:
            return 1, False
        named = get_named_type(definition.type)
        is_list = isinstance(get_nullable_type(definition.type), GraphQLList)
        inner = self.selection_set(node.selection_set, named) if node.selection_set else _Cost()
        own = 1 + (self.limits.live_read_cost if self.live(node) else 0)
        if PAGE_ARGUMENT in definition.args:
            page = self.page(node)
            if is_connection(named):
                return own + page * inner.listed + inner.other, is_list
            return own + page * inner.total, is_list
        if is_list:
            ids = self.count(node) if COUNT_ARGUMENT in definition.args else None
            if ids is not None:
                items = ids
            elif is_connection(parent):
                items = 1  # the connection's page size counts these
            else:
                items = self.limits.estimate(parent.name if parent else "?", name)
            return own + items * inner.total, True
        return own + inner.total, False


def operation_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    ordered_fragments: list[FragmentDefinitionNode],
    variables: Mapping[str, Any],
    limits: Limits,
) -> int:
    """The cost of ``operation`` with these variables (fragments in dependency order)."""
    defaults = {
        d.variable.name.value: value_from_ast_untyped(d.default_value)
        for d in operation.variable_definitions or ()
        if d.default_value is not None
    }
    costing = _Costing(schema, limits, variables, defaults)
    for fragment in ordered_fragments:
        condition: GraphQLCompositeType | None = schema.get_type(  # type: ignore[assignment]
            fragment.type_condition.name.value
        )
        costing.fragments[fragment.name.value] = costing.selection_set(
            fragment.selection_set, condition
        )
    root = schema.get_root_type(operation.operation)
    return costing.selection_set(operation.selection_set, root).total
