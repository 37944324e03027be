"""``ownership`` lists the declaration, with field names the graph really has."""

from __future__ import annotations

from types import SimpleNamespace

from graphql import GraphQLObjectType

from domain.access import Identity, Role
from domain.ownership import OWNERSHIP
from resolvers.schema import schema

QUERY = "query Ownership { ownership { entity field system } }"


async def test_ownership_query_lists_every_rule() -> None:
    viewer = Identity("ann", frozenset({Role.VIEWER}), via="api_key", key_id="key_ann")
    result = await schema.execute(
        QUERY, operation_name="Ownership", context_value=SimpleNamespace(identity=viewer)
    )
    assert result.errors is None and result.data is not None
    rules = result.data["ownership"]
    assert len(rules) == len(OWNERSHIP)
    assert {"entity": "Customer", "field": "arBalance", "system": "ERP"} in rules
    assert {"entity": "Contract", "field": "lines", "system": "CONTRACTS"} in rules


def test_every_rule_names_a_field_of_the_graph() -> None:
    for rule in OWNERSHIP:
        graphql_type = schema._schema.get_type(rule.entity.value)
        assert isinstance(graphql_type, GraphQLObjectType), rule.entity
        assert rule.field in graphql_type.fields, (rule.entity, rule.field)
