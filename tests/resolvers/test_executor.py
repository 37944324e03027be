"""The executor's shortcuts give graphql-core's answers, errors included.

Each query runs twice over the same objects: through a schema with
:class:`~resolvers.executor.PlainFieldsExecutor` and lean resolvers, and through
the same schema as strawberry builds it. Data and errors (messages, paths) must
be equal, and the shortcuts must have been taken (fewer fields through
graphql-core's ``execute_field``), so a shortcut silently switched off fails too.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest
import strawberry
from graphql import GraphQLObjectType
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.permission import BasePermission
from strawberry.types import Info

from resolvers.executor import PlainFieldsExecutor, lean_resolvers
from resolvers.known import prepare


@strawberry.enum
class Color(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Amount:
    value: Decimal
    currency: str


class Deny(BasePermission):
    message = "denied"

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
        return False


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Item(Named):
    id: strawberry.ID
    count: int
    maybe: int | None
    must: int
    color: Color
    at: datetime
    amount: Amount | None
    amounts: list[Amount]
    sparse: list[Amount | None]
    strict: list[Amount]
    tags: list[str]
    secret: str | None = strawberry.field(permission_classes=[Deny])

    @strawberry.field
    def doubled(self, info: Info[Any, Any]) -> int:
        assert info.field_name == "doubled"  # strawberry's Info, as without the shortcut
        return self.count * 2

    @strawberry.field
    async def later(self) -> int:
        await asyncio.sleep(0)
        return self.count

    @strawberry.field
    def times(self, n: int) -> int:
        return self.count * n

    @strawberry.field
    def painted(
        self, info: Info[Any, Any], color: Color = Color.RED, tags: list[str] | None = None
    ) -> str:
        assert info.field_name == "painted"
        assert isinstance(color, Color)  # converted as strawberry converts it
        return f"{self.id}:{color.value}:{','.join(tags or ())}"

    # (strawberry.field with arguments is typed as returning Any: see pyproject's mypy)
    @strawberry.field(permission_classes=[Deny])  # type: ignore[untyped-decorator]
    def guarded(self) -> int | None:
        return self.count


@strawberry.type
class Box:
    item: Item
    wrong: Item  # holds something else: graphql-core's is_type_of error


def item(number: int, **changes: Any) -> Item:
    values: dict[str, Any] = {
        "name": f"item {number}",
        "id": strawberry.ID(f"I{number}"),
        "count": number,
        "maybe": None if number % 2 else number,
        "must": number,
        "color": Color.RED if number % 2 else Color.BLUE,
        "at": datetime(2026, 1, number, tzinfo=UTC),
        "amount": Amount(value=Decimal(f"{number}.50"), currency="EUR") if number % 3 else None,
        "amounts": [Amount(value=Decimal(number), currency="USD")] * 2,
        "sparse": [None, Amount(value=Decimal("0.01"), currency="JPY")],
        "strict": [Amount(value=Decimal(1), currency="GBP")],
        "tags": ("a", "b"),  # a tuple where the schema says list
        "secret": "s3cret",
    }
    values.update(changes)
    return Item(**values)


def items() -> list[Item]:
    return [
        item(1),
        item(2),
        item(3, must=None),  # non-null field without a value
        item(4, count="many"),  # not an Int
        item(5, strict=[None]),  # null item in a list of non-null
        item(6, amount=Amount(value=Decimal(1), currency=None)),  # type: ignore[arg-type]  # null inside a plain object
        item(7, color="green"),  # not a Color
        item(8, tags=iter(["x", "y"])),  # an iterator where the schema says list
    ]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return items()

    @strawberry.field
    def good(self) -> list[Item]:
        return items()[:2]

    @strawberry.field
    def boxes(self) -> list[Box]:
        return [Box(item=item, wrong=item.amount) for item in items()[:2]]  # type: ignore[arg-type]

    @strawberry.field
    def named(self) -> list[Named]:
        return list[Named](items()[:2])


class Counting(PlainFieldsExecutor):
    fields_executed = 0

    def execute_field(
        self,
        parent_type: Any,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        Counting.fields_executed += 1
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )


def lean(schema: strawberry.Schema) -> strawberry.Schema:
    lean_resolvers(
        schema._schema,
        schema.config,
        schema.schema_converter.scalar_registry,
    )
    return schema


def schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    fast = lean(strawberry.Schema(Query, execution_context_class=Counting))
    return fast, strawberry.Schema(Query)


FIELDS = """
  id name count maybe must color at doubled later times(n: 3) tags
  amount { value currency } amounts { value currency }
  sparse { value currency } strict { currency }
"""

QUERIES = {
    "everything": f"{{ items {{ {FIELDS} }} }}",
    "aliases and typename": """{ items { __typename key: id again: id
        total: amount { v: value c: currency __typename } } }""",
    "fragments and directives": """query ($skip: Boolean!, $with: Boolean!) {
        items { ...Bits amount @skip(if: $skip) { value }
                amounts @include(if: $with) { currency } }
      }
      fragment Bits on Item { id count ... on Item { color } }""",
    "merged selections": "{ items { amount { value } amount { currency } id } }",
    "permission": "{ items { id secret } }",
    "typed objects": "{ boxes { item { id amount { value } } } }",
    "wrong object": "{ boxes { wrong { id } } }",
    "interface": "{ named { name ... on Item { id amount { value } } } }",
    "arguments": """query ($c: Color!, $t: [String!]) { items { id times(n: 3)
        a: painted b: painted(color: BLUE) c: painted(color: $c, tags: $t)
        d: painted(tags: ["x", "y"]) } }""",
}


@pytest.mark.parametrize("name", list(QUERIES))
def test_answers_and_errors_are_graphql_cores(name: str) -> None:
    fast, reference = schemas()
    variables = {"skip": False, "with": True, "c": "BLUE", "t": ["v"]}
    Counting.fields_executed = 0
    got = asyncio.run(fast.execute(QUERIES[name], variable_values=variables))
    expected = asyncio.run(reference.execute(QUERIES[name], variable_values=variables))
    assert got.data == expected.data
    assert sorted(str(e.formatted) for e in got.errors or []) == sorted(
        str(e.formatted) for e in expected.errors or []
    )
    assert Counting.fields_executed > 0


def count(value: object) -> int:
    """Fields in an answer: every key of every object."""
    if isinstance(value, dict):
        return sum(1 + count(v) for v in value.values())
    if isinstance(value, list):
        return sum(count(v) for v in value)
    return 0


def test_plain_fields_skip_graphql_cores_field_execution() -> None:
    fast, _ = schemas()
    Counting.fields_executed = 0
    result = asyncio.run(fast.execute(QUERIES["everything"].replace("items", "good")))
    assert result.data is not None, result.errors
    answered = count(result.data["good"])
    # Only the root field and the fields with resolvers took the long way.
    assert Counting.fields_executed < answered / 3, (Counting.fields_executed, answered)


def test_errors_keep_their_paths() -> None:
    fast, _ = schemas()
    for query, path in (
        ("{ items { must } }", ["items", 2, "must"]),
        ("{ items { strict { currency } } }", ["items", 4, "strict", 0]),
    ):
        result = asyncio.run(fast.execute(query))
        assert [e.path for e in result.errors or []] == [path]
        assert result.data is None  # a non-null error propagates up to the non-null list
    # ... and stops at the first nullable field.
    result = asyncio.run(fast.execute("{ items { amount { currency } } }"))
    assert [e.path for e in result.errors or []] == [["items", 5, "amount", "currency"]]
    assert result.data is not None
    assert [row["amount"] for row in result.data["items"][4:6]] == [{"currency": "EUR"}, None]


def test_denied_fields_stay_denied() -> None:
    fast, _ = schemas()
    result = asyncio.run(fast.execute("{ items { id secret } }"))
    assert result.data is not None
    assert {row["secret"] for row in result.data["items"]} == {None}
    assert result.errors and {e.message for e in result.errors} == {"denied"}


def test_lean_resolvers_only_where_nothing_is_skipped() -> None:
    fast, _ = schemas()
    item_type = fast._schema.type_map["Item"]
    assert isinstance(item_type, GraphQLObjectType)
    fields = item_type.fields
    replaced = {
        name
        for name, field in fields.items()
        if field.resolve is not None and field.resolve.__qualname__.startswith("_lean.")
    }
    assert replaced == {"doubled", "later", "times", "painted"}  # not `guarded` (permission)


@strawberry.type
class Shelf:
    rows: list[Item]


@strawberry.type
class ShelfQuery:
    @strawberry.field
    def shelf(self, info: Info[Any, Any]) -> Shelf:
        return Shelf(rows=info.root_value)


def test_prepared_values_are_used_and_permissions_still_apply() -> None:
    prepared = item(1)
    prepare(prepared, doubled=-1, guarded=7)
    schema = lean(strawberry.Schema(ShelfQuery, execution_context_class=PlainFieldsExecutor))
    result = asyncio.run(
        schema.execute("{ shelf { rows { id doubled guarded } } }", root_value=[prepared, item(2)])
    )
    assert result.data == {
        "shelf": {
            "rows": [
                {"id": "I1", "doubled": -1, "guarded": None},  # prepared; guard still asked
                {"id": "I2", "doubled": 4, "guarded": None},  # its resolver ran
            ]
        }
    }
    assert [e.path for e in result.errors or []] == [
        ["shelf", "rows", 0, "guarded"],
        ["shelf", "rows", 1, "guarded"],
    ]
