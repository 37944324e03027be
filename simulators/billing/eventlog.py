"""``/v1/events``: the events the simulator emitted, newest first.

Filters ``type`` (``invoice.*`` matches a prefix), ``types[]`` and ``created``.
"""

from __future__ import annotations

from typing import Any

from simulators.billing import lists
from simulators.billing.context import Billing, Call
from simulators.billing.events import KIND
from simulators.billing.refs import existing


async def list_events(billing: Billing, call: Call) -> dict[str, Any]:
    params = call.params
    params.allow(*lists.LIST_PARAMS, "type", "types", "created")
    one = params.string("type")
    many = set(params.strings("types"))
    return lists.page(
        billing.objects,
        KIND,
        params,
        url="/v1/events",
        label=KIND,
        render=dict,
        keep=[
            _type_filter(one) if one is not None else None,
            (lambda d: d["type"] in many) if many else None,
            lists.created_filter(params),
        ],
    )


async def retrieve_event(billing: Billing, call: Call) -> dict[str, Any]:
    call.params.allow("expand")
    return dict(existing(billing, KIND, call.path_params["id"]))


def _type_filter(pattern: str) -> lists.Predicate:
    if pattern.endswith(".*"):
        prefix = pattern[:-1]
        return lambda d: str(d["type"]).startswith(prefix)
    return lambda d: d["type"] == pattern
