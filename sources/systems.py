"""The systems of record Revgraph talks to."""

from enum import StrEnum


class System(StrEnum):
    """A system of record; the value is the name used in errors and stats."""

    CRM = "CRM"
    CONTRACTS = "CONTRACTS"
    BILLING = "BILLING"
    ERP = "ERP"
