"""Cursor connections: page-size limits and slicing with opaque cursors.

Lists held in memory after one batched load (a customer's contracts, its
invoices) are sliced here with offset cursors; the root ``customers`` list pages
in the CRM itself with keyset cursors (see resolvers.customers).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import strawberry

from resolvers.errors import UserInputError

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

T = TypeVar("T")
N = TypeVar("N")


@strawberry.type(description="Where a page sits in its list (Relay).")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="One item of a page and its cursor (Relay).")
class Edge(Generic[N]):
    cursor: str
    node: N


@strawberry.type(description="A page of a list; `first` at most 100 (Relay).")
class Connection(Generic[N]):
    edges: list[Edge[N]]
    page_info: PageInfo


def connection(edges: list[Edge[N]], *, has_next: bool, has_previous: bool) -> Connection[N]:
    """A page from its edges and whether more lie either side."""
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


def page_size(first: int | None) -> int:
    """Validate ``first``: 0..MAX_PAGE_SIZE (default DEFAULT_PAGE_SIZE)."""
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first < 0:
        raise UserInputError("`first` must not be negative", argument="first")
    if first > MAX_PAGE_SIZE:
        raise UserInputError(
            f"`first` is {first}; at most {MAX_PAGE_SIZE} items per page",
            code="PAGE_SIZE_EXCEEDED",
            argument="first",
            maxPageSize=MAX_PAGE_SIZE,
        )
    return first


def encode_cursor(kind: str, value: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode()


def decode_cursor(kind: str, cursor: str) -> str:
    """The value inside a cursor of this kind; a clear error for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    prefix = f"{kind}:"
    if not raw.startswith(prefix):
        raise UserInputError("`after` is not a cursor from this list", argument="after")
    return raw[len(prefix) :]


def slice_connection(
    items: Sequence[T], first: int | None, after: str | None, node: Callable[[T], N]
) -> Connection[N]:
    """A page of an in-memory list, ``after`` an offset cursor."""
    size = page_size(first)
    start = 0
    if after is not None:
        value = decode_cursor("offset", after)
        if not value.isdigit():
            raise UserInputError("`after` is not a cursor from this list", argument="after")
        start = int(value) + 1
    window = items[start : start + size]
    edges = [
        Edge(cursor=encode_cursor("offset", str(start + i)), node=node(item))
        for i, item in enumerate(window)
    ]
    return connection(edges, has_next=start + size < len(items), has_previous=start > 0)
