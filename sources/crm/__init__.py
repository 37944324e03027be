"""The CRM adapter (Salesforce Accounts): :class:`CrmClient` and its wire models."""

from sources.crm.client import CrmClient
from sources.crm.models import Account

__all__ = ["Account", "CrmClient"]
