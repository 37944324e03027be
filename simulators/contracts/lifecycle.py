"""The contract org's rules: status transitions, locked terms, computed values.

These play the part of the org's validation rules and triggers:

* ``Status`` moves Draft → InApproval → Activated → Terminated | Expired (and
  InApproval back to Draft); any other change is FIELD_INTEGRITY_EXCEPTION.
  Activation stamps ``ActivatedDate`` and records the ``Initial`` version;
  termination stamps ``TerminatedDate__c``.
* Once a contract left InApproval its terms (account, dates, term, currency,
  billing frequency) and its lines change only through an amendment.
* ``EndDate`` = StartDate + ContractTerm months - 1 day; ``TotalValue__c`` =
  Σ current-version line Quantity * UnitPrice * periods (ContractTerm for
  Monthly lines, ContractTerm/12 for Annual ones), kept up to date on writes.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from simulators.salesforce.errors import SalesforceError
from simulators.salesforce.ids import new_record_id
from simulators.salesforce.schema import SObjectBehavior
from simulators.salesforce.values import (
    add_months,
    money,
    now_datetime,
    parse_date,
    to_decimal,
    today,
)
from simulators.storage import Document, DocumentStore

CONTRACT = "Contract"
LINE = "ContractLineItem"
VERSION = "ContractVersion__c"
VERSION_PREFIX = "a0V"

STATUSES = ("Draft", "InApproval", "Activated", "Terminated", "Expired")
TRANSITIONS: dict[str, frozenset[str]] = {
    "Draft": frozenset({"InApproval"}),
    "InApproval": frozenset({"Activated", "Draft"}),
    "Activated": frozenset({"Terminated", "Expired"}),
}
EDITABLE_STATUSES = frozenset({"Draft", "InApproval"})
TERM_FIELDS = ("AccountId", "StartDate", "ContractTerm", "CurrencyIsoCode", "BillingFrequency__c")
_NUMBER_RE = re.compile(r"^C-(\d+)$")
FIRST_CONTRACT_NUMBER = 1001


def integrity_error(message: str, *fields: str) -> SalesforceError:
    return SalesforceError(400, "FIELD_INTEGRITY_EXCEPTION", message, fields=fields)


def periods(term_months: int | None, frequency: str | None) -> Decimal:
    """Billing periods in a term: months for Monthly, years for Annual."""
    if not term_months:
        return Decimal(0)
    return Decimal(term_months) / 12 if frequency == "Annual" else Decimal(term_months)


def lines_total(contract: Document, lines: list[Document]) -> Decimal:
    """Σ Quantity * UnitPrice * periods over ``lines`` (each at its own frequency)."""
    total = Decimal(0)
    for line in lines:
        frequency = line.get("BillingFrequency__c") or contract.get("BillingFrequency__c")
        total += (
            to_decimal(line.get("Quantity") or 0)
            * to_decimal(line.get("UnitPrice") or 0)
            * periods(contract.get("ContractTerm"), frequency)
        )
    return total


def current_lines(store: DocumentStore, contract: Document) -> list[Document]:
    version = contract.get("Version__c")
    return [
        line
        for line in store.find(LINE, "ContractId", contract["Id"])
        if line.get("Version__c") == version
    ]


def end_date(start: str | None, term_months: int | None) -> str | None:
    day = parse_date(start) if start else None
    if day is None or not term_months:
        return None
    return (add_months(day, term_months) - timedelta(days=1)).isoformat()


def next_contract_number(store: DocumentStore) -> str:
    numbers = [
        int(match.group(1))
        for doc in store.all(CONTRACT)
        if (match := _NUMBER_RE.match(str(doc.get("ContractNumber") or "")))
    ]
    return f"C-{max(numbers, default=FIRST_CONTRACT_NUMBER - 1) + 1}"


def version_record(
    store: DocumentStore, contract: Document, *, reason: str, effective_date: str | None
) -> tuple[str, Document]:
    """A new ``ContractVersion__c`` for the contract's current version."""
    record_id = new_record_id(store, VERSION, VERSION_PREFIX)
    return record_id, {
        "Id": record_id,
        "Contract__c": contract["Id"],
        "Version__c": contract.get("Version__c"),
        "EffectiveDate__c": effective_date,
        "Reason__c": reason,
        "TotalValue__c": contract.get("TotalValue__c"),
        "CreatedDate": now_datetime(),
    }


class ContractRules(SObjectBehavior):
    """Status transitions, locked terms and computed fields of ``Contract``."""

    async def before_insert(self, store: DocumentStore, doc: Document) -> None:
        if doc.get("Status") not in EDITABLE_STATUSES:
            raise integrity_error(
                "Status: a contract is created as Draft or InApproval and activated later",
                "Status",
            )
        doc["ContractNumber"] = next_contract_number(store)
        doc["Version__c"] = 1
        doc["TotalValue__c"] = money(Decimal(0))
        doc["EndDate"] = end_date(doc.get("StartDate"), doc.get("ContractTerm"))

    async def before_update(
        self, store: DocumentStore, current: Document, doc: Document, changes: Document
    ) -> None:
        old, new = current.get("Status"), doc.get("Status")
        if old not in EDITABLE_STATUSES:
            locked = [f for f in TERM_FIELDS if f in changes and changes[f] != current.get(f)]
            if locked:
                raise integrity_error(
                    f"Contract {current.get('ContractNumber')} is {old}: its terms change "
                    "only through an amendment",
                    *locked,
                )
        if new != old:
            if new not in TRANSITIONS.get(str(old), frozenset()):
                raise integrity_error(f"Status: a {old} contract cannot become {new}", "Status")
            if new == "Activated":
                if not doc.get("StartDate") or not doc.get("ContractTerm"):
                    raise integrity_error(
                        "A contract needs StartDate and ContractTerm to be activated",
                        "StartDate",
                        "ContractTerm",
                    )
                doc["ActivatedDate"] = now_datetime()
            if new == "Terminated":
                doc["TerminatedDate__c"] = changes.get("TerminatedDate__c") or today().isoformat()
        if "StartDate" in changes or "ContractTerm" in changes:
            doc["EndDate"] = end_date(doc.get("StartDate"), doc.get("ContractTerm"))
        if "ContractTerm" in changes or "BillingFrequency__c" in changes:
            doc["TotalValue__c"] = money(lines_total(doc, current_lines(store, doc)))

    async def after_write(
        self, store: DocumentStore, doc: Document, previous: Document | None
    ) -> None:
        activated = doc.get("Status") == "Activated"
        if not activated or (previous is not None and previous.get("Status") == "Activated"):
            return
        versions = store.find(VERSION, "Contract__c", doc["Id"])
        if any(v.get("Version__c") == doc.get("Version__c") for v in versions):
            return
        record_id, record = version_record(
            store, doc, reason="Initial", effective_date=doc.get("StartDate")
        )
        await store.put(VERSION, record_id, record)

    async def before_delete(self, store: DocumentStore, doc: Document) -> None:
        if doc.get("Status") not in EDITABLE_STATUSES:
            raise SalesforceError(
                400,
                "DELETE_FAILED",
                f"Contract {doc.get('ContractNumber')} is {doc.get('Status')}: only Draft "
                "and InApproval contracts can be deleted",
            )


class LineRules(SObjectBehavior):
    """Lines belong to the contract's current version and move its total."""

    async def before_insert(self, store: DocumentStore, doc: Document) -> None:
        contract = _editable_contract(store, doc)
        doc["Version__c"] = contract.get("Version__c")
        if doc.get("BillingFrequency__c") is None:
            doc["BillingFrequency__c"] = contract.get("BillingFrequency__c")

    async def before_update(
        self, store: DocumentStore, current: Document, doc: Document, changes: Document
    ) -> None:
        _editable_contract(store, doc)

    async def after_write(
        self, store: DocumentStore, doc: Document, previous: Document | None
    ) -> None:
        contract = store.get(CONTRACT, doc["ContractId"])
        if contract is None or contract.get("Version__c") != doc.get("Version__c"):
            return
        total = money(lines_total(contract, current_lines(store, contract)))
        if total != contract.get("TotalValue__c"):
            updated = {**contract, "TotalValue__c": total, "LastModifiedDate": now_datetime()}
            await store.put(CONTRACT, contract["Id"], updated)

    async def before_delete(self, store: DocumentStore, doc: Document) -> None:
        if store.get(CONTRACT, doc["ContractId"]) is not None:
            _editable_contract(store, doc)

    async def after_delete(self, store: DocumentStore, doc: Document) -> None:
        await self.after_write(store, doc, doc)


def _editable_contract(store: DocumentStore, line: Document) -> Document:
    contract = store.get(CONTRACT, line["ContractId"])
    if contract is None:  # the org checked the reference; only a vanished record gets here
        raise SalesforceError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
    if contract.get("Status") not in EDITABLE_STATUSES:
        raise integrity_error(
            f"Contract {contract.get('ContractNumber')} is {contract.get('Status')}: its lines "
            "change only through an amendment",
            "ContractId",
        )
    return contract
