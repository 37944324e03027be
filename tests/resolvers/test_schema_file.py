"""schema.graphql is generated from the code and committed; they must not drift."""

from pathlib import Path

from graphql import build_schema

from resolvers.schema import schema_sdl

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_schema_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text() == schema_sdl(), (
        "schema.graphql is stale: run `revgraph schema export -o schema.graphql`"
    )


def test_tools_read_the_committed_sdl_as_the_live_schema() -> None:
    built = build_schema(SCHEMA_FILE.read_text())
    assert built.query_type is not None and built.query_type.name == "Query"
    # No type named Subscription may pass for a subscription root.
    assert built.subscription_type is None
    assert "BillingSubscription" in built.type_map
