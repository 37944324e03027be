"""Outbound webhooks from a simulator to a configurable URL.

Events are delivered in the background so a vendor call never waits on the
receiver. For testing receivers, delivery can be made hostile: every event sent
twice (``duplicate``) and/or each event held back and sent after the next one
(``out_of_order``). Configure with ``POST /_sim/webhooks``
``{"url": str | null, "duplicate": bool, "out_of_order": bool}``; ``GET`` shows
the settings and the delivery log.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

Signer = Callable[[bytes], dict[str, str]]
"""Given the exact body bytes, the headers that sign it."""


@dataclass
class WebhookSettings:
    url: str | None = None
    duplicate: bool = False
    out_of_order: bool = False


@dataclass
class Delivery:
    event_id: str
    status: int | None
    error: str | None = None


@dataclass
class WebhookSender:
    signer: Signer
    settings: WebhookSettings = field(default_factory=WebhookSettings)
    log: list[Delivery] = field(default_factory=list)
    _held: dict[str, Any] | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def emit(self, event: dict[str, Any]) -> None:
        """Queue one event for delivery according to the current settings."""
        if not self.settings.url:
            return
        batch = [event]
        if self.settings.out_of_order:
            if self._held is None:
                self._held = event
                return
            batch = [event, self._held]
            self._held = None
        if self.settings.duplicate:
            batch = [e for e in batch for _ in range(2)]
        task = asyncio.create_task(self._deliver(self.settings.url, batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Send a held-back event and wait for deliveries in flight."""
        if self._held is not None and self.settings.url:
            held, self._held = self._held, None
            await self._deliver(self.settings.url, [held])
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _deliver(self, url: str, events: list[dict[str, Any]]) -> None:
        async with httpx.AsyncClient(timeout=5.0) as client:
            for event in events:
                body = json.dumps(event, separators=(",", ":")).encode()
                headers = {"Content-Type": "application/json", **self.signer(body)}
                try:
                    response = await client.post(url, content=body, headers=headers)
                    self.log.append(Delivery(event["id"], response.status_code))
                except httpx.HTTPError as exc:
                    self.log.append(Delivery(event["id"], None, repr(exc)))

    def control_routes(self, prefix: str = "/_sim/webhooks") -> list[BaseRoute]:
        async def configure(request: Request) -> Response:
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse({"error": "body must be JSON"}, status_code=400)
            if not isinstance(body, dict):
                return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
            self.settings = WebhookSettings(
                url=body.get("url", self.settings.url),
                duplicate=bool(body.get("duplicate", False)),
                out_of_order=bool(body.get("out_of_order", False)),
            )
            return await show(request)

        async def show(request: Request) -> Response:
            s = self.settings
            return JSONResponse(
                {
                    "url": s.url,
                    "duplicate": s.duplicate,
                    "out_of_order": s.out_of_order,
                    "deliveries": [d.__dict__ for d in self.log],
                }
            )

        async def flush(request: Request) -> Response:
            await self.flush()
            return await show(request)

        return [
            Route(prefix, configure, methods=["POST"]),
            Route(prefix, show, methods=["GET"]),
            Route(f"{prefix}/flush", flush, methods=["POST"]),
        ]
