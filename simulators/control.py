"""What every simulator shares: fault injection, request stats, auth, ``/_sim`` routes.

``POST /_sim/faults`` takes ``{"latency_ms": int, "error_rate": float, "down": bool}``
(any subset; ``DELETE`` resets), ``GET /_sim/stats`` answers
``{"requests": n, "by_route": {"GET /path/{template}": n}}`` (``DELETE`` resets),
``GET/POST/DELETE /_sim/limits`` shows, changes and resets the vendor limits
(:mod:`simulators.limits`).
Vendor routes are wrapped by :class:`SimulatorMiddleware`, which counts them,
applies the faults, and checks credentials; the vendor-specific bodies (401,
5xx, 503) come from a :class:`VendorResponses` each simulator provides. A
simulator's ``gate`` (its vendor limits) runs after those, before the routes.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from simulators.limits import Limits, LimitsConfigError

SIM_PREFIX = "/_sim"


@dataclass
class Faults:
    latency_ms: int = 0
    error_rate: float = 0.0
    down: bool = False


@dataclass
class Stats:
    requests: int = 0
    by_route: dict[str, int] = field(default_factory=dict)

    def count(self, key: str) -> None:
        self.requests += 1
        self.by_route[key] = self.by_route.get(key, 0) + 1


@dataclass(frozen=True)
class VendorResponses:
    """The vendor's own answers for the cases the shared middleware produces."""

    authorized: Callable[[Request], bool]
    unauthorized: Callable[[], Response]
    server_error: Callable[[], Response]
    unavailable: Callable[[], Response]


@dataclass
class SimulatorState:
    name: str
    faults: Faults = field(default_factory=Faults)
    stats: Stats = field(default_factory=Stats)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    limits: Limits = field(default_factory=Limits)


Gate = Callable[[ASGIApp], ASGIApp]
"""Wraps the vendor routes in a simulator's limit checks (an ASGI middleware)."""


class SimulatorMiddleware:
    """Counts, slows, breaks and authenticates every vendor request."""

    def __init__(
        self,
        app: ASGIApp,
        state: SimulatorState,
        vendor: VendorResponses,
        routes: Sequence[BaseRoute],
        gate: Gate | None = None,
    ) -> None:
        self.app = app
        self.vendor_app = gate(app) if gate is not None else app
        self.state = state
        self.vendor = vendor
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(SIM_PREFIX):
            await self.app(scope, receive, send)
            return
        faults = self.state.faults
        self.state.stats.count(_route_key(scope, self.routes))
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        response: Response | None = None
        if faults.down:
            response = self.vendor.unavailable()
        elif faults.error_rate and self.state.rng.random() < faults.error_rate:
            response = self.vendor.server_error()
        elif not self.vendor.authorized(Request(scope)):
            response = self.vendor.unauthorized()
        if response is not None:
            await response(scope, receive, send)
            return
        await self.vendor_app(scope, receive, send)


def _route_key(scope: Scope, routes: Sequence[BaseRoute]) -> str:
    """``"METHOD /route/{template}"`` for stats, so ids don't split the counts."""
    method = scope["method"]
    for route in routes:
        match, _ = route.matches(scope)
        if match.name == "FULL":
            return f"{method} {getattr(route, 'path', scope['path'])}"
    return f"{method} {scope['path']}"


def _control_routes(state: SimulatorState) -> list[BaseRoute]:
    async def set_faults(request: Request) -> Response:
        try:
            body: Any = await request.json()
        except ValueError:
            return JSONResponse({"error": "body must be JSON"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
        faults = state.faults
        try:
            if "latency_ms" in body:
                faults.latency_ms = max(0, int(body["latency_ms"]))
            if "error_rate" in body:
                faults.error_rate = min(1.0, max(0.0, float(body["error_rate"])))
            if "down" in body:
                faults.down = bool(body["down"])
        except (TypeError, ValueError):
            return JSONResponse({"error": "latency_ms int, error_rate float, down bool"}, 400)
        return JSONResponse(_faults_body(state))

    async def get_faults(request: Request) -> Response:
        return JSONResponse(_faults_body(state))

    async def reset_faults(request: Request) -> Response:
        state.faults = Faults()
        return JSONResponse(_faults_body(state))

    async def get_stats(request: Request) -> Response:
        return JSONResponse({"requests": state.stats.requests, "by_route": state.stats.by_route})

    async def reset_stats(request: Request) -> Response:
        state.stats = Stats()
        return JSONResponse({"requests": 0, "by_route": {}})

    async def get_limits(request: Request) -> Response:
        return JSONResponse(state.limits.describe())

    async def set_limits(request: Request) -> Response:
        try:
            body: Any = await request.json()
        except ValueError:
            return JSONResponse({"error": "body must be JSON"}, status_code=400)
        try:
            state.limits.configure(body)
        except LimitsConfigError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(state.limits.describe())

    async def reset_limits(request: Request) -> Response:
        state.limits.reset()
        return JSONResponse(state.limits.describe())

    return [
        Route(f"{SIM_PREFIX}/limits", get_limits, methods=["GET"]),
        Route(f"{SIM_PREFIX}/limits", set_limits, methods=["POST"]),
        Route(f"{SIM_PREFIX}/limits", reset_limits, methods=["DELETE"]),
        Route(f"{SIM_PREFIX}/faults", set_faults, methods=["POST"]),
        Route(f"{SIM_PREFIX}/faults", get_faults, methods=["GET"]),
        Route(f"{SIM_PREFIX}/faults", reset_faults, methods=["DELETE"]),
        Route(f"{SIM_PREFIX}/stats", get_stats, methods=["GET"]),
        Route(f"{SIM_PREFIX}/stats", reset_stats, methods=["DELETE"]),
    ]


def _faults_body(state: SimulatorState) -> dict[str, Any]:
    f = state.faults
    return {"latency_ms": f.latency_ms, "error_rate": f.error_rate, "down": f.down}


def build_simulator(
    name: str,
    routes: Sequence[BaseRoute],
    vendor: VendorResponses,
    *,
    extra_control: Sequence[BaseRoute] = (),
    limits: Limits | None = None,
    gate: Gate | None = None,
) -> Starlette:
    """A Starlette app serving ``routes`` behind the shared simulator middleware.

    ``extra_control`` adds simulator-specific ``/_sim/...`` routes (e.g. webhook
    settings); they bypass auth and faults like the shared ones. ``limits`` are
    the vendor limits ``/_sim/limits`` shows and configures; ``gate`` wraps the
    vendor routes (after faults and auth) in the checks that enforce them.
    """
    state = SimulatorState(name, limits=limits if limits is not None else Limits())
    app = Starlette(routes=[*_control_routes(state), *extra_control, *routes])
    app.state.sim = state
    app.add_middleware(SimulatorMiddleware, state=state, vendor=vendor, routes=routes, gate=gate)
    return app
