"""ASGI middleware: correlation ids in and out, and a last line against unhandled errors."""

from __future__ import annotations

import json
import logging
import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sources.correlation import HEADER, new_correlation_id, set_correlation_id

logger = logging.getLogger("revgraph.errors")

_HEADER_KEY = HEADER.lower().encode()
# What a caller may choose as an id: short, printable, no separators that could
# split a log line or a header. Anything else is replaced, not rejected.
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class CorrelationIdMiddleware:
    """Accept the caller's ``X-Correlation-ID`` (if sane) or create one.

    The id is put in the context var every upstream call reads, so it reaches
    each system of record, and it is returned on every response (errors and
    health checks included). Sane means 1-128 characters of ``A-Z a-z 0-9 . _ : -``;
    an empty, too long or otherwise odd value is replaced by a generated id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        correlation_id = accepted_correlation_id(_header(scope, _HEADER_KEY))
        set_correlation_id(correlation_id)
        scope.setdefault("state", {})["correlation_id"] = correlation_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = correlation_id
            await send(message)

        await self.app(scope, receive, send_with_id)


def accepted_correlation_id(supplied: str | None) -> str:
    """``supplied`` if it is a sane id, else a new one."""
    if supplied is not None and _VALID.fullmatch(supplied):
        return supplied
    return new_correlation_id()


class UnhandledErrorMiddleware:
    """Turns an exception that escaped every route into a masked 500.

    The client gets a GraphQL-shaped body with ``extensions.code =
    INTERNAL_SERVER_ERROR`` and an ``errorId``; the log gets the same id and the
    stack. Placed inside :class:`CorrelationIdMiddleware`, so even this answer
    carries the correlation id (Starlette's own error page would not).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception:
            if started:
                # Half a response is out; all that is left is to let the server abort it.
                raise
            error_id = uuid.uuid4().hex[:12]
            logger.exception(
                "unhandled error %s on %s %s", error_id, scope["method"], scope["path"]
            )
            await _send_internal_error(send, error_id)


async def _send_internal_error(send: Send, error_id: str) -> None:
    message = f"Internal error; quote error id {error_id} when reporting it."
    await send_error(send, 500, "INTERNAL_SERVER_ERROR", message, {"errorId": error_id})


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    extensions: dict[str, object] | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """A GraphQL-shaped error answer from ASGI middleware (before any route ran)."""
    error = {"message": message, "extensions": {"code": code, **(extensions or {})}}
    body = json.dumps({"errors": [error]}).encode()
    raw = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *((k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None
