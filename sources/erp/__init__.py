"""The ERP adapter: NetSuite SuiteTalk REST records and SuiteQL.

:class:`~sources.erp.client.ErpClient` reads through SuiteQL (batched ``IN``
queries, paged by offset) and writes through the record API (create, ``eid:``
upsert, update); :mod:`sources.erp.models` holds the wire models.
"""

from sources.erp.client import ErpClient, SuiteQLPaginator
from sources.erp.models import (
    ArPosting,
    ErpCustomer,
    JournalEntry,
    JournalLine,
    RevenueSchedule,
    RevenueScheduleLine,
)

__all__ = [
    "ArPosting",
    "ErpClient",
    "ErpCustomer",
    "JournalEntry",
    "JournalLine",
    "RevenueSchedule",
    "RevenueScheduleLine",
    "SuiteQLPaginator",
]
