"""Fixtures the graph's end-to-end tests share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.demo import Stack


@pytest.fixture
def fault(stack: Stack) -> Iterator[Any]:
    """``fault(system, **faults)`` injects faults in a simulator; all are reset afterwards."""
    touched: list[str] = []

    def inject(system: str, **faults: Any) -> None:
        url = stack.simulator_urls[system]
        httpx.post(f"{url}/_sim/faults", json=faults).raise_for_status()
        touched.append(url)

    yield inject
    for url in touched:
        httpx.delete(f"{url}/_sim/faults")
