"""CRM wire models: the Salesforce ``Account`` as the adapter reads it (private to
:mod:`sources.crm`), and its translation into :class:`domain.records.Customer`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from domain.records import Customer
from sources.encoding import utc


class Account(BaseModel):
    """A customer account; ``parent_id`` links the account hierarchy."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: str = Field(alias="Id")
    name: str = Field(alias="Name")
    parent_id: str | None = Field(default=None, alias="ParentId")
    currency: str = Field(alias="CurrencyIsoCode")
    segment: str | None = Field(default=None, alias="Segment__c")
    billing_email: str | None = Field(default=None, alias="Billing_Email__c")
    type: str | None = Field(default=None, alias="Type")
    industry: str | None = Field(default=None, alias="Industry")
    created_date: datetime | None = Field(default=None, alias="CreatedDate")
    last_modified_date: datetime | None = Field(default=None, alias="LastModifiedDate")

    def to_domain(self) -> Customer:
        return Customer(
            id=self.id,
            name=self.name,
            currency=self.currency.upper(),
            parent_id=self.parent_id,
            segment=self.segment,
            billing_email=self.billing_email,
            type=self.type,
            industry=self.industry,
            created_at=utc(self.created_date),
            updated_at=utc(self.last_modified_date),
        )


def customer(record: object) -> Customer:
    """A raw Account record (JSON object) as a domain customer."""
    return Account.model_validate(record).to_domain()
