"""What every billing handler gets: the decoded call and the simulator's parts."""

from __future__ import annotations

from dataclasses import dataclass

from simulators.billing.events import Events
from simulators.billing.forms import Params
from simulators.billing.invoice_numbers import InvoiceNumbers
from simulators.billing.objects import Objects
from simulators.config import SimulatorConfig


@dataclass(frozen=True)
class Call:
    """One authenticated API call: its parameters (query or form body) and path ids."""

    method: str
    path: str
    params: Params
    path_params: dict[str, str]
    request_id: str
    idempotency_key: str | None = None

    def expand(self) -> list[str]:
        return self.params.strings("expand")


@dataclass(frozen=True)
class Billing:
    """The simulator's state handlers work on."""

    objects: Objects
    events: Events
    numbers: InvoiceNumbers
    config: SimulatorConfig
