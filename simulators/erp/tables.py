"""How the stored records appear to SuiteQL: the tables, their columns and values.

Columns are derived from the record fields, as NetSuite's analytics tables are:
the column name is the field name in lower case (``entityId`` → ``entityid``),
plus ``id``; sublists (``line`` of a journal entry) are not columns.

**Real tables** answer in SuiteQL's own dialect:

* ``customer``, ``customrecord_rg_revsched``, ``customrecord_rg_revsched_line``,
  ``journalentry``;
* ``transaction``: the invoices (NetSuite keeps every transaction in one table),
  with ``type = 'CustInvc'`` and ``recordtype = 'invoice'``, ``tranid``,
  ``trandate``, ``duedate``, ``entity``, ``currency``, ``foreigntotal``,
  ``foreignamountremaining``, ``status`` (``A`` open, ``B`` paid in full,
  ``V`` voided), ``memo``, ``externalid``, ``lastmodifieddate``. Journal entries
  are not in it: their internal ids are a sequence of their own here, where
  NetSuite's transactions share one;
* every value is a string: ids, numbers (``"200.1"``), integers, booleans
  ``"T"``/``"F"``; dates and datetimes in the account's date format
  (:attr:`SuiteQLSettings.date_format`, ``M/D/YYYY`` by default; a datetime
  shows its date);
* a reference to another record is its internal id (``entity``, ``parent``,
  ``custrecord_rg_customer``, ``custrecord_rg_schedule``), a list value is its
  id (``currency`` ``"1"``, ``status`` ``"A"``); ``BUILTIN.DF(col)`` gives the
  display name (``USD``, ``Open``, the customer's company name).

  *Compatibility* (:attr:`SuiteQLSettings.legacy_list_names`, on by default,
  ``POST /_sim/suiteql {"legacy_list_names": false}`` turns it off): list values
  of the real tables other than ``transaction`` show their name, as the
  gateway's current adapter reads ``currency`` of ``customer`` and
  ``customrecord_rg_revsched``. To be switched off, then dropped, once the
  adapter reads ``BUILTIN.DF(currency)``.

**The legacy table** ``invoice`` is a compatibility alias for the current
adapter, to be dropped once it reads ``transaction``: numbers are JSON
numbers, dates ISO ``YYYY-MM-DD`` (datetimes ISO 8601), list values
(``currency``, ``status``) their names — what the simulator answered before it
spoke the real dialect.

Internally, values compare and sort as NetSuite's do whatever their output
form: ids and numbers as numbers, dates as dates (a date literal in the
account's format is read as a date). ``id``, text, integer and reference
columns are indexed (through :meth:`simulators.storage.DocumentStore.find`), so
``=``, ``IN`` and joins on them do not scan the table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from simulators.erp.records import (
    CUSTOMER,
    INVOICE,
    RECORD_TYPES,
    FieldKind,
    FieldSpec,
    RecordType,
    to_decimal,
)
from simulators.erp.suiteql import ColumnType, Row, SuiteQLError, Value
from simulators.storage import Document, DocumentStore

Extract = Callable[[Document], Any]

DATE_FORMATS = ("M/D/YYYY", "MM/DD/YYYY", "D/M/YYYY", "DD/MM/YYYY", "YYYY-MM-DD", "D.M.YYYY")
TRANSACTION = "transaction"
DISPLAY_SUFFIX = "#df"


@dataclass
class SuiteQLSettings:
    """Account preferences SuiteQL answers by (``/_sim/suiteql`` changes them)."""

    date_format: str = "M/D/YYYY"
    legacy_list_names: bool = True


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: ColumnType
    extract: Extract
    index_field: str | None  # the store field ``=`` / ``IN`` can look up, if any
    display: Extract | None = None  # BUILTIN.DF; None: the value itself


@dataclass(frozen=True)
class TableSpec:
    """A SuiteQL table over one kind of stored record."""

    name: str
    rtype: RecordType
    real: bool
    compat: bool = True  # SuiteQLSettings.legacy_list_names applies
    renames: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)


def _internal_id(value: Any) -> int | str | None:
    """Ids compare and sort as numbers; they are sent as strings."""
    if value is None:
        return None
    text = str(value)
    return int(text) if text.isdigit() else text


def _record_name(store: DocumentStore, kind: str) -> Extract:
    """BUILTIN.DF of a reference: the referenced record's name."""

    def name(ref_id: Any) -> Any:
        if ref_id is None:
            return None
        doc = store.get(kind, str(ref_id))
        if doc is None:
            return None
        if kind == CUSTOMER:
            return doc.get("companyName") or doc.get("entityId")
        return doc.get("name") or doc.get("externalId") or str(doc["id"])

    return name


def _column(
    store: DocumentStore, spec: FieldSpec, column: str, *, list_ids: bool
) -> ColumnSpec | None:
    name, kind = spec.name, spec.kind
    if kind is FieldKind.REF:
        assert spec.target is not None
        target_name = _record_name(store, spec.target)

        def ref_id(d: Document) -> Any:
            return (d.get(name) or {}).get("id")

        return ColumnSpec(
            column,
            ColumnType.ID,
            lambda d: _internal_id(ref_id(d)),
            f"{name}.id",
            lambda d: target_name(ref_id(d)),
        )
    if kind is FieldKind.LIST:
        values = spec.values or {}

        def ref_name(doc: Document) -> str | None:
            ref = doc.get(name) or {}
            found = ref.get("refName")
            return found if found is not None else values.get(str(ref.get("id")))

        if not list_ids:
            return ColumnSpec(column, ColumnType.TEXT, ref_name, None)
        numeric = all(key.isdigit() for key in values)
        by_name = {ref_name: list_id for list_id, ref_name in values.items()}

        def list_id(doc: Document) -> Any:
            ref = doc.get(name) or {}
            found = ref.get("id")
            if found is None:
                found = by_name.get(str(ref.get("refName")))
            return _internal_id(found)

        return ColumnSpec(
            column,
            ColumnType.ID if numeric else ColumnType.TEXT,
            list_id,
            None,  # stored values may carry only their refName: no index on the id
            ref_name,
        )
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


def _constant(value: str) -> Extract:
    return lambda doc: value


def _integer(value: Any) -> int | None:
    number = to_decimal(value)
    return None if number is None else int(number)


class RecordTable:
    """A record type as a SuiteQL table over the simulator's document store."""

    def __init__(
        self, store: DocumentStore, spec: TableSpec, settings: SuiteQLSettings | None = None
    ) -> None:
        self.store = store
        self.kind = spec.rtype.name
        self.name = spec.name
        self.real = spec.real
        settings = settings or SuiteQLSettings()
        self.date_format = settings.date_format
        list_ids = spec.real and not (spec.compat and settings.legacy_list_names)
        specs = [ColumnSpec("id", ColumnType.ID, lambda d: _internal_id(d.get("id")), "id")]
        for field_spec in spec.rtype.fields:
            column = spec.renames.get(field_spec.name, field_spec.name.lower())
            made = _column(store, field_spec, column, list_ids=list_ids)
            if made is not None:
                specs.append(made)
        for column, value in spec.constants.items():
            specs.append(ColumnSpec(column, ColumnType.TEXT, _constant(value), None))
        self.specs: dict[str, ColumnSpec] = {c.name: c for c in specs}
        self.columns: Mapping[str, ColumnType] = {c.name: c.type for c in specs}
        self.displays: Mapping[str, str] = {
            c.name: c.name + DISPLAY_SUFFIX for c in specs if c.display is not None
        }
        self._display_of = {
            c.name + DISPLAY_SUFFIX: c.display for c in specs if c.display is not None
        }

    def row(self, doc: Document) -> Row:
        return _LazyRow(
            {name: spec.extract(doc) for name, spec in self.specs.items()},
            doc,
            self._display_of,
        )

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

    def date_literal(self, text: str) -> str | None:
        """A date literal in the account's format as ISO (how dates compare)."""
        return parse_date(text, self.date_format)


class _LazyRow(dict[str, Any]):
    """A row whose ``BUILTIN.DF`` values are looked up only when a query asks for them."""

    def __init__(
        self, values: dict[str, Any], doc: Document, displays: Mapping[str, Extract | None]
    ) -> None:
        super().__init__(values)
        self._doc = doc
        self._displays = displays

    def __missing__(self, key: str) -> Any:
        display = self._displays.get(key)
        if display is None:
            raise KeyError(key)
        value = display(self._doc)
        self[key] = value
        return value


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


TABLE_SPECS: tuple[TableSpec, ...] = (
    *(TableSpec(name, rtype, real=name != INVOICE) for name, rtype in RECORD_TYPES.items()),
    TableSpec(
        TRANSACTION,
        RECORD_TYPES[INVOICE],
        real=True,
        compat=False,  # new: no current reader needs list names here
        renames={"total": "foreigntotal", "amountRemaining": "foreignamountremaining"},
        constants={"type": "CustInvc", "recordtype": "invoice"},
    ),
)


def tables(store: DocumentStore, settings: SuiteQLSettings | None = None) -> dict[str, RecordTable]:
    """Every SuiteQL table, by (lower-case) name."""
    return {spec.name: RecordTable(store, spec, settings) for spec in TABLE_SPECS}


# -- values on the wire --------------------------------------------------------------

_FORMAT_TOKEN = re.compile(r"YYYY|MM|M|DD|D")


def check_date_format(text: str) -> str:
    if text not in DATE_FORMATS:
        raise SuiteQLError(f"Unknown date format {text!r}; known: {', '.join(DATE_FORMATS)}.")
    return text


def format_date(iso: str, fmt: str) -> str:
    """An ISO date (or datetime: its date) in an account date format such as ``M/D/YYYY``."""
    day = date.fromisoformat(iso[:10])
    parts = {
        "YYYY": f"{day.year:04d}", "MM": f"{day.month:02d}", "M": str(day.month),
        "DD": f"{day.day:02d}", "D": str(day.day),
    }  # fmt: skip
    return _FORMAT_TOKEN.sub(lambda m: parts[m.group(0)], fmt)


def parse_date(text: str, fmt: str) -> str | None:
    """A date written in ``fmt`` (or ISO) as ISO ``YYYY-MM-DD``; None if it is not one."""
    pattern = _FORMAT_TOKEN.sub(
        lambda m: {
            "YYYY": r"(?P<y>\d{4})",
            "MM": r"(?P<m>\d{1,2})",
            "M": r"(?P<m>\d{1,2})",
            "DD": r"(?P<d>\d{1,2})",
            "D": r"(?P<d>\d{1,2})",
        }[m.group(0)],
        re.escape(fmt).replace(r"\-", "-"),
    )
    for candidate in (pattern, r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})"):
        match = re.fullmatch(candidate, text.strip())
        if match is not None:
            try:
                return date(int(match["y"]), int(match["m"]), int(match["d"])).isoformat()
            except ValueError:
                return None
    return None


def json_value(
    column_type: ColumnType, value: Any, *, real: bool = False, date_format: str = "M/D/YYYY"
) -> Any:
    """A row value as SuiteQL sends it.

    Real tables: every value a string, dates in ``date_format``. The legacy
    ``invoice`` table: ids as strings, numbers as JSON numbers, ISO dates.
    """
    if value is None:
        return None
    if real:
        if column_type is ColumnType.DATE and isinstance(value, str):
            try:
                return format_date(value, date_format)
            except ValueError:
                return value
        if isinstance(value, Decimal):
            text = format(value, "f")
            return text.rstrip("0").rstrip(".") if "." in text else text
        return str(value)
    if column_type is ColumnType.ID:
        return str(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
