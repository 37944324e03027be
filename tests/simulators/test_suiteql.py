"""The SuiteQL subset: parsing, Oracle-style semantics, and index use, without HTTP."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest

from simulators.erp.suiteql import (
    And,
    Column,
    ColumnType,
    Compare,
    InList,
    IsNull,
    Like,
    Literal,
    Not,
    Or,
    Query,
    Row,
    SelectItem,
    SuiteQLError,
    Value,
    execute,
    parse,
)
from simulators.erp.suiteql import (
    run as run_query,
)


class MemoryTable:
    """A table over rows in memory that records whether it was scanned."""

    name = "customer"
    columns: Mapping[str, ColumnType] = {
        "id": ColumnType.ID,
        "companyname": ColumnType.TEXT,
        "externalid": ColumnType.TEXT,
        "parent": ColumnType.ID,
        "balance": ColumnType.NUMBER,
        "isinactive": ColumnType.BOOLEAN,
    }

    def __init__(self, rows: list[Row]) -> None:
        self._rows = rows
        self.scans = 0
        self.lookups: list[tuple[str, list[Value]]] = []

    def rows(self) -> Iterable[Row]:
        self.scans += 1
        return iter(self._rows)

    def lookup(self, column: str, values: Sequence[Value]) -> list[Row] | None:
        if column not in ("id", "externalid"):
            return None
        self.lookups.append((column, list(values)))
        wanted = {str(v) for v in values}
        return [r for r in self._rows if str(r[column]) in wanted]


def _table() -> MemoryTable:
    names = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "O'Brien & Co"]
    rows: list[Row] = []
    for i, name in enumerate(names, start=1):
        rows.append(
            {
                "id": i,
                "companyname": name,
                "externalid": f"ext-{i}",
                "parent": None if i <= 2 else 1,
                "balance": None if i == 4 else Decimal(i * 100) + Decimal("0.5"),
                "isinactive": "T" if i == 5 else "F",
            }
        )
    # Stored out of id order: results must still come in id order by default.
    return MemoryTable(rows[::-1])


def run(q: str, table: MemoryTable | None = None) -> list[dict[str, Any]]:
    result = execute(parse(q), table or _table())
    names = [name for name, _ in result.columns]
    return [dict(zip(names, row, strict=True)) for row in result.rows]


def ids(q: str) -> list[int]:
    return [row["id"] for row in run(q)]


# --- parsing ---------------------------------------------------------------


def test_parse_builds_the_tree_with_precedence_and_aliases() -> None:
    query = parse(
        "select c.id, companyName AS name from Customer c "
        "where c.parent = 1 and (isinactive <> 'T' or balance is not null) "
        "and not externalid in ('a', 'b') order by name desc, id"
    )
    assert query.table == "customer" and query.alias == "c"
    assert query.items == (SelectItem("c.id", "id"), SelectItem("companyname", "name"))
    assert query.where == And(
        (
            Compare("=", Column("c.parent"), Literal(Decimal(1))),
            Or(
                (
                    Compare("<>", Column("isinactive"), Literal("T")),
                    IsNull(Column("balance"), negated=True),
                )
            ),
            Not(InList(Column("externalid"), (Literal("a"), Literal("b")))),
        )
    )
    assert [(o.column, o.descending) for o in query.order_by] == [("name", True), ("id", False)]


def test_parse_literals_escapes_negatives_and_not_forms() -> None:
    where = parse(
        "SELECT * FROM customer WHERE companyname = 'O''Brien' AND balance > -2.5 "
        "AND companyname NOT LIKE 'a%' AND id NOT BETWEEN 2 AND 3 AND id != 7"
    ).where
    assert isinstance(where, And)
    assert where.parts[0] == Compare("=", Column("companyname"), Literal("O'Brien"))
    assert where.parts[1] == Compare(">", Column("balance"), Literal(Decimal("-2.5")))
    assert where.parts[2] == Like(Column("companyname"), "a%", negated=True)
    assert where.parts[4] == Compare("<>", Column("id"), Literal(Decimal(7)))


@pytest.mark.parametrize(
    ("q", "problem"),
    [
        ("", "empty"),
        ("SELECT id FROM", "Unexpected end of query"),
        ("SELECT id customer", "Unexpected end of query"),
        ("SELECT id FRM customer", "Unexpected 'customer'"),
        ("SELECT id FROM customer WHERE", "Unexpected end of query"),
        ("SELECT id FROM customer WHERE id = ", "expected a column or a value"),
        ("SELECT id FROM customer WHERE id IN ()", "expected a column or a value"),
        ("SELECT id FROM customer WHERE (id = 1", "expected )"),
        ("SELECT id FROM customer WHERE id = 1 LIMIT 5", "'LIMIT' is not supported"),
        ("SELECT id FROM customer c RIGHT JOIN t i ON c.id = i.entity", "'RIGHT' is not supported"),
        ("SELECT id FROM customer c JOIN t i ON c.id = 1", "column equality"),
        ("SELECT BUILTIN.CONSOLIDATE(id) FROM customer", "BUILTIN.CONSOLIDATE is not supported"),
        ("SELECT DISTINCT id FROM customer", "'DISTINCT' is not supported"),
        ("SELECT id FROM customer WHERE name = 'open", "Unexpected character"),
        ("SELECT id FROM customer WHERE id ~ 1", "Unexpected character '~'"),
        ("SELECT id FROM customer WHERE id LIKE 1", "LIKE needs a quoted pattern"),
        ("SELECT id FROM customer WHERE id", "expected a comparison"),
    ],
)
def test_syntax_errors_name_the_problem(q: str, problem: str) -> None:
    with pytest.raises(SuiteQLError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse(q)


def test_parse_joins_and_builtin_df() -> None:
    query = parse(
        "SELECT t.id, BUILTIN.DF(t.status) AS state FROM transaction t "
        "INNER JOIN customer c ON c.id = t.entity LEFT OUTER JOIN x ON x.a = t.b AND x.c = c.d "
        "WHERE BUILTIN.DF(c.currency) = 'USD'"
    )
    assert query.items == (SelectItem("t.id", "id"), SelectItem("t.status", "state", df=True))
    assert [(j.table, j.alias, j.left) for j in query.joins] == [
        ("customer", "c", False), ("x", None, True),
    ]  # fmt: skip
    assert query.joins[0].on == Compare("=", Column("c.id"), Column("t.entity"))
    assert query.where == Compare("=", Column("c.currency", df=True), Literal("USD"))


def test_in_list_is_capped_at_oracles_1000() -> None:
    values = ", ".join(f"'{i}'" for i in range(1001))
    with pytest.raises(SuiteQLError, match="ORA-01795"):
        parse(f"SELECT id FROM customer WHERE id IN ({values})")
    ok = ", ".join(f"'{i}'" for i in range(1000))
    assert isinstance(parse(f"SELECT id FROM customer WHERE id IN ({ok})").where, InList)


# --- execution -------------------------------------------------------------


def test_select_star_defaults_to_id_order() -> None:
    rows = run("SELECT * FROM customer")
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert list(rows[0]) == list(MemoryTable.columns)


def test_projection_aliases_and_order_by_alias_and_qualified_names() -> None:
    rows = run("SELECT c.companyname AS n, c.id FROM customer c ORDER BY n DESC")
    assert [r["n"] for r in rows] == [
        "Umbrella", "O'Brien & Co", "Initech", "Hooli", "Globex", "Acme",
    ]  # fmt: skip
    assert set(rows[0]) == {"n", "id"}


def test_comparisons_coerce_text_and_numbers_like_oracle() -> None:
    assert ids("SELECT id FROM customer WHERE id = '3'") == [3]
    assert ids("SELECT id FROM customer WHERE id >= 5") == [5, 6]
    assert ids("SELECT id FROM customer WHERE balance < 300") == [1, 2]
    assert ids("SELECT id FROM customer WHERE companyname = 'acme'") == []  # case-sensitive
    assert ids("SELECT id FROM customer WHERE companyname > 'I'") == [3, 4, 6]


def test_null_is_unknown_in_comparisons_and_in_lists() -> None:
    # parent is NULL for 1 and 2: neither "= 1" nor "<> 1" matches them.
    assert ids("SELECT id FROM customer WHERE parent = 1") == [3, 4, 5, 6]
    assert ids("SELECT id FROM customer WHERE parent <> 1") == []
    assert ids("SELECT id FROM customer WHERE NOT parent = 1") == []
    assert ids("SELECT id FROM customer WHERE parent IS NULL") == [1, 2]
    assert ids("SELECT id FROM customer WHERE parent NOT IN (5)") == [3, 4, 5, 6]
    assert ids("SELECT id FROM customer WHERE balance IS NULL OR id = 1") == [1, 4]
    assert ids("SELECT id FROM customer WHERE parent IS NULL OR parent <> 1") == [1, 2]


def test_in_lists_mix_text_and_numbers_like_comparisons() -> None:
    assert ids("SELECT id FROM customer WHERE id IN ('3', 4, '04.0')") == [3, 4]
    assert ids("SELECT id FROM customer WHERE companyname IN ('Acme', 'Hooli')") == [1, 5]
    assert ids("SELECT id FROM customer WHERE companyname NOT IN ('Acme')") == [2, 3, 4, 5, 6]
    # A NULL in the list, or a value that cannot be compared, makes "not found" unknown.
    assert ids("SELECT id FROM customer WHERE companyname NOT IN ('Acme', NULL)") == []
    assert ids("SELECT id FROM customer WHERE companyname IN ('Acme', NULL)") == [1]
    assert ids("SELECT id FROM customer WHERE companyname NOT IN (5)") == []
    assert ids("SELECT id FROM customer WHERE id NOT IN ('x')") == []
    assert ids("SELECT id FROM customer WHERE balance IN (100.5, '300.50')") == [1, 3]


def test_and_or_not_and_parentheses() -> None:
    q = "SELECT id FROM customer WHERE (id = 1 OR id = 5) AND isinactive = 'T' OR NOT (id <= 5)"
    assert ids(q) == [5, 6]
    assert ids("SELECT id FROM customer WHERE id BETWEEN 2 AND 4") == [2, 3, 4]
    assert ids("SELECT id FROM customer WHERE id NOT BETWEEN 2 AND 4") == [1, 5, 6]


def test_like_wildcards_are_case_insensitive() -> None:
    assert ids("SELECT id FROM customer WHERE companyname LIKE '%o%'") == [2, 5, 6]
    assert ids("SELECT id FROM customer WHERE companyname LIKE 'h_oli'") == [5]
    assert ids("SELECT id FROM customer WHERE companyname NOT LIKE 'U%'") == [1, 2, 3, 5, 6]
    assert ids("SELECT id FROM customer WHERE companyname LIKE 'o''brien%'") == [6]


def test_order_by_puts_nulls_last_ascending_and_first_descending() -> None:
    assert ids("SELECT id FROM customer ORDER BY balance") == [1, 2, 3, 5, 6, 4]
    assert ids("SELECT id FROM customer ORDER BY balance DESC") == [4, 6, 5, 3, 2, 1]
    assert ids("SELECT id FROM customer ORDER BY parent DESC, id DESC") == [2, 1, 6, 5, 4, 3]


def test_count_star() -> None:
    assert run("SELECT COUNT(*) FROM customer WHERE parent = 1") == [{"expr1": 4}]
    assert run("SELECT COUNT(*) AS n FROM customer") == [{"n": 6}]
    with pytest.raises(SuiteQLError, match="GROUP BY"):
        run("SELECT id, COUNT(*) FROM customer")


@pytest.mark.parametrize(
    ("q", "problem"),
    [
        ("SELECT nope FROM customer", "Field 'nope' for record 'customer' was not found"),
        ("SELECT id FROM customer WHERE nope = 1", "Field 'nope'"),
        ("SELECT id FROM customer ORDER BY nope", "Field 'nope'"),
        ("SELECT x.id FROM customer c", "Unknown table or alias 'x'"),
    ],
)
def test_unknown_columns_are_errors(q: str, problem: str) -> None:
    with pytest.raises(SuiteQLError, match=problem):
        run(q)


def test_equality_and_in_use_the_index_instead_of_a_scan() -> None:
    table = _table()
    assert ids_of(table, "SELECT id FROM customer WHERE externalid IN ('ext-2', 'ext-5')") == [
        2, 5,
    ]  # fmt: skip
    assert ids_of(table, "SELECT id FROM customer WHERE isinactive = 'F' AND 4 = id") == [4]
    assert table.scans == 0
    assert table.lookups == [("externalid", ["ext-2", "ext-5"]), ("id", [Decimal(4)])]
    # Not indexable (an OR, a column the table cannot look up): a scan, same semantics.
    assert ids_of(table, "SELECT id FROM customer WHERE id = 1 OR id = 2") == [1, 2]
    assert ids_of(table, "SELECT id FROM customer WHERE companyname = 'Hooli'") == [5]
    assert table.scans == 2


def ids_of(table: MemoryTable, q: str) -> list[int]:
    return [row["id"] for row in run(q, table)]


def test_query_without_where_scans_once() -> None:
    table = _table()
    result = execute(Query("customer", None), table)
    assert len(result.rows) == 6 and table.scans == 1


class Orders(MemoryTable):
    """A second table, joined to customers by ``customer``; ``status`` has a display name."""

    name = "orders"
    columns: Mapping[str, ColumnType] = {
        "id": ColumnType.ID,
        "customer": ColumnType.ID,
        "status": ColumnType.TEXT,
    }
    displays: Mapping[str, str] = {"status": "status#df"}


def _orders() -> Orders:
    names = {"A": "Open", "B": "Paid"}
    rows: list[Row] = [
        {"id": n, "customer": customer, "status": status, "status#df": names[status]}
        for n, (customer, status) in enumerate([(1, "A"), (1, "B"), (3, "A"), (9, "B")], start=1)
    ]
    return Orders(rows)


def run_join(q: str, customers: MemoryTable, orders: Orders) -> list[dict[str, Any]]:
    tables: dict[str, Any] = {"customer": customers, "orders": orders}
    result = run_query(parse(q), lambda name: tables[name])
    names = [name for name, _ in result.columns]
    return [dict(zip(names, row, strict=True)) for row in result.rows]


def test_inner_and_left_joins_use_the_index_of_the_joined_table() -> None:
    customers, orders = _table(), _orders()
    q = (
        "SELECT o.id, c.companyname, BUILTIN.DF(o.status) AS state FROM orders o "
        "JOIN customer c ON c.id = o.customer ORDER BY o.id"
    )
    assert run_join(q, customers, orders) == [
        {"id": 1, "companyname": "Acme", "state": "Open"},
        {"id": 2, "companyname": "Acme", "state": "Paid"},
        {"id": 3, "companyname": "Initech", "state": "Open"},
    ]  # order 4's customer 9 does not exist: an inner join drops it
    assert customers.scans == 0 and customers.lookups == [("id", ["1", "3", "9"])]
    q = (
        "SELECT c.id, o.id AS orderid FROM customer c LEFT JOIN orders o ON o.customer = c.id "
        "WHERE c.id <= 3 AND (o.status IS NULL OR BUILTIN.DF(o.status) = 'Open') ORDER BY c.id"
    )
    assert [(r["id"], r["orderid"]) for r in run_join(q, customers, orders)] == [
        (1, 1), (2, None), (3, 3),
    ]  # fmt: skip
    q = "SELECT COUNT(*) AS n FROM customer c JOIN orders o ON o.customer = c.id AND o.id > 1"
    assert run_join(q, customers, orders) == [{"n": 2}]
    with pytest.raises(SuiteQLError, match="ambiguously"):
        run_join(
            "SELECT id FROM customer JOIN orders ON orders.customer = customer.id",
            customers,
            orders,
        )
