"""How the stored records appear to SuiteQL: one table per record type.

Columns are derived from the record fields, as NetSuite's analytics tables are:

* the column name is the field name in lower case (``entityId`` → ``entityid``),
  plus ``id``; sublists (``line`` of a journal entry) are not columns;
* a reference to another record is its internal id (``entity``, ``parent``,
  ``custrecord_rg_customer``, ``custrecord_rg_schedule``), sent as a string
  like every id;
* a list value is its name: ``currency`` → ``'USD'``, invoice ``status`` →
  ``'Open'`` (real SuiteQL returns the list id and needs ``BUILTIN.DF`` for the
  name; ``BUILTIN`` is out of scope here, so the name is the value);
* booleans are ``'T'`` / ``'F'``; money is a number; dates are ISO
  ``YYYY-MM-DD`` (NetSuite formats them by the account's preference; ISO is ours).

``id``, text, integer and reference columns are indexed (through
:meth:`simulators.storage.DocumentStore.find`), so ``=`` and ``IN`` on them do
not scan the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from simulators.erp.records import RECORD_TYPES, FieldKind, FieldSpec, RecordType, to_decimal
from simulators.erp.suiteql import ColumnType, Row, Value
from simulators.storage import Document, DocumentStore

Extract = Callable[[Document], Any]


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: ColumnType
    extract: Extract
    index_field: str | None  # the store field ``=`` / ``IN`` can look up, if any


def _internal_id(value: Any) -> int | str | None:
    """Ids compare and sort as numbers; they are sent as strings."""
    if value is None:
        return None
    text = str(value)
    return int(text) if text.isdigit() else text


def _column(spec: FieldSpec) -> ColumnSpec | None:
    name, column = spec.name, spec.name.lower()
    kind = spec.kind
    if kind is FieldKind.REF:
        return ColumnSpec(
            column,
            ColumnType.ID,
            lambda d: _internal_id((d.get(name) or {}).get("id")),
            f"{name}.id",
        )
    if kind is FieldKind.LIST:
        values = spec.values or {}

        def ref_name(doc: Document) -> str | None:
            ref = doc.get(name) or {}
            found = ref.get("refName")
            return found if found is not None else values.get(str(ref.get("id")))

        return ColumnSpec(column, ColumnType.TEXT, ref_name, None)
    if kind is FieldKind.BOOL:
        return ColumnSpec(column, ColumnType.BOOLEAN, lambda d: "T" if d.get(name) else "F", None)
    if kind is FieldKind.NUMBER:
        return ColumnSpec(column, ColumnType.NUMBER, lambda d: to_decimal(d.get(name)), None)
    if kind is FieldKind.INTEGER:
        return ColumnSpec(column, ColumnType.INTEGER, lambda d: _integer(d.get(name)), name)
    if kind in (FieldKind.DATE, FieldKind.DATETIME):
        return ColumnSpec(column, ColumnType.DATE, lambda d: d.get(name), None)
    if kind is FieldKind.TEXT:
        return ColumnSpec(column, ColumnType.TEXT, lambda d: d.get(name), name)
    return None  # sublists


def _integer(value: Any) -> int | None:
    number = to_decimal(value)
    return None if number is None else int(number)


class RecordTable:
    """A record type as a SuiteQL table over the simulator's document store."""

    def __init__(self, store: DocumentStore, rtype: RecordType) -> None:
        self.store = store
        self.kind = rtype.name
        self.name = rtype.name
        specs = [ColumnSpec("id", ColumnType.ID, lambda d: _internal_id(d.get("id")), "id")]
        specs += [c for c in map(_column, rtype.fields) if c is not None]
        self.specs: dict[str, ColumnSpec] = {c.name: c for c in specs}
        self.columns: Mapping[str, ColumnType] = {c.name: c.type for c in specs}

    def row(self, doc: Document) -> Row:
        return {name: spec.extract(doc) for name, spec in self.specs.items()}

    def rows(self) -> Iterable[Row]:
        return map(self.row, self.store.all(self.kind))

    def lookup(self, column: str, values: Sequence[Value]) -> list[Row] | None:
        spec = self.specs[column]
        if spec.index_field is None:
            return None
        docs: dict[str, Document] = {}
        for value in values:
            key = _index_key(spec.type, value)
            if key is None:
                continue
            if spec.index_field == "id":
                doc = self.store.get(self.kind, str(key))
                found = [] if doc is None else [doc]
            else:
                found = self.store.find(self.kind, spec.index_field, key)
            for doc in found:
                docs[str(doc["id"])] = doc
        return [self.row(doc) for doc in docs.values()]


def _index_key(column_type: ColumnType, value: Value) -> str | int | None:
    """The stored form a literal matches, or None when it can match nothing."""
    if value is None:
        return None
    if column_type is ColumnType.INTEGER:
        number = to_decimal(value)
        if number is None or number != number.to_integral_value():
            return None
        return int(number)
    if isinstance(value, Decimal):
        # 42 and 42.0 both name the id "42".
        return str(int(value)) if value == value.to_integral_value() else str(value)
    return value


def tables(store: DocumentStore) -> dict[str, RecordTable]:
    """Every SuiteQL table, by (lower-case) name."""
    return {name: RecordTable(store, rtype) for name, rtype in RECORD_TYPES.items()}


def json_value(column_type: ColumnType, value: Any) -> Any:
    """A row value as SuiteQL sends it: ids as strings, numbers as JSON numbers."""
    if value is None:
        return None
    if column_type is ColumnType.ID:
        return str(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
