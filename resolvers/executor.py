"""The executor: graphql-core's, with plain fields completed without the machinery.

Most of a dashboard's answer is *plain* fields: a leaf or a small object read
straight off an attribute of an object a resolver already returned (``id``,
``status``, ``total { amount currency }``, ``pageInfo``). graphql-core gives each
of them the full treatment — a path, a resolve info, strawberry's resolver
wrapper, the awaitable checks and the completion ladder — which costs several
times what reading the attribute does. :class:`PlainFieldsExecutor` completes
such fields directly: it reads the attribute and coerces the leaf with the
type's own ``coerce_output_value`` (the same function graphql-core would call),
and builds plain objects and lists of plain objects the same way, recursively.

A field is plain when all of these hold (decided once per field group and
request, from the schema and the document):

* strawberry resolves it as a basic field (an attribute, no resolver, no
  permission classes or other field extensions) and the request runs no
  resolver middleware;
* the document gives it no arguments and no directives besides the
  already-applied ``@skip``/``@include``, and nothing is deferred;
* its type is a leaf, or an object type without an ``is_type_of`` check whose
  selected fields are all plain, or a list of either (nullable or not).

Fields with a resolver of their own that takes the parent, ``info`` and
arguments (no permission classes or other field extensions) get a lean
resolver (:func:`lean_resolvers`): it builds strawberry's ``Info``, converts
the arguments as strawberry does (keeping conversions of plain values), and
calls the method, skipping strawberry's extension chain (empty for these
fields) and, for ``async`` methods, its extra await.

Anything unexpected while completing a plain field — a null where the schema
says non-null, a value the scalar will not coerce, an object where a list
should be — sends that field back through graphql-core's own path, which
raises the error it always raised at the path it always used. So the answer,
errors included, is graphql-core's; only the cost differs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLID,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLString,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path, Undefined, gather_with_cancel
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info
from strawberry.types.arguments import convert_arguments
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import StrawberryResolver

from resolvers.known import PREPARED

_APPLIED_DIRECTIVES = frozenset({"skip", "include"})


class _NotPlain(Exception):
    """Raised inside a plain completion: hand the field back to graphql-core."""


_NOT_PLAIN = _NotPlain()


_MISSING = object()
"""What reading a prepared field gives when its parent did not prepare it (and what
:func:`_completed` gives for a field graphql-core must complete)."""


@dataclass(frozen=True, slots=True)
class _Plain:
    """How to complete one plain field from its parent object."""

    response_name: str
    read: Callable[[Any], Any]
    """The parent object → the field's value (``_MISSING``: not prepared)."""
    non_null: bool
    complete: Callable[[Any], Any]
    """The (non-None) value → its completed value; raises _NotPlain."""


class PlainFieldsExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, completing plain fields directly (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain_fields: dict[tuple[str, int], tuple[FieldDetailsList, _Plain | None]] = {}
        self._selections: dict[
            tuple[str, int],
            tuple[GroupedFieldSet, list[tuple[str, FieldDetailsList, _Plain | None]]],
        ] = {}
        manager = self.middleware_manager
        self._no_middleware = manager is None or not manager.middlewares

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        if not self._no_middleware:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list, plain in self._fields(
                parent_type, grouped_field_set
            ):
                if plain is not None:
                    completed = _completed(plain, source_value)
                    if completed is not _MISSING:
                        results[response_name] = completed
                        continue
                # Not plain, or not plainly completable: graphql-core's path, which
                # raises any error where it belongs.
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return self._gathered(results, awaitable_fields)

    @staticmethod
    async def _gathered(results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
        # graphql-core's own tail of execute_fields: await what is awaitable.
        if len(awaitable_fields) == 1:
            name = awaitable_fields[0]
            results[name] = await results[name]
        else:
            values = await gather_with_cancel(*(results[name] for name in awaitable_fields))
            results.update(zip(awaitable_fields, values, strict=True))
        return results

    # -- deciding what is plain -------------------------------------------------------

    def _fields(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> list[tuple[str, FieldDetailsList, _Plain | None]]:
        """The fields of a selection, each with its plain completion (None: not plain)."""
        key = (parent_type.name, id(grouped_field_set))
        cached = self._selections.get(key)
        if cached is None:
            fields = [
                (name, details, self._plain(parent_type, details))
                for name, details in grouped_field_set.items()
            ]
            # Kept alive with its plan, so the selection's id is not reused.
            cached = self._selections[key] = (grouped_field_set, fields)
        return cached[1]

    def _plain(self, parent_type: GraphQLObjectType, details: FieldDetailsList) -> _Plain | None:
        key = (parent_type.name, id(details))
        cached = self._plain_fields.get(key)
        if cached is None:
            # The field group is kept alive with its plan, so its id is not reused.
            cached = self._plain_fields[key] = (details, self._plan(parent_type, details))
        return cached[1]

    def _plan(self, parent_type: GraphQLObjectType, details: FieldDetailsList) -> _Plain | None:
        first = details[0].node
        for detail in details:
            node = detail.node
            if detail.defer_usage is not None or detail.fragment_variable_values is not None:
                return None
            if node.arguments or any(
                d.name.value not in _APPLIED_DIRECTIVES for d in node.directives or ()
            ):
                return None
        field_def = parent_type.fields.get(first.name.value)
        if field_def is None or field_def.args:
            return None
        definition = field_def.extensions.get("strawberry-definition")
        if not isinstance(definition, StrawberryField):
            return None
        read: Callable[[Any], Any]
        if definition.is_basic_field and definition.default_resolver is getattr:
            # No resolver and no field extensions (permission classes are one), read
            # with getattr (strawberry's default resolver, unless configured otherwise).
            read = attrgetter(definition.python_name)
        elif definition.base_resolver is not None and not definition.extensions:
            read = _prepared_reader(definition.python_name)
        else:
            return None
        field_type = field_def.type
        non_null = is_non_null_type(field_type)
        complete = self._completion(_nullable(field_type), details)
        if complete is None:
            return None
        return _Plain(
            response_name=(first.alias or first.name).value,
            read=read,
            non_null=non_null,
            complete=complete,
        )

    def _completion(
        self, field_type: GraphQLOutputType, details: FieldDetailsList
    ) -> Callable[[Any], Any] | None:
        """How to complete a non-None value of ``field_type`` (None: not plain)."""
        if is_leaf_type(field_type):
            return _leaf(field_type)
        if is_list_type(field_type):
            item_type = field_type.of_type
            item = self._completion(_nullable(item_type), details)
            if item is None:
                return None
            return _list(item, non_null_items=is_non_null_type(item_type))
        if is_object_type(field_type):
            instance_of = _instance_of(field_type)
            if instance_of is _UNCHECKABLE:
                return None
            return self._object(field_type, details, instance_of)
        return None

    def _object(
        self, object_type: GraphQLObjectType, details: FieldDetailsList, instance_of: type | None
    ) -> Callable[[Any], Any] | None:
        collected = self.collect_subfields(object_type, details)
        if collected.new_defer_usages:
            return None
        fields: list[_Plain] = []
        for sub_details in collected.grouped_field_set.values():
            plain = self._plain(object_type, sub_details)
            if plain is None:
                return None
            fields.append(plain)
        return _object(tuple(fields), instance_of)


def _completed(plain: _Plain, source: Any) -> Any:
    """The field completed from ``source``, or ``_MISSING`` when graphql-core must do it."""
    try:
        value = plain.read(source)
        if value is None:
            return _MISSING if plain.non_null else None
        return value if value is _MISSING else plain.complete(value)
    except (_NotPlain, AttributeError):
        return _MISSING


def _nullable(field_type: GraphQLOutputType) -> GraphQLOutputType:
    return field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type


def _leaf(leaf_type: GraphQLLeafType) -> Callable[[Any], Any]:
    coerce = leaf_type.coerce_output_value

    def complete(value: Any) -> Any:
        try:
            coerced = coerce(value)
        except Exception:
            raise _NOT_PLAIN from None
        if coerced is None or coerced is Undefined:
            raise _NOT_PLAIN
        return coerced

    if leaf_type is GraphQLString or leaf_type is GraphQLID:
        # Both coerce a str to itself: most leaves (ids, names, statuses) skip the call.
        def text(value: Any) -> Any:
            return value if type(value) is str else complete(value)

        return text
    return complete


def _list(item: Callable[[Any], Any], *, non_null_items: bool) -> Callable[[Any], Any]:
    def complete(value: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise _NOT_PLAIN  # another iterable, or not one: graphql-core decides
        completed: list[Any] = []
        for entry in value:
            if entry is None:
                if non_null_items:
                    raise _NOT_PLAIN
                completed.append(None)
            else:
                completed.append(item(entry))
        return completed

    return complete


def _object(fields: tuple[_Plain, ...], instance_of: type | None) -> Callable[[Any], Any]:
    def complete(value: Any) -> dict[str, Any]:
        if instance_of is not None and not isinstance(value, instance_of):
            raise _NOT_PLAIN  # graphql-core asks the type's is_type_of
        result: dict[str, Any] = {}
        for plain in fields:
            field_value = plain.read(value)
            if field_value is None:
                if plain.non_null:
                    raise _NOT_PLAIN
                result[plain.response_name] = None
            elif field_value is _MISSING:
                raise _NOT_PLAIN  # not prepared: its resolver runs
            else:
                result[plain.response_name] = plain.complete(field_value)
        return result

    return complete


_UNCHECKABLE = type("_Uncheckable", (), {})


def _instance_of(object_type: GraphQLObjectType) -> type | None:
    """The class a value must be an instance of to complete as ``object_type``
    (None: any value), or ``_UNCHECKABLE``.

    Strawberry gives types that implement interfaces an ``is_type_of`` that
    accepts instances of the type's class (among others); an instance passes it
    for sure. A type's own ``is_type_of`` cannot be second-guessed.
    """
    if object_type.is_type_of is None:
        return None
    definition = object_type.extensions.get("strawberry-definition")
    if not isinstance(definition, StrawberryObjectDefinition) or definition.is_type_of:
        return _UNCHECKABLE
    return definition.origin


def _prepared_reader(name: str) -> Callable[[Any], Any]:
    def read(source: Any) -> Any:
        known = getattr(source, PREPARED, None)
        return _MISSING if known is None else known.get(name, _MISSING)

    return read


def lean_resolvers(
    schema: GraphQLSchema, config: StrawberryConfig, scalar_registry: Mapping[object, Any]
) -> None:
    """Give fields whose resolver takes the parent, ``info`` and arguments a lean resolver.

    Applied once to the built schema. Strawberry's own resolver for such a field
    (no field extensions) converts the arguments and calls the method with
    strawberry's ``Info``; the lean one makes the same conversion (strawberry's
    ``convert_arguments``) and the same call, minus the wrapping. A conversion of
    plain values (strings, numbers, booleans, enum members, nulls) is kept, so the
    50 ``contracts(first: 20)`` of a page of customers convert once.
    """
    for named_type in schema.type_map.values():
        if not isinstance(named_type, GraphQLObjectType) or named_type.name.startswith("__"):
            continue
        for field_def in named_type.fields.values():
            definition = field_def.extensions.get("strawberry-definition")
            resolver = getattr(definition, "base_resolver", None)
            if (
                not isinstance(definition, StrawberryField)
                or resolver is None
                or definition.extensions
                or resolver.parent_parameter is not None
                or resolver.root_parameter is not None
            ):
                continue
            convert = _converter(definition, config, scalar_registry)
            field_def.resolve = _lean(definition, resolver, config.info_class, convert)


def _lean(
    field: StrawberryField,
    resolver: StrawberryResolver[Any],
    info_class: type[Info[Any, Any]],
    convert: Callable[[dict[str, Any], Info[Any, Any]], dict[str, Any]] | None,
) -> Callable[..., Any]:
    method = resolver.wrapped_func
    assert callable(method)  # static and class methods are bound when the type is built
    info_parameter = resolver.info_parameter
    info_name = info_parameter.name if info_parameter is not None else None
    takes_self = resolver.self_parameter is not None

    def resolve(source: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        strawberry_info = info_class(_raw_info=info, _field=field)
        kwargs = convert(arguments, strawberry_info) if convert is not None else {}
        if info_name:
            kwargs[info_name] = strawberry_info
        return method(source, **kwargs) if takes_self else method(**kwargs)

    return resolve


_PLAIN_VALUES = (str, int, float, bool, Enum)
MAX_KEPT_CONVERSIONS = 256
"""Argument conversions kept per field (then forgotten all at once)."""


def _converter(
    field: StrawberryField, config: StrawberryConfig, scalar_registry: Mapping[object, Any]
) -> Callable[[dict[str, Any], Info[Any, Any]], dict[str, Any]] | None:
    """Strawberry's conversion of ``field``'s arguments (None: it has none), a fresh
    dict per call; conversions of plain values are kept (they depend on nothing else)."""
    if not field.arguments:
        return None
    arguments = field.arguments
    kept: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}

    def convert(raw: dict[str, Any], info: Info[Any, Any]) -> dict[str, Any]:
        if not all(v is None or isinstance(v, _PLAIN_VALUES) for v in raw.values()):
            return convert_arguments(raw, arguments, scalar_registry, config, info)
        key = tuple(raw.items())
        converted = kept.get(key)
        if converted is None:
            if len(kept) >= MAX_KEPT_CONVERSIONS:
                kept.clear()
            converted = kept[key] = convert_arguments(raw, arguments, scalar_registry, config, info)
        return dict(converted)

    return convert
