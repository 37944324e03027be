"""The ``q`` filter of a record collection (``GET /record/v1/{type}?q=...``).

SuiteTalk REST filters collections with ``<field> <OPERATOR> <value>``
conditions joined by ``AND`` / ``OR``, e.g. ``q=email START_WITH "ops"`` or
``q=externalId ANY_OF ["a", "b"]``. This module turns such a filter into the
SuiteQL condition tree the executor already runs. Supported operators: ``IS``,
``IS_NOT``, ``EQUAL``, ``NOT_EQUAL``, ``ANY_OF``, ``START_WITH``, ``CONTAIN``,
``EMPTY``, ``EMPTY_NOT``, ``GREATER``, ``GREATER_OR_EQUAL``, ``LESS``,
``LESS_OR_EQUAL``, ``BEFORE``, ``AFTER``, ``ON``. Values are ``"quoted"``
strings, numbers or ``true`` / ``false``; ``AND`` binds tighter than ``OR``.
"""

from __future__ import annotations

import re
from decimal import Decimal

from simulators.erp.suiteql import (
    And,
    Column,
    Compare,
    Expr,
    InList,
    IsNull,
    Like,
    Literal,
    Or,
    SuiteQLError,
    Value,
)

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<punct>[\[\],])
    )""",
    re.VERBOSE,
)

_COMPARE = {
    "IS": "=", "EQUAL": "=", "ON": "=", "IS_NOT": "<>", "NOT_EQUAL": "<>",
    "GREATER": ">", "AFTER": ">", "GREATER_OR_EQUAL": ">=",
    "LESS": "<", "BEFORE": "<", "LESS_OR_EQUAL": "<=",
}  # fmt: skip


def parse_filter(q: str) -> Expr:
    """The condition tree of a collection filter; :class:`SuiteQLError` if malformed."""
    tokens = _tokenize(q)
    tokens.reverse()  # consumed from the end with pop()
    disjuncts: list[Expr] = []
    conjuncts: list[Expr] = [_condition(tokens)]
    while tokens:
        kind, text = tokens.pop()
        joiner = text.upper() if kind == "word" else ""
        if joiner not in ("AND", "OR"):
            raise SuiteQLError(f"Expected AND or OR, found '{text}'.")
        if joiner == "OR":
            disjuncts.append(_join(conjuncts))
            conjuncts = []
        conjuncts.append(_condition(tokens))
    disjuncts.append(_join(conjuncts))
    return disjuncts[0] if len(disjuncts) == 1 else Or(tuple(disjuncts))


def _join(conjuncts: list[Expr]) -> Expr:
    return conjuncts[0] if len(conjuncts) == 1 else And(tuple(conjuncts))


def _tokenize(q: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos, end = 0, len(q.rstrip())
    while pos < end:
        match = _TOKEN.match(q, pos)
        if match is None or match.lastgroup is None:
            raise SuiteQLError(f"Invalid filter near position {pos}: '{q[pos : pos + 20]}'.")
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        pos = match.end()
    if not tokens:
        raise SuiteQLError("The filter is empty.")
    return tokens


def _condition(tokens: list[tuple[str, str]]) -> Expr:
    if len(tokens) < 2 or tokens[-1][0] != "word" or tokens[-2][0] != "word":
        raise SuiteQLError("Expected a condition '<field> <OPERATOR> <value>'.")
    column = Column(tokens.pop()[1].lower())
    operator = tokens.pop()[1].upper()
    if operator in ("EMPTY", "EMPTY_NOT"):
        return IsNull(column, negated=operator == "EMPTY_NOT")
    if operator == "ANY_OF":
        return InList(column, tuple(Literal(v) for v in _values(tokens)))
    value = _value(tokens)
    if operator in _COMPARE:
        return Compare(_COMPARE[operator], column, Literal(value))
    if operator in ("START_WITH", "CONTAIN"):
        # '%' or '_' inside the value stay wildcards: this LIKE has no ESCAPE clause.
        text = str(value)
        return Like(column, f"{text}%" if operator == "START_WITH" else f"%{text}%")
    raise SuiteQLError(f"Unknown operator '{operator}'.")


def _values(tokens: list[tuple[str, str]]) -> list[Value]:
    if tokens and tokens[-1] == ("punct", "["):
        tokens.pop()
        values = [_value(tokens)]
        while tokens and tokens[-1] == ("punct", ","):
            tokens.pop()
            values.append(_value(tokens))
        if not tokens or tokens.pop() != ("punct", "]"):
            raise SuiteQLError("Expected ']' to close the ANY_OF list.")
        return values
    values = [_value(tokens)]
    while tokens and tokens[-1] == ("punct", ","):
        tokens.pop()
        values.append(_value(tokens))
    return values


def _value(tokens: list[tuple[str, str]]) -> Value:
    if not tokens:
        raise SuiteQLError("Expected a value at the end of the filter.")
    kind, text = tokens.pop()
    if kind == "string":
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if kind == "number":
        return Decimal(text)
    if kind == "word" and text.lower() in ("true", "false"):
        return "T" if text.lower() == "true" else "F"  # how boolean columns compare
    raise SuiteQLError(f"Expected a value, found '{text}'.")
