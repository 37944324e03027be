"""schema.graphql is generated from the code and committed; they must not drift."""

from pathlib import Path

from resolvers.schema import schema_sdl

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_schema_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text() == schema_sdl(), (
        "schema.graphql is stale: run `revgraph schema export -o schema.graphql`"
    )
