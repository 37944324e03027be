"""What one request may ask of the gateway, enforced before anything runs.

- :mod:`.config`: the limits (:class:`Limits`), all in one place;
- :mod:`.document`: size and token caps before parsing, depth/alias/selection
  budgets computed once per fragment, bounded validation, a byte-bounded cache;
- :mod:`.budget`: input-size limits on every argument and the cost budget,
  against the variables;
- helpers: :mod:`.fragments` (dependency order), :mod:`.shape`, :mod:`.merging`,
  :mod:`.inputs`, :mod:`.cost`, :mod:`.cache`.

:func:`document_extension` goes where a parser cache would (before
:class:`~resolvers.extensions.RequireOperationName`), :func:`budget_extension`
right after it.
"""

from __future__ import annotations

from collections.abc import Callable

from strawberry.extensions import SchemaExtension

from resolvers.limits.budget import OperationBudget, verdict_cache
from resolvers.limits.config import Limits
from resolvers.limits.document import DocumentLimits, document_cache

__all__ = ["DocumentLimits", "Limits", "OperationBudget", "budget_extension", "document_extension"]


def document_extension(limits: Limits) -> Callable[[], SchemaExtension]:
    """A factory of :class:`DocumentLimits` sharing one cache (one per schema)."""
    cache = document_cache(limits)
    return lambda: DocumentLimits(limits=limits, cache=cache)


def budget_extension(limits: Limits) -> Callable[[], SchemaExtension]:
    """A factory of :class:`OperationBudget` sharing one verdict cache (one per schema)."""
    verdicts = verdict_cache(limits)
    return lambda: OperationBudget(limits=limits, verdicts=verdicts)
