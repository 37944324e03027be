"""Stripe list objects: ``{"object": "list", "url", "has_more", "data"}`` with cursor paging.

``limit`` is 1..100 (default 10); ``starting_after`` gives the page after an
object, ``ending_before`` the page before it (both newest first, as Stripe
does). A cursor is any stored object of the list's kind, also one the filters
exclude: its sort key in the newest-first order decides where the page starts.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from typing import Any

from simulators.billing.errors import InvalidParams, missing
from simulators.billing.forms import Params
from simulators.billing.objects import Objects, SortKey
from simulators.storage import Document

LIST_PARAMS = ("limit", "starting_after", "ending_before", "expand")
DEFAULT_LIMIT = 10
MAX_LIMIT = 100

Predicate = Callable[[Document], bool]


def read_limit(params: Params) -> int:
    limit = params.integer("limit", minimum=1, maximum=MAX_LIMIT)
    return DEFAULT_LIMIT if limit is None else limit


def created_filter(params: Params, key: str = "created") -> Predicate | None:
    """``created=<ts>`` or ``created[gt|gte|lt|lte]=<ts>`` as a predicate."""
    if not params.has(key):
        return None
    if isinstance(params.data[key], str):
        exact = params.integer(key)
        return lambda doc: doc.get(key) == exact
    bounds = params.hash(key)
    assert bounds is not None
    bounds.allow("gt", "gte", "lt", "lte")
    gt, gte = bounds.integer("gt"), bounds.integer("gte")
    lt, lte = bounds.integer("lt"), bounds.integer("lte")

    def keep(doc: Document) -> bool:
        value = doc.get(key)
        if value is None:
            return False
        return not (
            (gt is not None and value <= gt)
            or (gte is not None and value < gte)
            or (lt is not None and value >= lt)
            or (lte is not None and value > lte)
        )

    return keep


def list_object(url: str, data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def page(
    objects: Objects,
    kind: str,
    params: Params,
    *,
    url: str,
    label: str,
    render: Callable[[Document], dict[str, Any]],
    candidates: Iterable[Document] | None = None,
    keep: Iterable[Predicate | None] = (),
) -> dict[str, Any]:
    """One page of ``kind``, newest first.

    ``candidates`` narrows the scan (an index lookup such as
    ``find("subscription", "customer", id)``); without it every object of the
    kind is walked in order. ``keep`` are further filters; ``label`` names the
    kind in a missing-cursor error (``No such customer: 'cus_x'``).
    """
    limit = read_limit(params)
    after = params.string("starting_after")
    before = params.string("ending_before")
    if after is not None and before is not None:
        raise InvalidParams(
            "You may only specify one of these parameters: starting_after, ending_before.",
            param="ending_before",
        )
    filters = [f for f in keep if f is not None]
    order = objects.order(kind)
    if candidates is None:
        ids, keys = order.ids, order.keys
    else:
        key_of = order.key_of
        keyed = sorted((key_of[d["id"]], d["id"]) for d in candidates if d["id"] in key_of)
        ids = [object_id for _, object_id in keyed]
        keys = [key for key, _ in keyed]

    def cursor(name: str, object_id: str) -> SortKey:
        if object_id not in order.key_of:
            raise missing(label, object_id, param=name, status=400)
        return order.key_of[object_id]

    def wanted(i: int) -> Document | None:
        doc = objects.get(kind, ids[i])
        if doc is None or not all(f(doc) for f in filters):
            return None
        return doc

    found: list[Document] = []
    if before is None:
        i = 0 if after is None else bisect_right(keys, cursor("starting_after", after))
        while i < len(ids) and len(found) <= limit:
            doc = wanted(i)
            if doc is not None:
                found.append(doc)
            i += 1
        has_more = len(found) > limit
        found = found[:limit]
    else:
        i = bisect_left(keys, cursor("ending_before", before)) - 1
        while i >= 0 and len(found) <= limit:
            doc = wanted(i)
            if doc is not None:
                found.append(doc)
            i -= 1
        has_more = len(found) > limit
        found = list(reversed(found[:limit]))
    return list_object(url, [render(d) for d in found], has_more)
