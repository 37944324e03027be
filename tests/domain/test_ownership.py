"""The ownership declaration and write routing."""

from __future__ import annotations

import pytest

from domain.ownership import (
    FIELD_OWNER,
    OWNERSHIP,
    SYSTEM_OF,
    Entity,
    ForeignField,
    Record,
    UnknownFieldError,
    owner_of,
    route_write,
)
from sources.systems import System


def test_design_table() -> None:
    assert {f for (e, f), s in FIELD_OWNER.items() if e is Entity.CUSTOMER and s is System.CRM} == {
        "name",
        "parent",
        "segment",
        "currency",
        "billingEmail",
    }
    for field in ("status", "version", "lines", "startDate", "endDate", "termMonths"):
        assert FIELD_OWNER[Entity.CONTRACT, field] is System.CONTRACTS
    for entity in (Entity.SUBSCRIPTION, Entity.INVOICE):
        assert {s for (e, _), s in FIELD_OWNER.items() if e is entity} == {System.BILLING}
    for field in ("amountDue", "amountPaid"):
        assert FIELD_OWNER[Entity.INVOICE, field] is System.BILLING
    for entity in (Entity.REVENUE_SCHEDULE, Entity.AR_POSTING):
        assert {s for (e, _), s in FIELD_OWNER.items() if e is entity} == {System.ERP}
    assert FIELD_OWNER[Entity.CUSTOMER, "arBalance"] is System.ERP


def test_one_owner_per_field_and_every_entity_has_rules() -> None:
    pairs = [(r.entity, r.field) for r in OWNERSHIP]
    assert len(pairs) == len(set(pairs))
    assert {r.entity for r in OWNERSHIP} == set(Entity)


@pytest.mark.parametrize(
    ("entity", "owner"),
    [
        (Entity.CUSTOMER, System.CRM),
        (Entity.CONTRACT, System.CONTRACTS),
        (Entity.SUBSCRIPTION, System.BILLING),
        (Entity.INVOICE, System.BILLING),
        (Entity.REVENUE_SCHEDULE, System.ERP),
        (Entity.AR_POSTING, System.ERP),
    ],
)
def test_owner_of_entity_agrees_with_system_of_record(entity: Entity, owner: System) -> None:
    assert owner_of(entity) is owner


def test_system_of_records_unchanged() -> None:
    assert SYSTEM_OF[Record.CRM_ACCOUNT] is System.CRM
    assert SYSTEM_OF[Record.REVENUE_SCHEDULE] is System.ERP


def test_a_change_of_owned_fields_goes_to_the_owner() -> None:
    route = route_write(Entity.CUSTOMER, ["name", "parent", "name"])
    assert route.allowed and route.owner is System.CRM
    assert route.fields == ("name", "parent")
    contract = route_write(Entity.CONTRACT, ["lines", "startDate", "termMonths"])
    assert contract.allowed and contract.owner is System.CONTRACTS


def test_a_change_of_another_systems_field_names_the_owner() -> None:
    route = route_write(Entity.CUSTOMER, ["name", "arBalance"])
    assert not route.allowed
    assert route.owner is System.CRM
    assert route.foreign == (ForeignField("arBalance", System.ERP),)
    (refusal,) = route.foreign
    assert refusal.code == "OWNED_BY_OTHER_SYSTEM"
    assert refusal.message == "arBalance is owned by ERP: change it there"


def test_unknown_fields_are_a_programming_error() -> None:
    with pytest.raises(UnknownFieldError, match="nickname"):
        route_write(Entity.CUSTOMER, ["name", "nickname"])
