"""``revgraph worker``: a process that only runs flows (no HTTP).

It resumes the flows whose worker died (their lease ran out) and keeps doing
so every ``flows.poll_s``; ``serve`` runs the same worker inside the gateway
unless ``REVGRAPH_FLOWS_WORKER=false``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from api.lifespan import check_startup
from api.resources import Resources
from api.settings import Settings


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run the flow worker until ``stop`` is set (or SIGINT/SIGTERM)."""
    await check_startup(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    resources = await Resources.open(settings)
    try:
        resources.runner.start_worker()
        await stop.wait()
    finally:
        await resources.close()
