"""The Contracts/CPQ adapter: contracts, their lines and amendment versions.

Reads by many ids cost one request per chunk of 200 ids: the composite read
for contracts by id, one SOQL ``IN (...)`` for contracts by account, lines and
versions by contract. Lifecycle changes are PATCHes of ``Status`` (the org
validates transitions); amendments go through the org's Apex REST service.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, TypeVar

from sources.contracts.models import Contract, ContractLine, ContractVersion
from sources.errors import SourceServerError
from sources.salesforce.client import SalesforceClient, to_wire, unique
from sources.salesforce.soql import field_list, in_list, literal

CONTRACT = "Contract"
LINE = "ContractLineItem"
VERSION = "ContractVersion__c"
CONTRACT_FIELDS = field_list(Contract)
LINE_FIELDS = field_list(ContractLine)
VERSION_FIELDS = field_list(ContractVersion)
_ByContract = TypeVar("_ByContract", ContractLine, ContractVersion)

_SELECT_CONTRACTS = f"SELECT {', '.join(CONTRACT_FIELDS)} FROM {CONTRACT}"
_SELECT_LINES = f"SELECT {', '.join(LINE_FIELDS)} FROM {LINE}"
_SELECT_VERSIONS = f"SELECT {', '.join(VERSION_FIELDS)} FROM {VERSION}"
AMEND_PATH = "/services/apexrest/rg/v1/contracts/{contract_id}/amend"


class ContractsClient(SalesforceClient):
    """Reads contracts and drives their lifecycle in the contract org."""

    ping_sobject = "Contract"

    async def get_contract(self, contract_id: str) -> Contract:
        """One contract; SourceNotFound if it does not exist."""
        record = await self.get_record(CONTRACT, contract_id, CONTRACT_FIELDS)
        return Contract.model_validate(record)

    async def contracts_by_ids(self, ids: Sequence[str]) -> dict[str, Contract]:
        """Contracts by id (composite read); unknown ids are absent."""
        records = await self.records_by_ids(CONTRACT, ids, CONTRACT_FIELDS)
        return {i: Contract.model_validate(r) for i, r in records.items()}

    async def contracts_by_account_ids(
        self, account_ids: Sequence[str], *, statuses: Sequence[str] | None = None
    ) -> dict[str, list[Contract]]:
        """Each account's contracts by ContractNumber, optionally only some statuses.

        Every requested account id is a key.
        """
        result: dict[str, list[Contract]] = {a: [] for a in unique(account_ids)}
        if statuses is not None and not statuses:
            return result
        where = f"Status IN {in_list(unique(statuses))}" if statuses else None
        records = await self.query_in(
            _SELECT_CONTRACTS, "AccountId", account_ids, where=where, order_by="ContractNumber, Id"
        )
        for record in records:
            contract = Contract.model_validate(record)
            if contract.account_id in result:
                result[contract.account_id].append(contract)
        return result

    async def lines_by_contract_ids(
        self, contract_ids: Sequence[str]
    ) -> dict[str, list[ContractLine]]:
        """Every version's lines of each contract, by version then Id."""
        return await self._by_contract(_SELECT_LINES, "ContractId", contract_ids, ContractLine)

    async def versions_by_contract_ids(
        self, contract_ids: Sequence[str]
    ) -> dict[str, list[ContractVersion]]:
        """Each contract's version history, oldest first."""
        return await self._by_contract(
            _SELECT_VERSIONS, "Contract__c", contract_ids, ContractVersion
        )

    async def _by_contract(
        self, select: str, column: str, contract_ids: Sequence[str], model: type[_ByContract]
    ) -> dict[str, list[_ByContract]]:
        """Child records of each contract (every id a key), by version then Id."""
        result: dict[str, list[_ByContract]] = {c: [] for c in unique(contract_ids)}
        records = await self.query_in(select, column, contract_ids, order_by="Version__c, Id")
        for record in records:
            child = model.model_validate(record)
            if child.contract_id in result:
                result[child.contract_id].append(child)
        return result

    async def contract_by_number(self, number: str) -> Contract | None:
        """The contract with this ContractNumber (``C-1042``), or None."""
        records = await self.query(
            f"{_SELECT_CONTRACTS} WHERE ContractNumber = {literal(number)} LIMIT 1"
        )
        return Contract.model_validate(records[0]) if records else None

    async def all_contracts(self) -> list[Contract]:
        """Every contract, by ContractNumber (paged through ``nextRecordsUrl``)."""
        records = await self.query(f"{_SELECT_CONTRACTS} ORDER BY ContractNumber, Id")
        return [Contract.model_validate(r) for r in records]

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
    ) -> Contract:
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
            "lines": to_wire([dict(line) for line in lines]),
        }
        if expected_version is not None:
            body["expectedVersion"] = expected_version
        response = await self.request("POST", AMEND_PATH.format(contract_id=contract_id), json=body)
        record = self.decode(response)
        if not isinstance(record, dict):
            raise SourceServerError(self.system, "amendment did not return the contract")
        return Contract.model_validate(record)
