"""The shared simulator plumbing: faults, stats, auth, over real sockets."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from simulators.control import VendorResponses, build_simulator
from simulators.serving import BackgroundServers


async def _item(request: Request) -> Response:
    return JSONResponse({"id": request.path_params["item_id"]})


VENDOR = VendorResponses(
    authorized=lambda r: r.headers.get("authorization") == "Bearer ok",
    unauthorized=lambda: JSONResponse({"e": "auth"}, status_code=401),
    server_error=lambda: JSONResponse({"e": "boom"}, status_code=500),
    unavailable=lambda: JSONResponse({"e": "down"}, status_code=503),
)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    async def build(urls: Mapping[str, str]) -> Mapping[str, ASGIApp]:
        return {"X": build_simulator("X", [Route("/items/{item_id}", _item)], VENDOR)}

    servers = BackgroundServers(build, {"X": 0})
    yield servers.start()["X"]
    servers.stop()


def test_stats_count_by_route_template_and_reset(url: str) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer ok"}) as c:
        c.delete("/_sim/stats")
        assert c.get("/items/1").json() == {"id": "1"}
        c.get("/items/2")
        c.get("/items/3", headers={"Authorization": "Bearer wrong"})
        stats = c.get("/_sim/stats").json()
        assert stats == {"requests": 3, "by_route": {"GET /items/{item_id}": 3}}
        c.delete("/_sim/stats")
        assert c.get("/_sim/stats").json()["requests"] == 0


def test_faults_down_error_rate_latency_and_reset(url: str) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer ok"}) as c:
        assert c.get("/items/1", headers={"Authorization": "x"}).status_code == 401
        c.post("/_sim/faults", json={"down": True})
        assert c.get("/items/1").json() == {"e": "down"}
        c.post("/_sim/faults", json={"down": False, "error_rate": 1.0})
        assert c.get("/items/1").status_code == 500
        c.post("/_sim/faults", json={"error_rate": 0, "latency_ms": 150})
        r = c.get("/items/1")
        assert r.status_code == 200 and r.elapsed.total_seconds() >= 0.15
        assert c.delete("/_sim/faults").json() == {
            "latency_ms": 0,
            "error_rate": 0.0,
            "down": False,
        }
        assert c.post("/_sim/faults", json={"latency_ms": "x"}).status_code == 400
        assert c.post("/_sim/faults", content=b"[").status_code == 400
