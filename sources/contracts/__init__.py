"""The Contracts/CPQ adapter: :class:`ContractsClient`, returning
:class:`domain.records.Contract`, ``ContractLine`` and ``ContractVersion``."""

from sources.contracts.client import ContractsClient

__all__ = ["ContractsClient"]
