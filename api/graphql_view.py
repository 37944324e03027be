"""The ``/graphql`` endpoint: strawberry's ASGI view, held to the GraphQL-over-HTTP spec.

Strawberry's view does the GraphQL; the hooks overridden here make the HTTP
around it follow https://graphql.github.io/graphql-over-http/ (checked with the
``graphql-http`` audit suite):

- Response media type: ``application/graphql-response+json`` when the client
  accepts it and prefers it (or likes it as much as ``application/json`` and
  names it explicitly); ``application/json`` otherwise, including legacy clients
  sending ``*/*`` or no ``Accept``; 406 when it accepts neither. Always UTF-8.
- Request errors (the document does not parse or validate, variables do not
  coerce, the operation named does not exist): the body has ``errors`` and no
  ``data``; the status is 200 under ``application/json`` and 400 under
  ``application/graphql-response+json``.
- Requests that are not well-formed GraphQL-over-HTTP requests get a 4xx and a
  GraphQL-shaped body (``errors[].extensions.code``): a body that is not UTF-8 or
  not a JSON object, ``query`` not a string, ``variables``/``extensions`` not
  objects, ``operationName`` not a string → 400; a POST without
  ``Content-Type: application/json`` (charset absent or UTF-8) → 415; a body
  over ``max_body_bytes`` → 413; a mutation over GET → 405 with ``Allow: POST``;
  methods other than GET and POST → 405 with ``Allow: GET, POST``.
- GET carries ``query``, ``operationName`` and JSON-encoded ``variables`` and
  ``extensions`` as URL parameters. A browser (``Accept: text/html``) asking
  for the endpoint without a query gets GraphiQL, or a 404 (``NOT_FOUND``)
  where GraphiQL is off.
- Which documents run (:mod:`api.documents`): with introspection off,
  ``__schema``/``__type`` are refused (``INTROSPECTION_DISABLED``); with trusted
  documents, only those run, named by ``documentId`` or Apollo's
  ``persistedQuery`` (``PERSISTED_QUERY_NOT_FOUND``, ``PERSISTED_QUERY_REQUIRED``),
  refused before parsing. These are request errors (200 / 400 as above).
- Every error leaves with an ``extensions.code`` (the schema's error policy,
  applied again here for errors raised before the operation hooks ran), and
  every operation is counted in :mod:`api.metrics` by name and outcome.

Responses are serialized by :func:`encode_json` (msgspec), into the bytes
strawberry's default ``json.dumps`` would write.

Batching and HTTP streaming (multipart, SSE) are not enabled, so the body
parser only accepts single operations. The media types, the body and the
request object are checked in :mod:`api.negotiation`; this module holds the
strawberry hooks.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import msgspec
import strawberry
from cross_web import AsyncHTTPRequestAdapter, HTTPException, StarletteRequestAdapter
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from api.documents import (
    DocumentRefused,
    TrustedDocuments,
    check_introspection,
    refusal_response,
    resolve_query,
)
from api.graphiql import graphiql_html
from api.metrics import Metrics, operation_label
from api.negotiation import (
    GRAPHQL_RESPONSE,
    JSON,
    RequestRejected,
    accepts_html,
    check_content_type,
    decode_json,
    negotiate,
    query_parameters,
    rejection_response,
    request_data,
)
from api.resources import Resources
from domain.access import Identity
from resolvers.context import Context
from resolvers.extensions import classify
from resolvers.limits import Limits
from resolvers.schema import schema as default_schema
from sources.correlation import current_correlation_id
from sources.deadline import deadline

DEFAULT_MAX_BODY_BYTES = 1024 * 1024

_ENCODER = msgspec.json.Encoder()
_ASCII_ESCAPES = "revgraph.json_ascii_escapes"


def _json_escape(char: str) -> str:
    """``char`` as ``json.dumps`` escapes it (a surrogate pair beyond the BMP)."""
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"


def _escape_non_ascii(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: the characters ASCII cannot hold, as JSON escapes."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return "".join(map(_json_escape, error.object[error.start : error.end])), error.end


codecs.register_error(_ASCII_ESCAPES, _escape_non_ascii)


def encode_json(data: object) -> bytes:
    """``json.dumps(data, separators=(",", ":"))``'s bytes, about ten times faster.

    msgspec writes the JSON (QuoteToCash's ~114 kB answer in ~0.1 ms against
    ~0.8 ms); what it writes differently is then made the same: characters
    outside printable ASCII (non-ASCII, and DEL) are escaped as ``\\uXXXX``, as
    ``json.dumps``' default ``ensure_ascii`` does, so clients see the same bytes.
    Anything msgspec refuses (a lone surrogate, a dict key that is not a string
    or number, a type it does not know) goes to ``json.dumps``, which encodes or
    refuses it as before. The differences left: a float in exponent form is
    spelled the shortest way (``1e16``, ``1e-7``: the same numbers as ``1e+16``,
    ``1e-07``); NaN and infinities, which are not JSON and which GraphQL's
    ``Float`` never yields, become ``null``; and a few types ``json.dumps``
    refuses (enums, dates, ``Decimal``, dataclasses) are encoded rather than
    failing the response.
    """
    try:
        encoded = _ENCODER.encode(data)
    except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        return json.dumps(data, separators=(",", ":")).encode()
    if not encoded.isascii():
        encoded = encoded.decode().encode("ascii", _ASCII_ESCAPES)
    if b"\x7f" in encoded:  # DEL: only in strings, never part of a UTF-8 sequence
        encoded = encoded.replace(b"\x7f", b"\\u007f")
    return encoded


class _RequestAdapter(StarletteRequestAdapter):
    """Strawberry's Starlette adapter, plus a body read that stops at a size limit."""

    def __init__(self, request: Request) -> None:
        super().__init__(request)
        self.request = request

    async def read_body(self, limit: int) -> bytes:
        """The body, or :class:`RequestRejected` (413) as soon as it exceeds ``limit``."""
        declared = self.request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in self.request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        return b"".join(chunks)


class GraphQLView(GraphQL[Context, None]):
    """Builds a fresh :class:`Context` (and DataLoaders) per request, in the running loop.

    The process's :class:`Resources` come with each request, from the app's
    lifespan state (``request.state.resources``); ``metrics``, if given, counts
    every operation.
    """

    request_adapter_class = _RequestAdapter

    def __init__(
        self,
        schema: strawberry.Schema | None = None,
        *,
        metrics: Metrics | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        deadline_s: float | None = None,
        introspection: bool = True,
        graphiql: bool = True,
        documents: TrustedDocuments | None = None,
        graphiql_headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(schema or default_schema, graphql_ide="graphiql", **kwargs)
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.deadline_s = deadline_s
        """Each operation's deadline (:mod:`sources.deadline`); None: none."""
        self.introspection = introspection
        self.graphiql = graphiql
        self.documents = documents
        """Trusted documents: the only ones that run (None: any document)."""
        self.graphiql_headers = json.dumps(graphiql_headers, indent=2) if graphiql_headers else None
        self._limits = Limits()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            if request.method not in ("GET", "POST"):
                raise RequestRejected(
                    405, "GraphQL is served over GET and POST only.", {"Allow": "GET, POST"}
                )
            response = await self.run(request)
        except DocumentRefused as exc:
            response = refusal_response(exc, request.headers.get("accept"))
        except HTTPException as exc:
            response = rejection_response(exc, request.headers.get("accept"))
        await response(scope, receive, send)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        resources: Resources = request.state.resources
        identity: Identity | None = getattr(request.state, "identity", None)
        return Context.create(
            resources.clients,
            resources.crosswalk,
            current_correlation_id(),
            request=request,
            response=response,
            identity=identity,
            charge=partial(resources.quotas.charge, identity) if identity else None,
        )

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        return _SubResponse(negotiate(request.headers.get("accept")))

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # Only a browser asking for a page; a GraphQL client without a query gets a 400.
        return (
            request.method == "GET"
            and not request.query_params.get("query")
            and accepts_html(request.headers.get("accept"))
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        if not self.graphiql:
            raise RequestRejected(404, "GraphiQL is not served here (REVGRAPH_API_GRAPHIQL).")
        return HTMLResponse(graphiql_html(self.graphiql_headers))

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData:
        if negotiate(request.headers.get("accept")) is None:
            raise RequestRejected(
                406, f"Accept {GRAPHQL_RESPONSE} or {JSON} to get a GraphQL response."
            )
        if request.method == "GET":
            data: object = query_parameters(request.query_params)
            document_id = request.query_params.get("documentId")
            if isinstance(data, dict) and document_id:
                data["documentId"] = document_id
        else:
            check_content_type(request.content_type)
            if isinstance(request, _RequestAdapter):
                body = await request.read_body(self.max_body_bytes)
            else:
                body = await request.get_body()
            data = decode_json(body, "body")
        parsed = request_data(data)
        if isinstance(data, dict):  # request_data refused anything else
            parsed.query = resolve_query(data, self.documents)
        if parsed.query and not self.introspection:
            check_introspection(
                parsed.query, self._limits.max_document_chars, self._limits.max_tokens
            )
        return parsed

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        method = request_adapter.method
        started = time.perf_counter()
        resolved = True
        try:
            with deadline(self.deadline_s), _released(context):
                result = await self.schema.execute(
                    request_data.query,
                    root_value=root_value,
                    variable_values=request_data.variables,
                    context_value=context,
                    operation_name=request_data.operation_name,
                    # GET may carry queries only (subscriptions have no HTTP transport here).
                    allowed_operation_types=OperationType.from_http(method),
                    operation_extensions=request_data.extensions,
                )
        except MissingQueryError as exc:
            raise RequestRejected(400, "The request has no GraphQL query.") from exc
        except InvalidOperationTypeError as exc:
            if method == "GET" and exc.operation_type is OperationType.MUTATION:
                raise RequestRejected(
                    405, "Mutations must be sent with POST.", {"Allow": "POST"}
                ) from exc
            raise RequestRejected(400, exc.as_http_error_reason(method)) from exc
        except CannotGetOperationTypeError as exc:
            # The operation named is not in the document: a request error, like a
            # validation failure, so it is answered as a GraphQL response.
            error = GraphQLError(
                exc.as_http_error_reason(),
                extensions={"code": "OPERATION_RESOLUTION_FAILURE"},
            )
            result = ExecutionResult(data=None, errors=[error])
            resolved = False
        if self.metrics is not None:
            # A name that is not in the document is not worth a label value of its own.
            label = (
                operation_label(request_data.query, request_data.operation_name)
                if resolved
                else "unknown"
            )
            self.metrics.observe_operation(label, _outcome(result), time.perf_counter() - started)
        return result

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = [classify(error) for error in result.errors]
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> bytes:
        return encode_json(data)

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        if isinstance(response_data, list):  # batching is not enabled; never happens
            raise RequestRejected(400, "Batched requests are not supported.")
        media_type = getattr(sub_response, "negotiated", None) or JSON
        status = 200
        if is_request_error(response_data):
            # Nothing executed, so there is no data entry (GraphQL spec, "Response").
            response_data = _without_data(response_data)
            if media_type == GRAPHQL_RESPONSE:
                status = 500 if _has_code(response_data, "INTERNAL_SERVER_ERROR") else 400
        response = Response(
            self.encode_json(response_data),
            status_code=sub_response.status_code or status,
            media_type=f"{media_type}; charset=utf-8",
        )
        # Headers a resolver set on ``info.context.response``.
        response.headers.raw.extend(sub_response.headers.raw)
        response.background = sub_response.background
        return response


class _SubResponse(Response):
    """What resolvers may set on the response, and the media type negotiated for it."""

    def __init__(self, negotiated: str | None) -> None:
        super().__init__()
        del self.headers["content-length"]
        self.status_code = 0  # unset: create_response decides
        self.negotiated = negotiated


def _too_large(limit: int) -> RequestRejected:
    return RequestRejected(413, f"The request body is larger than {limit} bytes.")


def is_request_error(response: GraphQLHTTPResponse) -> bool:
    """No data and only errors without a path: execution never started.

    Field errors always carry the path of the field; parse, validation and
    variable-coercion errors never do.
    """
    errors = response.get("errors")
    return (
        response.get("data") is None
        and bool(errors)
        and all(isinstance(e, dict) and "path" not in e for e in errors or ())
    )


@contextlib.contextmanager
def _released(context: Context) -> Iterator[None]:
    """The request's context lets go of its loaders and derived data once executed."""
    try:
        yield
    finally:
        context.release()


def _outcome(result: ExecutionResult) -> str:
    if not result.errors:
        return "ok"
    if result.data is not None:
        return "partial"
    if all(error.path is None for error in result.errors):
        return "rejected"
    return "failed"


def _without_data(response: GraphQLHTTPResponse) -> GraphQLHTTPResponse:
    stripped = GraphQLHTTPResponse(errors=response.get("errors"))
    if response.get("extensions"):
        stripped["extensions"] = response.get("extensions")
    return stripped


def _has_code(response: GraphQLHTTPResponse, code: str) -> bool:
    return any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == code
        for e in response.get("errors") or ()
    )
