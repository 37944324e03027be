"""HTTP negotiation for ``/graphql``: media types in and out, and the request object.

What the GraphQL-over-HTTP spec asks of the HTTP around an operation, apart
from strawberry (``api.graphql_view`` calls these):

- :func:`negotiate` picks the response media type from ``Accept``
  (``application/graphql-response+json`` or ``application/json``; None → 406);
  :func:`accepts_html` tells a browser from an API client;
- :func:`check_content_type` accepts a POST only as ``application/json``
  (charset absent or UTF-8; otherwise 415);
- :func:`decode_json` reads UTF-8 JSON strictly (no ``NaN``; otherwise 400);
- :func:`query_parameters` and :func:`request_data` turn a GET's parameters or
  a POST's body into one validated :class:`GraphQLRequestData`;
- :class:`RequestRejected` is a refusal before any GraphQL ran, and
  :func:`rejection_response` its GraphQL-shaped body in the negotiated type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from cross_web import HTTPException
from starlette.responses import Response
from strawberry.http import GraphQLRequestData

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"

CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}
"""``extensions.code`` of a refused request, by status."""
_PARAMETERS = ("query", "operationName", "variables", "extensions")


class RequestRejected(HTTPException):
    """A request refused before any GraphQL ran (status, reason, extra headers such as Allow)."""

    def __init__(
        self, status_code: int, reason: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status_code, reason)
        self.headers = dict(headers or {})


def negotiate(accept: str | None) -> str | None:
    """The GraphQL response media type for an ``Accept`` header; None if it allows none.

    No header (or ``*/*``) means a legacy client: ``application/json``. The most
    specific matching range gives each type its quality (RFC 9110 §12.5.1); the
    higher one wins, and on a tie ``application/graphql-response+json`` only if
    the client named it.
    """
    if accept is None or not accept.strip():
        return JSON
    ranges = _media_ranges(accept)
    graphql_q, graphql_specificity = _quality(ranges, GRAPHQL_RESPONSE)
    json_q, _ = _quality(ranges, JSON)
    if graphql_q <= 0 and json_q <= 0:
        return None
    if graphql_q > json_q or (graphql_q == json_q and graphql_specificity == 2):
        return GRAPHQL_RESPONSE
    return JSON


def accepts_html(accept: str | None) -> bool:
    """Whether the client names ``text/html`` (or ``text/*``): a browser, not an API client."""
    if not accept:
        return False
    return any(
        kind == "text" and subtype in ("html", "*") and q > 0
        for kind, subtype, q in _media_ranges(accept)
    )


def _media_ranges(accept: str) -> list[tuple[str, str, float]]:
    ranges = []
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        kind, slash, subtype = media.lower().partition("/")
        if not slash or not kind or not subtype:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(value)))
                except ValueError:
                    q = -1.0  # a range with an unreadable weight is ignored
        if q >= 0:
            ranges.append((kind, subtype, q))
    return ranges


def _quality(ranges: list[tuple[str, str, float]], media_type: str) -> tuple[float, int]:
    """(q, specificity) of the most specific range matching ``media_type``; (0, -1) if none."""
    kind, _, subtype = media_type.partition("/")
    best = (0.0, -1)
    for range_kind, range_subtype, q in ranges:
        if (range_kind, range_subtype) == (kind, subtype):
            specificity = 2
        elif range_kind == kind and range_subtype == "*":
            specificity = 1
        elif (range_kind, range_subtype) == ("*", "*"):
            specificity = 0
        else:
            continue
        if specificity > best[1]:
            best = (q, specificity)
    return best


def check_content_type(content_type: str | None) -> None:
    if not content_type:
        raise RequestRejected(415, f"A POST needs Content-Type: {JSON}.")
    media, *params = (piece.strip() for piece in content_type.split(";"))
    if media.lower() != JSON:
        raise RequestRejected(415, f"Unsupported Content-Type {media!r}; send {JSON}.")
    for param in params:
        key, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if key.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            raise RequestRejected(415, f"Unsupported charset {charset!r}; send UTF-8.")


def decode_json(raw: bytes, what: str) -> object:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestRejected(400, f"The {what} is not valid UTF-8.") from exc
    try:
        return json.loads(text, parse_constant=_reject_constant)
    # ValueError: bad JSON, NaN/Infinity, integers too long to convert;
    # RecursionError: nesting deeper than the decoder's stack.
    except (ValueError, RecursionError) as exc:
        raise RequestRejected(400, f"The {what} is not valid JSON.") from exc


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def query_parameters(params: Mapping[str, object]) -> dict[str, object]:
    """A GET's parameters as a request object; ``variables``/``extensions`` are JSON text."""
    data = {name: params[name] for name in _PARAMETERS if params.get(name) is not None}
    for name in ("variables", "extensions"):
        encoded = data.get(name)
        if isinstance(encoded, str):
            # An empty parameter is an absent one (HTML forms send them).
            data[name] = decode_json(encoded.encode(), f"`{name}` parameter") if encoded else None
    return data


def request_data(data: object) -> GraphQLRequestData:
    if isinstance(data, list):
        raise RequestRejected(400, "Batched requests are not supported; send one operation.")
    if not isinstance(data, dict):
        raise RequestRejected(400, "The request must be a JSON object.")
    query = data.get("query")
    if not isinstance(query, str | None):
        raise RequestRejected(400, "`query` must be a string.")
    operation_name = data.get("operationName")
    if not isinstance(operation_name, str | None):
        raise RequestRejected(400, "`operationName` must be a string or null.")
    variables = data.get("variables")
    if not isinstance(variables, dict | None):
        raise RequestRejected(400, "`variables` must be an object or null.")
    extensions = data.get("extensions")
    if not isinstance(extensions, dict | None):
        raise RequestRejected(400, "`extensions` must be an object or null.")
    return GraphQLRequestData(
        query=query,
        variables=variables,
        # An empty name is no name (forms and some clients send "").
        operation_name=operation_name or None,
        extensions=extensions,
    )


def rejection_response(exc: HTTPException, accept: str | None) -> Response:
    """A refused request as a GraphQL-shaped error body in the negotiated media type."""
    code = CODES.get(exc.status_code, "BAD_REQUEST")
    body = {"errors": [{"message": exc.reason, "extensions": {"code": code}}]}
    media_type = negotiate(accept) or JSON
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
        media_type=f"{media_type}; charset=utf-8",
    )
