"""The gateway's Starlette app factory.

Routes: ``/graphql`` (POST, GET for queries, GraphiQL for browsers; the HTTP
rules are :mod:`api.graphql_view`'s), ``/healthz`` (the process answers),
``/readyz`` (the store, the cache and every source answer, and the crosswalk
is built: :mod:`api.crosswalk_keeper`), ``/metrics``
(Prometheus, :mod:`api.metrics`), ``/webhooks/{system}`` (signed events from the
sources: :mod:`api.webhooks`). Every response carries ``X-Correlation-ID``.
``settings.api`` turns introspection, GraphiQL (page and assets), CORS and
trusted documents on (:class:`~api.settings.ApiSettings`, :mod:`api.documents`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.authentication import AuthenticationMiddleware
from api.crosswalk_keeper import CrosswalkKeeper
from api.graphiql import assets_route
from api.graphql_view import GraphQLView
from api.lifespan import gateway_lifespan, trusted_documents
from api.metrics import Metrics, MetricsMiddleware
from api.middleware import CorrelationIdMiddleware, UnhandledErrorMiddleware
from api.resources import Resources
from api.settings import Settings
from api.webhooks import webhook_routes
from domain.access import Identity, Role
from sources.correlation import HEADER

READY_TIMEOUT_S = 3.0
"""How long ``/readyz`` waits for one dependency before calling it not ready."""


def create_app(settings: Settings | None = None) -> Starlette:
    """A gateway app; nothing is opened, migrated or tuned until its lifespan runs
    (inside the serving loop), which checks and opens everything (:mod:`api.lifespan`)."""
    settings = settings or Settings()
    metrics = Metrics()
    view = GraphQLView(
        metrics=metrics,
        deadline_s=settings.request_deadline_s,
        introspection=settings.api.introspection,
        graphiql=settings.api.graphiql,
        documents=trusted_documents(settings),
        graphiql_headers=settings.api.graphiql_headers,
    )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        resources: Resources = request.state.resources
        keeper: CrosswalkKeeper = request.state.crosswalk
        probes: dict[str, Awaitable[object]] = {
            "store": resources.check_store(),
            "cache": resources.cache.ping(),
            **{str(c.system): c.ping() for c in resources.clients.all()},
        }
        results = await asyncio.gather(
            *(_check(probe) for probe in probes.values()), _crosswalk_check(keeper)
        )
        checks = dict(zip([*probes, "crosswalk"], results, strict=True))
        for client in resources.clients.all():
            # An open breaker fails the probe fast; say so, and when it will try again.
            checks[str(client.system)]["breaker"] = str(client.breaker.state)
        ready = all(c["ok"] for c in checks.values())
        body: dict[str, object] = {"status": "ready" if ready else "unavailable"}
        identity: Identity | None = getattr(request.state, "identity", None)
        if identity is not None and identity.has_any({Role.ADMIN}):
            body["checks"] = checks  # upstream errors and hosts: operators only
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics_endpoint(request: Request) -> Response:
        body, content_type = metrics.render(request.headers.get("accept"))
        return Response(body, headers={"Content-Type": content_type})

    app = Starlette(
        routes=[
            # Every method reaches the view: it answers 405 with the Allow header itself.
            Route("/graphql", view),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            *webhook_routes(),
            # GraphiQL's JS and CSS, served offline
            *([assets_route()] if settings.api.graphiql else []),
        ],
        # Outermost first: the id is on every response, even the masked 500 that
        # UnhandledErrorMiddleware sends for an exception MetricsMiddleware counted.
        middleware=[
            Middleware(CorrelationIdMiddleware),
            # Inside the id (a preflight's answer has one), outside the masked 500.
            *_cors(settings.api.cors_origins),
            Middleware(UnhandledErrorMiddleware),
            Middleware(MetricsMiddleware, metrics=metrics),
            # Inside the metrics: refused callers (401, 403, 429) are counted too.
            Middleware(AuthenticationMiddleware),
        ],
        lifespan=gateway_lifespan(settings, metrics),
    )
    app.state.metrics = metrics  # the app's own registry (tests read it)
    return app


def _cors(origins: list[str]) -> list[Middleware]:
    """CORS for the allowed ``origins`` only; none configured: no CORS headers at all."""
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Content-Type", "Authorization", "Idempotency-Key", HEADER],
            expose_headers=[HEADER],
        )
    ]


async def _crosswalk_check(keeper: CrosswalkKeeper) -> dict[str, object]:
    """The crosswalk's state: ready only once built (see :mod:`api.crosswalk_keeper`)."""
    started = time.perf_counter()
    outcome: dict[str, object]
    try:
        outcome = await asyncio.wait_for(keeper.report(), READY_TIMEOUT_S)
    except TimeoutError:
        outcome = {"ok": False, "state": keeper.state}
        outcome["error"] = f"no answer within {READY_TIMEOUT_S}s"
    except Exception as exc:  # the store failing is reported by its own check too
        outcome = {"ok": False, "state": keeper.state}
        outcome["error"] = f"{type(exc).__name__}: {exc}"[:300]
    outcome["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return outcome


async def _check(probe: Awaitable[object]) -> dict[str, object]:
    """One readiness probe: ``ok``, its latency, and the error if it failed or took too long."""
    started = time.perf_counter()
    outcome: dict[str, object]
    try:
        await asyncio.wait_for(probe, READY_TIMEOUT_S)
        outcome = {"ok": True}
    except TimeoutError:
        outcome = {"ok": False, "error": f"no answer within {READY_TIMEOUT_S}s"}
    # A probe that fails in any way means "not ready"; the reason is the detail.
    except Exception as exc:
        outcome = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    outcome["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return outcome
