"""A SuiteQL subset: parser and executor over tables of typed rows.

Supported (keywords and names are case-insensitive)::

    SELECT * | COUNT(*) [AS a] | col [AS a] | BUILTIN.DF(col) [AS a], ...
    FROM table [alias]
    [[INNER | LEFT [OUTER]] JOIN table [alias] ON a.x = b.y [AND ...]] ...
    [WHERE cond]
    [ORDER BY col [ASC|DESC], ...]

where ``cond`` combines, with ``AND`` / ``OR`` / ``NOT`` and parentheses,
``x = y`` (also ``<>``, ``!=``, ``<``, ``<=``, ``>``, ``>=``), ``x [NOT] IN (v, ...)``
(at most 1000 values, Oracle's limit, which SuiteQL inherits), ``x IS [NOT] NULL``,
``x [NOT] LIKE 'pattern'`` (``%`` and ``_``; case-insensitive) and
``x [NOT] BETWEEN a AND b``. ``x`` and ``y`` are columns (optionally qualified by
a table or its alias; a name two joined tables share must be qualified) or
``BUILTIN.DF(col)`` (the display name of a reference or list value: a
customer's name, a currency's ``USD``) or literals: ``'text'`` (``''`` escapes
a quote) and numbers. A join's ``ON`` needs a column equality between the
joined table and one before it (further conditions may follow with ``AND``); a
``LEFT`` join keeps the rows without a match (their columns NULL). No
grouping, no functions other than ``COUNT(*)`` and ``BUILTIN.DF``.

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
    df: bool = False  # BUILTIN.DF(name): the display value


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
    df: bool = False  # BUILTIN.DF(column)


@dataclass(frozen=True)
class Join:
    table: str
    alias: str | None
    on: Expr
    left: bool = False  # LEFT [OUTER] JOIN: unmatched rows kept


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
    joins: tuple[Join, ...] = ()

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
    "ORDER", "BY", "ASC", "DESC", "AS", "COUNT", "JOIN", "INNER", "LEFT", "OUTER", "ON",
})  # fmt: skip
# Real SuiteQL words this subset does not implement: named in the error, never
# mistaken for a column or an alias.
_UNSUPPORTED = frozenset({
    "RIGHT", "FULL", "CROSS", "NATURAL", "USING", "GROUP", "HAVING", "UNION",
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
        joins: list[Join] = []
        while (
            self.at("keyword", "JOIN") or self.at("keyword", "INNER") or self.at("keyword", "LEFT")
        ):
            joins.append(self.join())
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
        return Query(self.table, items, where, tuple(order), self.alias, tuple(joins))

    def join(self) -> Join:
        left = False
        if self.accept("keyword", "LEFT"):
            left = True
            self.accept("keyword", "OUTER")
        else:
            self.accept("keyword", "INNER")
        self.expect("keyword", "JOIN")
        table = self.name("a table name")
        alias = self.advance().text.lower() if self.at_name() else None
        self.expect("keyword", "ON")
        on = self.expr()
        if not any(
            isinstance(part, Compare)
            and part.op == "="
            and isinstance(part.left, Column)
            and isinstance(part.right, Column)
            for part in (on.parts if isinstance(on, And) else (on,))
        ):
            raise SuiteQLError("A join condition needs a column equality (ON a.x = b.y [AND ...]).")
        return Join(table, alias, on, left)

    def builtin(self) -> str | None:
        """``BUILTIN.DF(col)`` → ``col``; None when not at ``BUILTIN``."""
        if not (self.at("name") and self.tok.text.upper() == "BUILTIN"):
            return None
        self.advance()
        self.expect("op", ".")
        function = self.name("a BUILTIN function").upper()
        if function != "DF":
            raise SuiteQLError(f"BUILTIN.{function} is not supported (only BUILTIN.DF).")
        self.expect("op", "(")
        column = self.column_name()
        self.expect("op", ")")
        return column

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
            df = False
        elif (displayed := self.builtin()) is not None:
            column, alias, df = displayed, f"expr{n}", True
        else:
            column = self.column_name()
            alias = column.rsplit(".", 1)[-1]  # NetSuite names c.id "id"
            df = False
        if self.accept("keyword", "AS") or self.at_name():
            alias = self.name("an alias")
        return SelectItem(column, alias, df)

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
        displayed = self.builtin()
        if displayed is not None:
            return Column(displayed, df=True)
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
TableLookup = Callable[[str], Table]


@dataclass(frozen=True)
class Result:
    """Rows in result order, with the output name and type of every column.

    ``real`` says per column whether it comes from a table answering in
    SuiteQL's own dialect (every value a string); empty: none does.
    """

    columns: tuple[tuple[str, ColumnType], ...]
    rows: list[tuple[Any, ...]]
    real: tuple[bool, ...] = ()


def execute(query: Query, table: Table) -> Result:
    """Run a parsed one-table query against ``table`` (which must be the one it names)."""
    return run(query, lambda name: table)


def run(query: Query, lookup: TableLookup) -> Result:
    """Run a parsed query, its tables found by name with ``lookup``."""
    sources = [_Source(query.alias or query.table, lookup(query.table))]
    sources += [_Source(j.alias or j.table, lookup(j.table)) for j in query.joins]
    resolve = _Resolver(sources)
    predicate = _compile(query.where, resolve) if query.where is not None else None
    first = sources[0].table
    found = _candidates(query.where, first, resolve) if query.where is not None else None
    rows: Iterable[Row] = first.rows() if found is None else found
    if query.joins:
        rows = _join(query, sources, resolve, rows)
    matched = [r for r in rows if predicate is None or predicate(r) is True]

    if query.is_count:
        assert query.items is not None
        if len(query.items) != 1:
            raise SuiteQLError("COUNT(*) cannot be combined with other columns without GROUP BY.")
        counted_real = bool(getattr(first, "real", False))
        return Result(
            ((query.items[0].alias, ColumnType.INTEGER),),
            [(len(matched),)],
            (True,) if counted_real else (),
        )

    if query.items is None:
        selected = resolve.star()
    else:
        selected = [
            (resolve(Column(item.column or "", item.df)), item.alias) for item in query.items
        ]
    aliases = {alias: key for key, alias in selected}
    order = [
        (aliases.get(o.column) or resolve(Column(o.column)), o.descending) for o in query.order_by
    ]
    id_key = resolve.key(0, "id")
    if id_key is not None:
        matched.sort(key=lambda r: _sort_key(r[id_key]))
    for key, descending in reversed(order):
        matched.sort(key=lambda r, k=key: _sort_key(r[k]), reverse=descending)  # type: ignore[misc]
    columns = tuple((alias, resolve.types[key]) for key, alias in selected)
    real = tuple(resolve.real[key] for key, _ in selected)
    return Result(
        columns, [tuple(r[key] for key, _ in selected) for r in matched], real if any(real) else ()
    )


@dataclass(frozen=True)
class _Source:
    alias: str
    table: Table


class _Joined(dict[str, Any]):
    """A row of a join: ``alias.column`` read from each table's row (None: no match)."""

    def __init__(self, parts: dict[str, Row | None]) -> None:
        super().__init__()
        self.parts = parts

    def __missing__(self, key: str) -> Any:
        alias, column = key.split(".", 1)
        part = self.parts[alias]
        return None if part is None else part[column]


def _join(
    query: Query, sources: list[_Source], resolve: _Resolver, rows: Iterable[Row]
) -> list[Row]:
    """The first table's rows joined, in turn, with every joined table (a hash join)."""
    combined: list[Row] = [_Joined({sources[0].alias: row}) for row in rows]
    for n, join in enumerate(query.joins, start=1):
        source = sources[n]
        pairs = [
            (part.left, part.right)
            for part in (join.on.parts if isinstance(join.on, And) else (join.on,))
            if isinstance(part, Compare)
            and isinstance(part.left, Column)
            and isinstance(part.right, Column)
        ]
        # The first equality that links the new table to the ones before drives the join.
        here: str | None = None
        before: str | None = None
        for a, b in pairs:
            for this, other in ((a, b), (b, a)):
                if resolve.source(this) == n and resolve.source(other) < n:
                    here, before = resolve.column(this), resolve(other)
                    break
            if here is not None:
                break
        if here is None or before is None:
            raise SuiteQLError(
                f"The join of '{join.table}' must compare one of its columns with a column "
                "of a table before it."
            )
        rest = _compile(join.on, resolve)
        wanted = {str(v) for row in combined if (v := row[before]) is not None}
        found = source.table.lookup(here, sorted(wanted)) if wanted else []
        right = list(source.table.rows()) if found is None else found
        index: dict[Any, list[Row]] = {}
        for row in right:
            key = _join_key(row[here])
            if key is not None:
                index.setdefault(key, []).append(row)
        joined: list[Row] = []
        for row in combined:
            assert isinstance(row, _Joined)
            hits = []
            for match in index.get(_join_key(row[before]), ()):
                candidate = _Joined({**row.parts, source.alias: match})
                if rest(candidate) is True:
                    hits.append(candidate)
            if hits:
                joined.extend(hits)
            elif join.left:
                joined.append(_Joined({**row.parts, source.alias: None}))
        combined = joined
    return combined


def _join_key(value: Any) -> Any:
    """Join values match as ``=`` does: numbers (and numeric text) by value, else text."""
    if value is None:
        return None
    number = _number(value)
    return ("n", number) if number is not None else ("t", _text(value))


class _Resolver:
    """Maps a (possibly qualified) column to the key of its value in a row, or fails.

    One table: the key is the column name; a join: ``alias.column``. A
    ``BUILTIN.DF`` column reads the table's display value (``col#df``), or the
    value itself where the column has no separate display value.
    """

    def __init__(self, sources: list[_Source]) -> None:
        self.sources = sources
        self.single = len(sources) == 1
        self.types: dict[str, ColumnType] = {}
        self.real: dict[str, bool] = {}
        self.date_columns: set[str] = set()
        for n, source in enumerate(sources):
            table = source.table
            real = bool(getattr(table, "real", False))
            displays: Mapping[str, str] = getattr(table, "displays", {})
            for column, column_type in table.columns.items():
                key = self._prefixed(n, column)
                self.types[key] = column_type
                self.real[key] = real
                if column_type is ColumnType.DATE:
                    self.date_columns.add(key)
                if column in displays:
                    shown = self._prefixed(n, displays[column])
                    self.types[shown] = ColumnType.TEXT
                    self.real[shown] = real

    def _prefixed(self, n: int, column: str) -> str:
        return column if self.single else f"{self.sources[n].alias}.{column}"

    def key(self, n: int, column: str) -> str | None:
        """The key of table ``n``'s ``column``; None if it has none."""
        return self._prefixed(n, column) if column in self.sources[n].table.columns else None

    def source(self, column: Column) -> int:
        """Which table (by position) the column belongs to."""
        name = column.name
        if "." in name:
            qualifier, name = name.split(".", 1)
            for n, source in enumerate(self.sources):
                if qualifier in (source.alias, source.table.name):
                    return self._check(n, name)
            raise SuiteQLError(f"Unknown table or alias '{qualifier}'.")
        owners = [n for n, s in enumerate(self.sources) if name in s.table.columns]
        if len(owners) > 1:
            raise SuiteQLError(f"ORA-00918: column ambiguously defined: '{name}'.")
        return self._check(owners[0] if owners else 0, name)

    def _check(self, n: int, name: str) -> int:
        table = self.sources[n].table
        if name not in table.columns:
            raise SuiteQLError(f"Field '{name}' for record '{table.name}' was not found.")
        return n

    def column(self, column: Column) -> str:
        """The column's name in its own table."""
        self.source(column)
        return column.name.rsplit(".", 1)[-1]

    def __call__(self, column: Column) -> str:
        n = self.source(column)
        name = column.name.rsplit(".", 1)[-1]
        if column.df:
            displays: Mapping[str, str] = getattr(self.sources[n].table, "displays", {})
            name = displays.get(name, name)
        return self._prefixed(n, name)

    def date_literal(self, column: Column, value: Value) -> Value:
        """A text literal compared with a date column, read in the account's date format."""
        if column.df or not isinstance(value, str) or self(column) not in self.date_columns:
            return value
        parse = getattr(self.sources[self.source(column)].table, "date_literal", None)
        parsed = parse(value) if parse is not None else None
        return parsed if isinstance(parsed, str) else value

    def star(self) -> list[tuple[str, str]]:
        """``SELECT *``: every column of every table (a name already taken is skipped)."""
        seen: set[str] = set()
        out = []
        for n, source in enumerate(self.sources):
            for column in source.table.columns:
                if column not in seen:
                    seen.add(column)
                    out.append((self._prefixed(n, column), column))
        return out


def _candidates(where: Expr, table: Table, resolve: _Resolver) -> list[Row] | None:
    """Rows of the first table an indexed ``col = v`` / ``col IN (...)`` conjunct narrows
    the scan to."""
    conjuncts = where.parts if isinstance(where, And) else (where,)
    for part in conjuncts:
        column: Column | None = None
        values: list[Value] = []
        if isinstance(part, Compare) and part.op == "=":
            pair = (part.left, part.right)
            for col, lit in (pair, pair[::-1]):
                if isinstance(col, Column) and isinstance(lit, Literal):
                    column, values = col, [lit.value]
        elif isinstance(part, InList) and not part.negated and isinstance(part.operand, Column):
            column, values = part.operand, [v.value for v in part.values]
        if column is not None and not column.df and resolve.source(column) == 0:
            found = table.lookup(resolve.column(column), [v for v in values if v is not None])
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
        left = _getter(expr.left, resolve, expr.right)
        right = _getter(expr.right, resolve, expr.left)
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
    low_high = (_getter(expr.low, resolve, expr.operand), _getter(expr.high, resolve, expr.operand))
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


def _getter(
    operand: Operand, resolve: _Resolver, other: Operand | None = None
) -> Callable[[Row], Any]:
    """Reads an operand from a row; a literal compared with a date column is read as a date."""
    if isinstance(operand, Column):
        name = resolve(operand)
        return lambda row: row[name]
    value = operand.value
    if isinstance(other, Column):
        value = resolve.date_literal(other, value)
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
