"""Stripe's Search query language, for ``GET /v1/customers/search``.

Supported: clauses ``field:'value'`` (exact; case-insensitive for ``email``,
``name``, ``phone``), ``field~'sub'`` (substring, at least 3 characters),
``metadata['key']:'value'`` (exact), ``created>ts`` (``>``, ``>=``, ``<``,
``<=``, ``:``), a leading ``-`` to negate, joined by ``AND`` or by ``OR`` (not
both, as in Stripe). Results are answered immediately (real Stripe lags up to
a minute) as ``{"object": "search_result", "data", "has_more", "next_page",
"url"}``; ``page`` is the opaque ``next_page`` token.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulators.billing.errors import InvalidParams
from simulators.storage import Document

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<join>AND|OR)(?=\s)
      | (?P<neg>-)?
        (?P<field>metadata\[(?P<mq>['"])(?P<mkey>(?:\\.|(?!(?P=mq)).)*)(?P=mq)\]|[a-z_]+)
        (?P<op>>=|<=|:|~|>|<)
        (?:(?P<q>['"])(?P<text>(?:\\.|(?!(?P=q)).)*)(?P=q)|(?P<number>-?\d+))
    )\s*""",
    re.VERBOSE,
)

STRING_FIELDS = ("email", "name", "phone")


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: str | int
    negate: bool
    metadata_key: str | None = None

    def test(self, doc: Document) -> bool:
        return self._matches(doc) != self.negate

    def _matches(self, doc: Document) -> bool:
        if self.metadata_key is not None:
            return (doc.get("metadata") or {}).get(self.metadata_key) == self.value
        actual = doc.get(self.field)
        if self.field == "created":
            if not isinstance(actual, int) or not isinstance(self.value, int):
                return False
            ops: dict[str, Callable[[int, int], bool]] = {
                ":": lambda a, b: a == b,
                ">": lambda a, b: a > b,
                ">=": lambda a, b: a >= b,
                "<": lambda a, b: a < b,
                "<=": lambda a, b: a <= b,
            }
            return ops[self.op](actual, self.value)
        if not isinstance(actual, str):
            return False
        wanted = str(self.value).lower()
        return actual.lower() == wanted if self.op == ":" else wanted in actual.lower()


@dataclass(frozen=True)
class Query:
    clauses: tuple[Clause, ...]
    any_of: bool

    def test(self, doc: Document) -> bool:
        results = (c.test(doc) for c in self.clauses)
        return any(results) if self.any_of else all(results)

    def indexed(self) -> tuple[str, Any] | None:
        """A ``(field, value)`` every result must have, for a store index lookup."""
        if self.any_of and len(self.clauses) > 1:
            return None
        for clause in self.clauses:
            if clause.metadata_key is not None and not clause.negate:
                return f"metadata.{clause.metadata_key}", clause.value
        return None


def parse(text: str) -> Query:
    """Parse a customer search query; raises Stripe's 400 for anything unsupported."""
    clauses: list[Clause] = []
    joins: set[str] = set()
    pos = 0
    expect_clause = True
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise _bad(text, pos)
        pos = match.end()
        if match.group("join"):
            if expect_clause:
                raise _bad(text, match.start())
            joins.add(match.group("join"))
            expect_clause = True
            continue
        if not expect_clause:
            raise _bad(text, match.start())
        clauses.append(_clause(match))
        expect_clause = False
    if not clauses or expect_clause:
        raise _bad(text, len(text))
    if len(joins) > 1:
        raise InvalidParams("Search queries cannot combine AND and OR in one query.", param="query")
    return Query(tuple(clauses), any_of=joins == {"OR"})


def _clause(match: re.Match[str]) -> Clause:
    field, op = match.group("field"), match.group("op")
    negate = bool(match.group("neg"))
    text, number = match.group("text"), match.group("number")
    value: str | int = _unescape(text) if text is not None else int(number)
    if field.startswith("metadata["):
        if op != ":" or not isinstance(value, str):
            raise InvalidParams("metadata fields only support exact ':' matches.", param="query")
        return Clause("metadata", op, value, negate, _unescape(match.group("mkey")))
    if field == "created":
        if op == "~" or not isinstance(value, int):
            raise InvalidParams("created needs a numeric comparison.", param="query")
        return Clause(field, op, value, negate)
    if field not in STRING_FIELDS:
        raise InvalidParams(f"Field '{field}' is not supported for search.", param="query")
    if op not in (":", "~") or not isinstance(value, str):
        raise InvalidParams(f"Field '{field}' supports ':' and '~' with a string.", param="query")
    if op == "~" and len(value) < 3:
        raise InvalidParams("Substring matches need at least 3 characters.", param="query")
    return Clause(field, op, value, negate)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _bad(text: str, pos: int) -> InvalidParams:
    return InvalidParams(
        f"We were unable to parse your search query. Check the syntax near position {pos}: "
        f"{text[pos : pos + 20]!r}.",
        param="query",
    )


def encode_page(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def decode_page(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        kind, _, offset = raw.partition(":")
        if kind != "offset":
            raise ValueError(raw)
        return max(0, int(offset))
    except ValueError:
        raise InvalidParams(f"Invalid page: {token}", param="page") from None
