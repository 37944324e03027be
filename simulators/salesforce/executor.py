"""Running parsed SOQL over a :class:`DocumentStore`.

:func:`compile_query` binds a :class:`soql.Query` to the org's objects (field
names, literal types: Salesforce's INVALID_TYPE / INVALID_FIELD errors) and turns
the WHERE clause into a Python predicate. :func:`execute` then picks candidates
— through the store's field index when the WHERE clause is a conjunction with an
``=``/``IN`` on an id or reference field (``ParentId IN (...)``, ``Id IN
(...)``), else by scanning the object — filters, sorts and slices them.

Semantics follow Salesforce: text comparisons ignore case; ``!=`` and ``NOT IN``
also match nulls; ordering puts nulls first ascending and last descending
unless ``NULLS FIRST|LAST`` says otherwise. Fields may follow same-org
references by their relationship names (``Parent.Name``, ``Contract.Status``,
``RenewalOf__r.ContractNumber``; up to five levels), in SELECT, WHERE and ORDER
BY; a missing parent reads as null.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from simulators.salesforce.errors import SalesforceError, invalid_field
from simulators.salesforce.ids import is_salesforce_id
from simulators.salesforce.schema import (
    ID_TYPES,
    NUMBER_TYPES,
    TEXT_TYPES,
    FieldSpec,
    FieldType,
    SObjectType,
)
from simulators.salesforce.soql import (
    BoolOp,
    Comparison,
    Condition,
    InList,
    Literal,
    Not,
    Query,
)
from simulators.salesforce.values import parse_date, parse_datetime, to_decimal
from simulators.storage import Document, DocumentStore

Predicate = Callable[[Document, DocumentStore], bool]
KeyFn = Callable[[Any], Any]

MAX_OFFSET = 2000
MAX_RELATIONSHIP_DEPTH = 5


@dataclass(frozen=True)
class FieldPath:
    """A field of the queried object or, through references, of a parent record."""

    name: str
    """Canonical: ``Parent.Name`` (relationship names, then the field)."""
    hops: tuple[tuple[str, str], ...]
    """``(reference field, target object)`` for each relationship followed."""
    spec: FieldSpec

    def read(self, doc: Document, store: DocumentStore) -> Any:
        current: Document | None = doc
        for ref_field, target in self.hops:
            ref = current.get(ref_field) if current is not None else None
            current = store.get(target, ref) if isinstance(ref, str) else None
            if current is None:
                return None
        assert current is not None
        return current.get(self.spec.name)


def resolve_path(sobject: SObjectType, name: str, sobjects: Mapping[str, SObjectType]) -> FieldPath:
    """``name`` (``Name``, ``Parent.Name`` ...) bound to the org; INVALID_FIELD if unknown."""
    parts = name.split(".")
    if len(parts) - 1 > MAX_RELATIONSHIP_DEPTH:
        raise SalesforceError(
            400,
            "MALFORMED_QUERY",
            "SOQL statements cannot query relationships that are more than "
            f"{MAX_RELATIONSHIP_DEPTH} levels away from the root entity object.",
        )
    current = sobject
    hops: list[tuple[str, str]] = []
    names: list[str] = []
    for relationship in parts[:-1]:
        ref = current.relationship(relationship)
        target = sobjects.get(ref.reference_to.lower()) if ref and ref.reference_to else None
        if ref is None or target is None or ref.relationship_name is None:
            raise invalid_field(
                f"Didn't understand relationship '{relationship}' in field path. If you are "
                "attempting to use a custom relationship, be sure to append the '__r' after "
                "the custom relationship name. Please reference your WSDL or the describe "
                "call for the appropriate names.",
                fields=[name],
            )
        hops.append((ref.name, target.name))
        names.append(ref.relationship_name)
        current = target
    spec = _resolve(current, parts[-1])
    return FieldPath(".".join([*names, spec.name]), tuple(hops), spec)


@dataclass(frozen=True)
class CompiledQuery:
    """A query bound to its object, ready to run (and to re-run page by page)."""

    sobject: SObjectType
    fields: tuple[str, ...]
    count: bool
    predicate: Predicate | None
    lookup: tuple[str, tuple[str, ...]] | None
    """``(field, values)`` to fetch candidates by index instead of scanning."""
    order_by: tuple[tuple[FieldPath, KeyFn, bool, bool], ...]
    limit: int | None
    offset: int


def compile_query(query: Query, sobjects: Mapping[str, SObjectType]) -> CompiledQuery:
    """Bind ``query`` to the org; raises :class:`SalesforceError` as Salesforce would."""
    sobject = sobjects.get(query.sobject.lower())
    if sobject is None:
        raise SalesforceError(
            400,
            "INVALID_TYPE",
            f"sObject type '{query.sobject}' is not supported. If you are attempting to use "
            "a custom object, be sure to append the '__c' after the entity name.",
        )
    fields = tuple(resolve_path(sobject, name, sobjects).name for name in query.fields)
    folded = [f.lower() for f in fields]
    if len(set(folded)) != len(folded):
        duplicate = next(f for f in fields if folded.count(f.lower()) > 1)
        raise SalesforceError(400, "MALFORMED_QUERY", f"duplicate field selected: {duplicate}")
    predicate = _compile(query.where, sobject, sobjects) if query.where is not None else None
    order_by = tuple(
        (path, _sort_key(path.spec), item.descending, item.nulls_first)
        for item in query.order_by
        for path in [resolve_path(sobject, item.field, sobjects)]
    )
    offset = query.offset or 0
    if offset > MAX_OFFSET:
        raise SalesforceError(
            400,
            "NUMBER_OUTSIDE_VALID_RANGE",
            f"Maximum SOQL offset allowed is {MAX_OFFSET}",
        )
    return CompiledQuery(
        sobject=sobject,
        fields=fields,
        count=query.count,
        predicate=predicate,
        lookup=_index_lookup(query.where, sobject),
        order_by=order_by,
        limit=query.limit,
        offset=offset,
    )


def execute(compiled: CompiledQuery, store: DocumentStore) -> list[Document]:
    """The matching documents, sorted and sliced (LIMIT / OFFSET)."""
    kind = compiled.sobject.name
    candidates: Iterable[Document]
    if compiled.lookup is None:
        candidates = store.all(kind)
    else:
        candidates = _lookup(store, kind, *compiled.lookup)
    predicate = compiled.predicate
    rows = [doc for doc in candidates if predicate is None or predicate(doc, store)]
    # Stable sorts, least significant key first, give a multi-key ORDER BY.
    for path, key, descending, nulls_first in reversed(compiled.order_by):
        rows.sort(key=_null_aware(path, key, descending, nulls_first, store), reverse=descending)
    end = None if compiled.limit is None else compiled.offset + compiled.limit
    return rows[compiled.offset : end]


def _lookup(store: DocumentStore, kind: str, field: str, values: tuple[str, ...]) -> list[Document]:
    seen: set[int] = set()
    found: list[Document] = []
    for value in dict.fromkeys(values):
        if field == "Id":
            doc = store.get(kind, value)
            docs = [doc] if doc is not None else []
        else:
            docs = store.find(kind, field, value)
        for doc in docs:
            if id(doc) not in seen:
                seen.add(id(doc))
                found.append(doc)
    return found


def _null_aware(
    path: FieldPath, key: KeyFn, descending: bool, nulls_first: bool, store: DocumentStore
) -> KeyFn:
    # Rank nulls below or above every value so they land where NULLS FIRST/LAST says,
    # whichever direction the (reversible) sort runs.
    null_rank = 0 if nulls_first != descending else 2

    def sort_key(doc: Document) -> tuple[Any, ...]:
        value = path.read(doc, store)
        converted = None if value is None else key(value)
        if converted is None:
            return (null_rank,)
        return (1, converted)

    return sort_key


# -- binding -------------------------------------------------------------------


def _resolve(sobject: SObjectType, name: str) -> FieldSpec:
    spec = sobject.field(name)
    if spec is None:
        raise invalid_field(
            f"No such column '{name}' on entity '{sobject.name}'. If you are attempting to "
            "use a custom field, be sure to append the '__c' after the custom field name.",
            fields=[name],
        )
    return spec


def _sort_key(spec: FieldSpec) -> KeyFn:
    """Stored value → comparable value (None when it cannot be read)."""
    kind = spec.type
    if kind in TEXT_TYPES:
        return lambda v: v.casefold() if isinstance(v, str) else None
    if kind in ID_TYPES:
        return lambda v: v if isinstance(v, str) else None
    if kind in NUMBER_TYPES:
        return lambda v: to_decimal(v) if isinstance(v, int | float | Decimal) else None
    if kind == FieldType.DATE:
        return lambda v: parse_date(v) if isinstance(v, str) else None
    if kind == FieldType.DATETIME:
        return lambda v: parse_datetime(v) if isinstance(v, str) else None
    return lambda v: v if isinstance(v, bool) else None


_EXPECTED = {
    "string": "string and should be enclosed in quotes",
    "number": "number and should not be enclosed in quotes",
    "date": "date and should not be enclosed in quotes",
    "datetime": "dateTime and should not be enclosed in quotes",
    "boolean": "boolean and should not be enclosed in quotes",
}


def _literal_kind(spec: FieldSpec) -> str:
    if spec.type in TEXT_TYPES or spec.type in ID_TYPES:
        return "string"
    if spec.type in NUMBER_TYPES:
        return "number"
    if spec.type == FieldType.DATE:
        return "date"
    if spec.type == FieldType.DATETIME:
        return "datetime"
    return "boolean"


def _bind_literal(spec: FieldSpec, literal: Literal) -> Any:
    """The literal as a value comparable with the field's sort key (None for NULL)."""
    if literal.kind == "null":
        return None
    expected = _literal_kind(spec)
    if literal.kind != expected:
        raise invalid_field(
            f"value of filter criterion for field '{spec.name}' must be of type "
            f"{_EXPECTED[expected]}",
            fields=[spec.name],
        )
    value = literal.value
    if spec.type in ID_TYPES:
        if not is_salesforce_id(value):
            raise SalesforceError(
                400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {value}"
            )
        return value
    if spec.type in TEXT_TYPES:
        assert isinstance(value, str)
        return value.casefold()
    return value


def _compile(
    condition: Condition, sobject: SObjectType, sobjects: Mapping[str, SObjectType]
) -> Predicate:
    if isinstance(condition, BoolOp):
        parts = [_compile(c, sobject, sobjects) for c in condition.operands]
        if condition.op == "AND":
            return lambda doc, store: all(p(doc, store) for p in parts)
        return lambda doc, store: any(p(doc, store) for p in parts)
    if isinstance(condition, Not):
        inner = _compile(condition.operand, sobject, sobjects)
        return lambda doc, store: not inner(doc, store)
    path = resolve_path(sobject, condition.field, sobjects)
    spec, key = path.spec, _sort_key(path.spec)

    def read(doc: Document, store: DocumentStore) -> Any:
        value = path.read(doc, store)
        return None if value is None else key(value)

    if isinstance(condition, InList):
        values = {_bind_literal(spec, v) for v in condition.values}
        if condition.negated:
            return lambda doc, store: read(doc, store) not in values
        return lambda doc, store: read(doc, store) in values
    if condition.op == "LIKE":
        if spec.type not in TEXT_TYPES and spec.type not in ID_TYPES:
            raise invalid_field(
                f"invalid operator on field '{spec.name}': LIKE works on text fields only",
                fields=[spec.name],
            )
        pattern = like_regex(condition.value.raw)

        def like(doc: Document, store: DocumentStore) -> bool:
            value = path.read(doc, store)
            return isinstance(value, str) and pattern.fullmatch(value) is not None

        return like
    target = _bind_literal(spec, condition.value)
    return _comparison(condition.op, read, target)


def _comparison(op: str, read: Callable[[Document, DocumentStore], Any], target: Any) -> Predicate:
    if op == "=":
        return lambda doc, store: read(doc, store) == target
    if op == "!=":
        # As in SOQL, a null field is "not equal" to any value.
        return lambda doc, store: read(doc, store) != target
    if target is None:
        return lambda doc, store: False
    compare: Callable[[Any, Any], bool] = {
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
    }[op]

    def ordered(doc: Document, store: DocumentStore) -> bool:
        value = read(doc, store)
        return value is not None and compare(value, target)

    return ordered


def like_regex(raw: str) -> re.Pattern[str]:
    """A LIKE pattern (still escaped as written in the query) as a case-insensitive regex."""
    parts: list[str] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "\\" and index + 1 < len(raw):
            escaped = raw[index + 1]
            literal = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}.get(escaped, escaped)
            parts.append(re.escape(literal))
            index += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _index_lookup(
    condition: Condition | None, sobject: SObjectType
) -> tuple[str, tuple[str, ...]] | None:
    """An ``=``/``IN`` on an id field that every match must satisfy, if there is one."""
    if condition is None:
        return None
    is_and = isinstance(condition, BoolOp) and condition.op == "AND"
    conjuncts = condition.operands if isinstance(condition, BoolOp) and is_and else (condition,)
    for part in conjuncts:
        if isinstance(part, Comparison) and part.op == "=":
            literals: tuple[Literal, ...] = (part.value,)
        elif isinstance(part, InList) and not part.negated:
            literals = part.values
        else:
            continue
        spec = sobject.field(part.field)
        if spec is None or spec.type not in ID_TYPES:
            continue
        if any(lit.kind != "string" for lit in literals):
            continue  # IN (..., null) also matches nulls: not index-friendly
        return spec.name, tuple(str(lit.value) for lit in literals)
    return None
