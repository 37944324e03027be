"""What an org knows about its objects: fields, types, write rules, behaviour hooks.

An :class:`SObjectType` describes one object (``Account``, ``Contract`` ...): its
key prefix, its fields with types and create/update permissions, and an
:class:`SObjectBehavior` whose hooks play the part of the org's triggers and
validation rules. :func:`coerce_write` checks a REST body against the fields the
way Salesforce does, with Salesforce's error codes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from simulators.salesforce.errors import SalesforceError, invalid_field
from simulators.salesforce.ids import is_salesforce_id
from simulators.salesforce.values import (
    format_datetime,
    money,
    parse_date,
    parse_datetime,
    to_decimal,
)
from simulators.storage import Document, DocumentStore


class FieldType(StrEnum):
    ID = "id"
    REFERENCE = "reference"
    STRING = "string"
    PICKLIST = "picklist"
    EMAIL = "email"
    INT = "int"
    DOUBLE = "double"
    CURRENCY = "currency"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"


TEXT_TYPES = frozenset({FieldType.STRING, FieldType.PICKLIST, FieldType.EMAIL})
"""Compared case-insensitively in SOQL, as Salesforce does."""
ID_TYPES = frozenset({FieldType.ID, FieldType.REFERENCE})
"""Compared exactly; the only fields the executor looks up through an index."""
NUMBER_TYPES = frozenset({FieldType.INT, FieldType.DOUBLE, FieldType.CURRENCY})
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class FieldSpec:
    """One field. ``reference_to`` names a same-org object whose record must exist;
    a reference to another system's record (Contract.AccountId) leaves it None.
    An ``external_id`` field is unique and addresses records in upserts and
    ``GET sobjects/{Object}/{field}/{value}``."""

    name: str
    type: FieldType
    createable: bool = True
    updateable: bool = True
    required: bool = False
    picklist: tuple[str, ...] = ()
    reference_to: str | None = None
    default: Any = None
    external_id: bool = False
    label: str = ""

    @property
    def relationship_name(self) -> str | None:
        """The name SOQL follows the reference by: ``ParentId`` → ``Parent``,
        ``RenewalOf__c`` → ``RenewalOf__r``; None if it is not a same-org reference."""
        if self.reference_to is None:
            return None
        if self.name.endswith("__c"):
            return self.name[:-3] + "__r"
        if self.name.endswith("Id") and len(self.name) > 2:
            return self.name[:-2]
        return None

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def display_label(self) -> str:
        if self.label:
            return self.label
        base = self.name.removesuffix("__c").replace("_", " ")
        if base.endswith("Id"):
            base = base[:-2] + " ID"
        return _spaced(base)


class SObjectBehavior:
    """Hooks run around writes, in the role of the org's triggers and validation rules.

    ``before_insert``/``before_update`` may change ``doc`` (the record about to
    be stored) or raise :class:`SalesforceError`; ``after_write`` may write other
    records. All run under the simulator's write lock.
    """

    async def before_insert(self, store: DocumentStore, doc: Document) -> None:
        return None

    async def before_update(
        self, store: DocumentStore, current: Document, doc: Document, changes: Document
    ) -> None:
        return None

    async def after_write(
        self, store: DocumentStore, doc: Document, previous: Document | None
    ) -> None:
        return None

    async def before_delete(self, store: DocumentStore, doc: Document) -> None:
        """May refuse (raise) before ``doc`` is deleted."""
        return None

    async def after_delete(self, store: DocumentStore, doc: Document) -> None:
        """Runs once ``doc`` (and the records it took along) are gone."""
        return None


@dataclass(frozen=True)
class SObjectType:
    """One object of the org; its records are stored under the kind ``name``."""

    name: str
    key_prefix: str
    fields: tuple[FieldSpec, ...]
    behavior: SObjectBehavior = field(default_factory=SObjectBehavior)
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    label: str = ""
    label_plural: str = ""
    _lookup: dict[str, FieldSpec] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _relationships: dict[str, FieldSpec] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self._lookup.update({f.name.lower(): f for f in self.fields})
        self._relationships.update(
            {f.relationship_name.lower(): f for f in self.fields if f.relationship_name}
        )

    def field(self, name: str) -> FieldSpec | None:
        """The field named ``name`` (case-insensitive, like the API)."""
        return self._lookup.get(name.lower())

    def relationship(self, name: str) -> FieldSpec | None:
        """The reference field behind relationship ``name`` (``Parent`` → ``ParentId``)."""
        return self._relationships.get(name.lower())

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def display_label(self) -> str:
        return self.label or _spaced(self.name.removesuffix("__c").replace("_", " "))

    @property
    def display_label_plural(self) -> str:
        return self.label_plural or f"{self.display_label}s"

    @property
    def external_id_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.external_id]

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def resolve_fields(self, names: Sequence[str]) -> list[str]:
        """Canonical names for a ``fields=`` list; INVALID_FIELD for unknown ones."""
        resolved: list[str] = []
        for raw in names:
            name = raw.strip()
            spec = self.field(name)
            if spec is None:
                raise invalid_field(
                    f"No such column '{name}' on entity '{self.name}'. If you are attempting "
                    "to use a custom field, be sure to append the '__c' after the custom "
                    "field name.",
                    fields=[name],
                )
            if spec.name not in resolved:
                resolved.append(spec.name)
        return resolved

    def record_url(self, record_id: str, api_prefix: str) -> str:
        return f"{api_prefix}/sobjects/{self.name}/{record_id}"


def _spaced(name: str) -> str:
    """``BillingFrequency`` → ``Billing Frequency`` (labels derived from API names)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).strip()


def read_only(name: str, type_: FieldType, *, default: Any = None) -> FieldSpec:
    """A field the API returns but never writes (system, formula or trigger-maintained)."""
    return FieldSpec(name, type_, createable=False, updateable=False, default=default)


def standard_fields(*, system_modstamp: bool = False) -> tuple[FieldSpec, ...]:
    """``Id`` and the audit datetimes every object has; none of them writable."""
    specs = [
        read_only("Id", FieldType.ID),
        read_only("CreatedDate", FieldType.DATETIME),
        read_only("LastModifiedDate", FieldType.DATETIME),
    ]
    if system_modstamp:
        specs.append(read_only("SystemModstamp", FieldType.DATETIME))
    return tuple(specs)


def coerce_write(sobject: SObjectType, body: Mapping[str, Any], *, creating: bool) -> Document:
    """The body's fields under canonical names with normalised values.

    Raises Salesforce's errors: INVALID_FIELD for unknown fields,
    INVALID_FIELD_FOR_INSERT_UPDATE for read-only ones, JSON_PARSER_ERROR for
    wrongly typed values, INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, MALFORMED_ID,
    REQUIRED_FIELD_MISSING.
    """
    values: Document = {}
    for raw_name, raw_value in body.items():
        if raw_name == "attributes":
            continue
        spec = sobject.field(raw_name)
        if spec is None:
            raise invalid_field(
                f"No such column '{raw_name}' on sobject of type {sobject.name}",
                fields=[raw_name],
            )
        allowed = spec.createable if creating else spec.updateable
        if not allowed:
            action = "create" if creating else "update"
            raise SalesforceError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to {action} fields: {spec.name}. Please check the security settings "
                "of this field and verify that it is read/write for your profile or "
                "permission set.",
                fields=[spec.name],
            )
        values[spec.name] = _coerce_value(sobject, spec, raw_value)
    missing = [
        spec.name
        for spec in sobject.fields
        if spec.required
        and (
            (creating and values.get(spec.name) is None and spec.default is None)
            or (spec.name in values and values[spec.name] is None)
        )
    ]
    if missing:
        raise SalesforceError(
            400,
            "REQUIRED_FIELD_MISSING",
            f"Required fields are missing: [{', '.join(missing)}]",
            fields=missing,
        )
    return values


def _coerce_value(sobject: SObjectType, spec: FieldSpec, value: Any) -> Any:
    if value is None:
        return None
    kind = spec.type
    if kind in TEXT_TYPES or kind in ID_TYPES:
        if not isinstance(value, str):
            raise _type_error(spec, value, "String")
        if kind == FieldType.PICKLIST and spec.picklist and value not in spec.picklist:
            raise SalesforceError(
                400,
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{spec.name}: bad value for restricted picklist field: {value}",
                fields=[spec.name],
            )
        if kind == FieldType.EMAIL and not _EMAIL_RE.match(value):
            raise SalesforceError(
                400,
                "INVALID_EMAIL_ADDRESS",
                f"{spec.name}: invalid email address: {value}",
                fields=[spec.name],
            )
        if kind in ID_TYPES and not is_salesforce_id(value):
            raise SalesforceError(
                400,
                "MALFORMED_ID",
                f"{spec.name}: id value of incorrect type: {value}",
                fields=[spec.name],
            )
        return value
    if kind == FieldType.INT:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(spec, value, "int")
        if isinstance(value, float) and not value.is_integer():
            raise _type_error(spec, value, "int")
        return int(value)
    if kind in NUMBER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(spec, value, "double")
        return money(to_decimal(value)) if kind == FieldType.CURRENCY else value
    if kind == FieldType.BOOLEAN:
        if not isinstance(value, bool):
            raise _type_error(spec, value, "boolean")
        return value
    if kind == FieldType.DATE:
        if not isinstance(value, str) or parse_date(value) is None:
            raise _type_error(spec, value, "date")
        return value
    if kind == FieldType.DATETIME:
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            raise _type_error(spec, value, "datetime")
        return format_datetime(parsed)
    raise AssertionError(f"unhandled field type {kind} on {sobject.name}.{spec.name}")


def _type_error(spec: FieldSpec, value: Any, expected: str) -> SalesforceError:
    token = "VALUE_STRING" if isinstance(value, str) else "VALUE_NUMBER"
    if isinstance(value, bool):
        token = "VALUE_TRUE" if value else "VALUE_FALSE"
    elif isinstance(value, list | dict):
        token = "START_ARRAY" if isinstance(value, list) else "START_OBJECT"
    return SalesforceError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {expected} from {token} value {value!r} "
        f"for field {spec.name}",
        fields=[spec.name],
    )
