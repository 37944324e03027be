"""The request limits, in one place: what a single GraphQL request may ask of the gateway."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from resolvers.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE


def _frozen(values: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class Limits:
    """Every bound a request is held to before it runs.

    Document (checked before parsing and validating, see :mod:`.document`):
    ``max_document_chars`` is checked before the parser sees the text;
    ``max_tokens`` stops the parser; ``max_depth`` (nesting of fields with
    selections, introspection excluded), ``max_aliases`` and ``max_nodes``
    (fields after expanding fragments) are computed once per fragment;
    ``max_merge_pairs`` bounds the pairs of same-named fields graphql-core's
    overlapping-fields rule compares (its cost grows with their square).

    Operation (checked against the variables, see :mod:`.inputs` and
    :mod:`.cost`): strings at most ``max_string_length`` characters, lists at
    most ``max_list_length`` items unless ``list_lengths`` says otherwise for
    ``Type.field.argument``; a cost of at most ``max_cost``.
    """

    max_document_chars: int = 100_000
    max_tokens: int = 5_000
    max_depth: int = 15
    max_aliases: int = 30
    max_nodes: int = 2_000
    max_merge_pairs: int = 2_000

    max_string_length: int = 1_000
    max_list_length: int = 100
    list_lengths: Mapping[str, int] = field(
        default_factory=lambda: _frozen({"Query.nodes.ids": 100})
    )

    max_cost: int = 300_000
    #: Added to a field read with ``freshness: LIVE`` (it bypasses the read model and
    #: spends the vendor's rate limit), for each time it is resolved.
    live_read_cost: int = 50
    default_page_size: int = DEFAULT_PAGE_SIZE
    max_page_size: int = MAX_PAGE_SIZE
    #: Items assumed for a list field that takes no page size (``Contract.invoices``).
    list_estimate: int = 10
    #: Per ``Type.field`` estimates where the default is far off.
    list_estimates: Mapping[str, int] = field(
        default_factory=lambda: _frozen(
            {
                "Customer.sources": 4,
                "Contract.sources": 4,
                "Subscription.sources": 4,
                "Invoice.sources": 4,
                "RevenueSchedule.sources": 4,
                "ArPosting.sources": 4,
                "Query.sourceHealth": 4,
                "RevenueSchedule.lines": 12,
                # A flow has a handful of steps (at most one per system and action).
                "Transaction.steps": 6,
                "Transaction.openExceptions": 2,
                "FlowMetrics.stepLatency": 4,
                "FlowMetrics.openExceptions": 3,
                "CustomerPayload.userErrors": 3,
                "ContractPayload.userErrors": 3,
                "InvoicePayload.userErrors": 3,
                "RevenuePayload.userErrors": 3,
                "ExceptionPayload.userErrors": 3,
                "TransactionPayload.userErrors": 3,
            }
        )
    )

    #: Byte budget of the parse/validation cache, and the largest document it keeps.
    cache_max_bytes: int = 32 * 1024 * 1024
    cache_max_entries: int = 1_024
    cache_max_document_chars: int = 16_384

    def list_length(self, coordinate: str) -> int:
        """The most items a list argument at ``Type.field.argument`` may hold."""
        return self.list_lengths.get(coordinate, self.max_list_length)

    def estimate(self, type_name: str, field_name: str) -> int:
        """Items assumed for an unpaginated list field."""
        return self.list_estimates.get(f"{type_name}.{field_name}", self.list_estimate)
