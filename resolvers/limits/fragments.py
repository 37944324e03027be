"""Fragments in dependency order, so each is measured once and no walk recurses through spreads.

Every limit here is computed bottom-up: a fragment's measure is computed once,
from the measures of the fragments it spreads, and reused at every spread. A
chain of fragments each spreading the next twice then costs one visit per
fragment instead of 2ⁿ. Walking fragments in dependency order (Kahn's
algorithm) also means no Python recursion follows spreads, however long the
chain; recursion only follows the nesting of one fragment's selections, which
the parser already bounds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionNode,
    SelectionSetNode,
)


@dataclass(frozen=True)
class FragmentOrder:
    """Fragment definitions, each after every fragment it spreads; and those in a cycle."""

    ordered: list[FragmentDefinitionNode]
    cyclic: list[str]


def selections(selection_set: SelectionSetNode | None) -> Iterator[SelectionNode]:
    """Every selection under ``selection_set``, nested ones included (no spread followed)."""
    stack = [selection_set] if selection_set is not None else []
    while stack:
        current = stack.pop()
        for selection in current.selections:
            yield selection
            if isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                stack.append(selection.selection_set)


def spread_names(selection_set: SelectionSetNode | None) -> set[str]:
    return {s.name.value for s in selections(selection_set) if isinstance(s, FragmentSpreadNode)}


def fragment_order(document: DocumentNode) -> FragmentOrder:
    """The document's fragments, dependencies first (the first definition of a name wins)."""
    fragments: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            fragments.setdefault(definition.name.value, definition)
    waiting = {
        name: spread_names(fragment.selection_set) & fragments.keys()
        for name, fragment in fragments.items()
    }
    dependents: dict[str, list[str]] = {name: [] for name in fragments}
    for name, needs in waiting.items():
        for need in needs:
            dependents[need].append(name)
    ready = deque(name for name, needs in waiting.items() if not needs)
    ordered: list[FragmentDefinitionNode] = []
    while ready:
        name = ready.popleft()
        ordered.append(fragments[name])
        for dependent in dependents[name]:
            needs = waiting[dependent]
            needs.discard(name)
            if not needs:
                ready.append(dependent)
    done = {f.name.value for f in ordered}
    return FragmentOrder(ordered, [name for name in fragments if name not in done])
