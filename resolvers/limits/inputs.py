"""Size limits on every string and list argument, literal or from variables.

Derived from the schema, not declared per field: every argument of every field
and directive the operation uses is checked against its input type, nested
lists and input objects included, before anything runs. A new argument is
covered the day it is added. The refusal is ``BAD_USER_INPUT`` and names the
argument and the limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLSchema,
    ListValueNode,
    Node,
    ObjectValueNode,
    OperationDefinitionNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    ValueNode,
    VariableNode,
    Visitor,
    get_nullable_type,
    value_from_ast_untyped,
    visit,
)

from resolvers.limits.config import Limits


class _TooLarge(Exception):
    def __init__(self, error: GraphQLError) -> None:
        self.error = error


class _Check:
    def __init__(
        self, limits: Limits, variables: Mapping[str, Any], defaults: Mapping[str, Any]
    ) -> None:
        self.limits = limits
        self.variables = variables
        self.defaults = defaults

    def node(
        self, value: ValueNode, type_: GraphQLInputType | None, name: str, coordinate: str
    ) -> None:
        nullable = get_nullable_type(type_) if type_ is not None else None
        if isinstance(value, VariableNode):
            variable = value.name.value
            if variable in self.variables:
                self.raw(self.variables[variable], nullable, name, coordinate)
            elif variable in self.defaults:
                self.raw(self.defaults[variable], nullable, name, coordinate)
        elif isinstance(value, StringValueNode):
            self.string(value.value, name, value)
        elif isinstance(value, ListValueNode):
            self.length(len(value.values), name, coordinate, value)
            item: Any = nullable.of_type if isinstance(nullable, GraphQLList) else nullable
            for element in value.values:
                self.node(element, item, name, coordinate)
        elif isinstance(value, ObjectValueNode):
            fields = nullable.fields if isinstance(nullable, GraphQLInputObjectType) else {}
            for entry in value.fields:
                key = entry.name.value
                field = fields.get(key)
                self.node(
                    entry.value,
                    field.type if field else None,
                    f"{name}.{key}",
                    f"{coordinate}.{key}",
                )

    def raw(self, value: Any, type_: Any, name: str, coordinate: str) -> None:
        """A variable's JSON value; descends only where the type says it nests."""
        nullable = get_nullable_type(type_) if type_ is not None else None
        if isinstance(value, str):
            self.string(value, name, None)
        elif isinstance(value, list):
            self.length(len(value), name, coordinate, None)
            if isinstance(nullable, GraphQLList):
                for element in value:
                    self.raw(element, nullable.of_type, name, coordinate)
        elif isinstance(value, dict) and isinstance(nullable, GraphQLInputObjectType):
            for key, inner in value.items():
                field = nullable.fields.get(key)
                if field is not None:
                    self.raw(inner, field.type, f"{name}.{key}", f"{coordinate}.{key}")

    def string(self, value: str, name: str, node: Node | None) -> None:
        limit = self.limits.max_string_length
        if len(value) > limit:
            raise _TooLarge(
                _error(
                    f"Argument `{name}` is {len(value)} characters long; at most {limit} "
                    "are accepted.",
                    name,
                    limit,
                    node,
                )
            )

    def length(self, count: int, name: str, coordinate: str, node: Node | None) -> None:
        limit = self.limits.list_length(coordinate)
        if count > limit:
            raise _TooLarge(
                _error(
                    f"Argument `{name}` has {count} items; at most {limit} are accepted.",
                    name,
                    limit,
                    node,
                )
            )


def _error(message: str, name: str, limit: int, node: Node | None) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=node,
        extensions={"code": "BAD_USER_INPUT", "argument": name, "limit": limit},
    )


class _Arguments(Visitor):
    def __init__(self, type_info: TypeInfo, check: _Check) -> None:
        super().__init__()
        self.type_info = type_info
        self.check = check

    def enter_argument(self, node: ArgumentNode, *args: Any) -> Any:
        ancestors = args[3] if len(args) > 3 else ()
        owner = next(
            (a for a in reversed(ancestors) if isinstance(a, FieldNode | DirectiveNode)), None
        )
        name = node.name.value
        if isinstance(owner, DirectiveNode):
            coordinate = f"@{owner.name.value}.{name}"
        else:
            parent = self.type_info.get_parent_type()
            field = owner.name.value if owner is not None else "?"
            coordinate = f"{parent.name if parent else '?'}.{field}.{name}"
        argument = self.type_info.get_argument()
        self.check.node(node.value, argument.type if argument else None, name, coordinate)
        return self.SKIP


def input_errors(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: list[FragmentDefinitionNode],
    variables: Mapping[str, Any],
    limits: Limits,
) -> list[GraphQLError]:
    """The first argument over a limit in ``operation`` (and the fragments), as an error."""
    defaults = {
        d.variable.name.value: value_from_ast_untyped(d.default_value)
        for d in operation.variable_definitions or ()
        if d.default_value is not None
    }
    check = _Check(limits, variables, defaults)
    try:
        for definition in (operation, *fragments):
            type_info = TypeInfo(schema)
            visit(definition, TypeInfoVisitor(type_info, _Arguments(type_info, check)))
    except _TooLarge as refused:
        return [refused.error]
    return []
