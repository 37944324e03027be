"""Roles, identities, queues and segregation of duties."""

from __future__ import annotations

from domain.access import Identity, Role, may_work_queue, parse_roles, separation_of_duties
from domain.exception_items import ExceptionQueue


def identity(*roles: Role) -> Identity:
    return Identity("ann", frozenset(roles), via="jwt", key_id="jwt:ann")


def test_roles_are_parsed_loosely_and_unknown_ones_ignored() -> None:
    assert parse_roles(["Viewer", " finance ", "offline_access", 3]) == {
        Role.VIEWER,
        Role.FINANCE,
    }


def test_admin_holds_every_role() -> None:
    assert identity(Role.ADMIN).has_any({Role.APPROVER})
    assert not identity(Role.VIEWER).has_any({Role.APPROVER, Role.FINANCE})
    assert identity(Role.SALES_OPS, Role.APPROVER).role == "approver,sales_ops"


def test_queues_are_worked_by_their_roles() -> None:
    assert may_work_queue(identity(Role.FINANCE), ExceptionQueue.FINANCE_OPS)
    assert not may_work_queue(identity(Role.FINANCE), ExceptionQueue.SALES_OPS)
    assert may_work_queue(identity(Role.SALES_OPS), ExceptionQueue.SALES_OPS)
    assert not may_work_queue(identity(Role.SALES_OPS), ExceptionQueue.PLATFORM)
    assert may_work_queue(identity(Role.ADMIN), ExceptionQueue.PLATFORM)


def test_the_approver_is_neither_creator_nor_last_amender() -> None:
    assert separation_of_duties("bob", creator="ann", last_amender=None) is None
    assert "created" in (separation_of_duties("ann", creator="ann", last_amender="cy") or "")
    assert "amended" in (separation_of_duties("cy", creator="ann", last_amender="cy") or "")
    assert separation_of_duties("ann", creator=None, last_amender=None) is None
