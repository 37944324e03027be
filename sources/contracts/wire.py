"""Contracts wire models: ``Contract``, its line items and its amendment versions.

Private to :mod:`sources.contracts`; each model's ``to_domain`` gives the
:mod:`domain.records` record. Money (``TotalValue__c``, ``UnitPrice``) is a
:class:`~decimal.Decimal`; the client decodes JSON numbers as Decimals so no
float ever holds an amount.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from domain.money import Money
from domain.records import Contract as ContractRecord
from domain.records import ContractLine as LineRecord
from domain.records import ContractStatus
from domain.records import ContractVersion as VersionRecord
from sources.encoding import utc


class Contract(BaseModel):
    """A contract's current terms; ``version`` counts amendments (1 = never amended)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: str = Field(alias="Id")
    number: str = Field(alias="ContractNumber")
    account_id: str = Field(alias="AccountId")
    status: str = Field(alias="Status")
    start_date: date | None = Field(default=None, alias="StartDate")
    end_date: date | None = Field(default=None, alias="EndDate")
    term_months: int | None = Field(default=None, alias="ContractTerm")
    currency: str = Field(alias="CurrencyIsoCode")
    version: int = Field(default=1, alias="Version__c")
    billing_frequency: str | None = Field(default=None, alias="BillingFrequency__c")
    total_value: Decimal = Field(default=Decimal(0), alias="TotalValue__c")
    activated_date: datetime | None = Field(default=None, alias="ActivatedDate")
    terminated_date: date | None = Field(default=None, alias="TerminatedDate__c")
    renewal_of: str | None = Field(default=None, alias="RenewalOf__c")
    last_modified_date: datetime | None = Field(default=None, alias="LastModifiedDate")

    def to_domain(self) -> ContractRecord:
        currency = self.currency.upper()
        return ContractRecord(
            id=self.id,
            number=self.number,
            account_id=self.account_id,
            status=ContractStatus(self.status),
            currency=currency,
            total_value=Money.exact(self.total_value, currency),
            version=self.version,
            start_date=self.start_date,
            end_date=self.end_date,
            term_months=self.term_months,
            billing_frequency=self.billing_frequency,
            activated_at=utc(self.activated_date),
            terminated_on=self.terminated_date,
            renewal_of=self.renewal_of,
            updated_at=utc(self.last_modified_date),
        )


class ContractLine(BaseModel):
    """One product line of one contract version (``unit_price`` per billing period)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: str = Field(alias="Id")
    contract_id: str = Field(alias="ContractId")
    product_id: str = Field(alias="Product2Id")
    product_name: str | None = Field(default=None, alias="ProductName__c")
    quantity: int = Field(alias="Quantity")
    unit_price: Decimal = Field(alias="UnitPrice")
    billing_frequency: str | None = Field(default=None, alias="BillingFrequency__c")
    version: int = Field(default=1, alias="Version__c")

    def to_domain(self) -> LineRecord:
        return LineRecord(
            id=self.id,
            contract_id=self.contract_id,
            version=self.version,
            product_id=self.product_id,
            product_name=self.product_name,
            quantity=self.quantity,
            unit_price=self.unit_price,
            billing_frequency=self.billing_frequency,
        )


class ContractVersion(BaseModel):
    """One entry of a contract's amendment history (``Initial`` for version 1)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: str = Field(alias="Id")
    contract_id: str = Field(alias="Contract__c")
    version: int = Field(alias="Version__c")
    effective_date: date = Field(alias="EffectiveDate__c")
    reason: str | None = Field(default=None, alias="Reason__c")
    total_value: Decimal = Field(default=Decimal(0), alias="TotalValue__c")
    created_date: datetime | None = Field(default=None, alias="CreatedDate")

    def to_domain(self) -> VersionRecord:
        return VersionRecord(
            id=self.id,
            contract_id=self.contract_id,
            version=self.version,
            effective_date=self.effective_date,
            total_value=self.total_value,
            reason=self.reason,
            created_at=utc(self.created_date),
        )
