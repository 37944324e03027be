"""The ERP adapter: NetSuite SuiteTalk REST records and SuiteQL.

:class:`~sources.erp.client.ErpClient` reads through SuiteQL (batched ``IN``
queries, paged by offset) and writes through the record API (create, ``eid:``
upsert, update). It returns :mod:`domain.records`; its wire models
(:mod:`sources.erp.wire`) stay private to this package.
"""

from sources.erp.client import ErpClient

__all__ = ["ErpClient"]
