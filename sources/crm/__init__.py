"""The CRM adapter: :class:`CrmClient`, returning :class:`domain.records.Customer`."""

from sources.crm.client import CrmClient

__all__ = ["CrmClient"]
