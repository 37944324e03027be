"""Every flow by transaction kind."""

from __future__ import annotations

from domain.flows.contracts import CONTRACT_FLOWS
from domain.flows.customers import CUSTOMER_FLOWS
from domain.flows.engine import FlowSpec
from domain.flows.finance import FINANCE_FLOWS

FLOWS: dict[str, FlowSpec] = {**CUSTOMER_FLOWS, **CONTRACT_FLOWS, **FINANCE_FLOWS}
