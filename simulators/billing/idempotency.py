"""Stripe's ``Idempotency-Key``: a POST's first result saved and replayed for 24 hours.

The same key with the same endpoint and parameters gets the saved answer
back byte for byte, with ``Idempotent-Replayed: true``; with other parameters
or another endpoint it is a 400 ``idempotency_error``. Results are saved only
once the endpoint started executing (a request that failed parameter
validation saves nothing, so it can be corrected and resent). Records are
documents of kind ``_idempotency`` so they survive a restart. Requests with
one key are serialised, so a retry racing the first attempt waits for its
result instead of executing twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from simulators.billing.errors import InvalidParams, StripeError
from simulators.billing.objects import Objects

KIND = "_idempotency"
TTL_S = 24 * 3600
MAX_KEY_LENGTH = 255
REPLAYED = "Idempotent-Replayed"


@dataclass(frozen=True)
class Answer:
    """One HTTP answer as bytes on the wire (what a replay repeats)."""

    status: int
    body: str
    request_id: str
    saveable: bool = True


def fingerprint(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


class IdempotencyKeys:
    """Runs keyed POSTs at most once and replays their answers."""

    def __init__(self, objects: Objects) -> None:
        self.objects = objects
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def run(
        self,
        key: str,
        *,
        method: str,
        path: str,
        params: dict[str, Any],
        execute: Callable[[], Awaitable[Answer]],
    ) -> tuple[Answer, bool]:
        """The answer for this keyed request, and whether it was replayed."""
        if not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidParams(
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters long.",
                param="Idempotency-Key",
            )
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                return await self._run_locked(key, method, path, params, execute)
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def _run_locked(
        self,
        key: str,
        method: str,
        path: str,
        params: dict[str, Any],
        execute: Callable[[], Awaitable[Answer]],
    ) -> tuple[Answer, bool]:
        digest = fingerprint(params)
        saved = self.objects.get(KIND, key)
        if saved is not None and self.objects.now() - int(saved["created"]) < TTL_S:
            if (saved["method"], saved["path"]) != (method, path):
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used for the same endpoint they "
                    f"were first used for ('{saved['method']} {saved['path']}' vs "
                    f"'{method} {path}'). Try using a key other than '{key}' if you meant to "
                    "execute a different request.",
                    type_="idempotency_error",
                )
            if saved["fingerprint"] != digest:
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    f"they were first used with. Try using a key other than '{key}' if you "
                    "meant to execute a different request.",
                    type_="idempotency_error",
                )
            return Answer(saved["status"], saved["body"], saved["request_id"]), True
        answer = await execute()
        if answer.saveable:
            await self.objects.store.put(
                KIND,
                key,
                {
                    "id": key,
                    "created": self.objects.now(),
                    "method": method,
                    "path": path,
                    "fingerprint": digest,
                    "status": answer.status,
                    "body": answer.body,
                    "request_id": answer.request_id,
                },
            )
        return answer, False
