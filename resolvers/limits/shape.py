"""The shape of a document: depth, aliases and fields after fragment expansion.

Computed in one pass with each fragment measured once (see :mod:`.fragments`):
a spread adds the fragment's memoized measure, so a document whose expansion
would have millions of fields is measured in time linear in its text. Counts
saturate at :data:`CAP` so the numbers stay small whatever the expansion.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

from resolvers.limits.fragments import FragmentOrder

CAP = 1 << 40


@dataclass(frozen=True)
class Shape:
    """``depth``: nesting of fields that have selections (introspection fields count 0, as
    strawberry's depth limiter counts); ``aliases`` and ``nodes`` (selections: fields,
    spreads, inline fragments) after expansion."""

    depth: int = 0
    aliases: int = 0
    nodes: int = 0

    def __add__(self, other: Shape) -> Shape:
        return Shape(
            max(self.depth, other.depth),
            min(CAP, self.aliases + other.aliases),
            min(CAP, self.nodes + other.nodes),
        )


EMPTY = Shape()
ONE = Shape(nodes=1)


class _Measure:
    def __init__(self) -> None:
        self.fragments: dict[str, Shape] = {}

    def selection_set(self, selection_set: SelectionSetNode | None) -> Shape:
        total = EMPTY
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                inner = self.selection_set(selection.selection_set)
                introspection = selection.name.value.startswith("__")
                depth = 0 if introspection or not selection.selection_set else 1 + inner.depth
                own = Shape(depth, 1 if selection.alias else 0, 1)
                total = total + own + Shape(0, inner.aliases, inner.nodes)
            elif isinstance(selection, InlineFragmentNode):
                total = total + ONE + self.selection_set(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                # Unknown or cyclic fragments add only the spread; validation reports them.
                total = total + ONE + self.fragments.get(selection.name.value, EMPTY)
        return total


def measure(document: DocumentNode, order: FragmentOrder) -> dict[str, Shape]:
    """Each operation's shape, by name (``anonymous`` for an unnamed one)."""
    measuring = _Measure()
    for fragment in order.ordered:
        measuring.fragments[fragment.name.value] = measuring.selection_set(fragment.selection_set)
    return {
        (d.name.value if d.name else "anonymous"): measuring.selection_set(d.selection_set)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    }
