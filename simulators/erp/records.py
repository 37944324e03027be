"""NetSuite record types, their fields, and every write the REST API makes.

Each record type declares its fields (:class:`FieldSpec`); request bodies are
validated and normalized against them the way SuiteTalk REST does:

* unknown or read-only fields → 400 ``USER_ERROR``; a missing mandatory field →
  400 ``USER_ERROR`` "Please enter value(s) for: ...";
* a value of the wrong type → 400 ``INVALID_VALUE``;
* references are ``{"id": "..."}`` (or ``{"externalId": "..."}``, resolved to the
  internal id); a reference to a record that does not exist → 400
  ``INVALID_KEY_OR_REF``. List values (``currency``, invoice ``status``) take
  ``{"id"}`` or ``{"refName"}`` and are stored with both;
* ``externalId`` is unique per record type → 400 ``DUP_RCRD``.

Internal ids are numeric strings, assigned per record type in sequence (never
reused while the simulator runs). A revenue schedule's
``custrecord_rg_recognized_total`` is read-only: it is recomputed as the sum of
its recognized lines whenever a line is created, changed or deleted, as
NetSuite keeps a revenue plan's recognized total.

Every record created, changed (the recomputed total included) or deleted is
reported to the ``on_change`` listener, under the write lock, in the order of
the writes (the app sends them as webhooks: :mod:`simulators.record_events`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from simulators.erp.errors import NetSuiteError
from simulators.record_events import Action
from simulators.storage import Document, DocumentStore

ChangeListener = Callable[[str, Action, Document], None]
"""Told ``(record type, action, stored record)`` after each write."""

EID_PREFIX = "eid:"

CUSTOMER = "customer"
INVOICE = "invoice"
JOURNAL_ENTRY = "journalentry"
SCHEDULE = "customrecord_rg_revsched"
SCHEDULE_LINE = "customrecord_rg_revsched_line"

# NetSuite's currency list (internal id → ISO code) as a fresh account ships it.
CURRENCIES: dict[str, str] = {"1": "USD", "2": "GBP", "3": "CAD", "4": "EUR", "5": "JPY"}
# Invoice statuses (NetSuite's ``CustInvc`` status letters).
INVOICE_STATUSES: dict[str, str] = {"A": "Open", "B": "Paid In Full", "V": "Voided"}


class FieldKind(StrEnum):
    TEXT = "text"
    NUMBER = "number"  # money and other decimals: a JSON number
    INTEGER = "integer"
    BOOL = "bool"
    DATE = "date"  # YYYY-MM-DD
    DATETIME = "datetime"  # ISO 8601, set by the system
    REF = "ref"  # {"id"} of another record
    LIST = "list"  # {"id", "refName"} of a fixed list value
    SUBLIST = "sublist"  # {"items": [...]}


@dataclass(frozen=True)
class FieldSpec:
    """One field of a record type, as the REST API names it."""

    name: str
    kind: FieldKind
    target: str | None = None  # REF: the record type referenced
    values: Mapping[str, str] | None = None  # LIST: id → refName
    required: bool = False
    read_only: bool = False
    pattern: str | None = None  # TEXT: the value must match (fullmatch)


@dataclass(frozen=True)
class RecordType:
    """A record type: its fields in document order and its system timestamps."""

    name: str
    fields: tuple[FieldSpec, ...]
    created_field: str | None = None
    modified_field: str | None = None
    by_name: dict[str, FieldSpec] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})


_EXTERNAL_ID = FieldSpec("externalId", FieldKind.TEXT)
_CURRENCY = FieldSpec("currency", FieldKind.LIST, values=CURRENCIES)

JOURNAL_LINE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("account", FieldKind.LIST, required=True),
    FieldSpec("debit", FieldKind.NUMBER),
    FieldSpec("credit", FieldKind.NUMBER),
    FieldSpec("memo", FieldKind.TEXT),
)

RECORD_TYPES: dict[str, RecordType] = {
    t.name: t
    for t in (
        RecordType(
            CUSTOMER,
            (
                _EXTERNAL_ID,
                FieldSpec("entityId", FieldKind.TEXT),
                FieldSpec("companyName", FieldKind.TEXT, required=True),
                FieldSpec("email", FieldKind.TEXT),
                _CURRENCY,
                FieldSpec("parent", FieldKind.REF, target=CUSTOMER),
                FieldSpec("isInactive", FieldKind.BOOL),
                FieldSpec("dateCreated", FieldKind.DATETIME, read_only=True),
                FieldSpec("lastModifiedDate", FieldKind.DATETIME, read_only=True),
            ),
            created_field="dateCreated",
            modified_field="lastModifiedDate",
        ),
        RecordType(
            INVOICE,
            (
                _EXTERNAL_ID,
                FieldSpec("tranId", FieldKind.TEXT),
                FieldSpec("entity", FieldKind.REF, target=CUSTOMER, required=True),
                _CURRENCY,
                FieldSpec("total", FieldKind.NUMBER),
                FieldSpec("amountRemaining", FieldKind.NUMBER),
                FieldSpec("tranDate", FieldKind.DATE),
                FieldSpec("dueDate", FieldKind.DATE),
                FieldSpec("status", FieldKind.LIST, values=INVOICE_STATUSES),
                FieldSpec("memo", FieldKind.TEXT),
                FieldSpec("lastModifiedDate", FieldKind.DATETIME, read_only=True),
            ),
            modified_field="lastModifiedDate",
        ),
        RecordType(
            JOURNAL_ENTRY,
            (
                _EXTERNAL_ID,
                FieldSpec("tranDate", FieldKind.DATE),
                FieldSpec("memo", FieldKind.TEXT),
                _CURRENCY,
                FieldSpec("line", FieldKind.SUBLIST, required=True),
            ),
        ),
        RecordType(
            SCHEDULE,
            (
                _EXTERNAL_ID,
                FieldSpec("custrecord_rg_contract", FieldKind.TEXT, required=True),
                FieldSpec("custrecord_rg_contract_version", FieldKind.INTEGER, required=True),
                FieldSpec("custrecord_rg_customer", FieldKind.REF, target=CUSTOMER),
                FieldSpec("custrecord_rg_total", FieldKind.NUMBER),
                FieldSpec("custrecord_rg_recognized_total", FieldKind.NUMBER, read_only=True),
                _CURRENCY,
                FieldSpec("custrecord_rg_start", FieldKind.DATE),
                FieldSpec("custrecord_rg_end", FieldKind.DATE),
            ),
        ),
        RecordType(
            SCHEDULE_LINE,
            (
                _EXTERNAL_ID,
                FieldSpec("custrecord_rg_schedule", FieldKind.REF, target=SCHEDULE, required=True),
                FieldSpec(
                    "custrecord_rg_period",
                    FieldKind.TEXT,
                    required=True,
                    pattern=r"\d{4}-(0[1-9]|1[0-2])",
                ),
                FieldSpec("custrecord_rg_amount", FieldKind.NUMBER, required=True),
                FieldSpec("custrecord_rg_recognized", FieldKind.BOOL),
            ),
        ),
    )
}


RefResolver = Callable[[FieldSpec, Any], dict[str, str]]
"""Turns a reference value into the stored ``{"id"}`` (or raises NetSuite's error)."""


def record_type(name: str) -> RecordType:
    """The record type called ``name``; 400 ``INVALID_RCRD_TYPE`` for any other."""
    rtype = RECORD_TYPES.get(name)
    if rtype is None:
        raise NetSuiteError(400, "INVALID_RCRD_TYPE", f"Record type '{name}' does not exist.")
    return rtype


def to_decimal(value: Any) -> Decimal | None:
    """A JSON number (or numeric string) as an exact Decimal; None if it is not one."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float | int | Decimal):
        # str() of a float is its shortest round-trip form, so 0.1 stays 0.1.
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def json_number(number: Decimal) -> int | float:
    """How NetSuite sends a number: an integer when it is one, else a decimal."""
    return int(number) if number == number.to_integral_value() else float(number)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Records:
    """The record store behind the REST API: reads, validated writes, derived fields.

    Writes are serialized by one lock so the externalId uniqueness check and the
    write that follows it cannot interleave with another request's.
    """

    def __init__(self, store: DocumentStore, on_change: ChangeListener | None = None) -> None:
        self.store = store
        self._on_change = on_change
        self._lock = asyncio.Lock()
        self._next_ids: dict[str, int] = {}
        # externalId → internal id per type, and schedule → line ids, kept by this
        # class on every write (cheaper than re-indexing the store after each one).
        self._eids: dict[str, dict[str, str]] = {}
        self._lines: dict[str, set[str]] | None = None
        # The store version those indexes reflect: a write that bypassed this class
        # (a test or the demo planting drift straight into the store) makes them stale.
        self._synced = store.version

    # reads -------------------------------------------------------------------

    def get(self, type_name: str, key: str) -> Document:
        """The record addressed by an internal id or ``eid:<externalId>``; 404 if none."""
        record_type(type_name)
        doc = self.find(type_name, key)
        if doc is None:
            raise NetSuiteError(
                404,
                "NONEXISTENT_ID",
                f"The record instance does not exist. Provide a valid record instance ID "
                f"({type_name} {key}).",
            )
        return doc

    def find(self, type_name: str, key: str) -> Document | None:
        self._check_synced()
        if key.startswith(EID_PREFIX):
            doc_id = self._eid_index(type_name).get(key[len(EID_PREFIX) :])
            return None if doc_id is None else self.store.get(type_name, doc_id)
        return self.store.get(type_name, key)

    # writes ------------------------------------------------------------------

    async def create(self, type_name: str, body: Any) -> str:
        """Create a record; returns its new internal id."""
        rtype = record_type(type_name)
        async with self._lock:
            self._check_synced()
            values = self._validate(rtype, body, partial=False)
            self._check_unique(rtype, values.get("externalId"), None)
            doc_id = self._new_id(type_name)
            await self._write(rtype, doc_id, self._assemble(rtype, doc_id, values, None))
            return doc_id

    async def update(self, type_name: str, key: str, body: Any) -> str:
        """Change the given fields of an existing record (PATCH)."""
        rtype = record_type(type_name)
        async with self._lock:
            self._check_synced()
            current = self.get(type_name, key)
            values = self._validate(rtype, body, partial=True)
            if "externalId" in values:
                self._check_unique(rtype, values["externalId"], str(current["id"]))
            doc_id = str(current["id"])
            merged = {k: v for k, v in current.items() if k in rtype.by_name}
            merged.update(values)
            doc = self._assemble(rtype, doc_id, merged, current)
            await self._write(rtype, doc_id, doc, previous=current)
            return doc_id

    async def upsert(self, type_name: str, external_id: str, body: Any) -> tuple[str, bool]:
        """PUT ``eid:X``: create a record with that externalId, or replace the one there is.

        Returns the internal id and whether the record was created.
        """
        rtype = record_type(type_name)
        async with self._lock:
            self._check_synced()
            values = self._validate(rtype, body, partial=False)
            if values.get("externalId", external_id) != external_id:
                raise NetSuiteError(
                    400,
                    "USER_ERROR",
                    f"The externalId in the body ({values['externalId']}) does not match "
                    f"the one in the URL ({external_id}).",
                )
            values["externalId"] = external_id
            current = self.find(type_name, EID_PREFIX + external_id)
            doc_id = self._new_id(type_name) if current is None else str(current["id"])
            doc = self._assemble(rtype, doc_id, values, current)
            await self._write(rtype, doc_id, doc, previous=current)
            return doc_id, current is None

    async def delete(self, type_name: str, key: str) -> None:
        record_type(type_name)
        async with self._lock:
            self._check_synced()
            current = self.get(type_name, key)
            doc_id = str(current["id"])
            if type_name == SCHEDULE and self._line_index().get(doc_id):
                raise NetSuiteError(
                    400,
                    "USER_ERROR",
                    "This record cannot be deleted because it has dependent records "
                    f"({SCHEDULE_LINE}).",
                )
            await self.store.delete(type_name, doc_id)
            self._synced = self.store.version  # the indexes are updated below
            self._changed(type_name, "deleted", current)
            eid = current.get("externalId")
            if eid is not None:
                self._eid_index(type_name).pop(eid, None)
            if type_name == SCHEDULE_LINE:
                schedule_id = _ref_id(current.get("custrecord_rg_schedule"))
                if schedule_id is not None:
                    self._line_index().get(schedule_id, set()).discard(doc_id)
                    await self._recompute_recognized(schedule_id)

    # internals ---------------------------------------------------------------

    def _changed(self, type_name: str, action: Action, doc: Document) -> None:
        if self._on_change is not None:
            self._on_change(type_name, action, doc)

    def _check_synced(self) -> None:
        """Drop the derived indexes if the store changed behind this class's back."""
        if self.store.version == self._synced:
            return
        self._eids.clear()
        self._lines = None
        for type_name, next_id in self._next_ids.items():
            self._next_ids[type_name] = max(next_id, self._max_id(type_name) + 1)
        self._synced = self.store.version

    def _eid_index(self, type_name: str) -> dict[str, str]:
        index = self._eids.get(type_name)
        if index is None:
            index = {
                str(doc["externalId"]): str(doc["id"])
                for doc in self.store.all(type_name)
                if doc.get("externalId") is not None
            }
            self._eids[type_name] = index
        return index

    def _line_index(self) -> dict[str, set[str]]:
        if self._lines is None:
            self._lines = {}
            for doc in self.store.all(SCHEDULE_LINE):
                schedule_id = _ref_id(doc.get("custrecord_rg_schedule"))
                if schedule_id is not None:
                    self._lines.setdefault(schedule_id, set()).add(str(doc["id"]))
        return self._lines

    def _new_id(self, type_name: str) -> str:
        next_id = self._next_ids.get(type_name)
        if next_id is None:
            next_id = self._max_id(type_name) + 1
        self._next_ids[type_name] = next_id + 1
        return str(next_id)

    def _max_id(self, type_name: str) -> int:
        numeric = [int(d["id"]) for d in self.store.all(type_name) if str(d["id"]).isdigit()]
        return max(numeric, default=0)

    def _check_unique(self, rtype: RecordType, external_id: Any, own_id: Any) -> None:
        if external_id is None:
            return
        holder = self._eid_index(rtype.name).get(str(external_id))
        if holder is not None and holder != own_id:
            raise NetSuiteError(
                400,
                "DUP_RCRD",
                f"This record already exists: a {rtype.name} with external ID "
                f"'{external_id}' exists (internal ID {holder}).",
            )

    def _assemble(
        self,
        rtype: RecordType,
        doc_id: str,
        values: Mapping[str, Any],
        previous: Document | None,
    ) -> Document:
        """The stored document: id, then fields in declared order, system fields set."""
        now = _now()
        doc: Document = {"id": doc_id}
        for spec in rtype.fields:
            if spec.name == rtype.created_field:
                doc[spec.name] = previous.get(spec.name, now) if previous else now
            elif spec.name == rtype.modified_field:
                doc[spec.name] = now
            elif spec.name == "custrecord_rg_recognized_total":
                doc[spec.name] = json_number(self._recognized_sum(doc_id))
            elif spec.name in values:
                doc[spec.name] = values[spec.name]
            elif spec.kind is FieldKind.BOOL:
                doc[spec.name] = False
            else:
                doc[spec.name] = None
        return doc

    async def _write(
        self,
        rtype: RecordType,
        doc_id: str,
        doc: Document,
        *,
        previous: Document | None = None,
    ) -> None:
        await self.store.put(rtype.name, doc_id, doc)
        self._synced = self.store.version  # the indexes are updated below
        self._changed(rtype.name, "created" if previous is None else "updated", doc)
        eids = self._eid_index(rtype.name)
        if previous is not None and previous.get("externalId") is not None:
            eids.pop(str(previous["externalId"]), None)
        if doc.get("externalId") is not None:
            eids[str(doc["externalId"])] = doc_id
        if rtype.name == SCHEDULE_LINE:
            lines = self._line_index()
            old = _ref_id(previous.get("custrecord_rg_schedule")) if previous else None
            new = _ref_id(doc.get("custrecord_rg_schedule"))
            if old is not None:
                lines.get(old, set()).discard(doc_id)
            if new is not None:
                lines.setdefault(new, set()).add(doc_id)
            for schedule_id in {old, new} - {None}:
                assert schedule_id is not None
                await self._recompute_recognized(schedule_id)

    def _recognized_sum(self, schedule_id: str) -> Decimal:
        total = Decimal(0)
        for line_id in self._line_index().get(schedule_id, ()):
            line = self.store.get(SCHEDULE_LINE, line_id)
            if line is not None and line.get("custrecord_rg_recognized") is True:
                total += to_decimal(line.get("custrecord_rg_amount")) or Decimal(0)
        return total

    async def _recompute_recognized(self, schedule_id: str) -> None:
        schedule = self.store.get(SCHEDULE, schedule_id)
        if schedule is None:
            return
        recognized = json_number(self._recognized_sum(schedule_id))
        if schedule.get("custrecord_rg_recognized_total") != recognized:
            updated = {**schedule, "custrecord_rg_recognized_total": recognized}
            await self.store.put(SCHEDULE, schedule_id, updated)
            self._changed(SCHEDULE, "updated", updated)
        self._synced = self.store.version

    # validation --------------------------------------------------------------

    def _validate(self, rtype: RecordType, body: Any, *, partial: bool) -> dict[str, Any]:
        """Normalized field values from a request body, or the error NetSuite gives."""
        if not isinstance(body, dict):
            raise NetSuiteError(400, "USER_ERROR", "The request body must be a JSON object.")
        values = _validate_fields(rtype.name, rtype.by_name, body, self._resolve_ref)
        # A PATCH only has to keep the fields it sends filled; a create or PUT all of them.
        checked = [s for s in rtype.fields if s.required and (not partial or s.name in values)]
        missing = [s.name for s in checked if values.get(s.name) is None]
        if missing:
            raise NetSuiteError(
                400, "USER_ERROR", f"Please enter value(s) for: {', '.join(missing)}."
            )
        if rtype.name == JOURNAL_ENTRY and "line" in values:
            _check_balanced(values["line"])
        return values

    def _resolve_ref(self, spec: FieldSpec, value: Any) -> dict[str, str]:
        assert spec.target is not None
        if not isinstance(value, dict) or not (
            isinstance(value.get("id"), str | int) or isinstance(value.get("externalId"), str)
        ):
            raise _invalid(spec.name, value, 'a reference such as {"id": "123"}')
        if "id" in value:
            doc = self.store.get(spec.target, str(value["id"]))
        else:
            doc = self.find(spec.target, EID_PREFIX + value["externalId"])
        if doc is None:
            key = value.get("id", value.get("externalId"))
            raise NetSuiteError(
                400,
                "INVALID_KEY_OR_REF",
                f"Invalid {spec.name} reference key {key}.",
            )
        return {"id": str(doc["id"])}


def _validate_fields(
    owner: str,
    specs: Mapping[str, FieldSpec],
    body: Mapping[str, Any],
    resolve_ref: RefResolver,
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in body.items():
        spec = specs.get(name)
        if spec is None:
            raise NetSuiteError(
                400, "USER_ERROR", f"Invalid field '{name}' for record type '{owner}'."
            )
        if spec.read_only:
            raise NetSuiteError(
                400, "USER_ERROR", f"Field '{name}' of record type '{owner}' is read-only."
            )
        values[name] = None if value is None else _normalize(spec, value, resolve_ref)
    return values


def _normalize(spec: FieldSpec, value: Any, resolve_ref: RefResolver) -> Any:
    kind = spec.kind
    if kind is FieldKind.TEXT:
        if not isinstance(value, str):
            raise _invalid(spec.name, value, "a string")
        if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
            raise _invalid(spec.name, value, f"a value matching {spec.pattern}")
        return value
    if kind is FieldKind.NUMBER:
        number = to_decimal(value)
        if number is None:
            raise _invalid(spec.name, value, "a number")
        return json_number(number)
    if kind is FieldKind.INTEGER:
        number = to_decimal(value)
        if number is None or number != number.to_integral_value():
            raise _invalid(spec.name, value, "an integer")
        return int(number)
    if kind is FieldKind.BOOL:
        if not isinstance(value, bool):
            raise _invalid(spec.name, value, "true or false")
        return value
    if kind is FieldKind.DATE:
        try:
            valid = isinstance(value, str) and len(value) == 10
            date.fromisoformat(value)
        except (TypeError, ValueError):
            valid = False
        if not valid:
            raise _invalid(spec.name, value, "a date YYYY-MM-DD")
        return value
    if kind is FieldKind.REF:
        return resolve_ref(spec, value)
    if kind is FieldKind.LIST:
        return _list_value(spec, value)
    if kind is FieldKind.SUBLIST:
        return _sublist(spec, value, resolve_ref)
    raise _invalid(spec.name, value, "a value set by the system")


def _list_value(spec: FieldSpec, value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not ("id" in value or "refName" in value):
        raise _invalid(spec.name, value, 'a list value such as {"id": "1"}')
    if spec.values is None:  # an open list (e.g. GL accounts): keep what was given
        if not isinstance(value.get("id"), str | int):
            raise _invalid(spec.name, value, 'a list value such as {"id": "1"}')
        return {"id": str(value["id"])}
    if "id" in value:
        ref_name = spec.values.get(str(value["id"]))
        if ref_name is not None:
            return {"id": str(value["id"]), "refName": ref_name}
    else:
        for list_id, ref_name in spec.values.items():
            if ref_name == value["refName"]:
                return {"id": list_id, "refName": ref_name}
    key = value.get("id", value.get("refName"))
    raise NetSuiteError(400, "INVALID_KEY_OR_REF", f"Invalid {spec.name} reference key {key}.")


def _sublist(spec: FieldSpec, value: Any, resolve_ref: RefResolver) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("items"), list):
        raise _invalid(spec.name, value, 'a sublist {"items": [...]}')
    specs = {s.name: s for s in JOURNAL_LINE_FIELDS}
    items = []
    for item in value["items"]:
        if not isinstance(item, dict):
            raise _invalid(spec.name, item, "a sublist line object")
        line = _validate_fields(spec.name, specs, item, resolve_ref)
        missing = [s.name for s in JOURNAL_LINE_FIELDS if s.required and line.get(s.name) is None]
        if missing:
            raise NetSuiteError(
                400, "USER_ERROR", f"Please enter value(s) for: {', '.join(missing)}."
            )
        items.append({s.name: line.get(s.name) for s in JOURNAL_LINE_FIELDS})
    return {"items": items}


def _check_balanced(line: Mapping[str, Any]) -> None:
    items = line["items"]
    debit = sum((to_decimal(i["debit"]) or Decimal(0) for i in items), Decimal(0))
    credit = sum((to_decimal(i["credit"]) or Decimal(0) for i in items), Decimal(0))
    if not items or debit != credit:
        raise NetSuiteError(
            400,
            "USER_ERROR",
            f"The transaction is not in balance: debits {debit}, credits {credit}.",
        )


def _invalid(field_name: str, value: Any, expected: str) -> NetSuiteError:
    return NetSuiteError(
        400,
        "INVALID_VALUE",
        f"Invalid value {value!r} for field '{field_name}': expected {expected}.",
    )


def _ref_id(ref: Any) -> str | None:
    if isinstance(ref, dict) and ref.get("id") is not None:
        return str(ref["id"])
    return None
