"""The Contracts/CPQ adapter: contracts, their lines and amendment versions.

Reads by many ids cost one request per chunk of 200 ids: the composite read
for contracts by id, one SOQL ``IN (...)`` for contracts by account, lines and
versions by contract. Lifecycle changes are PATCHes of ``Status`` (the org
validates transitions); amendments go through the org's Apex REST service.
Reads return :mod:`domain.records`; writes still take Salesforce field names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Protocol, TypeVar

from domain.records import Contract as ContractRecord
from domain.records import ContractLine as LineRecord
from domain.records import ContractStatus
from domain.records import ContractVersion as VersionRecord
from sources.contracts.wire import Contract, ContractLine, ContractVersion
from sources.encoding import INVALID_RESPONSE, to_json, unique, wire_errors
from sources.errors import SourceResponseError
from sources.salesforce.client import SalesforceClient
from sources.salesforce.soql import field_list, in_list, literal

CONTRACT = "Contract"
LINE = "ContractLineItem"
VERSION = "ContractVersion__c"
CONTRACT_FIELDS = field_list(Contract)
LINE_FIELDS = field_list(ContractLine)
VERSION_FIELDS = field_list(ContractVersion)


_Child = TypeVar("_Child", LineRecord, VersionRecord)
_Out = TypeVar("_Out", covariant=True)


class _Wire(Protocol[_Out]):
    """A wire model class: validates a raw record, translates into a domain record."""

    @classmethod
    def model_validate(cls, obj: Any) -> _Wire[_Out]: ...

    def to_domain(self) -> _Out: ...


_SELECT_CONTRACTS = f"SELECT {', '.join(CONTRACT_FIELDS)} FROM {CONTRACT}"
_SELECT_LINES = f"SELECT {', '.join(LINE_FIELDS)} FROM {LINE}"
_SELECT_VERSIONS = f"SELECT {', '.join(VERSION_FIELDS)} FROM {VERSION}"
AMEND_PATH = "/services/apexrest/rg/v1/contracts/{contract_id}/amend"


class ContractsClient(SalesforceClient):
    """Reads contracts and drives their lifecycle in the contract org."""

    ping_sobject = "Contract"

    def _contracts(self, records: Sequence[object]) -> list[ContractRecord]:
        with wire_errors(self.system, CONTRACT):
            return [Contract.model_validate(r).to_domain() for r in records]

    async def get_contract(self, contract_id: str) -> ContractRecord:
        """One contract; SourceNotFound if it does not exist."""
        record = await self.get_record(CONTRACT, contract_id, CONTRACT_FIELDS)
        return self._contracts([record])[0]

    async def contracts_by_ids(self, ids: Sequence[str]) -> dict[str, ContractRecord]:
        """Contracts by id (composite read); unknown ids are absent."""
        records = await self.records_by_ids(CONTRACT, ids, CONTRACT_FIELDS)
        return dict(zip(records, self._contracts(list(records.values())), strict=True))

    async def contracts_by_account_ids(
        self,
        account_ids: Sequence[str],
        *,
        statuses: Sequence[ContractStatus | str] | None = None,
    ) -> dict[str, list[ContractRecord]]:
        """Each account's contracts by ContractNumber, optionally only some statuses.

        Every requested account id is a key.
        """
        result: dict[str, list[ContractRecord]] = {a: [] for a in unique(account_ids)}
        if statuses is not None and not statuses:
            return result
        wanted = unique(str(s) for s in statuses or ())
        where = f"Status IN {in_list(wanted)}" if wanted else None
        records = await self.query_in(
            _SELECT_CONTRACTS, "AccountId", account_ids, where=where, order_by="ContractNumber, Id"
        )
        for contract in self._contracts(records):
            if contract.account_id in result:
                result[contract.account_id].append(contract)
        return result

    async def lines_by_contract_ids(
        self, contract_ids: Sequence[str]
    ) -> dict[str, list[LineRecord]]:
        """Every version's lines of each contract, by version then Id."""
        return await self._by_contract(
            _SELECT_LINES, "ContractId", contract_ids, ContractLine, LINE
        )

    async def versions_by_contract_ids(
        self, contract_ids: Sequence[str]
    ) -> dict[str, list[VersionRecord]]:
        """Each contract's version history, oldest first."""
        return await self._by_contract(
            _SELECT_VERSIONS, "Contract__c", contract_ids, ContractVersion, VERSION
        )

    async def _by_contract(
        self,
        select: str,
        column: str,
        contract_ids: Sequence[str],
        model: type[_Wire[_Child]],
        sobject: str,
    ) -> dict[str, list[_Child]]:
        """Child records of each contract (every id a key), by version then Id."""
        result: dict[str, list[_Child]] = {c: [] for c in unique(contract_ids)}
        records = await self.query_in(select, column, contract_ids, order_by="Version__c, Id")
        with wire_errors(self.system, sobject):
            children = [model.model_validate(r).to_domain() for r in records]
        for child in children:
            if child.contract_id in result:
                result[child.contract_id].append(child)
        return result

    async def contract_by_number(self, number: str) -> ContractRecord | None:
        """The contract with this ContractNumber (``C-1042``), or None."""
        records = await self.query(
            f"{_SELECT_CONTRACTS} WHERE ContractNumber = {literal(number)} LIMIT 1"
        )
        return self._contracts(records[:1])[0] if records else None

    async def all_contracts(self) -> list[ContractRecord]:
        """Every contract, by ContractNumber (paged through ``nextRecordsUrl``)."""
        return self._contracts(await self.query(f"{_SELECT_CONTRACTS} ORDER BY ContractNumber, Id"))

    async def update_contract(self, contract_id: str, fields: Mapping[str, Any]) -> None:
        """Update vendor fields (e.g. ``{"Status": "Activated"}``); the org validates
        status transitions (FIELD_INTEGRITY_EXCEPTION → SourceRequestError)."""
        await self.update_record(CONTRACT, contract_id, fields)

    async def create_contract(self, fields: Mapping[str, Any]) -> str:
        """Create a Draft contract from vendor fields; returns its id."""
        return await self.create_record(CONTRACT, fields)

    async def amend_contract(
        self,
        contract_id: str,
        *,
        reason: str,
        effective_date: date,
        lines: Sequence[Mapping[str, Any]],
        expected_version: int | None = None,
    ) -> ContractRecord:
        """Amend an Activated contract: the new version's lines replace the current ones.

        ``lines`` carry vendor fields (``Product2Id``, ``ProductName__c``,
        ``Quantity``, ``UnitPrice``). With ``expected_version`` the org refuses
        (SourceConflict, VERSION_CONFLICT) when the contract is no longer at that
        version — how a retried amendment avoids being applied twice. Not retried
        automatically.
        """
        self.require_record_id(CONTRACT, contract_id)
        body: dict[str, Any] = {
            "reason": reason,
            "effectiveDate": effective_date.isoformat(),
            "lines": to_json([dict(line) for line in lines]),
        }
        if expected_version is not None:
            body["expectedVersion"] = expected_version
        response = await self.request("POST", AMEND_PATH.format(contract_id=contract_id), json=body)
        record = self.decode(response)
        if not isinstance(record, dict):
            raise SourceResponseError(
                self.system,
                "amendment did not return the contract",
                vendor_code=INVALID_RESPONSE,
            )
        return self._contracts([record])[0]
