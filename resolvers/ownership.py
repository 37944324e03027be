"""``ownership``: which system of record owns each field an app may want to change."""

from __future__ import annotations

import strawberry

from domain.ownership import OWNERSHIP
from sources.systems import System


@strawberry.type(
    description="The system of record for one field of one entity: mutations of that "
    "field go to it, and a mutation of another system's field is refused."
)
class OwnershipRule:
    entity: str = strawberry.field(description="The GraphQL type (Customer, Contract, ...).")
    field: str = strawberry.field(description="The field of that type, as the graph names it.")
    system: System


def ownership_rules() -> list[OwnershipRule]:
    return [OwnershipRule(entity=str(r.entity), field=r.field, system=r.system) for r in OWNERSHIP]
