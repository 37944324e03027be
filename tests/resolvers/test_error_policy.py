"""The error policy on a schema of its own: codes for expected errors, masking for the rest."""

from __future__ import annotations

import logging

import pytest
import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache

from resolvers.errors import UserInputError
from resolvers.extensions import ErrorPolicy, classify
from resolvers.node import parse_global_id


class Boom(RuntimeError):
    pass


@strawberry.type
class Query:
    @strawberry.field
    def fine(self) -> str:
        return "fine"

    @strawberry.field
    def broken(self) -> str | None:
        raise Boom("database password is hunter2")

    @strawberry.field
    async def broken_async(self) -> int | None:
        raise KeyError("internal detail")

    @strawberry.field
    def picky(self) -> str | None:
        raise UserInputError("first must be positive", code="PAGE_SIZE_EXCEEDED", limit=100)

    @strawberry.field
    def lookup(self, id: strawberry.ID) -> str | None:
        return parse_global_id(id)[1]


schema = strawberry.Schema(query=Query, extensions=[ErrorPolicy])


def policy_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "revgraph.errors"]


async def test_an_unexpected_error_is_masked_and_logged_with_the_same_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="revgraph.errors")
    result = await schema.execute("{ fine broken }")
    assert result.data == {"fine": "fine", "broken": None}
    (error,) = result.errors or []
    assert "hunter2" not in error.message
    assert error.path == ["broken"]
    assert error.extensions is not None
    assert error.extensions["code"] == "INTERNAL_SERVER_ERROR"
    error_id = error.extensions["errorId"]
    assert error_id in error.message
    (record,) = policy_records(caplog)
    assert record.levelno == logging.ERROR
    assert error_id in record.getMessage()
    assert "broken" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], Boom)
    assert "hunter2" in str(record.exc_info[1])  # the stack keeps what the client must not see


async def test_every_masked_error_gets_its_own_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="revgraph.errors")
    result = await schema.execute("{ broken brokenAsync }")
    ids = [e.extensions["errorId"] for e in result.errors or [] if e.extensions]
    assert len(ids) == len(set(ids)) == 2
    logged = [r.getMessage() for r in policy_records(caplog)]
    assert all(any(i in message for message in logged) for i in ids)
    assert {type(r.exc_info[1]) for r in policy_records(caplog) if r.exc_info} == {Boom, KeyError}


async def test_expected_errors_keep_message_and_code(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="revgraph.errors")
    result = await schema.execute("{ picky }")
    (error,) = result.errors or []
    assert error.message == "first must be positive"
    assert error.extensions == {"code": "PAGE_SIZE_EXCEEDED", "limit": 100}
    assert policy_records(caplog) == []


async def test_a_bad_global_id_is_bad_user_input() -> None:
    result = await schema.execute('{ lookup(id: "not-a-global-id") }')
    (error,) = result.errors or []
    assert error.extensions == {"code": "BAD_USER_INPUT", "argument": "id"}
    assert error.path == ["lookup"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ fine", "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        ('{ lookup(id: 1, extra: "x") }', "GRAPHQL_VALIDATION_FAILED"),
    ],
)
async def test_request_errors_get_codes(query: str, code: str) -> None:
    result = await schema.execute(query)
    assert result.data is None
    assert {e.extensions["code"] for e in result.errors or [] if e.extensions} == {code}


async def test_parse_errors_raised_by_the_parser_cache_get_a_code_from_classify() -> None:
    # With ParserCache the syntax error escapes the operation hooks, so the policy
    # never sees it; the HTTP view applies ``classify`` to every error again.
    cached = strawberry.Schema(query=Query, extensions=[ParserCache, ErrorPolicy])
    result = await cached.execute("{ fine")
    (error,) = result.errors or []
    assert classify(error).extensions == {"code": "GRAPHQL_PARSE_FAILED"}


def test_classify_is_idempotent(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="revgraph.errors")
    raw = GraphQLError("boom", path=["x"], original_error=Boom("secret"))
    masked = classify(raw)
    assert masked.extensions is not None and masked.extensions["code"] == "INTERNAL_SERVER_ERROR"
    assert classify(masked) is masked
    assert len(policy_records(caplog)) == 1
