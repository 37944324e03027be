"""Parsing and validation that cannot explode, behind a cache bounded in bytes.

Replaces strawberry's ParserCache, ValidationCache, MaxTokensLimiter,
QueryDepthLimiter and MaxAliasesLimiter (the last two walk every fragment at
every spread: 12 s for an 866-byte document). In order:

1. a document already seen is taken from the cache, parsed and validated;
2. one longer than ``max_document_chars`` is refused before the parser reads
   it (``DOCUMENT_TOO_LARGE``); the parser stops at ``max_tokens``;
3. one pass with each fragment measured once (:mod:`.shape`) checks fragment
   cycles, depth, aliases and the number of selections after expansion, then
   the pairs of fields graphql-core's overlapping-fields rule would compare
   (:mod:`.merging`); only a document within all of them reaches graphql-core's
   validation, whose cost is then bounded;
4. the document and its validation errors are cached, weighted by an estimate
   of the syntax tree's size; documents over ``cache_max_document_chars`` are
   not cached.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from resolvers.limits.cache import ByteBoundedLRU
from resolvers.limits.config import Limits
from resolvers.limits.fragments import fragment_order
from resolvers.limits.merging import merge_pairs
from resolvers.limits.shape import measure

#: Bytes a parsed document holds per character of its text, with locations
#: (measured with tracemalloc: 45-65 on the example queries).
AST_BYTES_PER_CHAR = 64


@dataclass(frozen=True)
class CachedDocument:
    document: DocumentNode
    errors: tuple[GraphQLError, ...]


DocumentCache = ByteBoundedLRU[CachedDocument]


def document_cache(limits: Limits) -> DocumentCache:
    """The cache one schema's :class:`DocumentLimits` share."""
    return ByteBoundedLRU(
        max_bytes=limits.cache_max_bytes,
        max_entries=limits.cache_max_entries,
        max_entry_bytes=limits.cache_max_document_chars * AST_BYTES_PER_CHAR,
    )


def _invalid(message: str, **details: object) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "GRAPHQL_VALIDATION_FAILED", **details})


def shape_errors(document: DocumentNode, limits: Limits) -> list[GraphQLError]:
    """Errors for a document too large or too deep to validate; none if it is within limits."""
    order = fragment_order(document)
    if order.cyclic:
        names = ", ".join(f"`{name}`" for name in sorted(order.cyclic))
        return [_invalid(f"Fragments spread themselves (directly or not): {names}.")]
    for name, shape in measure(document, order).items():
        if shape.depth > limits.max_depth:
            return [
                _invalid(
                    f"'{name}' exceeds maximum operation depth of {limits.max_depth}",
                    limit=limits.max_depth,
                )
            ]
        if shape.aliases > limits.max_aliases:
            return [
                _invalid(
                    f"'{name}' has more than {limits.max_aliases} aliases.",
                    limit=limits.max_aliases,
                )
            ]
        if shape.nodes > limits.max_nodes:
            return [
                _invalid(
                    f"'{name}' has more than {limits.max_nodes} selections once its "
                    "fragments are expanded.",
                    limit=limits.max_nodes,
                )
            ]
    fragments = {f.name.value: f for f in order.ordered}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    for operation in operations:
        pairs = merge_pairs(operation, fragments, limits.max_merge_pairs)
        if pairs > limits.max_merge_pairs:
            return [
                _invalid(
                    "The document repeats the same fields too often: more than "
                    f"{limits.max_merge_pairs} pairs of same-named fields to merge.",
                    limit=limits.max_merge_pairs,
                )
            ]
    return []


class DocumentLimits(SchemaExtension):
    """Bounded parsing and validation, and the cache in front of them (see the module)."""

    def __init__(self, *, limits: Limits, cache: DocumentCache) -> None:
        self.limits = limits
        self.cache = cache
        self._cached: CachedDocument | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if query is not None and context.graphql_document is None:
            self._cached = self.cache.get(query)
            if self._cached is not None:
                context.graphql_document = self._cached.document
            elif len(query) > self.limits.max_document_chars:
                # Raised before the parser reads a character; the error leaves the
                # operation as a request error with its code already set.
                raise GraphQLError(
                    f"The document is {len(query)} characters long; at most "
                    f"{self.limits.max_document_chars} are accepted.",
                    extensions={
                        "code": "DOCUMENT_TOO_LARGE",
                        "limit": self.limits.max_document_chars,
                    },
                )
            else:
                context.parse_options["max_tokens"] = self.limits.max_tokens
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if self._cached is not None:
            context.pre_execution_errors = list(self._cached.errors)
        elif context.pre_execution_errors is None and document is not None:
            try:
                errors = shape_errors(document, self.limits) or validate_document(
                    context.schema._schema, document, context.validation_rules
                )
            except RecursionError:
                errors = [_invalid("The document nests too deeply to validate.")]
            context.pre_execution_errors = errors
            if context.query is not None:
                self.cache.put(
                    context.query,
                    CachedDocument(document, tuple(errors)),
                    len(context.query) * AST_BYTES_PER_CHAR,
                )
        yield
