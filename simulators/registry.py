"""The four simulators: where their app factories live, default ports, tokens and
webhook secrets."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from starlette.applications import Starlette

from simulators.config import SimulatorConfig
from simulators.storage import DocumentStore

AppFactory = Callable[[DocumentStore, SimulatorConfig], Starlette]

DEFAULT_BASE_PORT = 8000


@dataclass(frozen=True)
class SimulatorSpec:
    name: str
    factory_path: str
    port_offset: int
    token: str
    webhook_secret: str
    """What its outbound webhooks are signed with."""

    def factory(self) -> AppFactory:
        module, attr = self.factory_path.split(":")
        factory: AppFactory = getattr(importlib.import_module(module), attr)
        return factory

    def port(self, base_port: int) -> int:
        """Port for this simulator; a base port of 0 means any free port."""
        return base_port + self.port_offset if base_port else 0


SIMULATORS: dict[str, SimulatorSpec] = {
    spec.name: spec
    for spec in (
        SimulatorSpec(
            "CRM", "simulators.crm.app:create_app", 1, "demo-crm-token", "rgsec_demo_crm"
        ),
        SimulatorSpec(
            "CONTRACTS",
            "simulators.contracts.app:create_app",
            2,
            "demo-contracts-token",
            "rgsec_demo_contracts",
        ),
        SimulatorSpec(
            "BILLING", "simulators.billing.app:create_app", 3, "sk_test_demo", "whsec_demo"
        ),
        SimulatorSpec(
            "ERP", "simulators.erp.app:create_app", 4, "demo-erp-token", "rgsec_demo_erp"
        ),
    )
}
