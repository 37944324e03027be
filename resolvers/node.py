"""Relay global ids and the ``Node`` interface, with ``node``/``nodes`` lookups.

A global id is ``base64("<Type>:<id in its system>")``, the Relay convention.
Ids are computed once when an object is built and served as a plain attribute:
resolving them per field through strawberry.relay cost ~40 µs each, a third of
the gateway's CPU on the QuoteToCash query (measured; see the read-path bench).
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import strawberry

from resolvers.errors import UserInputError


@strawberry.interface(description="An object with a global id (Relay).")
class Node:
    id: strawberry.ID = strawberry.field(description="Global id: opaque and stable.")


@functools.lru_cache(maxsize=65_536)
def global_id(type_name: str, key: str) -> strawberry.ID:
    """The global id of the ``type_name`` object whose id in its system is ``key``.

    Cached: a dashboard builds the ids of the same few thousand records on
    every refresh."""
    return strawberry.ID(base64.b64encode(f"{type_name}:{key}".encode()).decode())


def parse_global_id(value: str) -> tuple[str, str]:
    """``(type name, id in its system)``; BAD_USER_INPUT for anything else."""
    try:
        type_name, _, key = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        type_name = key = ""
    if not type_name or not key:
        raise UserInputError(f"{value!r} is not a global id", argument="id")
    return type_name, key


NodeFetcher = Callable[[Any, list[str]], Awaitable[Sequence[Node | None]]]
"""Given ``info`` and ids in one system, the nodes in the same order (None: absent)."""

_FETCHERS: dict[str, NodeFetcher] = {}
_LIVE_FETCHERS: dict[str, NodeFetcher] = {}


def node_type(type_name: str, *, live: bool = False) -> Callable[[NodeFetcher], NodeFetcher]:
    """Register how nodes of ``type_name`` are fetched by ``node``/``nodes`` (``live``:
    when asked with ``freshness: LIVE``, for types a read model may serve)."""

    def register(fetch: NodeFetcher) -> NodeFetcher:
        (_LIVE_FETCHERS if live else _FETCHERS)[type_name] = fetch
        return fetch

    return register


async def resolve_nodes(info: Any, ids: Sequence[str], *, live: bool = False) -> list[Node | None]:
    """Nodes for global ids, in order: one batch per type; unknown ids are None.

    ``live``: types that have a live fetcher are asked of their system itself."""
    parsed = [parse_global_id(value) for value in ids]
    by_type: dict[str, list[str]] = {}
    for type_name, key in parsed:
        if type_name not in _FETCHERS:
            raise UserInputError(f"no type {type_name!r} has global ids", argument="id")
        by_type.setdefault(type_name, []).append(key)
    found: dict[tuple[str, str], Node | None] = {}
    for type_name, keys in by_type.items():
        fetch = (_LIVE_FETCHERS.get(type_name) if live else None) or _FETCHERS[type_name]
        nodes = await fetch(info, keys)
        found.update(zip(((type_name, k) for k in keys), nodes, strict=True))
    return [found[p] for p in parsed]


def key_of(value: str, type_name: str) -> str:
    """The id in its own system: from a ``type_name`` global id, or ``value`` as given
    (callers may pass a raw id; a global id of another type stays as it is)."""
    try:
        found_type, key = parse_global_id(value)
    except UserInputError:
        return value
    return key if found_type == type_name else value
