"""Look-ahead: which fields a query asks for below the one being resolved.

Billing is keyed by customer, not by contract, so when a customer page will
need billing data further down (a contract's subscription, invoices or stage),
the gateway can ask billing while the contract system is still answering — one
round trip saved. Fields under ``@skip``/``@include`` count as asked for: at
worst some data is fetched and not shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from strawberry.types.nodes import Selection


def requested(info: Any, names: Iterable[str]) -> set[str]:
    """Which of ``names`` appear anywhere in the selection below the current field."""
    wanted = set(names)
    found: set[str] = set()
    stack: list[Selection] = list(info.selected_fields)
    while stack and found != wanted:
        selection = stack.pop()
        name = getattr(selection, "name", None)
        if name in wanted:
            found.add(name)
        stack.extend(selection.selections)
    return found
