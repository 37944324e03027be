"""The CRM adapter: Salesforce Accounts and their ``ParentId`` hierarchy.

Batch reads make one request per chunk of 200 ids however many callers asked:
:meth:`CrmClient.accounts_by_ids` through the composite read,
:meth:`CrmClient.children_by_parent_ids` through one SOQL ``ParentId IN (...)``.
Accounts come back as :class:`domain.records.Customer`; writes still take
Salesforce field names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.records import Customer
from sources.crm.wire import Account, customer
from sources.encoding import INVALID_RESPONSE, unique, wire_errors
from sources.errors import SourceResponseError
from sources.salesforce.client import SalesforceClient
from sources.salesforce.soql import field_list, is_record_id, like_prefix, quote

ACCOUNT = "Account"
ACCOUNT_FIELDS = field_list(Account)
_SELECT = f"SELECT {', '.join(ACCOUNT_FIELDS)} FROM {ACCOUNT}"
_COUNT = f"SELECT COUNT() FROM {ACCOUNT}"


class CrmClient(SalesforceClient):
    """Reads and writes CRM Accounts."""

    ping_sobject = "Account"

    def _customers(self, records: Sequence[object]) -> list[Customer]:
        with wire_errors(self.system, ACCOUNT):
            return [customer(r) for r in records]

    async def get_account(self, account_id: str) -> Customer:
        """One account; SourceNotFound if it does not exist."""
        record = await self.get_record(ACCOUNT, account_id, ACCOUNT_FIELDS)
        return self._customers([record])[0]

    async def accounts_by_ids(self, ids: Sequence[str]) -> dict[str, Customer]:
        """Accounts by id (composite read, 200 ids a request); unknown ids are absent."""
        records = await self.records_by_ids(ACCOUNT, ids, ACCOUNT_FIELDS)
        return dict(zip(records, self._customers(list(records.values())), strict=True))

    async def children_by_parent_ids(self, parent_ids: Sequence[str]) -> dict[str, list[Customer]]:
        """Direct children of each parent, by Name; every requested id is a key."""
        children: dict[str, list[Customer]] = {p: [] for p in unique(parent_ids)}
        records = await self.query_in(_SELECT, "ParentId", parent_ids, order_by="Name, Id")
        for account in self._customers(records):
            if account.parent_id in children:
                children[account.parent_id].append(account)
        return children

    async def search_accounts(
        self,
        *,
        name_prefix: str | None = None,
        currency: str | None = None,
        segment: str | None = None,
        parent_id: str | None = None,
        limit: int | None = None,
        after_name_id: tuple[str, str] | None = None,
    ) -> list[Customer]:
        """Accounts matching every given filter, ordered by (Name, Id).

        ``after_name_id`` is a keyset cursor: only accounts strictly after that
        (Name, Id) pair. Every value is quoted by :mod:`sources.salesforce.soql`.
        """
        if limit is not None and limit < 0:
            raise ValueError("limit must be >= 0")
        if parent_id is not None and not is_record_id(parent_id):
            return []  # no account can have a parent with a malformed id
        if after_name_id is not None and not is_record_id(after_name_id[1]):
            raise ValueError("after_name_id needs a record id")
        conditions: list[str] = []
        if name_prefix:
            conditions.append(f"Name LIKE {like_prefix(name_prefix)}")
        if currency is not None:
            conditions.append(f"CurrencyIsoCode = {quote(currency)}")
        if segment is not None:
            conditions.append(f"Segment__c = {quote(segment)}")
        if parent_id is not None:
            conditions.append(f"ParentId = {quote(parent_id)}")
        if after_name_id is not None:
            name, account_id = after_name_id
            conditions.append(
                f"(Name > {quote(name)} OR (Name = {quote(name)} AND Id > {quote(account_id)}))"
            )
        soql = _SELECT
        if conditions:
            soql += " WHERE " + " AND ".join(conditions)
        soql += " ORDER BY Name, Id"
        if limit is not None:
            soql += f" LIMIT {limit}"
        return self._customers(await self.query(soql))

    async def all_accounts(self) -> list[Customer]:
        """Every account, by Id (paged through ``nextRecordsUrl``)."""
        return self._customers(await self.query(f"{_SELECT} ORDER BY Id"))

    async def accounts_after(self, after: str | None, *, limit: int) -> list[Customer]:
        """Up to ``limit`` accounts by Id, strictly after ``after`` (None: from the first).

        One SOQL query (``WHERE Id > :after ORDER BY Id LIMIT n``): a keyset page, so
        a sweep can stop and resume at the last Id it finished without OFFSET (which
        Salesforce caps at 2000 rows).
        """
        if limit < 1:
            raise ValueError("limit must be >= 1")
        if after is not None and not is_record_id(after):
            raise ValueError("after needs a record id")
        where = f" WHERE Id > {quote(after)}" if after is not None else ""
        return self._customers(await self.query(f"{_SELECT}{where} ORDER BY Id LIMIT {limit}"))

    async def count_accounts(self) -> int:
        """How many accounts the org holds (``SELECT COUNT() FROM Account``: one request,
        the count in ``totalSize``)."""
        body = await self.get_json(f"{self.api_path}/query", params={"q": _COUNT})
        total = body.get("totalSize") if isinstance(body, dict) else None
        if not isinstance(total, int) or isinstance(total, bool):
            raise SourceResponseError(
                self.system, "COUNT() answered without a totalSize", vendor_code=INVALID_RESPONSE
            )
        return total

    async def create_account(self, fields: Mapping[str, Any]) -> str:
        """Create an account from vendor field names (``Name``, ``ParentId`` ...); its id."""
        return await self.create_record(ACCOUNT, fields)

    async def update_account(self, account_id: str, fields: Mapping[str, Any]) -> None:
        """Update vendor fields of an account."""
        await self.update_record(ACCOUNT, account_id, fields)
