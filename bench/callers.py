"""The benchmarks' callers: an API key per role, and no per-caller quota.

Every request to the gateway needs a credential; the benchmarks send real API
keys (so authentication is part of what they measure) and turn the per-caller
rate and cost budget off: they measure the gateway, not one caller's quota.
"""

from __future__ import annotations

import asyncio

from api.demo import issue_demo_keys
from api.settings import Settings
from domain.access import Role

__all__ = ["authorized"]


def authorized(settings: Settings) -> tuple[Settings, dict[Role, dict[str, str]]]:
    """``settings`` without per-caller limits, and the headers of a key per role.

    Call it once the store is migrated (the keys live there).
    """
    auth = settings.auth.model_copy(update={"key_rate_per_s": 0.0, "key_cost_per_min": 0})
    settings = settings.model_copy(update={"auth": auth})
    keys = asyncio.run(issue_demo_keys(settings))
    return settings, {role: {"Authorization": f"Bearer {key}"} for role, key in keys.items()}
