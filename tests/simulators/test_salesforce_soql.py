"""The shared Salesforce machinery: SOQL parsing and execution, ids, cursors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from simulators.salesforce.cursors import QueryCursors
from simulators.salesforce.errors import SalesforceError
from simulators.salesforce.executor import compile_query, execute, like_regex
from simulators.salesforce.ids import checksum_suffix, is_salesforce_id, make_id, new_record_ids
from simulators.salesforce.schema import FieldSpec, FieldType, SObjectType, standard_fields
from simulators.salesforce.soql import (
    BoolOp,
    Comparison,
    InList,
    Not,
    OrderItem,
    SoqlSyntaxError,
    parse,
)
from simulators.storage import Document, DocumentStore

WIDGET = SObjectType(
    name="Widget",
    key_prefix="a01",
    fields=(
        *standard_fields(),
        FieldSpec("Name", FieldType.STRING),
        FieldSpec("Code", FieldType.PICKLIST),
        FieldSpec("OwnerId", FieldType.REFERENCE, reference_to="Widget"),
        FieldSpec("Qty", FieldType.INT),
        FieldSpec("Price", FieldType.CURRENCY),
        FieldSpec("Due", FieldType.DATE),
        FieldSpec("Seen", FieldType.DATETIME),
        FieldSpec("Active", FieldType.BOOLEAN),
    ),
)
OBJECTS = {"widget": WIDGET}


def wid(n: int) -> str:
    return f"a01TS0{n:09d}AAA"


def widget(n: int, name: str | None, **fields: object) -> tuple[str, Document]:
    return wid(n), {"Id": wid(n), "Name": name, **fields}


WIDGETS = [
    widget(
        1,
        "Acme Anvil",
        Code="A",
        OwnerId=None,
        Qty=5,
        Price=10.5,
        Due="2026-01-15",
        Seen="2026-01-15T10:00:00.000+0000",
        Active=True,
    ),
    widget(
        2,
        "acme rocket",
        Code="B",
        OwnerId=wid(1),
        Qty=50,
        Price=99.99,
        Due="2026-03-01",
        Seen="2026-02-01T00:00:00.000+0000",
        Active=False,
    ),
    widget(
        3,
        "Bolt 50%_off",
        Code=None,
        OwnerId=wid(1),
        Qty=None,
        Price=None,
        Due=None,
        Seen=None,
        Active=False,
    ),
    widget(
        4,
        "Bolt 500",
        Code="A",
        OwnerId=wid(2),
        Qty=7,
        Price=0.1,
        Due="2025-12-31",
        Seen="2025-12-31T23:59:59.000+0000",
        Active=True,
    ),
    widget(
        5,
        "O'Brien \\ Sons",
        Code="C",
        OwnerId=None,
        Qty=5,
        Price=10.5,
        Due="2026-01-15",
        Seen="2026-01-15T09:00:00.000+0000",
        Active=True,
    ),
    widget(
        6, None, Code="B", OwnerId=wid(2), Qty=1, Price=1, Due="2026-06-30", Seen=None, Active=None
    ),
]


class CountingStore(DocumentStore):
    """Counts full scans, to tell an index lookup from a scan."""

    scans = 0

    def all(self, kind: str) -> list[Document]:
        self.scans += 1
        return super().all(kind)


@pytest.fixture(scope="module")
async def store(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str | None, run_id: str
) -> AsyncIterator[CountingStore]:
    if postgres_url:  # the schema is dropped with the run's others (prefix run_id)
        store = CountingStore(postgres_url, schema=f"{run_id}_soql")
    else:
        path = tmp_path_factory.mktemp("soql") / "widgets.sqlite3"
        store = CountingStore(f"sqlite+aiosqlite:///{path}")
    await store.open(reset=True)
    await store.put_many("Widget", WIDGETS)
    bulk = [widget(1000 + n, f"Bulk {n:05d}", OwnerId=wid(100 + n % 400)) for n in range(5000)]
    await store.put_many("Widget", bulk)
    yield store
    await store.close()
    if postgres_url:
        engine = create_async_engine(postgres_url)
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{run_id}_soql" CASCADE'))
        await engine.dispose()


def ids(store: DocumentStore, soql: str) -> list[int]:
    """The matching widgets' numbers, in result order (bulk widgets excluded)."""
    rows = execute(compile_query(parse(soql), OBJECTS), store)
    return [int(doc["Id"][6:15]) for doc in rows if int(doc["Id"][6:15]) < 1000]


def error_code(soql: str) -> str:
    with pytest.raises(SalesforceError) as caught:
        compile_query(parse(soql), OBJECTS)
    return caught.value.error_code


# -- parser --------------------------------------------------------------------------


def test_parse_full_grammar_case_insensitively() -> None:
    query = parse(
        "select Id, name from Widget where (Name like 'Ac\\'me%' or Id = 'a01TS0000000001AAA') "
        "and not OwnerId = null order by Name desc nulls first, Id limit 5 offset 2"
    )
    assert query.sobject == "Widget" and query.fields == ("Id", "name")
    assert isinstance(query.where, BoolOp) and query.where.op == "AND"
    first, second = query.where.operands
    assert isinstance(first, BoolOp) and first.op == "OR"
    like = first.operands[0]
    assert isinstance(like, Comparison) and like.op == "LIKE"
    assert like.value.value == "Ac'me%" and like.value.raw == "Ac\\'me%"
    assert isinstance(second, Not)
    assert query.order_by == (OrderItem("Name", True, True), OrderItem("Id", False, True))
    assert (query.limit, query.offset) == (5, 2)


def test_parse_literals_in_lists_and_count() -> None:
    query = parse(
        "SELECT COUNT() FROM Widget WHERE Due >= 2026-01-01 AND Seen < 2026-01-01T00:00:00Z "
        "AND Price > -5.5 AND Active = TRUE AND Code NOT IN ('A', null)"
    )
    assert query.count and query.fields == ()
    assert isinstance(query.where, BoolOp)
    due, seen, price, active, codes = query.where.operands
    assert isinstance(due, Comparison) and due.value.value == date(2026, 1, 1)
    assert isinstance(seen, Comparison) and seen.value.kind == "datetime"
    assert isinstance(price, Comparison) and price.value.value == Decimal("-5.5")
    assert isinstance(active, Comparison) and active.value.value is True
    assert isinstance(codes, InList) and codes.negated
    assert [v.kind for v in codes.values] == ["string", "null"]


@pytest.mark.parametrize(
    ("soql", "fragment"),
    [
        ("SELECT FROM Widget", "unexpected token: 'FROM'"),
        ("SELECT Id FROM Widget WHERE Qty = 1 AND Qty = 2 OR Qty = 3", "parentheses"),
        ("SELECT Id FROM Widget WHERE Name = 'x", "unterminated"),
        ("SELECT Id FROM Widget WHERE Name = 'x\\q'", "invalid escape"),
        ("SELECT Id FROM Widget LIMIT x", "unexpected token: 'x'"),
        ("SELECT Id FROM Widget LIMIT 1 garbage", "unexpected token: 'garbage'"),
        ("SELECT Id FROM Widget WHERE Id IN (SELECT Id FROM Widget)", "subqueries"),
        ("SELECT Id FROM Widget WHERE Name LIKE 5", "LIKE needs a string"),
        ("SELECT Id FROM Widget WHERE Qty ~ 5", "unexpected character"),
    ],
)
def test_syntax_errors_name_the_problem(soql: str, fragment: str) -> None:
    with pytest.raises(SoqlSyntaxError) as caught:
        parse(soql)
    assert fragment in str(caught.value)


# -- executor --------------------------------------------------------------------------


def test_equality_and_in_ignore_case_for_text(store: CountingStore) -> None:
    assert ids(store, "SELECT Id FROM Widget WHERE Name = 'ACME ANVIL'") == [1]
    assert ids(store, "SELECT Id FROM Widget WHERE Code IN ('a', 'c')") == [1, 4, 5]
    assert ids(store, "SELECT Id FROM Widget WHERE Name = 'O\\'Brien \\\\ Sons'") == [5]


def test_not_equal_and_not_in_include_nulls_like_soql(store: CountingStore) -> None:
    assert ids(store, "SELECT Id FROM Widget WHERE Code != 'A'") == [2, 3, 5, 6]
    assert ids(store, "SELECT Id FROM Widget WHERE Code NOT IN ('A', 'B')") == [3, 5]
    assert ids(store, "SELECT Id FROM Widget WHERE Code IN ('C', null)") == [3, 5]
    assert ids(store, "SELECT Id FROM Widget WHERE Code = null") == [3]
    assert ids(store, "SELECT Id FROM Widget WHERE Name != null AND Active = null") == []
    assert ids(store, "SELECT Id FROM Widget WHERE Active = null") == [6]


def test_like_is_case_insensitive_with_wildcards_and_escapes(store: CountingStore) -> None:
    assert ids(store, "SELECT Id FROM Widget WHERE Name LIKE 'acme%'") == [1, 2]
    assert ids(store, "SELECT Id FROM Widget WHERE Name LIKE 'bolt 50_'") == [4]
    assert ids(store, "SELECT Id FROM Widget WHERE Name LIKE 'Bolt 50\\%\\_%'") == [3]
    assert ids(store, "SELECT Id FROM Widget WHERE Name LIKE '%\\\\%'") == [5]
    assert like_regex("a.b(c)%").fullmatch("A.B(C)xyz") is not None
    assert like_regex("a.b%").fullmatch("axb") is None


def test_comparisons_on_numbers_dates_and_datetimes(store: CountingStore) -> None:
    assert ids(store, "SELECT Id FROM Widget WHERE Qty > 5") == [2, 4]
    assert ids(store, "SELECT Id FROM Widget WHERE Qty >= 5 AND Qty <= 7") == [1, 4, 5]
    assert ids(store, "SELECT Id FROM Widget WHERE Price < 10.5") == [4, 6]
    assert ids(store, "SELECT Id FROM Widget WHERE Due < 2026-01-15") == [4]
    assert ids(store, "SELECT Id FROM Widget WHERE Due > 2026-01-15") == [2, 6]
    soql = "SELECT Id FROM Widget WHERE Seen >= 2026-01-15T09:30:00+00:00"
    assert ids(store, soql) == [1, 2]
    # 10:00 UTC is 11:00 at +01:00: the zone is honoured.
    assert ids(store, "SELECT Id FROM Widget WHERE Seen = 2026-01-15T11:00:00+01:00") == [1]
    assert ids(store, "SELECT Id FROM Widget WHERE Active = TRUE") == [1, 4, 5]


def test_parentheses_and_not_group_conditions(store: CountingStore) -> None:
    soql = "SELECT Id FROM Widget WHERE (Code = 'A' OR Code = 'C') AND Qty = 5"
    assert ids(store, soql) == [1, 5]
    soql = "SELECT Id FROM Widget WHERE Code = 'A' OR (Code = 'C' AND Qty = 5)"
    assert ids(store, soql) == [1, 4, 5]
    assert ids(store, "SELECT Id FROM Widget WHERE NOT (Code = 'A' OR Code = null)") == [2, 5, 6]


def test_order_by_directions_nulls_limit_offset(store: CountingStore) -> None:
    base = (
        "SELECT Id FROM Widget WHERE Id IN ('a01TS0000000001AAA', 'a01TS0000000002AAA', "
        "'a01TS0000000003AAA', 'a01TS0000000004AAA', 'a01TS0000000005AAA', 'a01TS0000000006AAA')"
    )
    assert ids(store, f"{base} ORDER BY Name") == [6, 1, 2, 3, 4, 5]
    assert ids(store, f"{base} ORDER BY Name DESC") == [5, 4, 3, 2, 1, 6]
    assert ids(store, f"{base} ORDER BY Name NULLS LAST") == [1, 2, 3, 4, 5, 6]
    assert ids(store, f"{base} ORDER BY Name DESC NULLS FIRST") == [6, 5, 4, 3, 2, 1]
    assert ids(store, f"{base} ORDER BY Qty DESC, Name") == [2, 4, 1, 5, 6, 3]
    assert ids(store, f"{base} ORDER BY Price, Id DESC LIMIT 3") == [3, 4, 6]
    assert ids(store, f"{base} ORDER BY Price, Id DESC LIMIT 2 OFFSET 3") == [5, 1]


def test_binding_errors_use_salesforce_codes(store: CountingStore) -> None:
    assert error_code("SELECT Nope FROM Widget") == "INVALID_FIELD"
    assert error_code("SELECT Id FROM Widget WHERE Nope = 'x'") == "INVALID_FIELD"
    assert error_code("SELECT Id FROM Widget ORDER BY Nope") == "INVALID_FIELD"
    assert error_code("SELECT Id FROM Gadget") == "INVALID_TYPE"
    assert error_code("SELECT Id FROM Widget WHERE Due = '2026-01-01'") == "INVALID_FIELD"
    assert error_code("SELECT Id FROM Widget WHERE Qty = '5'") == "INVALID_FIELD"
    assert error_code("SELECT Id FROM Widget WHERE Name = 5") == "INVALID_FIELD"
    assert error_code("SELECT Id FROM Widget WHERE Qty LIKE '5%'") == "INVALID_FIELD"
    assert error_code("SELECT Id FROM Widget WHERE OwnerId = 'bogus'") == (
        "INVALID_QUERY_FILTER_OPERATOR"
    )
    assert error_code("SELECT Id, id FROM Widget") == "MALFORMED_QUERY"
    assert error_code("SELECT Id FROM Widget OFFSET 2001") == "NUMBER_OUTSIDE_VALID_RANGE"


def test_id_and_reference_filters_use_the_index_not_a_scan(store: CountingStore) -> None:
    owners = [wid(100 + n) for n in range(200)]
    soql = (
        "SELECT Id, Name FROM Widget WHERE OwnerId IN ("
        + ",".join(f"'{o}'" for o in owners)
        + ") AND Name LIKE 'bulk%' ORDER BY Name"
    )
    compiled = compile_query(parse(soql), OBJECTS)
    assert compiled.lookup is not None and compiled.lookup[0] == "OwnerId"
    scans = store.scans
    rows = execute(compiled, store)
    assert store.scans == scans
    expected = sorted(f"Bulk {n:05d}" for n in range(5000) if 100 + n % 400 < 300)
    assert [r["Name"] for r in rows] == expected
    # An OR at the top cannot be narrowed by one field: it scans, with the same semantics.
    compiled = compile_query(parse(f"{soql.split(' AND ')[0]} OR Qty = 5"), OBJECTS)
    assert compiled.lookup is None
    assert len(execute(compiled, store)) == len(expected) + 2
    assert store.scans == scans + 1
    by_id = compile_query(parse(f"SELECT Id FROM Widget WHERE Id = '{wid(4)}'"), OBJECTS)
    assert by_id.lookup == ("Id", (wid(4),))
    assert [d["Id"] for d in execute(by_id, store)] == [wid(4)]


# -- ids and cursors ---------------------------------------------------------------------


def test_generated_ids_have_prefix_length_and_checksum(store: CountingStore) -> None:
    record_id = make_id("001", 12345)
    assert len(record_id) == 18 and record_id.startswith("001") and is_salesforce_id(record_id)
    assert record_id[15:] == checksum_suffix(record_id[:15])
    # The real algorithm: uppercase positions of each 5-char chunk as a 5-bit index.
    assert checksum_suffix("001A0000006Vm9r") == "IAC"
    fresh = new_record_ids(store, "Widget", "a01", 3)
    assert len(set(fresh)) == 3 and all(store.get("Widget", i) is None for i in fresh)
    assert not is_salesforce_id("001-bad") and not is_salesforce_id(None)


def test_cursors_expire_when_idle_and_evict_the_oldest() -> None:
    cursors = QueryCursors(ttl_s=60, max_cursors=2)
    first = cursors.open("Widget", ("Id",), ["a"], 200)
    second = cursors.open("Widget", ("Id",), ["b"], 200)
    assert cursors.get(first) is not None  # touching makes `second` the oldest
    third = cursors.open("Widget", ("Id",), ["c"], 200)
    assert cursors.get(second) is None
    assert cursors.get(first) is not None and cursors.get(third) is not None
    idle = QueryCursors(ttl_s=-1)
    locator = idle.open("Widget", ("Id",), ["a"], 200)
    assert idle.get(locator) is None


def test_relationship_paths_in_select_where_and_order_by(store: CountingStore) -> None:
    assert ids(store, "SELECT Id FROM Widget WHERE Owner.Name LIKE 'acme%'") == [2, 3, 4, 6]
    assert ids(store, "SELECT Id FROM Widget WHERE owner.owner.name = 'ACME ANVIL'") == [4, 6]
    ordered = "SELECT Id FROM Widget WHERE Id IN ({}) ORDER BY Owner.Name DESC NULLS LAST, Id"
    listed = ", ".join(f"'{wid(n)}'" for n in range(1, 7))
    assert ids(store, ordered.format(listed)) == [4, 6, 2, 3, 1, 5]
    compiled = compile_query(parse("SELECT owner.NAME, Owner.Owner.Id FROM Widget"), OBJECTS)
    assert compiled.fields == ("Owner.Name", "Owner.Owner.Id")


def test_relationship_path_errors() -> None:
    assert error_code("SELECT Nope.Name FROM Widget") == "INVALID_FIELD"
    assert error_code("SELECT Name.Id FROM Widget") == "INVALID_FIELD"
    assert error_code("SELECT Owner.Nope FROM Widget") == "INVALID_FIELD"
    assert error_code("SELECT Owner.Name, owner.name FROM Widget") == "MALFORMED_QUERY"
    deep = "SELECT " + "Owner." * 6 + "Name FROM Widget"
    assert error_code(deep) == "MALFORMED_QUERY"
    assert error_code("SELECT Id FROM Widget WHERE Owner.Qty = 'x'") == "INVALID_FIELD"
