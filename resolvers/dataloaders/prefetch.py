"""The look-ahead: what the gateway asks for before the graph walks down to it.

GraphQL resolves level by level, so by default each hop waits for the one
above it. Where the keys of a later hop are already known, asking early saves
time; where it saves a whole dependent round trip, it is worth a little
over-fetching. The whole plan is the three rules below; nothing else in the
gateway fetches ahead.

=========================  ===========================  ===========================
Rule                       Sent when / from             Why
=========================  ===========================  ===========================
billing-with-contracts     a page of customers          Billing is keyed by customer,
                           arrives (or a customer's     not contract: its lists can go
                           ``contracts`` starts), if    out alongside the contract
                           fields below need billing    system instead of after it —
                           (subscription, invoices,     one dependent round trip saved.
                           stage)
schedules-from-contracts   the contracts-by-account     Revenue schedules are keyed by
                           batch returns, if fields     contract id: asked for the
                           below need them              moment the ids are known,
                           (revenueSchedule, stage)     alongside billing.
postings-from-invoices     an invoices batch returns,   AR postings are keyed by
                           if fields below need them    invoice id: asked for the
                           (erpPosting, postingStatus)  moment invoices are known.
=========================  ===========================  ===========================

A rule is *wanted* once any field of the request asks for what it serves (a
request's wants only grow, so two aliases of one root field with different
selections both get what they need). Wants are read from the query document
(graphql-core's field nodes, fragments expanded), once per field node per
request. Fields under ``@skip``/``@include`` count as asked for: at worst some
data is fetched and not shown.

Every batch a rule sends is labelled with the rule's name in the request's
trace, so tests can assert that each rule still fires and how many dependent
round trips a query takes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)

from resolvers.dataloaders.registry import Loaders
from resolvers.dataloaders.trace import Call


@dataclass(frozen=True)
class Rule:
    name: str
    needs: frozenset[str]
    """Field names below the asking field that make the rule wanted."""


BILLING_WITH_CONTRACTS = Rule(
    "billing-with-contracts", frozenset({"subscription", "invoices", "stage"})
)
SCHEDULES_FROM_CONTRACTS = Rule(
    "schedules-from-contracts",
    frozenset({"revenueSchedule", "revenueScheduleStatus", "stage"}),
)
POSTINGS_FROM_INVOICES = Rule("postings-from-invoices", frozenset({"erpPosting", "postingStatus"}))
RULES = (BILLING_WITH_CONTRACTS, SCHEDULES_FROM_CONTRACTS, POSTINGS_FROM_INVOICES)
_NEEDED = frozenset().union(*(rule.needs for rule in RULES))


@dataclass
class Lookahead:
    """The plan for one request: which rules are wanted, and sending their loads."""

    loaders: Loaders
    wanted: set[str] = field(default_factory=set)
    _below: dict[tuple[int, ...], frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.loaders.contracts_by_account.after_batch = self._contracts_arrived
        self.loaders.invoices.after_batch = self._invoices_arrived

    # -- what the query asks for ------------------------------------------------

    def expect(self, info: Any) -> None:
        """Note the rules the selection below the field being resolved wants."""
        names = self.below(info)
        for rule in RULES:
            if names & rule.needs:
                self.wanted.add(rule.name)

    def below(self, info: Any) -> frozenset[str]:
        """The look-ahead-relevant field names anywhere below the current field."""
        raw = info._raw_info
        key = tuple(id(node) for node in raw.field_nodes)
        names = self._below.get(key)
        if names is None:
            names = self._below[key] = frozenset(
                _names_below(raw.field_nodes, raw.fragments) & _NEEDED
            )
        return names

    # -- the rules ----------------------------------------------------------------

    def customers_arrived(
        self, info: Any, account_ids: Iterable[str], cause: Call | None = None
    ) -> None:
        """A page of customers is known (from ``cause``, if given): send their billing
        lists now if fields below need them, alongside the contract system rather
        than after it."""
        self.expect(info)
        if BILLING_WITH_CONTRACTS.name not in self.wanted:
            return
        rule = BILLING_WITH_CONTRACTS.name
        keys = list(account_ids)
        self.loaders.account_subscriptions.load_ahead(keys, rule, cause)
        self.loaders.account_invoices.load_ahead(keys, rule, cause)

    def customer_contracts(self, info: Any, account_id: str) -> None:
        """A customer's contracts are about to load (however the customer was reached)."""
        self.customers_arrived(info, (account_id,))

    def _contracts_arrived(self, found: Mapping[str, Any]) -> None:
        if SCHEDULES_FROM_CONTRACTS.name not in self.wanted:
            return
        ids = [contract.id for contracts in _lists(found) for contract in contracts]
        self.loaders.schedules.load_ahead(ids, SCHEDULES_FROM_CONTRACTS.name)

    def _invoices_arrived(self, found: Mapping[str, Any]) -> None:
        if POSTINGS_FROM_INVOICES.name not in self.wanted:
            return
        ids = [invoice.id for invoices in _lists(found) for invoice in invoices]
        self.loaders.posting.load_ahead(ids, POSTINGS_FROM_INVOICES.name)


def _lists(found: Mapping[str, Any]) -> Iterable[list[Any]]:
    """The record lists of a batch result (keys whose read failed carry an error)."""
    return (value for value in found.values() if isinstance(value, list))


def _names_below(
    nodes: Iterable[FieldNode], fragments: Mapping[str, FragmentDefinitionNode]
) -> set[str]:
    names: set[str] = set()
    seen: set[str] = set()
    stack: list[SelectionSetNode] = [n.selection_set for n in nodes if n.selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
                if selection.selection_set:
                    stack.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                stack.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in seen:
                    seen.add(name)
                    stack.append(fragment.selection_set)
    return names
