"""How much work graphql-core's OverlappingFieldsCanBeMergedRule will do on a document.

The rule compares every pair of fields that share a response name at the same
place of the merged result, and the fields below them pairwise again: its cost
grows with the square of such repetitions (300 copies of a small
``customers { ... }`` selection take seconds). This counts those pairs on the
expanded document, with an explicit stack, once the expansion is known to be
small (:mod:`.shape` has bounded it).
"""

from __future__ import annotations

from collections import Counter

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)


def merge_pairs(
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    budget: int,
) -> int:
    """Pairs of same-named fields at the same response path; stops counting past ``budget``.

    Only for a document without fragment cycles (a cycle would expand forever).
    """
    counts: Counter[tuple[str, ...]] = Counter()
    stack: list[tuple[SelectionSetNode, tuple[str, ...]]] = [(operation.selection_set, ())]
    pairs = 0
    while stack:
        selection_set, path = stack.pop()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = (*path, (selection.alias or selection.name).value)
                pairs += counts[key]  # this field pairs with every earlier one at its path
                counts[key] += 1
                if pairs > budget:
                    return pairs
                if selection.selection_set:
                    stack.append((selection.selection_set, key))
            elif isinstance(selection, InlineFragmentNode):
                stack.append((selection.selection_set, path))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    stack.append((fragment.selection_set, path))
    return pairs
