"""The Contracts/CPQ adapter: :class:`ContractsClient` and its wire models."""

from sources.contracts.client import ContractsClient
from sources.contracts.models import Contract, ContractLine, ContractVersion

__all__ = ["Contract", "ContractLine", "ContractVersion", "ContractsClient"]
