"""The four source adapters one gateway process (or CLI command) holds.

``build_clients(settings)`` takes anything with ``source_configs()`` (the
gateway's ``api.settings.Settings``), so the domain never imports the API layer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from domain.answer_read_model import AnswerReadModel
from domain.billing_read_model import BillingReadModel
from sources.base import SourceClient, SourceConfig
from sources.billing.client import BillingClient
from sources.contracts.client import ContractsClient
from sources.crm.client import CrmClient
from sources.erp.client import ErpClient
from sources.systems import System


class HasSourceConfigs(Protocol):
    def source_configs(self) -> Mapping[System, SourceConfig]: ...


@dataclass
class Clients:
    """One adapter per system of record; close them with :meth:`aclose`."""

    crm: CrmClient
    contracts: ContractsClient
    billing: BillingClient
    erp: ErpClient
    billing_reads: BillingReadModel | None = None
    """Billing's lists from the read model (None: every read is live)."""
    answers: AnswerReadModel | None = None
    """Stored answers for the other systems an operator chose (None: read live)."""

    def all(self) -> tuple[SourceClient, ...]:
        return (self.crm, self.contracts, self.billing, self.erp)

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.all()))

    async def __aenter__(self) -> Clients:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def build_clients(settings: HasSourceConfigs) -> Clients:
    """Adapters for every system, configured from ``settings.source_configs()``."""
    configs = settings.source_configs()
    return Clients(
        crm=CrmClient(configs[System.CRM]),
        contracts=ContractsClient(configs[System.CONTRACTS]),
        billing=BillingClient(configs[System.BILLING]),
        erp=ErpClient(configs[System.ERP]),
    )
