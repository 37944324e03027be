"""Schema extensions: error policy (codes and masking) and request limits."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.relay.types import GlobalIDValueError

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
            result.errors = [classify(e) for e in errors]


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
    if isinstance(original, GlobalIDValueError):
        return GraphQLError(
            str(original) or "not a valid global id",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "BAD_USER_INPUT"},
        )
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
