"""A log of the recent vendor requests a simulator received, for tests and demos.

``GET /_sim/requests`` lists the last requests (method, path, query string and
the headers a gateway is expected to send: ``X-Correlation-ID`` and
``Sforce-Query-Options``), oldest first; ``DELETE`` clears it.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from simulators.control import SIM_PREFIX

LOGGED_HEADERS = ("x-correlation-id", "sforce-query-options")


class RequestLog:
    """The last ``size`` vendor requests."""

    def __init__(self, size: int = 500) -> None:
        self.entries: deque[dict[str, Any]] = deque(maxlen=size)

    def record(self, scope: Scope) -> None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.entries.append(
            {
                "method": scope["method"],
                "path": scope["path"],
                "query": scope.get("query_string", b"").decode("latin-1"),
                "headers": {h: headers[h] for h in LOGGED_HEADERS if h in headers},
            }
        )

    def control_routes(self) -> list[BaseRoute]:
        async def show(request: Request) -> Response:
            return JSONResponse({"requests": list(self.entries)})

        async def clear(request: Request) -> Response:
            self.entries.clear()
            return JSONResponse({"requests": []})

        return [
            Route(f"{SIM_PREFIX}/requests", show, methods=["GET"]),
            Route(f"{SIM_PREFIX}/requests", clear, methods=["DELETE"]),
        ]


class RequestLogMiddleware:
    """Records every non-``/_sim`` HTTP request before anything else sees it."""

    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(SIM_PREFIX):
            self.log.record(scope)
        await self.app(scope, receive, send)
