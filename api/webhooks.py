"""``POST /webhooks/{system}``: verify → inbox row → 2xx; then apply, in the background.

``system`` is ``billing``, ``crm``, ``contracts`` or ``erp``. The receiver:

1. reads the raw body (at most 4 MiB, else 413: the route is open to anyone,
   so nothing unbounded is buffered before the signature is checked) and
   checks its signature against the source's ``webhook_secrets``
   (:mod:`domain.webhooks`: ``Stripe-Signature`` for Billing,
   ``X-Revgraph-Signature`` for the others). A source without a
   secret answers 404 ``WEBHOOKS_NOT_CONFIGURED``; a bad, stale or missing
   signature 400 ``INVALID_SIGNATURE`` (``reason`` says which), a signed body
   that is no event 400 ``INVALID_EVENT``; nothing is stored for any of them.
2. stores the event in the inbox (:class:`~store.inbox.WebhookInbox`), deduplicated
   by event id, and only then answers 200 ``{"received": true, "duplicate": bool}``:
   a sender that gets no 2xx delivers again, and the redelivery is absorbed.
3. wakes the :class:`WebhookDispatcher`, which applies the waiting events in a
   background task, never in the request.

Handlers are registered per source and event type prefix::

    dispatcher.register(System.BILLING, "invoice.finalized", post_invoice_to_erp)

Every handler whose prefix matches runs, in registration order; an event no
handler wants is simply marked APPLIED (it still counts as its subject's
newest for ordering).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from domain.webhooks import (
    EventError,
    SignatureError,
    WebhookEvent,
    parse_event,
    signature_header,
    verify,
)
from sources.systems import System
from store.inbox import WebhookInbox
from store.portable import utcnow

__all__ = ["WebhookDispatcher", "WebhookHandler", "webhook_routes"]

log = logging.getLogger(__name__)

WebhookHandler = Callable[[WebhookEvent], Awaitable[None]]
"""Applies one event; raising marks the event FAILED with the error."""

DEFAULT_POLL_S = 5.0
BATCH = 100
MAX_BODY_BYTES = 4 * 1024 * 1024

_SYSTEMS = {system.value.lower(): system for system in System}


class WebhookDispatcher:
    """Applies the inbox's waiting events in order, through registered handlers.

    One background task per process (:meth:`start`/:meth:`stop`) drains the inbox
    when :meth:`wake` is called (after each stored event) and every ``poll_s``
    (events left waiting by a crash, or received while another replica drained).
    Per event: superseded if a newer event of its subject was applied meanwhile,
    else every matching handler runs, then APPLIED, or FAILED if one raised.
    """

    def __init__(self, inbox: WebhookInbox, *, poll_s: float = DEFAULT_POLL_S) -> None:
        self.inbox = inbox
        self.poll_s = poll_s
        self._handlers: list[tuple[System, str, WebhookHandler]] = []
        self._wakeup = asyncio.Event()
        self._draining = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def register(self, system: System, type_prefix: str, handler: WebhookHandler) -> None:
        """Run ``handler`` for ``system``'s events whose type starts with ``type_prefix``
        (``"invoice."``, ``"invoice.finalized"``, ``""`` for all)."""
        self._handlers.append((system, type_prefix, handler))

    def handlers_for(self, event: WebhookEvent) -> list[WebhookHandler]:
        return [
            handler
            for system, prefix, handler in self._handlers
            if system is event.source and event.type.startswith(prefix)
        ]

    def wake(self) -> None:
        """Ask the background task to drain now."""
        self._wakeup.set()

    async def drain(self) -> int:
        """Apply every waiting event, oldest first; returns how many were settled.

        Returns 0 without doing anything while another replica drains the store.
        """
        settled = 0
        async with self._draining, self.inbox.exclusive() as mine:
            if not mine:
                return 0
            while batch := await self.inbox.pending(BATCH):
                for stored in batch:
                    await self._apply(stored.event)
                    settled += 1
        return settled

    async def _apply(self, event: WebhookEvent) -> None:
        if await self.inbox.supersede_if_stale(event):
            return
        try:
            for handler in self.handlers_for(event):
                await handler(event)
        # A handler's failure is the event's, recorded on it; the drain goes on.
        except Exception as exc:
            log.warning("webhook %s %s failed: %r", event.source, event.event_id, exc)
            await self.inbox.mark_failed(event.source, event.event_id, f"{exc!r}")
            return
        await self.inbox.mark_applied(event.source, event.event_id)

    async def start(self) -> None:
        """Start the background task (in the serving loop); it drains once at start."""
        self._wakeup.set()
        self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.poll_s)
            self._wakeup.clear()
            try:
                await self.drain()
            # The store may be briefly unreachable: the events wait, the next round retries.
            except Exception:
                log.exception("draining the webhook inbox failed")


def _error(status: int, code: str, message: str, **extra: Any) -> Response:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


async def _body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None as soon as it is longer than ``limit``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def receive(request: Request) -> Response:
    """``POST /webhooks/{system}`` (see the module docstring)."""
    name = request.path_params["system"]
    system = _SYSTEMS.get(name)
    if system is None:
        return _error(404, "UNKNOWN_SOURCE", f"no source {name!r}: one of {', '.join(_SYSTEMS)}")
    secrets = request.state.resources.settings.source(system).webhook_secrets
    if not secrets:
        return _error(
            404,
            "WEBHOOKS_NOT_CONFIGURED",
            f"webhooks from {name} are not accepted: REVGRAPH_{system.value}_WEBHOOK_SECRETS "
            "is not set",
        )
    body = await _body(request, MAX_BODY_BYTES)
    if body is None:
        return _error(413, "PAYLOAD_TOO_LARGE", f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        verify(system, body, request.headers.get(signature_header(system)), secrets, utcnow())
        event = parse_event(system, body)
    except SignatureError as exc:
        return _error(400, "INVALID_SIGNATURE", exc.message, reason=exc.reason.value)
    except EventError as exc:
        return _error(400, "INVALID_EVENT", str(exc))
    dispatcher: WebhookDispatcher = request.state.webhooks
    recorded = await dispatcher.inbox.record(event)
    # The row is committed: from here on a crash loses nothing.
    dispatcher.wake()
    return JSONResponse({"received": True, "duplicate": recorded.duplicate})


def webhook_routes() -> list[Route]:
    """The receiver's routes, for the app factory."""
    return [Route("/webhooks/{system}", receive, methods=["POST"])]
