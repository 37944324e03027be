"""What a simulator needs to know about how it is served."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimulatorConfig:
    """``base_url`` is where the simulator is reachable (for Location headers and
    paging links); ``token`` is the credential it accepts; ``webhook_url`` where
    it sends outbound events (None: none are sent); ``limits_enabled`` whether
    the vendor limits (:mod:`simulators.limits`) are enforced from the start
    (``/_sim/limits`` switches them at run time)."""

    base_url: str
    token: str
    webhook_url: str | None = None
    webhook_secret: str = "whsec_demo"
    limits_enabled: bool = False
