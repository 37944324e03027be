"""The gateway's Starlette app factory.

Routes: ``/graphql`` (POST, GET for queries, GraphiQL for browsers),
``/healthz`` (the process answers), ``/readyz`` (the store and every source
answer). Every response carries ``X-Correlation-ID``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable

from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.graphql_view import GraphQLView
from api.middleware import CorrelationIdMiddleware
from api.resources import Resources
from api.settings import Settings
from sources.errors import SourceError


def create_app(settings: Settings | None = None) -> Starlette:
    """A gateway app; resources open in its lifespan (so inside the serving loop)."""
    settings = settings or Settings()
    view = GraphQLView()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        resources: Resources = request.app.state.resources
        checks: dict[str, dict[str, object]] = {}

        async def check(name: str, probe: Awaitable[object]) -> None:
            started = time.perf_counter()
            try:
                await probe
                checks[name] = {"ok": True}
            except (SourceError, SQLAlchemyError, OSError) as exc:
                checks[name] = {"ok": False, "error": str(exc)[:300]}
            checks[name]["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)

        await asyncio.gather(
            check("store", resources.check_store()),
            *(check(str(c.system), c.ping()) for c in resources.clients.all()),
        )
        ready = all(c["ok"] for c in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        resources = await Resources.open(settings)
        app.state.resources = resources
        view.resources = resources
        try:
            yield
        finally:
            await resources.close()

    return Starlette(
        routes=[
            # GraphQL-over-HTTP method rules (GET for queries only, 405 otherwise) are the view's.
            Route("/graphql", view),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        middleware=[Middleware(CorrelationIdMiddleware)],
        lifespan=lifespan,
    )
