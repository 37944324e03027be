"""NetSuite wire models: ERP customers, AR postings, revenue schedules, journal entries.

NetSuite shows one record two ways, and every model reads both:

* :meth:`from_record` — a SuiteTalk REST record (``GET /record/v1/{type}/{id}``):
  camelCase fields, references as ``{"id", "refName"}`` objects, booleans
  ``true``/``false``;
* :meth:`from_suiteql` — a SuiteQL row as real SuiteQL sends it: every value a
  string (numbers ``"200.1"``, integers ``"2"``, booleans ``'T'``/``'F'``), dates
  in the account's date format (``M/D/YYYY`` by default; ISO is read too),
  references as the referenced internal id, NULL columns absent. List values
  (``currency``, ``status``) are ids in SuiteQL, so the adapter selects their
  display names with ``BUILTIN.DF(col) AS col``: :meth:`suiteql_columns` is the
  select list a model reads (:attr:`SUITEQL` names the expressions that differ
  from the lower-cased field name, e.g. an invoice's ``total`` is
  ``transaction.foreigntotal``).

Field aliases (``validation_alias``, so constructors and type checkers keep the
Python names) are the REST field names. Money is :class:`~decimal.Decimal`,
parsed from the text of the number (never through a binary float), until
``to_domain`` turns each model into its :mod:`domain.records` record. Private to
:mod:`sources.erp`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from domain import records
from domain.money import Money as DomainMoney


def _decimal_text(value: Any) -> Any:
    # A float has already lost the vendor's text; its repr is the shortest string
    # that reads back to it, which for 2-decimal amounts is that amount.
    return str(value) if isinstance(value, float) else value


def _ns_bool(value: Any) -> Any:
    if isinstance(value, str) and value in ("T", "F"):
        return value == "T"
    return False if value is None else value


def _ns_date(value: Any) -> Any:
    """ISO dates, ISO datetimes, and NetSuite's default ``M/D/YYYY`` display format
    (a datetime in it, ``1/31/2026 5:00 pm``, gives its date)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = value.strip()
        if "/" in value:
            # Split by hand: strptime costs ~10 µs a call, and the ERP sends hundreds.
            try:
                month, day, year = value.split()[0].split("/")
                return date(int(year), int(month), int(day))
            except ValueError as exc:  # pydantic reports it as this field's error
                raise ValueError(f"not a M/D/YYYY date: {value!r}") from exc
        if "T" in value:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    return value


Amount = Annotated[Decimal, BeforeValidator(_decimal_text)]
NsBool = Annotated[bool, BeforeValidator(_ns_bool)]
NsDate = Annotated[date | None, BeforeValidator(_ns_date)]


class ErpModel(BaseModel):
    """Base: reads a REST record or a SuiteQL row into the same model."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", coerce_numbers_to_str=True)

    REF_FIELDS: ClassVar[tuple[str, ...]] = ()
    """REST fields holding a reference to a record: the model keeps its id."""
    LIST_FIELDS: ClassVar[tuple[str, ...]] = ()
    """REST fields holding a list value (currency, status): the model keeps its name."""
    SUITEQL: ClassVar[Mapping[str, str]] = {}
    SUBLISTS: ClassVar[tuple[str, ...]] = ()
    """Fields only the REST record has (a journal entry's lines): not columns."""
    """REST field → the SuiteQL expression giving it, where that is not the field
    name in lower case (list values: ``BUILTIN.DF(col)``; renamed columns)."""

    @classmethod
    def suiteql_columns(cls) -> str:
        """The select list that reads this model: ``id, BUILTIN.DF(currency) AS currency, ...``.

        Each column comes out under the field's lower-cased REST name, which is
        what :meth:`from_suiteql` reads; explicit columns rather than ``*``, so a
        list value can be asked for by its display name.
        """
        columns = []
        for key in cls._field_keys():
            if key in cls.SUBLISTS:
                continue
            name = key.lower()
            expression = cls.SUITEQL.get(key, name)
            columns.append(name if expression == name else f"{expression} AS {name}")
        return ", ".join(columns)

    @classmethod
    def _field_keys(cls) -> tuple[str, ...]:
        keys = _FIELD_KEYS.get(cls)
        if keys is None:  # once per model: a SuiteQL answer parses hundreds of rows
            keys = _FIELD_KEYS[cls] = tuple(
                info.validation_alias if isinstance(info.validation_alias, str) else name
                for name, info in cls.model_fields.items()
            )
        return keys

    @classmethod
    def from_record(cls, doc: Mapping[str, Any]) -> Self:
        data = dict(doc)
        for name in cls.REF_FIELDS:
            data[name] = _ref_id(doc.get(name))
        for name in cls.LIST_FIELDS:
            data[name] = _ref_name(doc.get(name))
        return cls.model_validate(data)

    @classmethod
    def from_suiteql(cls, row: Mapping[str, Any]) -> Self:
        # SuiteQL columns are the REST field names in lower case, already flattened.
        data = {key: row[column] for key, column in cls._columns() if column in row}
        return cls.model_validate(data)

    @classmethod
    def _columns(cls) -> tuple[tuple[str, str], ...]:
        """(field key, its SuiteQL column) pairs."""
        columns = _COLUMNS.get(cls)
        if columns is None:
            columns = _COLUMNS[cls] = tuple((key, key.lower()) for key in cls._field_keys())
        return columns


_FIELD_KEYS: dict[type[ErpModel], tuple[str, ...]] = {}
_COLUMNS: dict[type[ErpModel], tuple[tuple[str, str], ...]] = {}


def _ref_id(ref: Any) -> Any:
    return ref.get("id") if isinstance(ref, Mapping) else ref


def _ref_name(ref: Any) -> Any:
    return ref.get("refName") if isinstance(ref, Mapping) else ref


class ErpCustomer(ErpModel):
    """An ERP customer; ``external_id`` is the CRM Account Id."""

    REF_FIELDS = ("parent",)
    LIST_FIELDS = ("currency",)
    SUITEQL = {"currency": "BUILTIN.DF(currency)"}

    id: str
    external_id: str | None = Field(None, validation_alias="externalId")
    entity_id: str | None = Field(None, validation_alias="entityId")
    company_name: str | None = Field(None, validation_alias="companyName")
    email: str | None = None
    currency: str | None = None
    parent_id: str | None = Field(None, validation_alias="parent")
    is_inactive: NsBool = Field(False, validation_alias="isInactive")

    def to_domain(self) -> records.ErpCustomer:
        return records.ErpCustomer(
            id=self.id,
            external_id=self.external_id,
            entity_id=self.entity_id,
            name=self.company_name,
            email=self.email,
            currency=_code(self.currency),
            parent_id=self.parent_id,
            inactive=self.is_inactive,
        )


class ArPosting(ErpModel):
    """The AR posting (NetSuite invoice) of a Stripe invoice, its ``external_id``.

    ``total`` is 0 when NetSuite sent none.
    """

    REF_FIELDS = ("entity",)
    LIST_FIELDS = ("currency", "status")
    # Read from ``transaction`` (type 'CustInvc'): amounts in the transaction's currency.
    SUITEQL = {
        "currency": "BUILTIN.DF(currency)",
        "status": "BUILTIN.DF(status)",
        "total": "foreigntotal",
        "amountRemaining": "foreignamountremaining",
    }

    id: str
    external_id: str | None = Field(None, validation_alias="externalId")
    tran_id: str | None = Field(None, validation_alias="tranId")
    customer_id: str | None = Field(None, validation_alias="entity")
    currency: str | None = None
    total: Amount = Decimal(0)
    amount_remaining: Amount | None = Field(None, validation_alias="amountRemaining")
    tran_date: NsDate = Field(None, validation_alias="tranDate")
    status: str | None = None

    def to_domain(self) -> records.ArPosting:
        currency = _code(self.currency)
        return records.ArPosting(
            id=self.id,
            external_id=self.external_id,
            number=self.tran_id,
            customer_id=self.customer_id,
            currency=currency,
            total=_money(self.total, currency),
            amount_remaining=_money(self.amount_remaining, currency),
            posted_on=self.tran_date,
            status=self.status,
        )


class RevenueSchedule(ErpModel):
    """The revenue schedule of one contract version (``external_id`` ``{contract}:v{n}``)."""

    REF_FIELDS = ("custrecord_rg_customer",)
    LIST_FIELDS = ("currency",)
    SUITEQL = {"currency": "BUILTIN.DF(currency)"}

    id: str
    external_id: str | None = Field(None, validation_alias="externalId")
    contract_id: str = Field(validation_alias="custrecord_rg_contract")
    contract_version: int = Field(validation_alias="custrecord_rg_contract_version")
    customer_id: str | None = Field(None, validation_alias="custrecord_rg_customer")
    total: Amount = Field(Decimal(0), validation_alias="custrecord_rg_total")
    recognized_total: Amount = Field(Decimal(0), validation_alias="custrecord_rg_recognized_total")
    currency: str | None = None
    start: NsDate = Field(None, validation_alias="custrecord_rg_start")
    end: NsDate = Field(None, validation_alias="custrecord_rg_end")

    @property
    def deferred_total(self) -> Decimal:
        """What is still to be recognized."""
        return self.total - self.recognized_total

    def to_domain(self) -> records.RevenueSchedule:
        currency = _code(self.currency)
        return records.RevenueSchedule(
            id=self.id,
            contract_id=self.contract_id,
            contract_version=self.contract_version,
            currency=currency,
            total=_money(self.total, currency),
            recognized=_money(self.recognized_total, currency),
            deferred=_money(self.deferred_total, currency),
            external_id=self.external_id,
            customer_id=self.customer_id,
            start=self.start,
            end=self.end,
        )


class RevenueScheduleLine(ErpModel):
    """One period (``YYYY-MM``) of a revenue schedule."""

    REF_FIELDS = ("custrecord_rg_schedule",)

    id: str
    schedule_id: str = Field(validation_alias="custrecord_rg_schedule")
    period: str = Field(validation_alias="custrecord_rg_period")
    amount: Amount = Field(validation_alias="custrecord_rg_amount")
    recognized: NsBool = Field(False, validation_alias="custrecord_rg_recognized")

    def to_domain(self) -> records.RevenueScheduleLine:
        return records.RevenueScheduleLine(
            id=self.id,
            schedule_id=self.schedule_id,
            period=self.period,
            amount=self.amount,
            recognized=self.recognized,
        )


class JournalLine(ErpModel):
    """One line of a journal entry: an account debited or credited."""

    REF_FIELDS = ("account",)

    account_id: str | None = Field(None, validation_alias="account")
    debit: Amount | None = None
    credit: Amount | None = None
    memo: str | None = None

    def to_domain(self, currency: str | None) -> records.JournalLine:
        return records.JournalLine(
            account_id=self.account_id,
            debit=_money(self.debit, currency),
            credit=_money(self.credit, currency),
            memo=self.memo,
        )


class JournalEntry(ErpModel):
    """A journal entry (revenue recognition posting).

    Its lines are a sublist: present when read as a REST record, empty from SuiteQL.
    """

    LIST_FIELDS = ("currency",)
    SUITEQL = {"currency": "BUILTIN.DF(currency)"}
    SUBLISTS = ("lines",)

    id: str
    external_id: str | None = Field(None, validation_alias="externalId")
    tran_date: NsDate = Field(None, validation_alias="tranDate")
    memo: str | None = None
    currency: str | None = None
    lines: list[JournalLine] = Field(default_factory=list)

    @classmethod
    def from_record(cls, doc: Mapping[str, Any]) -> Self:
        sublist = doc.get("line")
        items = sublist.get("items", []) if isinstance(sublist, Mapping) else []
        entry = super().from_record({k: v for k, v in doc.items() if k != "line"})
        entry.lines = [JournalLine.from_record(item) for item in items]
        return entry

    def to_domain(self) -> records.JournalEntry:
        currency = _code(self.currency)
        return records.JournalEntry(
            id=self.id,
            external_id=self.external_id,
            posted_on=self.tran_date,
            memo=self.memo,
            currency=currency,
            lines=tuple(line.to_domain(currency) for line in self.lines),
        )


def _code(currency: str | None) -> str | None:
    return currency.upper() if currency else None


def _money(amount: Decimal | None, currency: str | None) -> DomainMoney | None:
    """Money in the currency's minor unit; None when NetSuite did not say either part."""
    if amount is None or currency is None:
        return None
    return DomainMoney.exact(amount, currency)


# --- request bodies (writes) ---------------------------------------------------------
#
# What the adapter sends to the record API (``PUT .../eid:X``, ``PATCH``): field
# names as SuiteTalk REST spells them, references ``{"id"}``, list values by
# display name (``{"refName": "USD"}``). Amounts stay Decimal until
# :func:`sources.encoding.to_json` writes them.

INVOICE_STATUS_IDS: dict[records.InvoiceStatus, str] = {
    records.InvoiceStatus.OPEN: "A",
    records.InvoiceStatus.UNCOLLECTIBLE: "A",  # written off by a credit memo, still open
    records.InvoiceStatus.PAID: "B",
    records.InvoiceStatus.VOID: "V",
}
"""A billing invoice's status → the NetSuite ``CustInvc`` status of its AR posting."""


def schedule_body(
    *,
    external_id: str,
    contract_id: str,
    version: int,
    customer_id: str,
    currency: str,
    total: Decimal,
    start: date,
    end: date,
) -> dict[str, Any]:
    """A whole ``customrecord_rg_revsched`` record (an upsert replaces every field)."""
    return {
        "externalId": external_id,
        "custrecord_rg_contract": contract_id,
        "custrecord_rg_contract_version": version,
        "custrecord_rg_customer": {"id": customer_id},
        "custrecord_rg_total": total,
        "currency": {"refName": currency},
        "custrecord_rg_start": start,
        "custrecord_rg_end": end,
    }


def schedule_revision_body(
    *, external_id: str, version: int, total: Decimal, end: date
) -> dict[str, Any]:
    """The fields of a schedule header an amendment changes (a PATCH)."""
    return {
        "externalId": external_id,
        "custrecord_rg_contract_version": version,
        "custrecord_rg_total": total,
        "custrecord_rg_end": end,
    }


def schedule_line_body(
    *, external_id: str, schedule_id: str, period: str, amount: Decimal, recognized: bool
) -> dict[str, Any]:
    """A whole ``customrecord_rg_revsched_line`` record."""
    return {
        "externalId": external_id,
        "custrecord_rg_schedule": {"id": schedule_id},
        "custrecord_rg_period": period,
        "custrecord_rg_amount": amount,
        "custrecord_rg_recognized": recognized,
    }


def posting_body(invoice: records.Invoice, customer_id: str) -> dict[str, Any]:
    """The AR ``invoice`` record posting a billing invoice (``externalId`` its id).

    ``tranDate`` is the day the invoice was finalized (UTC), else the day it was
    created. A draft is not posted: ``ValueError``.
    """
    status = INVOICE_STATUS_IDS.get(invoice.status)
    if status is None:
        raise ValueError(f"invoice {invoice.id} is {invoice.status}: only final invoices post")
    issued = invoice.finalized_at or invoice.created_at
    return {
        "externalId": invoice.id,
        "tranId": invoice.number,
        "entity": {"id": customer_id},
        "currency": {"refName": invoice.currency},
        "total": invoice.total.amount,
        "amountRemaining": invoice.amount_remaining.amount,
        "tranDate": issued.astimezone(UTC).date() if issued.tzinfo else issued.date(),
        "dueDate": invoice.due_date,
        "status": {"id": status},
        "memo": f"Billing invoice {invoice.number or invoice.id}",
    }


def recognition_body(
    *,
    external_id: str,
    tran_date: date,
    currency: str,
    amount: Decimal,
    deferred_account: str,
    revenue_account: str,
    memo: str,
) -> dict[str, Any]:
    """A balanced ``journalentry``: deferred revenue debited, revenue credited.

    A negative amount (a reduction re-spread by an amendment) books the other way.
    """
    debit, credit = deferred_account, revenue_account
    if amount < 0:
        debit, credit = credit, debit
    value = abs(amount)
    return {
        "externalId": external_id,
        "tranDate": tran_date,
        "memo": memo,
        "currency": {"refName": currency},
        "line": {
            "items": [
                {"account": {"id": debit}, "debit": value, "memo": memo},
                {"account": {"id": credit}, "credit": value, "memo": memo},
            ]
        },
    }
