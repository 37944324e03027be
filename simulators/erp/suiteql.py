"""A SuiteQL subset: parser and executor over tables of typed rows.

Supported (keywords and names are case-insensitive)::

    SELECT * | COUNT(*) [AS a] | col [AS a], ...
    FROM table [alias]
    [WHERE cond]
    [ORDER BY col [ASC|DESC], ...]

where ``cond`` combines, with ``AND`` / ``OR`` / ``NOT`` and parentheses,
``x = y`` (also ``<>``, ``!=``, ``<``, ``<=``, ``>``, ``>=``), ``x [NOT] IN (v, ...)``
(at most 1000 values, Oracle's limit, which SuiteQL inherits), ``x IS [NOT] NULL``,
``x [NOT] LIKE 'pattern'`` (``%`` and ``_``; case-insensitive) and
``x [NOT] BETWEEN a AND b``. ``x`` and ``y`` are columns (optionally qualified by
the table or its alias) or literals: ``'text'`` (``''`` escapes a quote) and numbers.
No joins, grouping, functions other than ``COUNT(*)``, or ``BUILTIN.*``.

Semantics follow Oracle, which SuiteQL runs on: comparisons with NULL are
unknown (so ``x <> 'a'`` does not match a NULL ``x``); a text compared with a
number is compared as a number when it is numeric; ``ORDER BY`` puts NULLs
last ascending and first descending. Without ``ORDER BY`` rows come in
internal-id order, so paging through a result is stable.

Equality and ``IN`` on indexed columns use the table's index instead of a scan
(:meth:`Table.lookup`), which keeps batch reads cheap on large tables.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol

MAX_IN_LIST = 1000


class SuiteQLError(Exception):
    """The query cannot be parsed or run; the message names the problem."""


class ColumnType(StrEnum):
    ID = "id"  # an internal id: numeric, sent as a string
    TEXT = "text"
    NUMBER = "number"  # decimal (money)
    INTEGER = "integer"
    BOOLEAN = "boolean"  # 'T' / 'F'
    DATE = "date"  # ISO text


Row = dict[str, Any]
"""A row: column → value (int, Decimal, str or None)."""

Value = str | Decimal | None
"""A literal in a query."""


class Table(Protocol):
    """What the executor needs of a table."""

    name: str
    columns: Mapping[str, ColumnType]

    def rows(self) -> Iterable[Row]:
        """Every row (a full scan)."""
        ...

    def lookup(self, column: str, values: Sequence[Value]) -> list[Row] | None:
        """Rows whose ``column`` equals one of ``values``, via an index; None if not indexed."""
        ...


# --- syntax tree -----------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Literal:
    value: Value


Operand = Column | Literal


@dataclass(frozen=True)
class Compare:
    op: str
    left: Operand
    right: Operand


@dataclass(frozen=True)
class InList:
    operand: Operand
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    operand: Operand
    negated: bool = False


@dataclass(frozen=True)
class Like:
    operand: Operand
    pattern: str
    negated: bool = False


@dataclass(frozen=True)
class Between:
    operand: Operand
    low: Operand
    high: Operand
    negated: bool = False


@dataclass(frozen=True)
class And:
    parts: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    expr: Expr


Expr = Compare | InList | IsNull | Like | Between | And | Or | Not


@dataclass(frozen=True)
class SelectItem:
    column: str | None  # None: COUNT(*)
    alias: str


@dataclass(frozen=True)
class OrderItem:
    column: str
    descending: bool = False


@dataclass(frozen=True)
class Query:
    table: str
    items: tuple[SelectItem, ...] | None  # None: SELECT *
    where: Expr | None = None
    order_by: tuple[OrderItem, ...] = ()
    alias: str | None = None  # the table's alias, for qualified column names

    @property
    def is_count(self) -> bool:
        return self.items is not None and any(i.column is None for i in self.items)


# --- tokenizer -------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>\d+(?:\.\d+)?|\.\d+)
      | (?P<name>[A-Za-z_][A-Za-z0-9_$]*)
      | (?P<op><=|>=|<>|!=|[=<>(),*.\-])
    )""",
    re.VERBOSE,
)

_KEYWORDS = frozenset({
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "BETWEEN",
    "ORDER", "BY", "ASC", "DESC", "AS", "COUNT",
})  # fmt: skip
# Real SuiteQL words this subset does not implement: named in the error, never
# mistaken for a column or an alias.
_UNSUPPORTED = frozenset({
    "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "OUTER", "CROSS", "GROUP", "HAVING", "UNION",
    "INTERSECT", "MINUS", "DISTINCT", "FETCH", "TOP", "CASE", "EXISTS", "LIMIT", "OFFSET",
})  # fmt: skip


@dataclass(frozen=True)
class Token:
    kind: str  # string, number, name, keyword, op, end
    text: str
    pos: int


def tokenize(q: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    end = len(q.rstrip())
    while pos < end:
        match = _TOKEN.match(q, pos)
        if match is None or match.lastgroup is None:
            bad = q[pos:].lstrip()[:1]
            raise SuiteQLError(f"Unexpected character '{bad}' at position {pos}.")
        kind = match.lastgroup
        text = match.group(kind)
        start = match.start(kind)
        if kind == "name" and text.upper() in _KEYWORDS:
            kind, text = "keyword", text.upper()
        tokens.append(Token(kind, text, start))
        pos = match.end()
    tokens.append(Token("end", "", end))
    return tokens


# --- parser ----------------------------------------------------------------


def parse(q: str) -> Query:
    """Parse one SuiteQL query; :class:`SuiteQLError` names what is wrong."""
    if not q or not q.strip():
        raise SuiteQLError("The query is empty.")
    return _Parser(tokenize(q)).query()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.table = ""
        self.alias: str | None = None

    # helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at(self, kind: str, text: str | None = None) -> bool:
        tok = self.tok
        return tok.kind == kind and (text is None or tok.text == text)

    def accept(self, kind: str, text: str | None = None) -> bool:
        if self.at(kind, text):
            self.i += 1
            return True
        return False

    def expect(self, kind: str, text: str | None = None) -> Token:
        if not self.at(kind, text):
            self.fail(f"expected {text or kind}")
        return self.advance()

    def at_name(self) -> bool:
        """At an identifier usable as a table, column or alias name."""
        return self.at("name") and self.tok.text.upper() not in _UNSUPPORTED

    def name(self, what: str) -> str:
        if not self.at_name():
            self.fail(f"expected {what}")
        return self.advance().text.lower()

    def fail(self, expected: str) -> None:
        tok = self.tok
        if tok.kind == "end":
            raise SuiteQLError(f"Unexpected end of query: {expected}.")
        if tok.kind == "name" and tok.text.upper() in _UNSUPPORTED:
            raise SuiteQLError(f"'{tok.text.upper()}' is not supported (at position {tok.pos}).")
        raise SuiteQLError(f"Unexpected '{tok.text}' at position {tok.pos}: {expected}.")

    # grammar
    def query(self) -> Query:
        self.expect("keyword", "SELECT")
        items = self.select_list()
        self.expect("keyword", "FROM")
        self.table = self.name("a table name")
        if self.at_name():
            self.alias = self.advance().text.lower()
        where = None
        if self.accept("keyword", "WHERE"):
            where = self.expr()
        order: list[OrderItem] = []
        if self.accept("keyword", "ORDER"):
            self.expect("keyword", "BY")
            order.append(self.order_item())
            while self.accept("op", ","):
                order.append(self.order_item())
        if not self.at("end"):
            self.fail("expected WHERE, ORDER BY or the end of the query")
        return Query(self.table, items, where, tuple(order), self.alias)

    def select_list(self) -> tuple[SelectItem, ...] | None:
        if self.accept("op", "*"):
            return None
        items = [self.select_item(1)]
        while self.accept("op", ","):
            items.append(self.select_item(len(items) + 1))
        return tuple(items)

    def select_item(self, n: int) -> SelectItem:
        if self.accept("keyword", "COUNT"):
            self.expect("op", "(")
            self.expect("op", "*")
            self.expect("op", ")")
            column: str | None = None
            alias = f"expr{n}"  # NetSuite's name for an unnamed expression
        else:
            column = self.column_name()
            alias = column.rsplit(".", 1)[-1]  # NetSuite names c.id "id"
        if self.accept("keyword", "AS") or self.at_name():
            alias = self.name("an alias")
        return SelectItem(column, alias)

    def column_name(self) -> str:
        name = self.name("a column name")
        if self.accept("op", "."):
            # The qualifier is checked once the table and alias are known.
            return f"{name}.{self.name('a column name')}"
        return name

    def order_item(self) -> OrderItem:
        column = self.column_name()
        descending = False
        if self.accept("keyword", "DESC"):
            descending = True
        else:
            self.accept("keyword", "ASC")
        return OrderItem(column, descending)

    def expr(self) -> Expr:
        parts = [self.conjunction()]
        while self.accept("keyword", "OR"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def conjunction(self) -> Expr:
        parts = [self.negation()]
        while self.accept("keyword", "AND"):
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def negation(self) -> Expr:
        if self.accept("keyword", "NOT"):
            return Not(self.negation())
        return self.predicate()

    def predicate(self) -> Expr:
        if self.at("op", "("):
            self.advance()
            inner = self.expr()
            self.expect("op", ")")
            return inner
        left = self.operand()
        if self.at("op") and self.tok.text in ("=", "<>", "!=", "<", "<=", ">", ">="):
            op = self.advance().text
            return Compare("<>" if op == "!=" else op, left, self.operand())
        if self.accept("keyword", "IS"):
            negated = self.accept("keyword", "NOT")
            self.expect("keyword", "NULL")
            return IsNull(left, negated)
        negated = self.accept("keyword", "NOT")
        if self.accept("keyword", "IN"):
            return InList(left, self.in_values(), negated)
        if self.accept("keyword", "LIKE"):
            pattern = self.operand()
            if not isinstance(pattern, Literal) or not isinstance(pattern.value, str):
                raise SuiteQLError("LIKE needs a quoted pattern.")
            return Like(left, pattern.value, negated)
        if self.accept("keyword", "BETWEEN"):
            low = self.operand()
            self.expect("keyword", "AND")
            return Between(left, low, self.operand(), negated)
        self.fail("expected a comparison, IN, IS, LIKE or BETWEEN")
        raise AssertionError("unreachable")

    def in_values(self) -> tuple[Literal, ...]:
        self.expect("op", "(")
        values = [self.literal()]
        while self.accept("op", ","):
            values.append(self.literal())
        self.expect("op", ")")
        if len(values) > MAX_IN_LIST:
            raise SuiteQLError(
                f"ORA-01795: maximum number of expressions in a list is {MAX_IN_LIST} "
                f"(got {len(values)})."
            )
        return tuple(values)

    def operand(self) -> Operand:
        if self.at_name():
            return Column(self.column_name())
        return self.literal()

    def literal(self) -> Literal:
        sign = "-" if self.accept("op", "-") else ""
        tok = self.tok
        if tok.kind == "number":
            self.advance()
            return Literal(Decimal(sign + tok.text))
        if sign:
            self.fail("expected a number after '-'")
        if tok.kind == "string":
            self.advance()
            return Literal(tok.text[1:-1].replace("''", "'"))
        if self.accept("keyword", "NULL"):
            return Literal(None)
        self.fail("expected a column or a value")
        raise AssertionError("unreachable")


# --- executor --------------------------------------------------------------

Predicate = Callable[[Row], bool | None]


@dataclass(frozen=True)
class Result:
    """Rows in result order, with the output name and type of every column."""

    columns: tuple[tuple[str, ColumnType], ...]
    rows: list[tuple[Any, ...]]


def execute(query: Query, table: Table) -> Result:
    """Run a parsed query against ``table`` (which must be the one it names)."""
    resolve = _Resolver(query, table)
    predicate = _compile(query.where, resolve) if query.where is not None else None
    found = _candidates(query.where, table, resolve) if query.where is not None else None
    rows: Iterable[Row] = table.rows() if found is None else found
    matched = [r for r in rows if predicate is None or predicate(r) is True]

    if query.is_count:
        assert query.items is not None
        if len(query.items) != 1:
            raise SuiteQLError("COUNT(*) cannot be combined with other columns without GROUP BY.")
        return Result(((query.items[0].alias, ColumnType.INTEGER),), [(len(matched),)])

    if query.items is None:
        selected = [(name, name) for name in table.columns]
    else:
        selected = [(resolve(item.column or ""), item.alias) for item in query.items]
    aliases = {alias: column for column, alias in selected}
    order = [(aliases.get(o.column) or resolve(o.column), o.descending) for o in query.order_by]
    if "id" in table.columns:
        matched.sort(key=lambda r: _sort_key(r["id"]))
    for column, descending in reversed(order):
        matched.sort(key=lambda r, c=column: _sort_key(r[c]), reverse=descending)  # type: ignore[misc]
    columns = tuple((alias, table.columns[column]) for column, alias in selected)
    return Result(columns, [tuple(r[column] for column, _ in selected) for r in matched])


class _Resolver:
    """Maps a (possibly qualified) column name to the table's column, or fails."""

    def __init__(self, query: Query, table: Table) -> None:
        self.table = table
        self.qualifiers = {table.name, query.alias or table.name}

    def __call__(self, name: str) -> str:
        if "." in name:
            qualifier, name = name.split(".", 1)
            if qualifier not in self.qualifiers:
                raise SuiteQLError(f"Unknown table or alias '{qualifier}'.")
        if name not in self.table.columns:
            raise SuiteQLError(f"Field '{name}' for record '{self.table.name}' was not found.")
        return name


def _candidates(where: Expr, table: Table, resolve: _Resolver) -> list[Row] | None:
    """Rows an indexed ``col = v`` / ``col IN (...)`` conjunct narrows the scan to."""
    conjuncts = where.parts if isinstance(where, And) else (where,)
    for part in conjuncts:
        column: str | None = None
        values: list[Value] = []
        if isinstance(part, Compare) and part.op == "=":
            pair = (part.left, part.right)
            for col, lit in (pair, pair[::-1]):
                if isinstance(col, Column) and isinstance(lit, Literal):
                    column, values = resolve(col.name), [lit.value]
        elif isinstance(part, InList) and not part.negated and isinstance(part.operand, Column):
            column, values = resolve(part.operand.name), [v.value for v in part.values]
        if column is not None:
            found = table.lookup(column, [v for v in values if v is not None])
            if found is not None:
                return found
    return None


def _compile(expr: Expr, resolve: _Resolver) -> Predicate:
    """A function evaluating ``expr`` on a row: True, False or None (unknown)."""
    if isinstance(expr, And):
        parts = [_compile(p, resolve) for p in expr.parts]
        return lambda row: _and(p(row) for p in parts)
    if isinstance(expr, Or):
        parts = [_compile(p, resolve) for p in expr.parts]
        return lambda row: _or(p(row) for p in parts)
    if isinstance(expr, Not):
        inner = _compile(expr.expr, resolve)

        def negate(row: Row) -> bool | None:
            value = inner(row)
            return None if value is None else not value

        return negate
    if isinstance(expr, Compare):
        left, right = _getter(expr.left, resolve), _getter(expr.right, resolve)
        test = _COMPARISONS[expr.op]

        def compare(row: Row) -> bool | None:
            order = _compare(left(row), right(row))
            return None if order is None else test(order)

        return compare
    if isinstance(expr, InList):
        get = _getter(expr.operand, resolve)
        values = _InSet([v.value for v in expr.values])

        def member(row: Row) -> bool | None:
            result = values.contains(get(row))
            return _negate(result) if expr.negated else result

        return member
    if isinstance(expr, IsNull):
        get = _getter(expr.operand, resolve)
        return lambda row: (get(row) is None) != expr.negated
    if isinstance(expr, Like):
        get = _getter(expr.operand, resolve)
        regex = _like_regex(expr.pattern)

        def like(row: Row) -> bool | None:
            value = get(row)
            if value is None:
                return None
            return (regex.fullmatch(_text(value)) is not None) != expr.negated

        return like
    low_high = (_getter(expr.low, resolve), _getter(expr.high, resolve))
    get = _getter(expr.operand, resolve)

    def between(row: Row) -> bool | None:
        value = get(row)
        low, high = (_compare(value, g(row)) for g in low_high)
        result = _and([None if low is None else low >= 0, None if high is None else high <= 0])
        return _negate(result) if expr.negated else result

    return between


class _InSet:
    """``IN (...)`` membership in O(1) per row, with :func:`_compare`'s semantics.

    Comparing each row with every listed value would cost rows times values (a
    1000-id batch over tens of thousands of rows is tens of millions of calls).
    """

    def __init__(self, values: Sequence[Value]) -> None:
        self.texts = {v for v in values if isinstance(v, str)}
        self.numbers = {v for v in values if isinstance(v, Decimal)}
        # Text literals that read as numbers match numeric row values.
        self.numeric_texts = {n for n in map(_number, self.texts) if n is not None}
        self.has_null = any(v is None for v in values)
        self.has_non_numeric_text = len(self.numeric_texts) < len(self.texts)

    def contains(self, value: Any) -> bool | None:
        if value is None:
            return None
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            number = Decimal(value)
            if number in self.numbers or number in self.numeric_texts:
                return True
            incomparable = self.has_non_numeric_text
        else:
            text = _text(value)
            if text in self.texts:
                return True
            incomparable = False
            if self.numbers:
                parsed = _number(text)
                if parsed is not None and parsed in self.numbers:
                    return True
                incomparable = parsed is None
        # As with "=", a NULL or an incomparable value makes "not found" unknown.
        return None if self.has_null or incomparable else False


_COMPARISONS: dict[str, Callable[[int], bool]] = {
    "=": lambda o: o == 0,
    "<>": lambda o: o != 0,
    "<": lambda o: o < 0,
    "<=": lambda o: o <= 0,
    ">": lambda o: o > 0,
    ">=": lambda o: o >= 0,
}


def _getter(operand: Operand, resolve: _Resolver) -> Callable[[Row], Any]:
    if isinstance(operand, Column):
        name = resolve(operand.name)
        return lambda row: row[name]
    value = operand.value
    return lambda row: value


def _and(values: Iterable[bool | None]) -> bool | None:
    unknown = False
    for value in values:
        if value is False:
            return False
        unknown = unknown or value is None
    return None if unknown else True


def _or(values: Iterable[bool | None]) -> bool | None:
    unknown = False
    for value in values:
        if value is True:
            return True
        unknown = unknown or value is None
    return None if unknown else False


def _negate(value: bool | None) -> bool | None:
    return None if value is None else not value


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return None
    return None


def _compare(a: Any, b: Any) -> int | None:
    """-1, 0 or 1; None when either side is NULL or they cannot be compared."""
    if a is None or b is None:
        return None
    if isinstance(a, Decimal | int) or isinstance(b, Decimal | int):
        x, y = _number(a), _number(b)
        if x is None or y is None:
            return None
        return (x > y) - (x < y)
    sa, sb = _text(a), _text(b)
    return (sa > sb) - (sa < sb)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _sort_key(value: Any) -> tuple[bool, int, Any]:
    if value is None:
        return (True, 0, 0)
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return (False, 0, value)
    return (False, 1, _text(value))


@lru_cache(maxsize=256)
def _like_regex(pattern: str) -> re.Pattern[str]:
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)
