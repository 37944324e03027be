"""The shared client: connection failures, auth hints, the retry policy, fan-out."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest

from api.settings import Settings
from resolvers.errors import source_error_code
from sources.base import SourceConfig, gather_or_cancel
from sources.erp import ErpClient
from sources.errors import SourceAuthError, SourceTimeout, SourceUnavailable
from sources.systems import System


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_a_refused_connection_is_unavailable_not_a_timeout() -> None:
    """httpx-aiohttp reports a refused connect as ConnectTimeout; it is not one."""
    url = f"http://127.0.0.1:{_free_port()}"
    config = SourceConfig(System.ERP, url, "t", timeout_s=5.0, max_retries=0)
    started = time.perf_counter()
    async with ErpClient(config) as client:  # the production transport (aiohttp)
        with pytest.raises(SourceUnavailable) as caught:
            await client.get_record("customer", "1")
    assert time.perf_counter() - started < 2.0
    assert not isinstance(caught.value, SourceTimeout)
    assert caught.value.message == f"connection refused at {url}"
    assert source_error_code(caught.value) == "SOURCE_UNAVAILABLE"
    assert client.health.last_error == caught.value.message


async def test_a_read_timeout_is_still_a_timeout() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    config = SourceConfig(System.ERP, "https://erp.test", "t", timeout_s=0.5, max_retries=0)
    async with ErpClient(config, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(SourceTimeout, match=r"no answer within 0\.5s"):
            await client.get_record("customer", "1")


async def test_an_auth_error_names_the_variable_to_fix() -> None:
    detail = {"detail": "Invalid login attempt.", "o:errorCode": "INVALID_LOGIN"}
    body = {"o:errorDetails": [detail]}
    config = SourceConfig(
        System.ERP,
        "https://erp.test",
        "wrong",
        token_env="REVGRAPH_ERP_TOKEN",
        max_retries=0,
    )
    transport = httpx.MockTransport(lambda request: httpx.Response(401, json=body))
    async with ErpClient(config, transport=transport) as client:
        with pytest.raises(SourceAuthError) as caught:
            await client.get_record("customer", "1")
    assert caught.value.message == "Invalid login attempt. (check REVGRAPH_ERP_TOKEN)"
    assert caught.value.vendor_code == "INVALID_LOGIN" and caught.value.status == 401


def test_settings_name_each_sources_token_variable() -> None:
    configs = Settings().source_configs()
    assert {s: c.token_env for s, c in configs.items()} == {
        s: f"REVGRAPH_{s.value}_TOKEN" for s in System
    }


async def test_a_patch_cannot_be_marked_retryable() -> None:
    config = SourceConfig(System.ERP, "https://erp.test", "t")
    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    async with ErpClient(config, transport=transport) as client:
        with pytest.raises(ValueError, match="PATCH is never retried"):
            await client.request("PATCH", "/x", json={}, idempotent=True)


async def test_gather_or_cancel_cancels_the_siblings_of_a_failure() -> None:
    cancelled: list[str] = []

    async def slow(name: str) -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise
        return name

    async def failing() -> str:
        await asyncio.sleep(0)
        raise SourceUnavailable(System.BILLING, "down")

    with pytest.raises(SourceUnavailable):
        await gather_or_cancel([slow("a"), failing(), slow("b")])
    assert sorted(cancelled) == ["a", "b"]  # cancelled, and awaited, before the raise
    assert await gather_or_cancel([asyncio.sleep(0, "x"), asyncio.sleep(0, "y")]) == ["x", "y"]
