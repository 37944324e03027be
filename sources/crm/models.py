"""CRM wire models: the Salesforce ``Account`` as the adapter reads it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


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
