"""Request limits, in process: document shape, input sizes, cost, the byte-bounded cache."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import get_operation_ast, parse

from api.graphiql import example
from resolvers.limits import Limits
from resolvers.limits.cache import ByteBoundedLRU
from resolvers.limits.cost import operation_cost
from resolvers.limits.fragments import fragment_order
from resolvers.limits.merging import merge_pairs
from resolvers.limits.shape import CAP, measure
from resolvers.schema import build_schema

QUOTE_TO_CASH = example("quote_to_cash")
SCHEMA = build_schema()


def fragment_chain(length: int = 21, leaf: str = "id") -> str:
    """``length`` fragments, each spreading the next twice: 2^length leaves once expanded."""
    fragments = "".join(
        f"fragment F{i} on Customer {{ ...F{i + 1} ...F{i + 1} }}\n" for i in range(length)
    )
    return (
        "query Chain { customers { edges { node { ...F0 } } } }\n"
        + fragments
        + f"fragment F{length} on Customer {{ {leaf} }}"
    )


def thirty_aliases() -> str:
    """The measured query: 30 aliases of customers(first: 100) with contracts, invoices..."""
    one = (
        "customers(first: 100) { edges { node { id name contracts { edges { node { id number "
        "invoices { id number total { amount currency } } "
        "revenueSchedule { id lines { period amount { amount } } } } } } } } }"
    )
    return "query Aliases { " + " ".join(f"a{i}: {one}" for i in range(30)) + " }"


def cost_of(query: str, variables: dict[str, Any] | None = None) -> int:
    document = parse(query)
    operation = get_operation_ast(document)
    assert operation is not None
    order = fragment_order(document)
    return operation_cost(SCHEMA._schema, operation, order.ordered, variables or {}, Limits())


async def refusal(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    result = await SCHEMA.execute(query, variable_values=variables)
    assert result.data is None
    (error,) = result.errors or []
    assert error.extensions is not None
    return {"message": error.message, **error.extensions}


async def test_a_fragment_chain_is_measured_once_per_fragment_and_refused() -> None:
    refused = await refusal(fragment_chain())
    assert refused["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert refused["limit"] == Limits().max_nodes
    assert "selections" in refused["message"]


async def test_a_chain_of_aliases_counts_every_expanded_alias() -> None:
    refused = await refusal(fragment_chain(8, leaf="a: id"))
    assert refused["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert refused["limit"] == Limits().max_aliases


def test_shape_is_computed_without_expanding() -> None:
    document = parse(fragment_chain(60))
    (shape,) = measure(document, fragment_order(document)).values()
    assert shape.nodes == CAP  # 2^61 selections: counted (and saturated), never walked
    assert shape.depth == 3


async def test_a_chain_of_unknown_spreads_is_bounded_too() -> None:
    refused = await refusal(fragment_chain(leaf="...Nowhere"))
    assert refused["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_fragment_cycles_are_refused_without_expanding() -> None:
    query = (
        "query C { customers { edges { node { ...A } } } }"
        " fragment A on Customer { id ...B } fragment B on Customer { name ...A }"
    )
    refused = await refusal(query)
    assert refused["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "`A`, `B`" in refused["message"]


async def test_depth_is_counted_as_before() -> None:
    deep = "{ customers { edges { node { " + "parent { " * 20 + "id" + " }" * 20 + " } } } }"
    refused = await refusal(deep)
    assert "exceeds maximum operation depth of 15" in refused["message"]


async def test_repeated_fields_that_would_slow_validation_are_refused() -> None:
    # graphql-core compares same-named fields pairwise: 300 copies took seconds.
    query = "{ " + " ".join("customers { edges { node { id name } } }" for _ in range(300)) + " }"
    refused = await refusal(query)
    assert refused["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert refused["limit"] == Limits().max_merge_pairs


def test_merge_pairs_count_same_named_fields_at_one_path() -> None:
    document = parse("{ a: id a: id b { c } b { c } ...F } fragment F on Query { a: id }")
    order = fragment_order(document)
    operation = get_operation_ast(document)
    assert operation is not None
    fragments = {f.name.value: f for f in order.ordered}
    # a: 3 fields → 3 pairs; b: 2 → 1; b.c: 2 → 1.
    assert merge_pairs(operation, fragments, 100) == 5


async def test_a_document_over_the_size_limit_is_refused_before_parsing() -> None:
    comments = "#" + "x" * 1_000_000 + "\n{ __typename }"
    refused = await refusal(comments)
    assert refused["code"] == "DOCUMENT_TOO_LARGE"
    assert refused["limit"] == Limits().max_document_chars


async def test_the_parser_stops_at_the_token_limit() -> None:
    refused = await refusal("{ " + " ".join("__typename" for _ in range(6000)) + " }")
    assert "more than 5000 tokens" in refused["message"]


async def test_long_strings_from_variables_name_the_argument() -> None:
    query = "query P($p: String) { customers(namePrefix: $p) { edges { node { id } } } }"
    refused = await refusal(query, {"p": "x" * 70_000})
    assert refused["code"] == "BAD_USER_INPUT"
    assert refused["argument"] == "namePrefix"
    assert refused["limit"] == 1_000


async def test_long_literal_strings_name_the_argument() -> None:
    query = '{ customers(namePrefix: "' + "y" * 1_001 + '") { edges { node { id } } } }'
    refused = await refusal(query)
    assert (refused["code"], refused["argument"]) == ("BAD_USER_INPUT", "namePrefix")


async def test_long_lists_are_refused_literal_or_variable() -> None:
    ids = [f"id{i}" for i in range(101)]
    refused = await refusal("query N($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
    assert (refused["code"], refused["argument"], refused["limit"]) == (
        "BAD_USER_INPUT",
        "ids",
        100,
    )
    literal = "{ nodes(ids: [" + ", ".join(f'"{i}"' for i in ids) + "]) { id } }"
    assert (await refusal(literal))["argument"] == "ids"


async def test_long_strings_inside_lists_are_refused() -> None:
    refused = await refusal(
        "query N($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["x" * 5_000]}
    )
    assert (refused["code"], refused["argument"]) == ("BAD_USER_INPUT", "ids")


async def test_a_variable_default_counts_too() -> None:
    query = (
        f'query P($p: String = "{"z" * 2_000}") '
        "{ customers(namePrefix: $p) { edges { node { id } } } }"
    )
    assert (await refusal(query))["argument"] == "namePrefix"


def test_quote_to_cash_fits_the_budget_and_thirty_aliases_do_not() -> None:
    limit = Limits().max_cost
    quote_to_cash = cost_of(QUOTE_TO_CASH)
    assert quote_to_cash * 2 <= limit
    assert cost_of(thirty_aliases()) > 10 * limit


def test_cost_follows_the_page_size_and_its_variable() -> None:
    query = "query C($n: Int) { customers(first: $n) { edges { node { id name } } } }"
    # customers + n * (edges + node + id + name)
    assert cost_of(query, {"n": 10}) == 1 + 10 * (1 + 1 + 2)
    # absent: the default page size; pageInfo is not multiplied.
    assert cost_of("{ customers { edges { node { id } } pageInfo { hasNextPage } } }") == (
        1 + 20 * (1 + 1 + 1) + (1 + 1)
    )
    assert cost_of("query C($n: Int = 5) { customers(first: $n) { edges { node { id } } } }") == (
        1 + 5 * 3
    )


def test_cost_counts_ids_and_estimates_unpaginated_lists() -> None:
    assert cost_of('{ nodes(ids: ["a", "b", "c"]) { id } }') == 1 + 3 * 1
    query = "query N($ids: [ID!]!) { nodes(ids: $ids) { ... on Contract { invoices { id } } } }"
    assert cost_of(query, {"ids": ["a", "b"]}) == 1 + 2 * (1 + 10 * 1)


def test_introspection_is_free() -> None:
    assert cost_of("{ __schema { types { name fields { name } } } }") == 0


async def test_the_cost_over_the_limit_is_refused_with_cost_and_limit() -> None:
    refused = await refusal(thirty_aliases())
    assert refused["code"] == "COST_LIMIT_EXCEEDED"
    assert refused["cost"] == cost_of(thirty_aliases())
    assert refused["limit"] == Limits().max_cost
    assert str(refused["cost"]) in refused["message"]


async def test_the_budget_is_configurable() -> None:
    schema = build_schema(Limits(max_cost=10))
    result = await schema.execute("{ customers(first: 5) { edges { node { id } } } }")
    (error,) = result.errors or []
    assert error.extensions == {"code": "COST_LIMIT_EXCEEDED", "cost": 16, "limit": 10}


async def test_a_free_operation_reports_no_cost() -> None:
    result = await SCHEMA.execute("{ __typename }")
    assert result.errors is None
    assert not result.extensions


async def test_documents_are_cached_parsed_and_validated() -> None:
    schema = build_schema()
    first = await schema.execute("{ nope }")
    second = await schema.execute("{ nope }")
    assert first.errors and second.errors
    assert first.errors[0] is second.errors[0]  # the cached validation result


def test_the_cache_evicts_by_bytes() -> None:
    cache: ByteBoundedLRU[str] = ByteBoundedLRU(max_bytes=100, max_entries=10, max_entry_bytes=60)
    assert cache.put("a", "A", 40)
    assert cache.put("b", "B", 40)
    assert cache.get("a") == "A"  # a is now the most recently used
    assert cache.put("c", "C", 40)  # 120 bytes: the least recently used (b) goes
    assert "b" not in cache and cache.get("a") == "A" and cache.get("c") == "C"
    assert cache.bytes == 80


def test_the_cache_skips_oversized_entries_and_bounds_entries() -> None:
    cache: ByteBoundedLRU[str] = ByteBoundedLRU(max_bytes=1_000, max_entries=2, max_entry_bytes=60)
    assert not cache.put("big", "X", 61)
    assert "big" not in cache and cache.bytes == 0
    for key in "abc":
        cache.put(key, key, 1)
    assert len(cache) == 2 and "a" not in cache
    cache.put("b", "b2", 5)  # replacing an entry re-weighs it
    assert cache.bytes == 6 and cache.get("b") == "b2"


@pytest.mark.parametrize("size", [1, 16_384])
async def test_the_schema_cache_is_bounded_in_bytes(size: int) -> None:
    limits = Limits(cache_max_bytes=64 * 40_000, cache_max_document_chars=20_000)
    schema = build_schema(limits)
    for i in range(30):
        padding = " " * size
        await schema.execute(f"query Q{i} {{ __typename }}{padding}")
    # Reach into the extension's cache through a fresh instance of the factory.
    extension: Any = schema.extensions[0]()
    cache = extension.cache
    assert cache.bytes <= limits.cache_max_bytes
    assert len(cache) == (30 if size == 1 else 2)


async def test_an_accepted_operations_cost_is_kept_per_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from resolvers.limits import budget

    walks: list[dict[str, Any]] = []

    def counted(*args: Any) -> int:
        walks.append(dict(args[3]))
        return operation_cost(*args)

    monkeypatch.setattr(budget, "operation_cost", counted)
    schema = build_schema(Limits(max_cost=30))
    query = "query Page($n: Int) { customers(first: $n) { edges { node { id } } } }"

    async def cost(n: int) -> Any:
        result = await schema.execute(query, variable_values={"n": n}, operation_name="Page")
        refusals = [
            e.extensions for e in result.errors or () if e.extensions and "cost" in e.extensions
        ]
        return refusals[0] if refusals else (result.extensions or {})["cost"]

    assert await cost(5) == {"requested": 16, "limit": 30}
    assert await cost(5) == {"requested": 16, "limit": 30}
    assert walks == [{"n": 5}]  # the second request reused the verdict
    assert await cost(7) == {"requested": 22, "limit": 30}
    refused = {"code": "COST_LIMIT_EXCEEDED", "cost": 31, "limit": 30}
    assert await cost(10) == refused  # over the limit: refused every time, never kept
    assert await cost(10) == refused
    assert walks == [{"n": 5}, {"n": 7}, {"n": 10}, {"n": 10}]
