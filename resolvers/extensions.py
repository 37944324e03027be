"""Schema extensions: error policy (codes and masking) and request limits."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from resolvers.errors import MAX_PATHS

logger = logging.getLogger("revgraph.errors")


class ErrorPolicy(SchemaExtension):
    """Every error leaves with an ``extensions.code``; unexpected ones are masked.

    Expected errors (syntax, validation, bad input, upstream failures) keep
    their message. Anything else is an internal error: the client gets a
    generic message and an ``errorId``; the log gets the id and the stack.
    """

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = merge_forbidden([classify(e) for e in errors])


def merge_forbidden(errors: list[GraphQLError]) -> list[GraphQLError]:
    """One ``FORBIDDEN`` error per field of the schema, not one per object.

    A viewer listing 50 customers' ``billingEmail`` is denied the same field 50
    times; like upstream failures (:mod:`resolvers.errors`), the denial is
    reported once: ``path`` is the first, ``extensions.paths`` lists up to
    :data:`~resolvers.errors.MAX_PATHS` of them and ``extensions.affected``
    counts them all.
    """
    merged: dict[tuple[str, tuple[str, ...]], GraphQLError] = {}
    kept: list[GraphQLError] = []
    for error in errors:
        extensions = error.extensions or {}
        if extensions.get("code") != "FORBIDDEN" or error.path is None:
            kept.append(error)
            continue
        field = (error.message, tuple(str(p) for p in error.path if not isinstance(p, int)))
        first = merged.get(field)
        if first is None:
            error.extensions = {**extensions, "paths": [error.path], "affected": 1}
            merged[field] = error
            kept.append(error)
            continue
        seen = first.extensions or {}
        seen["affected"] += 1
        if len(seen["paths"]) < MAX_PATHS:
            seen["paths"].append(error.path)
    return kept


def classify(error: GraphQLError) -> GraphQLError:
    """``error`` with an ``extensions.code``; an unexpected one masked and logged.

    Idempotent, so a caller outside the operation (the HTTP view, for errors
    raised before the operation hooks could see them) can apply it again.
    """
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        if not (error.extensions or {}).get("code"):
            error.extensions = {**(error.extensions or {}), "code": _code_for(error)}
        return error
    error_id = uuid.uuid4().hex[:12]
    logger.error("unexpected error %s at %s", error_id, error.path, exc_info=original)
    return GraphQLError(
        f"Internal error; quote error id {error_id} when reporting it.",
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "errorId": error_id},
    )


def _code_for(error: GraphQLError) -> str:
    if error.path is None and error.message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if error.path is None:
        return "GRAPHQL_VALIDATION_FAILED"
    return "BAD_USER_INPUT"


class RequireOperationName(SchemaExtension):
    """A document with several operations must say which to run (GraphQL spec).

    Strawberry would silently run the first one; this makes it a request error
    with ``extensions.code = OPERATION_RESOLUTION_FAILURE``. Goes after the
    validation cache in the schema's extensions.
    """

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        # ``operation_name`` falls back to the document's first operation; only
        # what the client sent says whether it chose one.
        provided = getattr(context, "_provided_operation_name", None)
        if provided is None and document is not None and not context.pre_execution_errors:
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if len(operations) > 1:
                # Only for an otherwise valid document (the validation cache before
                # this extension has run); an invalid one reports its own errors.
                context.pre_execution_errors = [
                    GraphQLError(
                        "The document has several operations: say which in `operationName`.",
                        extensions={"code": "OPERATION_RESOLUTION_FAILURE"},
                    ),
                ]
        yield


class TraceReport(SchemaExtension):
    """Adds the request's upstream trace to ``extensions.trace`` when the client asks.

    A request with ``"extensions": {"trace": true}`` gets every upstream batch
    (system, hop, keys, why, start/end in ms) and the dependent round trips the
    query took (see :mod:`resolvers.dataloaders.trace`).
    """

    def get_results(self) -> dict[str, object]:
        asked = self.execution_context.operation_extensions or {}
        trace = getattr(self.execution_context.context, "trace", None)
        if asked.get("trace") is not True or trace is None:
            return {}
        return {"trace": trace.as_json()}
