"""A SOQL parser: query text to a small syntax tree.

Supported (the subset the gateway and its tests use, with SOQL's own rules)::

    SELECT COUNT() | field, ...  FROM Object
      [WHERE condition]  [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...]
      [LIMIT n]  [OFFSET n]

    condition := [NOT] (condition) | field op literal | field [NOT] IN (literal, ...)
                 | field LIKE 'pattern' | condition AND ... | condition OR ...
    op        := = != <> < > <= >=
    literal   := 'string' | number | 2026-01-31 | 2026-01-31T12:00:00Z | TRUE | FALSE | NULL

As in Salesforce, keywords and names are case-insensitive, AND and OR may not be
mixed at one level without parentheses, and string literals use backslash
escapes (``\\'``, ``\\\\``, ``\\n`` ...; ``\\%`` and ``\\_`` in LIKE patterns).
Names are resolved against the object's fields later, by the executor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal as TypingLiteral

from simulators.salesforce.values import parse_date, parse_datetime


class SoqlSyntaxError(ValueError):
    """The query text is not valid SOQL (Salesforce's MALFORMED_QUERY)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at column {position + 1}")
        self.position = position


LiteralKind = TypingLiteral["string", "number", "date", "datetime", "boolean", "null"]


@dataclass(frozen=True)
class Literal:
    """A literal value. ``raw`` keeps a string's escapes for LIKE patterns."""

    kind: LiteralKind
    value: str | Decimal | date | datetime | bool | None
    raw: str = ""


@dataclass(frozen=True)
class Comparison:
    field: str
    op: str  # = != < > <= >= LIKE
    value: Literal


@dataclass(frozen=True)
class InList:
    field: str
    values: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class BoolOp:
    op: TypingLiteral["AND", "OR"]
    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    operand: Condition


Condition = Comparison | InList | BoolOp | Not


@dataclass(frozen=True)
class OrderItem:
    field: str
    descending: bool = False
    nulls_first: bool = True


@dataclass(frozen=True)
class Query:
    sobject: str
    fields: tuple[str, ...]
    count: bool = False
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None


@dataclass(frozen=True)
class _Token:
    kind: str  # IDENT STRING NUMBER DATE DATETIME OP LPAREN RPAREN COMMA EOF
    text: str
    position: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "IDENT" else ""


_TOKEN_RE = re.compile(
    r"""
    (?P<SPACE>\s+)
  | (?P<DATETIME>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<DATE>\d{4}-\d{2}-\d{2}(?![\w:]))
  | (?P<NUMBER>[-+]?\d+(?:\.\d+)?(?![\w.]))
  | (?P<IDENT>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<STRING>')
  | (?P<OP>!=|<>|<=|>=|=|<|>)
  | (?P<LPAREN>\()
  | (?P<RPAREN>\))
  | (?P<COMMA>,)
    """,
    re.VERBOSE,
)

_ESCAPES = {
    "'": "'",
    '"': '"',
    "\\": "\\",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    "%": "%",
    "_": "_",
}
_RESERVED = frozenset(
    {
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "IN",
        "LIKE",
        "ORDER",
        "BY",
        "ASC",
        "DESC",
        "NULLS",
        "FIRST",
        "LAST",
        "LIMIT",
        "OFFSET",
        "TRUE",
        "FALSE",
        "NULL",
        "GROUP",
        "HAVING",
    }
)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if match is None:
            raise SoqlSyntaxError(f"unexpected character {text[position]!r}", position)
        kind = match.lastgroup
        assert kind is not None
        if kind == "STRING":
            end = _string_end(text, position)
            tokens.append(_Token("STRING", text[position + 1 : end], position))
            position = end + 1
            continue
        if kind != "SPACE":
            tokens.append(_Token(kind, match.group(), position))
        position = match.end()
    tokens.append(_Token("EOF", "<EOF>", len(text)))
    return tokens


def _string_end(text: str, start: int) -> int:
    """Index of the quote closing the string literal opened at ``start``."""
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "'":
            return index
        index += 1
    raise SoqlSyntaxError("unterminated string literal", start)


def decode_string(raw: str, position: int = 0) -> str:
    """The value of a string literal's body, with its escapes resolved."""
    out: list[str] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char != "\\":
            out.append(char)
            index += 1
            continue
        escape = raw[index + 1 : index + 2]
        if escape == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", raw[index + 2 : index + 6]):
            out.append(chr(int(raw[index + 2 : index + 6], 16)))
            index += 6
            continue
        if escape not in _ESCAPES:
            raise SoqlSyntaxError(f"invalid escape sequence \\{escape}", position + index)
        out.append(_ESCAPES[escape])
        index += 2
    return "".join(out)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0

    # -- token helpers -------------------------------------------------------
    def _peek(self) -> _Token:
        return self.tokens[self.index]

    def _next(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "EOF":
            self.index += 1
        return token

    def _at_keyword(self, *words: str) -> bool:
        return self._peek().upper in words

    def _keyword(self, *words: str) -> str:
        token = self._next()
        if token.upper not in words:
            raise self._unexpected(token)
        return token.upper

    def _expect(self, kind: str) -> _Token:
        token = self._next()
        if token.kind != kind:
            raise self._unexpected(token)
        return token

    @staticmethod
    def _unexpected(token: _Token) -> SoqlSyntaxError:
        return SoqlSyntaxError(f"unexpected token: '{token.text}'", token.position)

    def _name(self) -> str:
        token = self._next()
        if token.kind != "IDENT" or token.upper in _RESERVED:
            raise self._unexpected(token)
        return token.text

    def _integer(self) -> int:
        token = self._expect("NUMBER")
        if not token.text.isdigit():
            raise SoqlSyntaxError(
                f"expected a non-negative integer, got {token.text}", token.position
            )
        return int(token.text)

    # -- grammar -------------------------------------------------------------
    def query(self) -> Query:
        self._keyword("SELECT")
        count, fields = self._select_list()
        self._keyword("FROM")
        sobject = self._name()
        where = None
        order_by: tuple[OrderItem, ...] = ()
        limit = offset = None
        if self._at_keyword("WHERE"):
            self._next()
            where = self._condition()
        if self._at_keyword("ORDER"):
            self._next()
            self._keyword("BY")
            order_by = self._order_list()
        if self._at_keyword("LIMIT"):
            self._next()
            limit = self._integer()
        if self._at_keyword("OFFSET"):
            self._next()
            offset = self._integer()
        end = self._next()
        if end.kind != "EOF":
            raise self._unexpected(end)
        return Query(sobject, fields, count, where, order_by, limit, offset)

    def _select_list(self) -> tuple[bool, tuple[str, ...]]:
        if self._at_keyword("COUNT") and self.tokens[self.index + 1].kind == "LPAREN":
            self._next()
            self._expect("LPAREN")
            self._expect("RPAREN")
            return True, ()
        fields = [self._name()]
        while self._peek().kind == "COMMA":
            self._next()
            fields.append(self._name())
        return False, tuple(fields)

    def _order_list(self) -> tuple[OrderItem, ...]:
        items = [self._order_item()]
        while self._peek().kind == "COMMA":
            self._next()
            items.append(self._order_item())
        return tuple(items)

    def _order_item(self) -> OrderItem:
        name = self._name()
        descending = False
        if self._at_keyword("ASC", "DESC"):
            descending = self._next().upper == "DESC"
        # Salesforce's default: nulls first ascending, last descending.
        nulls_first = not descending
        if self._at_keyword("NULLS"):
            self._next()
            nulls_first = self._keyword("FIRST", "LAST") == "FIRST"
        return OrderItem(name, descending, nulls_first)

    def _condition(self) -> Condition:
        operands = [self._unary()]
        op: str | None = None
        while self._at_keyword("AND", "OR"):
            token = self._next()
            if op is not None and token.upper != op:
                # SOQL refuses to guess precedence between AND and OR.
                raise SoqlSyntaxError(
                    f"unexpected token: '{token.text}' (use parentheses to mix AND and OR)",
                    token.position,
                )
            op = token.upper
            operands.append(self._unary())
        if op is None:
            return operands[0]
        return BoolOp("AND" if op == "AND" else "OR", tuple(operands))

    def _unary(self) -> Condition:
        if self._at_keyword("NOT"):
            self._next()
            return Not(self._unary())
        if self._peek().kind == "LPAREN":
            self._next()
            inner = self._condition()
            self._expect("RPAREN")
            return inner
        return self._predicate()

    def _predicate(self) -> Condition:
        name = self._name()
        token = self._peek()
        if token.upper == "NOT":
            self._next()
            self._keyword("IN")
            return InList(name, self._in_values(), negated=True)
        if token.upper == "IN":
            self._next()
            return InList(name, self._in_values(), negated=False)
        if token.upper == "LIKE":
            self._next()
            value = self._literal()
            if value.kind != "string":
                raise SoqlSyntaxError("LIKE needs a string pattern", token.position)
            return Comparison(name, "LIKE", value)
        op = self._expect("OP").text
        return Comparison(name, "!=" if op == "<>" else op, self._literal())

    def _in_values(self) -> tuple[Literal, ...]:
        self._expect("LPAREN")
        if self._at_keyword("SELECT"):
            raise SoqlSyntaxError("semi-join subqueries are not supported", self._peek().position)
        values = [self._literal()]
        while self._peek().kind == "COMMA":
            self._next()
            values.append(self._literal())
        self._expect("RPAREN")
        return tuple(values)

    def _literal(self) -> Literal:
        token = self._next()
        if token.kind == "STRING":
            return Literal("string", decode_string(token.text, token.position + 1), token.text)
        if token.kind == "NUMBER":
            return Literal("number", Decimal(token.text))
        if token.kind == "DATE":
            day = parse_date(token.text)
            if day is None:
                raise SoqlSyntaxError(f"invalid date: {token.text}", token.position)
            return Literal("date", day)
        if token.kind == "DATETIME":
            moment = parse_datetime(token.text)
            if moment is None:
                raise SoqlSyntaxError(f"invalid datetime: {token.text}", token.position)
            return Literal("datetime", moment)
        if token.upper in ("TRUE", "FALSE"):
            return Literal("boolean", token.upper == "TRUE")
        if token.upper == "NULL":
            return Literal("null", None)
        raise self._unexpected(token)


def parse(text: str) -> Query:
    """Parse one SOQL query; raises :class:`SoqlSyntaxError`."""
    return _Parser(text).query()
