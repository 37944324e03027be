"""What every billing handler gets: the decoded call and the simulator's parts."""

from __future__ import annotations

from dataclasses import dataclass

from simulators.billing import render
from simulators.billing.events import Events
from simulators.billing.forms import Params
from simulators.billing.invoice_numbers import InvoiceNumbers
from simulators.billing.objects import Objects
from simulators.billing.versions import LEGACY_VERSION, Account, ApiVersion
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
    api_version: ApiVersion = LEGACY_VERSION

    def expand(self) -> list[str]:
        return self.params.strings("expand")

    def expansions(self, kind: str, *, in_list: bool) -> frozenset[str]:
        """The canonical fields ``expand[]`` asks for on ``kind``, checked for this version."""
        return render.expansions(self.expand(), kind, in_list=in_list, version=self.api_version)


@dataclass(frozen=True)
class Billing:
    """The simulator's state handlers work on."""

    objects: Objects
    events: Events
    numbers: InvoiceNumbers
    config: SimulatorConfig
    account: Account
