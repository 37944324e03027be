"""Errors the graph reports: partial upstream failures and bad client input.

Upstream failures never fail a whole query. A resolver that cannot get data
from a system returns null and tells the request's :class:`SourceFailures`,
which reports each failure once per system and hop (a hop is one DataLoader:
one batched trip to one system) instead of once per object; the
:class:`SourceFailureReport` extension adds them to ``errors[]`` with
``extensions.code`` ∈ SOURCE_UNAVAILABLE / SOURCE_TIMEOUT / SOURCE_THROTTLED / SOURCE_ERROR and
``extensions.system``. Each error names every field its failure left null or
unknown: ``path`` is the first, ``extensions.paths`` lists up to
:data:`MAX_PATHS` of them and ``extensions.affected`` counts them all, so a
client can tell which nulls mean "unknown" rather than "absent". Once a system
is unreachable in a request, later hops to it fail fast without another round
trip (and without another error).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from resolvers.sanitize import sanitize
from sources.errors import (
    SourceError,
    SourceNotFound,
    SourceThrottled,
    SourceTimeout,
    SourceUnavailable,
)
from sources.systems import System


def source_error_code(error: SourceError) -> str:
    if isinstance(error, SourceThrottled):
        return "SOURCE_THROTTLED"
    if isinstance(error, SourceTimeout):
        return "SOURCE_TIMEOUT"
    if isinstance(error, SourceUnavailable):
        return "SOURCE_UNAVAILABLE"
    return "SOURCE_ERROR"


class UserInputError(GraphQLError):
    """The client asked for something invalid (``extensions.code = BAD_USER_INPUT``)."""

    def __init__(self, message: str, *, code: str = "BAD_USER_INPUT", **details: Any) -> None:
        super().__init__(message, extensions={"code": code, **details})


MAX_PATHS = 100
"""Affected paths listed per error (all are counted)."""

Path = list[str | int]


@dataclass
class _Failure:
    error: SourceError
    hop: str
    paths: list[Path] = field(default_factory=list)
    affected: int = 0

    def add(self, path: Path | None) -> None:
        if path is None:
            return
        self.affected += 1
        if len(self.paths) < MAX_PATHS:
            self.paths.append(path)


@dataclass
class SourceFailures:
    """The upstream failures seen while serving one request."""

    _reported: dict[tuple[System, str], _Failure] = field(default_factory=dict)
    _down: dict[System, SourceError] = field(default_factory=dict)

    def down(self, system: System) -> SourceError | None:
        """The error that made ``system`` unreachable earlier in this request, if any."""
        return self._down.get(system)

    def failed(self, system: System) -> bool:
        """Whether any read from ``system`` failed in this request."""
        return system in self._down or any(key[0] == system for key in self._reported)

    def record(self, error: SourceError, hop: str, path: Path | None = None) -> None:
        """Note a failure at ``path``; one error per (system, hop), or per system when down.

        An unreachable or timed-out system is one fact however many hops were in
        flight to it, so it is reported once; other failures (a vendor error) are
        specific to the request a hop made, so each hop reports its own. Every
        path is kept (up to MAX_PATHS) and counted.
        """
        if isinstance(error, SourceUnavailable | SourceTimeout):
            self._down.setdefault(error.system, error)
            key = (error.system, source_error_code(error))
        else:
            key = (error.system, hop)
        failure = self._reported.get(key)
        if failure is None:
            failure = self._reported[key] = _Failure(error, hop)
        failure.add(path)

    def graphql_errors(self) -> list[GraphQLError]:
        return [
            GraphQLError(
                f"{f.error.system} {_describe(f.error)}: {sanitize(f.error.message)}",
                path=f.paths[0] if f.paths else None,
                extensions={
                    "code": source_error_code(f.error),
                    "system": str(f.error.system),
                    "hop": f.hop,
                    "affected": f.affected,
                    "paths": f.paths,
                    **({"vendorCode": f.error.vendor_code} if f.error.vendor_code else {}),
                },
            )
            for f in self._reported.values()
        ]


def _describe(error: SourceError) -> str:
    if isinstance(error, SourceTimeout):
        return "timed out"
    if isinstance(error, SourceUnavailable):
        return "is unavailable"
    if isinstance(error, SourceNotFound):
        return "has no such record"
    return "failed"


class SourceFailureReport(SchemaExtension):
    """Appends the request's upstream failures to the result's ``errors``."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        failures: SourceFailures | None = getattr(context, "failures", None)
        result = self.execution_context.result
        if failures is None or result is None or not hasattr(result, "errors"):
            return
        extra = failures.graphql_errors()
        if extra and self.execution_context.operation_type != OperationType.SUBSCRIPTION:
            result.errors = [*(result.errors or []), *extra]
