"""The consistency rules, one module per rule, each a pure function over a customer bundle.

Every module has ``RULE`` (its :class:`~domain.consistency.types.RuleName`) and
``check(bundle, policy, now) -> list[Check]``; its docstring is the rule's
specification (what is compared, each status, the repair). :data:`RULES` lists
them in :class:`RuleName` order; shared conventions are in
:mod:`domain.consistency.rules.support`.
"""

from __future__ import annotations

from domain.consistency.rules import (
    contract_activation,
    contract_value,
    contract_version,
    customer_attributes,
    customer_links,
    invoice_posting,
    revenue_rollforward,
)
from domain.consistency.rules.support import Rule
from domain.consistency.types import RuleName

__all__ = ["RULES", "Rule"]

RULES: dict[RuleName, Rule] = {
    module.RULE: module.check
    for module in (
        customer_links,
        customer_attributes,
        contract_activation,
        contract_version,
        contract_value,
        invoice_posting,
        revenue_rollforward,
    )
}
"""Every rule by name, in :class:`RuleName` order."""
